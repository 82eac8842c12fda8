/**
 * SCHEMA=ha with HA's `precision:` (INFLUX_PRECISION): the timestamp HA's integration writes,
 * truncated the way the Python client it uses for that API truncates, given back in ns (the
 * write URL stays `precision=ns`, so a spooled batch means the same whatever the setting is
 * when it is sent; the stored point is the same as HA's).
 *
 * HA hands the client a datetime with µs (homeassistant/components/influxdb/__init__.py,
 * home-assistant/core 01ae64906312f8ed31da2ee514b50cc33b758291, `write_points(json,
 * time_precision=precision)` for v1, `write_api.write(..., write_precision=precision)` for v2):
 *
 * - api_version 1, influxdb-python 5.3.x (HA's manifest.json pins influxdb==5.3.0,
 *   home-assistant/core 02ef03e4096b24d113da1649d7a6efdf289065c9): influxdb/line_protocol.py
 *   `_convert_timestamp` takes the exact integer ns (`_to_nanos`: days, seconds and µs of the
 *   timedelta, since v5.3.0; the float `total_seconds() * 1e9` of 5.2.x, still stored at
 *   influxdata/influxdb-python e8b7c4e79be294f8e3bf719af196a1d422d75370, is gone), then
 *   `ns / 10**6` (ms) or `/ 10**9` (s), a correctly rounded int / int, truncated by `int()`.
 *   For µs timestamps that is the exact truncation (the fraction is a whole number of µs, far
 *   above half a float's step while |µs| < 2^53, until the year 2255). That client refuses
 *   `us` and `ns` ("Invalid time precision", client.py), so HA writes nothing with them; here
 *   they truncate exactly.
 * - api_version 2, influxdb-client (influxdata/influxdb-client-python
 *   influxdb_client/client/write/point.py, 03f5bd7b4c728dae3e0d2da42da53728b9e9e8d4,
 *   `_convert_timestamp`, `_append_time`): ns as an exact integer (date_utils `to_nanoseconds`),
 *   then ns / 1e9, / 1e6 or / 1e3 in floats (the integer rounded to a float first), truncated;
 *   `ns` exact.
 *
 * Float arithmetic (v2) is IEEE double in both languages, and BigInt → Number rounds to
 * nearest-even like Python's int → float, so the results are the same bits.
 */

export type Precision = 's' | 'ms' | 'us' | 'ns';

/** Which of HA's clients the truncation follows: api_version 1 or 2. */
export type PrecisionClient = 'influxdb-python' | 'influxdb-client';

export interface TimePrecision {
  readonly unit: Precision;
  readonly client: PrecisionClient;
}

const ZEROS: Record<Precision, string> = { s: '000000000', ms: '000000', us: '000', ns: '' };
const MICROS_PER: Record<Exclude<Precision, 'ns'>, bigint> = { s: 1000000n, ms: 1000n, us: 1n };
const NS_PER: Record<Exclude<Precision, 'ns'>, number> = { s: 1e9, ms: 1e6, us: 1e3 };

/** `ns` (a decimal string of nanoseconds) as HA writes it with `precision`, in nanoseconds. */
export function haTimestampNs(ns: string, precision: TimePrecision): string {
  const { unit, client } = precision;
  if (unit === 'ns') return ns;
  // A Python datetime holds µs: HA's timestamps have no more (and ours from HA neither).
  const micros = BigInt(ns) / 1000n;
  if (client === 'influxdb-python') {
    // BigInt division truncates toward zero, as int() does.
    const truncated = micros / MICROS_PER[unit];
    return truncated === 0n ? '0' : `${truncated}${ZEROS[unit]}`;
  }
  const truncated = Math.trunc(Number(micros * 1000n) / NS_PER[unit]);
  return truncated === 0 ? '0' : `${truncated}${ZEROS[unit]}`;
}
