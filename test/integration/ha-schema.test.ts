/**
 * SCHEMA=ha end to end: the series and fields Home Assistant's own InfluxDB integration would
 * write for the simulator's events (measurement = unit or entity id, tags domain + object id,
 * value/state, time_fired), read back from a real InfluxDB 1.6.7.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { haValueState, nsOf } from '../helpers/expected.js';
import { influxQuery } from '../helpers/influxql.js';
import { Scenario } from '../helpers/scenario.js';

let sc: Scenario | null = null;
afterEach(async () => {
  await sc?.stop();
  sc = null;
});

describe('SCHEMA=ha', () => {
  it('writes the series HA would write: measurement, tags, value/state and time, point by point', async () => {
    const url = inject('influxV1Url');
    sc = await Scenario.start({ influxUrl: url, db: 'ha_compat', env: { SCHEMA: 'ha', SELF_METRICS_INTERVAL_S: '0' } });
    await sc.sim.emit({ count: 3_000 });

    // What HA's integration writes, computed here from its rules (not from our encoder).
    const want = new Map<string, string>();
    const add = (entityId: string, state: string, attributes: Record<string, unknown>, time: string): void => {
      if (state === 'unknown' || state === 'unavailable' || state === '') return;
      const unit = attributes.unit_of_measurement;
      const measurement = typeof unit === 'string' && unit !== '' ? unit : entityId;
      const [domain, objectId] = [entityId.slice(0, entityId.indexOf('.')), entityId.slice(entityId.indexOf('.') + 1)];
      want.set(`${measurement}|${domain}|${objectId}|${nsOf(time)}`, JSON.stringify(haValueState(state, attributes)));
    };
    for (const st of sc.sim.snapshotStates.values()) add(st.entity_id, st.state, st.attributes, st.last_updated);
    for (const e of sc.sim.emitted) add(e.entityId, e.state, e.attributes, e.lastUpdated);

    const q = (query: string) => influxQuery(url, 'ha_compat', query);
    const ident = (name: string) => `"${name.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
    let have = new Map<string, string>();
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      have = new Map();
      for (const m of (await q('SHOW MEASUREMENTS')).flatMap((s) => s.values.map((v) => String(v[0])))) {
        // SELECT *: a point whose value and state are both empty (state "inf") still has a row.
        for (const s of await q(`SELECT * FROM ${ident(m)}`)) {
          const at = (c: string) => s.columns.indexOf(c);
          for (const row of s.values) {
            const get = (c: string) => (at(c) === -1 ? null : (row[at(c)] ?? null));
            have.set(`${m}|${get('domain')}|${get('entity_id')}|${nsOf(String(get('time')))}`, JSON.stringify([get('value'), get('state')]));
          }
        }
      }
      if (have.size >= want.size) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    const missing = [...want.keys()].filter((k) => !have.has(k));
    const extra = [...have.keys()].filter((k) => !want.has(k));
    const different = [...want].filter(([k, v]) => have.has(k) && have.get(k) !== v);
    const emittedAt = (k: string) =>
      sc?.sim.emitted.find(
        (e) =>
          `${e.entityId.slice(0, e.entityId.indexOf('.'))}|${e.entityId.slice(e.entityId.indexOf('.') + 1)}|${nsOf(e.lastUpdated)}` ===
          k.slice(k.indexOf('|') + 1),
      )?.state;
    expect({
      missing: missing.slice(0, 3).map((k) => [k, emittedAt(k)]),
      extra: extra.slice(0, 3),
      different: different.slice(0, 3).map(([k, v]) => [k, v, have.get(k)]),
    }).toEqual({ missing: [], extra: [], different: [] });
    expect(have.size).toBe(want.size);
    expect([...have.keys()].some((k) => k.startsWith('°C|sensor|'))).toBe(true);
    expect(await sc.ingestor?.metric('ha_ingestor_events_skipped_total')).toBeGreaterThan(0);
  });

  it('INFLUX_TAGS as JSON: keys and values with commas, = and spaces read back exactly', async () => {
    const url = inject('influxV1Url');
    const tags = { room: 'hall, 1st floor', 'a=b': 'x=y z' };
    sc = await Scenario.start({
      influxUrl: url,
      db: 'ha_tags',
      sim: { entities: 20 },
      env: { SCHEMA: 'ha', SELF_METRICS_INTERVAL_S: '0', INFLUX_TAGS: JSON.stringify(tags), INCLUDE_ENTITIES: 'sensor.tagged' },
    });
    sc.sim.emitState('sensor.tagged', '7', {});
    const read = async () => {
      const rows = (await influxQuery(url, 'ha_tags', 'SELECT "value", "room", "a=b" FROM "sensor.tagged"')).flatMap((s) => s.values);
      return rows.length > 0 ? rows : undefined;
    };
    let rows: unknown[][] | undefined;
    for (let i = 0; i < 120 && rows === undefined; i++) {
      rows = await read();
      if (rows === undefined) await new Promise((r) => setTimeout(r, 250));
    }
    expect(rows?.map((r) => r.slice(1))).toEqual([[7, tags.room, tags['a=b']]]);
  });
});
