/** The built ingestor's start-up contract: exit codes, messages, health, as a user meets them. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { HaSimulator } from '../../src/sim/server.js';
import { createInfluxV1Database } from '../helpers/expected.js';
import { IngestorProcess } from '../helpers/ingestor.js';
import { until } from '../helpers/ports.js';

let sim: HaSimulator | null = null;
let ingestor: IngestorProcess | null = null;
afterEach(async () => {
  await ingestor?.stop('SIGKILL');
  await sim?.stop();
  sim = null;
  ingestor = null;
});

const db = () => ({ INFLUX_URL: inject('influxV1Url'), INFLUX_API: 'v1', INFLUX_DB: 'startup', DATA_DIR: mkdtempSync(join(tmpdir(), 'ha-ingestor-startup-')) });

describe('ingestor start-up', () => {
  it('exits 2 naming HA_TOKEN when it is unset, and prints no secret', async () => {
    const { code, stderr } = await IngestorProcess.runToExit({ HA_URL: 'http://127.0.0.1:1', INFLUX_URL: 'http://127.0.0.1:2', INFLUX_TOKEN: 'influx-secret', INFLUX_ORG: 'o', INFLUX_BUCKET: 'b' });
    expect(code).toBe(2);
    expect(stderr).toContain('HA_TOKEN: required');
    expect(stderr).not.toContain('influx-secret');
  });

  it('exits 2 listing every invalid variable in one message', async () => {
    const { code, stderr } = await IngestorProcess.runToExit({ HA_URL: 'nope', HA_TOKEN: 't', INFLUX_URL: 'http://x', INFLUX_API: 'v1', POOL_SIZE: '-1' });
    expect(code).toBe(2);
    expect(stderr).toMatch(/invalid configuration:\n {2}- HA_URL: expected .* got "nope"\n {2}- POOL_SIZE: expected an integer from 0 to 64, got "-1"\n {2}- INFLUX_DB: required when INFLUX_API=v1, not set\n/);
  });

  it('exits 3 and says the token was rejected, without retrying', async () => {
    sim = new HaSimulator({ token: 'right-token', entities: 40 });
    await sim.start();
    await createInfluxV1Database(inject('influxV1Url'), 'startup');
    const { code, logs } = await IngestorProcess.runToExit({ HA_URL: `http://127.0.0.1:${sim.port}`, HA_TOKEN: 'wrong-token', ...db() });
    expect(code).toBe(3);
    expect(logs.find((l) => l.level === 60)?.msg).toBe('Home Assistant rejected the token (HA_TOKEN); not retrying');
    expect(sim.connectionsAccepted).toBe(1);
    expect(JSON.stringify(logs)).not.toContain('wrong-token');
  });

  it('keeps retrying while HA is down, reports it in /health, and recovers when HA comes up', async () => {
    sim = new HaSimulator({ token: 't', entities: 40 });
    await sim.start();
    const port = sim.port;
    await sim.stop();
    await createInfluxV1Database(inject('influxV1Url'), 'startup');
    ingestor = await IngestorProcess.start({ HA_URL: `http://127.0.0.1:${port}`, HA_TOKEN: 't', ...db() });
    await until('a failed connection attempt', async () => ((await ingestor?.metric('ha_ingestor_ha_reconnects_total')) ?? 0) >= 1 ? true : undefined, 15_000);
    const down = await ingestor.health();
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ status: 'unhealthy', ha: { state: expect.stringMatching(/waiting|connecting/) } });
    sim = new HaSimulator({ token: 't', entities: 40, port });
    await sim.start();
    await ingestor.healthy(30_000);
    expect((await ingestor.health()).body).toMatchObject({ status: 'ok', ha: { state: 'subscribed', coalescing: true } });
    const metrics = await ingestor.metrics();
    for (const name of ['ha_ingestor_events_received_total', 'ha_ingestor_points_written_total', 'ha_ingestor_ha_reconnects_total', 'ha_ingestor_encoder_batches_in_flight', 'ha_ingestor_dispatch_queue_bytes', 'ha_ingestor_event_loop_lag_seconds']) {
      expect(metrics.has(name), name).toBe(true);
    }
    expect(await ingestor.stop('SIGTERM')).toBe(0);
  });
});
