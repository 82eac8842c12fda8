/** Area and device tags from HA's registries, kept current by their update events. */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { influxQuery, rowsOf } from '../helpers/influxql.js';
import { until } from '../helpers/ports.js';
import { Scenario } from '../helpers/scenario.js';

let sc: Scenario | null = null;
afterEach(async () => {
  await sc?.stop();
  sc = null;
});

type Row = Record<string, unknown>;
async function rows(db: string, measurement: string, where = ''): Promise<Row[]> {
  return rowsOf(await influxQuery(inject('influxV1Url'), db, `SELECT * FROM "${measurement}" ${where}`, { epoch: 'ms' }));
}

const namesRead = (s: Scenario) => (s.ingestor?.logs ?? []).filter((l) => l.msg === 'area and device names read from HA').length;

describe('areas and devices', () => {
  it('tag points with area and device names, and follow a renamed area', async () => {
    sc = await Scenario.start({ influxUrl: inject('influxV1Url'), db: 'areas', env: { SELF_METRICS_INTERVAL_S: '0' } });
    const s = sc;
    await until('registries read', () => (namesRead(s) >= 1 ? true : undefined), 20_000);
    const before = Date.now();
    await s.sim.emit({ count: 2_000, rate: 4_000 });
    await until(
      'kitchen sensors',
      async () => ((await rows('areas', 'sensor', `WHERE time >= ${before}ms AND entity_id =~ /kitchen/`)).length > 0 ? true : undefined),
      20_000,
      300,
    );
    const kitchen = await rows('areas', 'sensor', `WHERE time >= ${before}ms AND entity_id =~ /kitchen/`);
    expect(kitchen.filter((r) => r.area !== 'Küche').map((r) => [r.entity_id, r.area])).toEqual([]); // UTF-8 intact, on every path
    const lights = await rows('areas', 'light', `WHERE time >= ${before}ms AND entity_id =~ /kitchen/`);
    expect(lights.length).toBeGreaterThan(0);
    for (const r of lights) {
      expect(r.area).toBe('Küche'); // from the light's device
      expect(r.device).toBe(`Bulb ${String(r.entity_id).slice(6)}`);
    }

    s.sim.renameArea('kitchen', 'Cuisine');
    await until('registries read again', () => (namesRead(s) >= 2 ? true : undefined), 20_000);
    const after = Date.now();
    await s.sim.emit({ count: 2_000, rate: 4_000 });
    await until(
      'renamed',
      async () => ((await rows('areas', 'sensor', `WHERE time >= ${after}ms AND entity_id =~ /kitchen/`)).length > 0 ? true : undefined),
      20_000,
      300,
    );
    const renamed = await rows('areas', 'sensor', `WHERE time >= ${after}ms AND entity_id =~ /kitchen/`);
    expect(renamed.every((r) => r.area === 'Cuisine')).toBe(true);
    // The registry event is for the ingestor, not written as a point.
    expect((await rows('areas', 'ha_event')).length).toBe(0);
  });

  it('say once when the token is not an admin, and write points without those tags', async () => {
    sc = await Scenario.start({ influxUrl: inject('influxV1Url'), db: 'noadmin', sim: { admin: false }, env: { SELF_METRICS_INTERVAL_S: '0' } });
    const s = sc;
    await until('the log line', () => (s.ingestor?.logs.some((l) => String(l.msg).includes("not an admin's")) ? true : undefined), 20_000);
    await s.sim.emit({ count: 500 });
    await until('points', async () => ((await rows('noadmin', 'sensor')).length > 300 ? true : undefined), 20_000, 300);
    expect((await rows('noadmin', 'sensor')).every((r) => r.area === undefined || r.area === null)).toBe(true);
  });
});
