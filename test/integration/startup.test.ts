/** The built ingestor's start-up contract: exit codes, messages, health, as a user meets them. */
import { createServer } from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { HaSimulator } from '../../src/sim/server.js';
import { createInfluxV1Database } from '../helpers/expected.js';
import { IngestorProcess } from '../helpers/ingestor.js';
import { freePort, until } from '../helpers/ports.js';

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
    const { code, stderr } = await IngestorProcess.runToExit({
      HA_URL: 'http://127.0.0.1:1',
      INFLUX_URL: 'http://127.0.0.1:2',
      INFLUX_TOKEN: 'influx-secret',
      INFLUX_ORG: 'o',
      INFLUX_BUCKET: 'b',
    });
    expect(code).toBe(2);
    expect(stderr).toContain('HA_TOKEN: required');
    expect(stderr).not.toContain('influx-secret');
  });

  it('exits 2 listing every invalid variable in one message', async () => {
    const { code, stderr } = await IngestorProcess.runToExit({ HA_URL: 'nope', HA_TOKEN: 't', INFLUX_URL: 'http://x', INFLUX_API: 'v1', POOL_SIZE: '-1' });
    expect(code).toBe(2);
    expect(stderr).toMatch(
      /invalid configuration:\n {2}- HA_URL: expected .* got "nope"\n {2}- POOL_SIZE: expected an integer from 0 to 64, got "-1"\n {2}- INFLUX_DB: required when INFLUX_API=v1, not set\n/,
    );
  });

  it('keeps retrying while HA is down, reports it in /health, and recovers when HA comes up', async () => {
    sim = new HaSimulator({ token: 't', entities: 40 });
    await sim.start();
    const port = sim.port;
    await sim.stop();
    await createInfluxV1Database(inject('influxV1Url'), 'startup');
    ingestor = await IngestorProcess.start({ HA_URL: `http://127.0.0.1:${port}`, HA_TOKEN: 't', ...db() });
    await until(
      'a failed connection attempt',
      async () => (((await ingestor?.metric('ha_ingestor_ha_reconnects_total')) ?? 0) >= 1 ? true : undefined),
      15_000,
    );
    const down = await ingestor.health();
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ status: 'unhealthy', ha: { state: expect.stringMatching(/waiting|connecting/) } });
    sim = new HaSimulator({ token: 't', entities: 40, port });
    await sim.start();
    await ingestor.healthy(30_000);
    expect((await ingestor.health()).body).toMatchObject({ status: 'ok', ha: { state: 'subscribed', coalescing: true } });
    const metrics = await ingestor.metrics();
    for (const name of [
      'ha_ingestor_events_received_total',
      'ha_ingestor_points_written_total',
      'ha_ingestor_ha_reconnects_total',
      'ha_ingestor_encoder_batches_in_flight',
      'ha_ingestor_dispatch_queue_bytes',
      'ha_ingestor_event_loop_lag_seconds',
    ]) {
      expect(metrics.has(name), name).toBe(true);
    }
    expect(await ingestor.stop('SIGTERM')).toBe(0);
  });

  it('exits 2 with the usage on an unknown flag, without starting', async () => {
    const started = Date.now();
    const { code, stderr, logs } = await IngestorProcess.runToExit({ HA_URL: 'http://127.0.0.1:1', HA_TOKEN: 't', ...db() }, 20_000, ['--chek']);
    expect(code).toBe(2);
    expect(stderr).toContain("Unknown option '--chek'");
    expect(stderr).toContain('Usage: ha-influx-ingestor');
    expect(logs).toEqual([]);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('a start that fails (HTTP_PORT in use) exits 1 within 10 s with one message, and leaves state.json as it was', async () => {
    const blocker = createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => blocker.listen(port, resolve));
    try {
      const env = db();
      const state = join(env.DATA_DIR, 'state.json');
      writeFileSync(state, JSON.stringify({ version: 1, watermarkMs: 1_700_000_000_000, entityIds: ['sensor.a'], savedAt: '2023-11-14T22:13:20.000Z' }));
      const before = { text: readFileSync(state, 'utf8'), mtime: statSync(state).mtimeMs };
      const started = Date.now();
      const { code, logs } = await IngestorProcess.runToExit({ HA_URL: 'http://127.0.0.1:1', HA_TOKEN: 't', ...env, HTTP_PORT: String(port) }, 15_000);
      expect(code).toBe(1);
      expect(Date.now() - started).toBeLessThan(10_000);
      const fatal = logs.filter((l) => (l.level as number) >= 50);
      expect(fatal).toHaveLength(1);
      expect(fatal[0]?.msg).toContain(`HTTP_PORT ${port}`);
      expect(fatal[0]?.msg).toContain('in use');
      expect({ text: readFileSync(state, 'utf8'), mtime: statSync(state).mtimeMs }).toEqual(before);
    } finally {
      blocker.close();
    }
  });

  it.each([
    ['DATA_DIR is a device', { DATA_DIR: '/dev/null' }, 'DATA_DIR=/dev/null: cannot keep data there: it is a file, not a folder (EEXIST)'],
    ['DATA_DIR cannot be created', { DATA_DIR: '/sys/ha-ingestor-data' }, 'DATA_DIR=/sys/ha-ingestor-data: cannot keep data there: permission denied (EPERM)'],
    ['SPOOL_DIR is a file', { SPOOL_DIR: '/etc/hostname' }, 'SPOOL_DIR=/etc/hostname: cannot keep data there: it is a file, not a folder (EEXIST)'],
  ])('%s: exit 2 with one line naming the variable and the cause', async (_what, override, message) => {
    const { code, logs, stderr } = await IngestorProcess.runToExit({ HA_URL: 'http://127.0.0.1:1', HA_TOKEN: 't', ...db(), ...override });
    expect(code).toBe(2);
    const fatal = logs.filter((l) => (l.level as number) >= 50);
    expect(fatal.map((l) => l.msg)).toEqual([`cannot start: ${message}`]);
    expect(JSON.stringify(fatal)).not.toContain('    at ');
    expect(stderr).toBe('');
  });

  it('keeps the data folder private: files 0600, folders 0700', async () => {
    sim = new HaSimulator({ token: 't', entities: 40 });
    await sim.start();
    const env = db();
    // A database that refuses: the batches go to the spool, so it holds files too.
    ingestor = await IngestorProcess.start({ HA_URL: `http://127.0.0.1:${sim.port}`, HA_TOKEN: 't', ...env, INFLUX_URL: 'http://127.0.0.1:1' });
    await sim.waitForSubscribers(1);
    await sim.emit({ count: 200 });
    expect(await ingestor.stop('SIGTERM')).toBe(0);
    const modes: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, e.name);
        modes.push(`${(statSync(path).mode & 0o777).toString(8)} ${e.isDirectory() ? 'dir' : 'file'}`);
        if (e.isDirectory()) walk(path);
      }
    };
    walk(env.DATA_DIR);
    expect(modes).toContain('600 file');
    expect(new Set(modes)).toEqual(new Set(['700 dir', '600 file']));
  });

  it('HA_URL that is not a URL (a port out of range) exits 2 naming it, before any attempt (issue 10 item 15)', async () => {
    const { code, stderr, logs } = await IngestorProcess.runToExit({ HA_URL: 'http://host:99999', HA_TOKEN: 't', ...db() });
    expect(code).toBe(2);
    expect(stderr).toContain('HA_URL: expected');
    expect(stderr).toContain('not a valid URL');
    expect(logs).toEqual([]);
  });

  it('/health listens where HTTP_HOST says, loopback by default (issue 10 item 12)', async () => {
    sim = new HaSimulator({ token: 't', entities: 20 });
    await sim.start();
    await createInfluxV1Database(inject('influxV1Url'), 'startup');
    ingestor = await IngestorProcess.start({ HA_URL: `http://127.0.0.1:${sim.port}`, HA_TOKEN: 't', ...db(), HTTP_HOST: '127.0.0.2' });
    const port = ingestor.httpPort;
    await until(
      '/health on 127.0.0.2',
      async () => ((await fetch(`http://127.0.0.2:${port}/health`).catch(() => null))?.status === 200 ? true : undefined),
      30_000,
      100,
    );
    await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
    expect(ingestor.logs.find((l) => l.msg === 'starting')).toMatchObject({ httpPort: port });
  });
});
