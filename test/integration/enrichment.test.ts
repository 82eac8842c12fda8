/**
 * Enrichment end to end: weather (a stand-in OpenWeatherMap, or HA's own weather entity when it
 * cannot be reached) and presence on the event points, read back from InfluxDB 1.6.7.
 */
import { describe, expect, inject, it } from 'vitest';
import { FakeOwm, owmBody } from '../helpers/fake-owm.js';
import { influxQuery, rowsOf } from '../helpers/influxql.js';
import { freePort, until } from '../helpers/ports.js';
import { Scenario } from '../helpers/scenario.js';
import { useCleanups } from '../helpers/cleanups.js';

const cleanups = useCleanups();

type Row = Record<string, unknown>;

async function rows(url: string, db: string, measurement: string): Promise<Row[]> {
  return rowsOf(await influxQuery(url, db, `SELECT * FROM "${measurement}"`, { epoch: 'ms' }));
}

async function eventRows(url: string, db: string, since: number): Promise<Row[]> {
  const all: Row[] = [];
  for (const m of ['sensor', 'binary_sensor', 'light', 'switch', 'climate', 'person', 'device_tracker']) all.push(...(await rows(url, db, m)));
  return all.filter((r) => (r.time as number) >= since);
}

async function run(db: string, env: Record<string, string>): Promise<{ sc: Scenario; events: Row[] }> {
  const url = inject('influxV1Url');
  const sc = await Scenario.start({ influxUrl: url, db, env: { SELF_METRICS_INTERVAL_S: '0', ...env } });
  cleanups.push(() => sc.stop());
  const since = Date.now();
  await sc.sim.emit({ count: 3_000, rate: 3_000 });
  const expected = sc.sim.emitted.length;
  let events: Row[] = [];
  await until('the events', async () => ((events = await eventRows(url, db, since)).length >= expected * 0.98 ? true : undefined), 60_000, 500);
  return { sc, events };
}

const share = (rowsList: Row[], field: string) => rowsList.filter((r) => r[field] !== null && r[field] !== undefined).length / rowsList.length;

describe('enrichment', () => {
  it('with OpenWeatherMap reachable: ≥ 95 % of event points carry its weather and the presence', async () => {
    const owm = new FakeOwm(() => ({ status: 200, body: owmBody(12.5, 81, 'broken clouds', Math.floor(Date.now() / 1000)) }));
    const owmUrl = await owm.start();
    cleanups.push(() => owm.stop());
    const { events } = await run('enrich_owm', { WEATHER_API_KEY: 'test-key', WEATHER_URL: owmUrl, WEATHER_LAT: '52.52', WEATHER_LON: '13.405' });
    expect(share(events, 'outdoor_temperature')).toBeGreaterThanOrEqual(0.95);
    expect(share(events, 'home_occupied')).toBeGreaterThanOrEqual(0.95);
    expect(share(events, 'people_home')).toBeGreaterThanOrEqual(0.95);
    expect(
      events.filter((r) => r.outdoor_temperature !== null).every((r) => r.outdoor_temperature === 12.5 && r.outdoor_condition_str === 'broken clouds'),
    ).toBe(true);
    const observations = await rows(inject('influxV1Url'), 'enrich_owm', 'weather_observation');
    expect(observations.some((r) => r.source === 'openweathermap' && r.temperature === 12.5)).toBe(true);
    expect((await rows(inject('influxV1Url'), 'enrich_owm', 'home_presence')).length).toBeGreaterThan(0);
    expect(owm.requests[0]?.searchParams.get('appid')).toBe('test-key');
  });

  it("with OpenWeatherMap unreachable: events flow, and carry HA's own weather entity", async () => {
    const closed = await freePort();
    const { sc, events } = await run('enrich_ha', {
      WEATHER_API_KEY: 'test-key',
      WEATHER_URL: `http://127.0.0.1:${closed}`,
      WEATHER_LAT: '52.52',
      WEATHER_LON: '13.405',
    });
    expect(events.length).toBeGreaterThanOrEqual(sc.sim.emitted.length * 0.98);
    expect(share(events, 'outdoor_condition_str')).toBeGreaterThanOrEqual(0.95);
    expect(share(events, 'outdoor_temperature')).toBeGreaterThanOrEqual(0.95);
    const observations = await rows(inject('influxV1Url'), 'enrich_ha', 'weather_observation');
    expect(observations.every((r) => r.source === 'home_assistant')).toBe(true);
    expect(await sc.ingestor?.metric('ha_ingestor_weather_requests_total{result="error"}')).toBeGreaterThan(0);
  });
});
