/**
 * Every special character in every position, written by the real encoders (SCHEMA=ha: the unit is
 * the measurement, tags_attributes make tag keys and values, attribute names make field keys, the
 * state and attributes make string values) to a real InfluxDB 1.6.7 and a real VictoriaMetrics,
 * each with its INFLUX_FLAVOR, and read back: exact where the database can carry the text, the
 * documented substitute (docs/schema.md#escaping) where it cannot.
 */
import { describe, expect, inject, it } from 'vitest';
import { createHaEncoder, DEFAULT_HA_SCHEMA } from '../../workers/ha-schema.js';
import type { Flavor } from '../../workers/line-protocol.js';
import { influxQuery, rowsOf } from '../helpers/influxql.js';

/** [text, read back from InfluxDB as measurement, as tag key/value, as field key]; names in VictoriaMetrics: only line breaks change. */
const SAMPLES: readonly (readonly [string, string, string, string])[] = [
  ['q"uote', 'q"uote', 'q"uote', 'q"uote'],
  ['back\\slash', 'back\\slash', 'back\\slash', 'back\\slash'],
  ['\\\\double', '\\\\double', '\\\\double', '\\\\double'],
  ['com,ma', 'com,ma', 'com,ma', 'com,ma'],
  ['eq=ual', 'eq=ual', 'eq=ual', 'eq=ual'],
  ['sp ace', 'sp ace', 'sp ace', 'sp ace'],
  ['line\nfeed', 'line\\nfeed', 'line\\nfeed', 'line\\nfeed'],
  ['car\rriage\r\n', 'car\\rriage\\r\\n', 'car\\rriage\\r\\n', 'car\\rriage\\r\\n'],
  ['tab\tstop', 'tab\tstop', 'tab\tstop', 'tab\tstop'],
  ['Ünï 温度 🌡', 'Ünï 温度 🌡', 'Ünï 温度 🌡', 'Ünï 温度 🌡'],
  ['trailing\\', 'trailing/', 'trailing/', 'trailing/'],
  ['b\\,c', 'b/,c', 'b\\,c', 'b/,c'],
  ['b\\ c', 'b/ c', 'b\\ c', 'b/ c'],
  ['b\\=c', 'b/=c', 'b\\=c', 'b/=c'],
  ['b\\"c', 'b/"c', 'b\\"c', 'b\\"c'],
  ['b\\\\,c', 'b\\/,c', 'b\\\\,c', 'b\\\\,c'],
];

const TIME = new Date(Date.now() - 60_000).toISOString();

/** One state per sample; its names start with the sample's number so that each has its own series. */
function linesFor(flavor: Flavor, run: string): string {
  let body = '';
  SAMPLES.forEach(([s], i) => {
    const encoder = createHaEncoder({ ...DEFAULT_HA_SCHEMA, tagsAttributes: [`k${i}${s}`] }, undefined, flavor);
    const attributes = { unit_of_measurement: `${run}m${i}${s}`, [`k${i}${s}`]: `v${s}`, [`f${i}${s}`]: 1, [`s${i}`]: s };
    body += encoder.encodeState({ entity_id: `sensor.t${i}`, state: `state ${s}`, attributes, last_updated: TIME });
  });
  return body;
}

async function write(url: string, body: string): Promise<void> {
  const res = await fetch(url, { method: 'POST', body });
  expect(`${res.status} ${await res.text()}`).toBe('204 ');
}

describe('exact strings', () => {
  it('InfluxDB 1.6.7 (INFLUX_FLAVOR=influxdb): string values exact, names exact or the documented substitute', async () => {
    const url = inject('influxV1Url');
    const db = `exact_${Date.now()}`;
    await fetch(`${url}/query`, { method: 'POST', body: new URLSearchParams({ q: `CREATE DATABASE ${db}` }) });
    await write(`${url}/write?db=${db}`, linesFor('influxdb', 'r'));

    const series = await influxQuery(url, db, 'SELECT * FROM /.*/');
    expect(series).toHaveLength(SAMPLES.length);
    SAMPLES.forEach(([s, m, t, f], i) => {
      const one = series.find((x) => x.name.startsWith(`rm${i}`) && !/^\d/.test(x.name.slice(`rm${i}`.length)));
      expect(one?.name, `measurement of ${JSON.stringify(s)}`).toBe(`rm${i}${m}`);
      const row = rowsOf([one as NonNullable<typeof one>])[0] as Record<string, unknown>;
      expect(row[`k${i}${t}`], `tag of ${JSON.stringify(s)}`).toBe(`v${t}`);
      expect(row[`f${i}${f}`], `field key of ${JSON.stringify(s)}`).toBe(1);
      expect(row.state, `state ${JSON.stringify(s)}`).toBe(`state ${s}`);
      expect(row[`s${i}_str`], `attribute ${JSON.stringify(s)}`).toBe(s);
    });
  });

  it('VictoriaMetrics (INFLUX_FLAVOR=victoriametrics): names exact, line breaks as \\n / \\r', async () => {
    const url = inject('vmUrl');
    const run = `x${Date.now()}`;
    await write(`${url}/write`, linesFor('victoriametrics', run));
    await fetch(`${url}/internal/force_flush`);
    const asText = (s: string): string => s.replace(/\n/g, '\\n').replace(/\r/g, '\\r');
    const want = SAMPLES.map(([s], i) => ({ name: `${run}m${i}${asText(s)}_f${i}${asText(s)}`, tag: [`k${i}${asText(s)}`, `v${asText(s)}`] }));
    const names = SAMPLES.flatMap(([s], i) => ['state', `s${i}_str`].map((f) => `${run}m${i}${asText(s)}_${f}`));
    let got: Record<string, string>[] = [];
    for (let tries = 0; tries < 50 && got.filter((m) => want.some((w) => w.name === m.__name__)).length < want.length; tries++) {
      await new Promise((r) => setTimeout(r, 200));
      const text = await (await fetch(`${url}/api/v1/export?${new URLSearchParams({ 'match[]': `{__name__=~"${run}.*"}` })}`)).text();
      got = text
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => (JSON.parse(l) as { metric: Record<string, string> }).metric);
    }
    // Each line read as one point: every float field under its exact name, and no other name (a
    // split line would leave some). Which string fields VictoriaMetrics keeps as series is its own
    // business (it drops some): no string is read back from it.
    const allowed = new Set([...want.map((w) => w.name), ...names]);
    expect(got.map((m) => m.__name__ ?? '').filter((n) => !allowed.has(n))).toEqual([]);
    expect(
      got
        .map((m) => m.__name__)
        .filter((n) => want.some((w) => w.name === n))
        .sort(),
    ).toEqual(want.map((w) => w.name).sort());
    for (const w of want) {
      const m = got.find((g) => g.__name__ === w.name) as Record<string, string>;
      expect(m[w.tag[0] as string], `tag of ${w.name}`).toBe(w.tag[1]);
    }
  });
});
