/** Filters and per-entity settings, from the environment and CONFIG_FILE, in the built ingestor. */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { influxQuery } from '../helpers/influxql.js';
import { IngestorProcess } from '../helpers/ingestor.js';
import { until } from '../helpers/ports.js';
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
