/**
 * The built ingestor as a Home Assistant add-on: started with SUPERVISOR_TOKEN and an options.json,
 * no HA_URL, no HA_TOKEN, no database variable. The simulator stands in for the Supervisor
 * (`supervisor: true`: WebSocket at /core/websocket, REST under /core/api/), on a loopback port
 * named by SUPERVISOR_HOST since the name `supervisor` does not resolve here. Test plumbing beside
 * those: ADDON_OPTIONS_FILE and DATA_DIR in a temporary folder (/data is not ours), a free
 * HTTP_PORT, LOG_LEVEL (IngestorProcess's).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { HaSimulator } from '../../src/sim/server.js';
import { createInfluxV1Database, type ExpectedPoint, expectedPoints, expectSamePoints, readInfluxV1 } from '../helpers/expected.js';
import { IngestorProcess } from '../helpers/ingestor.js';
import { until } from '../helpers/ports.js';

const TOKEN = 'supervisor-token-for-the-addon-test';
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('as a Home Assistant add-on', () => {
  it("captures and writes events through the Supervisor's proxy paths, its REST history included, with only SUPERVISOR_TOKEN and options.json", async () => {
    const influxUrl = inject('influxV1Url');
    const db = 'addon';
    await createInfluxV1Database(influxUrl, db);
    // HA 0.96 has no history command: the gap after the dropped connection is filled over REST.
    const sim = new HaSimulator({ token: TOKEN, entities: 200, seed: 13, mode: 'old', supervisor: true });
    await sim.start();
    cleanups.push(() => sim.stop());
    const dir = mkdtempSync(join(tmpdir(), 'ha-ingestor-addon-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const optionsFile = join(dir, 'options.json');
    writeFileSync(optionsFile, JSON.stringify({ influx_url: influxUrl, influx_api: 'v1', influx_database: db, pool_size: 1, statistics: false }));

    const ingestor = await IngestorProcess.start({
      SUPERVISOR_TOKEN: TOKEN,
      SUPERVISOR_HOST: `127.0.0.1:${sim.port}`,
      ADDON_OPTIONS_FILE: optionsFile,
      DATA_DIR: join(dir, 'data'),
    });
    cleanups.push(async () => void (await ingestor.stop('SIGKILL')));
    await ingestor.healthy(30_000);

    const emitting = sim.emit({ count: 3_000, rate: 1_000 });
    await until('half emitted', () => (sim.emitted.length >= 1_500 ? true : undefined), 20_000);
    sim.dropConnections();
    await emitting;
    // REST takes ids as a comma list: the simulator's one id with a comma cannot be asked for.
    // Its missed states are left out of both sides: the last of them may still come with the
    // snapshot after the reconnect, when no newer state of it arrived first.
    const missed = new Set(sim.emitted.filter((e) => !e.delivered && e.entityId.includes(',')));
    const missedAt = new Set([...missed].map((e) => `${e.entityId} ${e.lastUpdatedUs}000`));
    const expected = expectedPoints(
      [...sim.snapshotStates.values()],
      sim.emitted.filter((e) => !missed.has(e)),
    ).filter((p) => !missedAt.has(`${p.entityId} ${p.time}`));
    let actual: ExpectedPoint[] = [];
    await until(
      'every point in the database',
      async () => {
        actual = (await readInfluxV1(influxUrl, db)).filter((p) => !missedAt.has(`${p.entityId} ${p.time}`));
        return actual.length >= expected.length ? true : undefined;
      },
      30_000,
      500,
    );
    expectSamePoints(actual, expected);
    const logs = ingestor.logs.map((l) => String(l.msg));
    expect(logs.some((m) => m.includes('using /api/history/period'))).toBe(true);
    expect(await ingestor.metric('ha_ingestor_backfill_points_total')).toBeGreaterThan(0);
  });
});
