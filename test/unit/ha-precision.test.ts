/**
 * HA's `precision:` in SCHEMA=ha: the timestamp truncated as HA's Python clients truncate it.
 * Expected values computed with CPython 3 from the clients' own arithmetic (influxdb-python
 * line_protocol.py `_convert_timestamp` + `int()`, e8b7c4e79be294f8e3bf719af196a1d422d75370;
 * influxdb-client-python write/point.py `_convert_timestamp` + `_append_time`,
 * 03f5bd7b4c728dae3e0d2da42da53728b9e9e8d4), including the three cases where floating point
 * makes them one unit less than the exact truncation.
 */
import { describe, expect, it } from 'vitest';
import { haTimestampNs, type Precision, type PrecisionClient } from '../../workers/ha-precision.js';
import { createHaEncoder, DEFAULT_HA_SCHEMA } from '../../workers/ha-schema.js';

const ns = (micros: string) => `${micros}000`;
const CASES: [string, PrecisionClient, Precision, string][] = [
  // 2024-05-01T12:34:56.123456Z: no rounding surprise.
  [ns('1714566896123456'), 'influxdb-python', 's', '1714566896000000000'],
  [ns('1714566896123456'), 'influxdb-python', 'ms', '1714566896123000000'],
  [ns('1714566896123456'), 'influxdb-client', 's', '1714566896000000000'],
  [ns('1714566896123456'), 'influxdb-client', 'ms', '1714566896123000000'],
  [ns('1714566896123456'), 'influxdb-client', 'us', '1714566896123456000'],
  [ns('1714566896123456'), 'influxdb-client', 'ns', '1714566896123456000'],
  // 2026-10-19T07:11:31.383Z: v1 ms lands on …382.999… and is truncated to 382.
  [ns('1792393891383000'), 'influxdb-python', 'ms', '1792393891382000000'],
  [ns('1792393891383000'), 'influxdb-client', 'ms', '1792393891383000000'],
  // 2024-04-08T18:13:17.090Z: v1 and v2 ms both give 089; v2 us gives …089999.
  [ns('1712599997090000'), 'influxdb-python', 'ms', '1712599997089000000'],
  [ns('1712599997090000'), 'influxdb-client', 'ms', '1712599997089000000'],
  [ns('1712599997090000'), 'influxdb-client', 'us', '1712599997089999000'],
  [ns('1712599997090000'), 'influxdb-python', 's', '1712599997000000000'],
  // 2023-03-13T16:48:53.780816Z: v2 us is 780815.
  [ns('1678726133780816'), 'influxdb-client', 'us', '1678726133780815000'],
  // influxdb-python refuses us (HA writes nothing): truncated exactly here.
  [ns('1678726133780816'), 'influxdb-python', 'us', '1678726133780816000'],
  ['1678726133780816789', 'influxdb-python', 'ns', '1678726133780816789'],
];

describe('haTimestampNs', () => {
  it.each(CASES)('%s with %s, precision %s → %s', (time, client, unit, want) => {
    expect(haTimestampNs(time, { unit, client })).toBe(want);
  });
});

describe('SCHEMA=ha with precision', () => {
  it('writes the truncated timestamp, still in ns', () => {
    const state = { entity_id: 'sensor.t', state: '21.5', attributes: {}, last_updated: '2026-10-19T07:11:31.383000+00:00' };
    const line = (precision?: { unit: Precision; client: PrecisionClient }) =>
      createHaEncoder({ ...DEFAULT_HA_SCHEMA, ...(precision ? { precision } : {}) }).encodeState(state);
    expect(line()).toBe('sensor.t,domain=sensor,entity_id=t value=21.5 1792393891383000000\n');
    expect(line({ unit: 's', client: 'influxdb-python' })).toBe('sensor.t,domain=sensor,entity_id=t value=21.5 1792393891000000000\n');
    expect(line({ unit: 'ms', client: 'influxdb-python' })).toBe('sensor.t,domain=sensor,entity_id=t value=21.5 1792393891382000000\n');
    expect(line({ unit: 'ns', client: 'influxdb-python' })).toBe('sensor.t,domain=sensor,entity_id=t value=21.5 1792393891383000000\n');
  });
});
