/**
 * The built ingestor as a Home Assistant add-on: started with SUPERVISOR_TOKEN and an options.json,
 * no HA_URL, no HA_TOKEN, no database variable. The simulator stands in for the Supervisor
 * (`supervisor: true`: WebSocket at /core/websocket, REST under /core/api/), on a loopback port
 * named by SUPERVISOR_HOST since the name `supervisor` does not resolve here. Test plumbing beside
 * those: ADDON_OPTIONS_FILE and DATA_DIR in a temporary folder (/data is not ours), a free
 * HTTP_PORT, LOG_LEVEL (IngestorProcess's).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { HaSimulator } from '../../src/sim/server.js';
import { createInfluxV1Database, type ExpectedPoint, expectedPoints, expectSamePoints, readInfluxV1 } from '../helpers/expected.js';
import { influxQuery, rowsOf } from '../helpers/influxql.js';
import { IngestorProcess } from '../helpers/ingestor.js';
import { until } from '../helpers/ports.js';

const TOKEN = 'supervisor-token-for-the-addon-test';
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The built ingestor as the add-on, with `options` in options.json in `dir`, the simulator as the Supervisor. */
async function startAddon(sim: HaSimulator, dir: string, options: Record<string, unknown>): Promise<IngestorProcess> {
  const optionsFile = join(dir, 'options.json');
  writeFileSync(optionsFile, JSON.stringify(options));
  const ingestor = await IngestorProcess.start({
    SUPERVISOR_TOKEN: TOKEN,
    SUPERVISOR_HOST: `127.0.0.1:${sim.port}`,
    ADDON_OPTIONS_FILE: optionsFile,
    DATA_DIR: join(dir, 'data'),
  });
  cleanups.push(async () => void (await ingestor.stop('SIGKILL')));
  return ingestor;
}

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
    const ingestor = await startAddon(sim, dir, { influx_url: influxUrl, influx_api: 'v1', influx_database: db, pool_size: 1, statistics: false });
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

  it("config_file with HA's influxdb: block, the other options as the Supervisor saves them: the block's database, schema and precision are used (review 12, item 1)", async () => {
    const influxUrl = new URL(inject('influxV1Url'));
    const db = 'addon_block';
    await createInfluxV1Database(influxUrl.origin, db);
    const sim = new HaSimulator({ token: TOKEN, entities: 60, seed: 17, supervisor: true });
    await sim.start();
    cleanups.push(() => sim.stop());
    const dir = mkdtempSync(join(tmpdir(), 'ha-ingestor-addon-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'influxdb.yaml'), `influxdb:\n  host: ${influxUrl.hostname}\n  port: ${influxUrl.port}\n  database: ${db}\n  precision: s\n`);
    // The Supervisor writes every option that has a default in the manifest, touched or not.
    const manifest = parseYaml(readFileSync(new URL('../../addon/config.yaml', import.meta.url), 'utf8')) as { options: Record<string, unknown> };
    const ingestor = await startAddon(sim, dir, { ...manifest.options, statistics: false, config_file: join(dir, 'influxdb.yaml') });
    const rows = await until(
      "the snapshot's points in the block's database",
      async () => {
        const series = (await influxQuery(influxUrl.origin, db, 'SELECT * FROM /.*/', { epoch: 'ns' })).filter((x) => x.name !== 'ha_ingestor');
        return series.length === 0 ? undefined : rowsOf(series);
      },
      30_000,
      250,
    );
    // SCHEMA=ha (HA's tags domain and entity_id, not the typed schema's), every time cut to the second.
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      expect(typeof row.domain).toBe('string');
      expect(BigInt(String(row.time)) % 1_000_000_000n).toBe(0n);
    }
    expect(ingestor.logs.some((l) => l.level === 40 && String(l.msg).startsWith('CONFIG_FILE'))).toBe(false);
  });
});
