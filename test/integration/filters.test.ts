/** Filters and per-entity settings, from the environment and CONFIG_FILE, in the built ingestor. */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { influxQuery } from '../helpers/influxql.js';
import { IngestorProcess } from '../helpers/ingestor.js';
import { until } from '../helpers/ports.js';
import { HA_FILTER_CASES } from '../helpers/ha-filter-cases.js';
import { Scenario } from '../helpers/scenario.js';

let sc: Scenario | null = null;
afterEach(async () => {
  await sc?.stop();
  sc = null;
});

async function q(url: string, db: string, query: string): Promise<unknown[][]> {
  return (await influxQuery(url, db, query)).flatMap((s) => s.values);
}

describe('filters', () => {
  it('leave out excluded entities and attributes, and apply measurement overrides', async () => {
    const url = inject('influxV1Url');
    // Filters from the environment and from CONFIG_FILE together, in force from the first point
    // (the snapshot at start-up is filtered too).
    const file = join(tmpdir(), `filters-${process.pid}.yaml`);
    writeFileSync(
      file,
      'exclude:\n  entity_globs: ["sensor.*_battery_*"]\ncomponent_config_glob:\n  "sensor.*_temperature_*":\n    override_measurement: temperatures\n',
    );
    sc = await Scenario.start({
      influxUrl: url,
      db: 'filtered',
      env: { EXCLUDE_DOMAINS: 'light', IGNORE_ATTRIBUTES: 'friendly_name', SELF_METRICS_INTERVAL_S: '0', CONFIG_FILE: file },
    });
    await sc.sim.emit({ count: 3_000 });

    const isTemp = (id: string) => /^sensor\..*_temperature_\d+$/.test(id);
    const wantTemps = new Set<string>();
    for (const st of sc.sim.snapshotStates.values()) if (isTemp(st.entity_id)) wantTemps.add(`${st.entity_id}|${st.last_updated}`);
    for (const e of sc.sim.emitted) if (isTemp(e.entityId)) wantTemps.add(`${e.entityId}|${e.lastUpdated}`);
    const ingestor = sc.ingestor as IngestorProcess;
    await until(
      'temperatures written',
      async () => ((await q(url, 'filtered', 'SELECT * FROM temperatures')).length === wantTemps.size ? true : undefined),
      60_000,
      500,
    );

    const measurements = (await q(url, 'filtered', 'SHOW MEASUREMENTS')).map((v) => v[0]);
    expect(measurements).toContain('temperatures');
    expect(measurements).not.toContain('light');
    const sensorIds = (await q(url, 'filtered', 'SHOW TAG VALUES FROM "sensor" WITH KEY = "entity_id"')).map((v) => String(v[1]));
    expect(sensorIds.some((id) => /_battery_/.test(id))).toBe(false);
    expect(sensorIds.some((id) => isTemp(id))).toBe(false);
    const fieldKeys = (await q(url, 'filtered', 'SHOW FIELD KEYS')).map((v) => v[0]);
    expect(fieldKeys).not.toContain('friendly_name_str');
    expect(await ingestor.metric('ha_ingestor_events_skipped_total')).toBeGreaterThan(0);
  });

  it('a wrong CONFIG_FILE stops the start with every problem, exit 2', async () => {
    const file = join(tmpdir(), `bad-filters-${process.pid}.yaml`);
    writeFileSync(file, 'include:\n  domain: [sensor]\n');
    const { code, stderr } = await IngestorProcess.runToExit({ HA_URL: 'http://127.0.0.1:1', HA_TOKEN: 't', CONFIG_FILE: file });
    expect(code).toBe(2);
    expect(stderr).toContain(`CONFIG_FILE ${file}: include: unknown key "domain"`);
  });
});

// Every include/exclude case of HA's entityfilter and influxdb tests (test/helpers/ha-filter-cases.ts
// cites the files and commits), through CONFIG_FILE and the built ingestor in SCHEMA=ha, as issue 12
// asks (one ingestor start each, about 2.5 s). The ids HA leaves out are sent first; one thread
// encodes (POOL_SIZE=0), so once the last id HA writes is in the database, every verdict before
// it is in too.
describe("HA's include/exclude tests through the built ingestor", () => {
  const MARK = 4242;
  it.each(HA_FILTER_CASES.map((c, i) => [...c, i] as const))('%s', async (_name, include, exclude, expected, i) => {
    const url = inject('influxV1Url');
    const db = `ha_filter_${i}`;
    const file = join(tmpdir(), `ha-filter-${process.pid}-${i}.json`);
    writeFileSync(file, JSON.stringify({ include, exclude }));
    sc = await Scenario.start({
      influxUrl: url,
      db,
      sim: { entities: 20 },
      env: { SCHEMA: 'ha', POOL_SIZE: '0', SELF_METRICS_INTERVAL_S: '0', CONFIG_FILE: file },
    });
    const ids = Object.keys(expected);
    const kept = ids.filter((id) => expected[id]);
    for (const id of [...ids.filter((id) => !expected[id]), ...kept]) sc.sim.emitState(id, String(MARK), {});
    const marked = async () => (await influxQuery(url, db, `SELECT "value" FROM /.*/ WHERE "value" = ${MARK}`)).map((s) => s.name).sort();
    // Polled to a deadline, then compared: a wrong verdict shows as a difference, not a timeout.
    const deadline = Date.now() + 30_000;
    let got = await marked();
    while (got.length < kept.length && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      got = await marked();
    }
    expect(got).toEqual([...kept].sort());
  });
});
