import { afterEach, describe, expect, it } from 'vitest';
import { Weather, parseOwm, FAILURES_TO_OPEN, type Observation } from '../../src/enrich/weather.js';
import { Presence } from '../../src/enrich/presence.js';
import { contextFields, observationLine, presenceLine } from '../../src/enrich/context.js';
import { createMetrics } from '../../src/metrics.js';
import { FakeOwm, owmBody, type OwmReply } from '../helpers/fake-owm.js';
import { capturingLogger } from '../helpers/log.js';

let fake: FakeOwm | null = null;
let weather: Weather | null = null;
afterEach(async () => {
  weather?.stop();
  await fake?.stop();
  fake = null;
  weather = null;
});

async function setup(replies: OwmReply[], key: string | null = 'owm-key') {
  fake = new FakeOwm(() => replies.shift() ?? { status: 200, body: owmBody(20, 50, 'clear sky', 1714521600) });
  const url = await fake.start();
  const { log, lines } = capturingLogger();
  const metrics = createMetrics();
  const observations: Observation[] = [];
  weather = new Weather({
    apiKey: key ?? undefined,
    baseUrl: url,
    intervalMs: 60_000,
    coolDownMs: 50,
    timeoutMs: 200,
    log,
    metrics,
    onObservation: (o) => observations.push(o),
  });
  return { weather, metrics, observations, logLines: lines };
}

describe('OpenWeatherMap', () => {
  it('reads a current-weather answer', () => {
    expect(parseOwm(JSON.parse(owmBody(12.5, 81, 'broken clouds', 1714521600)))).toEqual({
      temperature: 12.5,
      humidity: 81,
      condition: 'broken clouds',
      observedAt: 1714521600000,
      source: 'openweathermap',
    });
    expect(() => parseOwm({ main: {} })).toThrow(/without main.temp/);
  });

  it('asks with the key, the location and metric units, and passes the observation on', async () => {
    const { weather: w, observations, metrics } = await setup([]);
    w.setLocation(52.52, 13.405);
    await w.poll();
    const url = fake?.requests[0] as URL;
    expect(url.pathname).toBe('/data/2.5/weather');
    expect(Object.fromEntries(url.searchParams)).toEqual({ lat: '52.52', lon: '13.405', units: 'metric', appid: 'owm-key' });
    expect(observations.at(-1)).toMatchObject({ temperature: 20, humidity: 50, condition: 'clear sky', source: 'openweathermap' });
    expect(w.current()?.source).toBe('openweathermap');
    expect(metrics.weatherRequests.get({ result: 'ok' })).toBeGreaterThanOrEqual(1);
  });

  it.each<[string, OwmReply]>([
    ['401 (key rejected)', { status: 401, body: '{"cod":401,"message":"Invalid API key"}' }],
    ['429 (rate limited)', { status: 429, body: '{"cod":429}' }],
    ['a timeout', { hang: true }],
    ['malformed JSON', { status: 200, body: '{"main": {' }],
    ['an answer without a temperature', { status: 200, body: '{"main": {}, "dt": 1}' }],
  ])('counts %s as a failure, and never logs the key', async (_name, reply) => {
    const { weather: w, metrics, logLines } = await setup([reply]);
    w.setLocation(1, 2);
    await w.poll();
    expect(metrics.weatherRequests.get({ result: 'error' })).toBe(1);
    expect(w.failures).toBe(1);
    expect(w.breaker).toBe('closed');
    expect(JSON.stringify(logLines)).not.toContain('owm-key');
  });

  it('breaker: opens after consecutive failures, half-opens after the cool-down, closes on a good probe, reopens on a bad one', async () => {
    const bad: OwmReply = { status: 500, body: 'oops' };
    const { weather: w, metrics } = await setup([bad, bad, bad, bad]);
    w.setLocation(1, 2);
    for (let i = 0; i < FAILURES_TO_OPEN; i++) await w.poll();
    expect(w.breaker).toBe('open');
    const requestsWhenOpened = fake?.requests.length;
    await w.poll(); // within the cool-down: no request
    expect(fake?.requests.length).toBe(requestsWhenOpened);
    await new Promise((r) => setTimeout(r, 60));
    await w.poll(); // half-open probe: the 4th bad reply → open again
    expect(w.breaker).toBe('open');
    await new Promise((r) => setTimeout(r, 60));
    await w.poll(); // probe succeeds → closed
    expect(w.breaker).toBe('closed');
    expect(metrics.weatherBreakerTransitions.get({ to: 'open' })).toBe(2);
    expect(metrics.weatherBreakerTransitions.get({ to: 'half_open' })).toBe(2);
    expect(metrics.weatherBreakerTransitions.get({ to: 'closed' })).toBe(1);
  });

  it("falls back to HA's weather entity without a key, or while the breaker is open", async () => {
    const { weather: w, observations } = await setup([], null);
    w.fromHa('weather.home', 'rainy', 9.5, 90, 1714521600000);
    w.fromHa('weather.other', 'sunny', 30, 10, 1714521600000); // not the first one seen
    expect(w.current()).toEqual({ temperature: 9.5, humidity: 90, condition: 'rainy', observedAt: 1714521600000, source: 'home_assistant' });
    expect(observations).toHaveLength(1);
  });
});

describe('presence and the context fields', () => {
  it('counts persons home, or device trackers in a home without persons', () => {
    const p = new Presence();
    expect(p.known).toBe(false);
    expect(p.update('device_tracker.phone', 'home', '1')).toEqual({ peopleHome: 1, occupied: true, timeNs: '1' });
    expect(p.update('person.alice', 'not_home', '2')).toEqual({ peopleHome: 0, occupied: false, timeNs: '2' });
    expect(p.update('person.bob', 'home', '3')).toEqual({ peopleHome: 1, occupied: true, timeNs: '3' });
    expect(p.update('person.bob', 'home', '4')).toBeNull();
    expect(p.update('sensor.x', 'home', '5')).toBeNull();
  });

  it('builds the fields every event point carries', () => {
    const p = new Presence();
    p.update('person.a', 'home', '1');
    const o: Observation = { temperature: 12.5, humidity: 80, condition: 'light "rain"', observedAt: 1_000_000, source: 'openweathermap' };
    expect(contextFields(o, p, 1_120_000)).toBe(
      ',outdoor_temperature=12.5,outdoor_humidity=80,outdoor_condition_str="light \\"rain\\"",weather_age_s=120,home_occupied=1,people_home=1',
    );
    expect(contextFields(null, new Presence(), 0)).toBe('');
    expect(presenceLine(2, '1714521600000000000')).toBe('home_presence people_home=2,home_occupied=1 1714521600000000000\n');
    expect(observationLine(o)).toBe('weather_observation,source=openweathermap temperature=12.5,humidity=80,condition_str="light \\"rain\\"" 1000000000000\n');
  });
});
