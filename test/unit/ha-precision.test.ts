/**
 * HA's `precision:` in SCHEMA=ha: the timestamp truncated as HA's Python clients truncate it.
 * Expected values computed with CPython 3 from the clients' own arithmetic (influxdb-python
 * 5.3.x line_protocol.py `_to_nanos` + `_convert_timestamp` + `int()`, as HA pins influxdb==5.3.0;
 * influxdb-client-python write/point.py `_convert_timestamp` + `_append_time`,
 * 03f5bd7b4c728dae3e0d2da42da53728b9e9e8d4), including the cases where influxdb-client's floating
 * point makes them one unit less than the exact truncation (influxdb-python 5.3 is exact).
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
  // 2026-10-19T07:11:31.383Z: 5.2.x's float v1 ms landed on …382.999…; 5.3.x's exact ns keeps 383.
  [ns('1792393891383000'), 'influxdb-python', 'ms', '1792393891383000000'],
  // 2024-11-09T07:14:24.050Z: the same (5.2.x gave …049).
  [ns('1731136464050000'), 'influxdb-python', 'ms', '1731136464050000000'],
  [ns('1731136464050000'), 'influxdb-python', 's', '1731136464000000000'],
  [ns('1792393891383000'), 'influxdb-client', 'ms', '1792393891383000000'],
  // 2024-04-08T18:13:17.090Z: v2 ms gives 089 (v1 090); v2 us gives …089999.
  [ns('1712599997090000'), 'influxdb-python', 'ms', '1712599997090000000'],
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
    expect(line({ unit: 'ms', client: 'influxdb-python' })).toBe('sensor.t,domain=sensor,entity_id=t value=21.5 1792393891383000000\n');
    expect(line({ unit: 'ms', client: 'influxdb-client' })).toBe('sensor.t,domain=sensor,entity_id=t value=21.5 1792393891383000000\n');
    expect(line({ unit: 'ns', client: 'influxdb-python' })).toBe('sensor.t,domain=sensor,entity_id=t value=21.5 1792393891383000000\n');
  });
});
