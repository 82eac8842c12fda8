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
 * - api_version 1, influxdb-python (influxdata/influxdb-python influxdb/line_protocol.py,
 *   e8b7c4e79be294f8e3bf719af196a1d422d75370, `_convert_timestamp` then `int(...)`):
 *   ns = (t - EPOCH).total_seconds() * 1e9 in floats, then / 1e9 (s) or / 1e6 (ms), truncated.
 *   That client refuses `us` and `ns` ("Invalid time precision", client.py), so HA writes nothing
 *   with them; here they truncate exactly.
 * - api_version 2, influxdb-client (influxdata/influxdb-client-python
 *   influxdb_client/client/write/point.py, 03f5bd7b4c728dae3e0d2da42da53728b9e9e8d4,
 *   `_convert_timestamp`, `_append_time`): ns as an exact integer (date_utils `to_nanoseconds`),
 *   then ns / 1e9, / 1e6 or / 1e3 in floats (the integer rounded to a float first), truncated;
 *   `ns` exact.
 *
 * Float arithmetic is IEEE double in both languages, and BigInt → Number rounds to nearest-even
 * like Python's int → float, so the results are the same bits.
 */

export type Precision = 's' | 'ms' | 'us' | 'ns';

/** Which of HA's clients the truncation follows: api_version 1 or 2. */
export type PrecisionClient = 'influxdb-python' | 'influxdb-client';

export interface TimePrecision {
  readonly unit: Precision;
  readonly client: PrecisionClient;
}

const ZEROS: Record<Precision, string> = { s: '000000000', ms: '000000', us: '000', ns: '' };

/** `ns` (a decimal string of nanoseconds) as HA writes it with `precision`, in nanoseconds. */
export function haTimestampNs(ns: string, precision: TimePrecision): string {
  const { unit, client } = precision;
  if (unit === 'ns') return ns;
  // A Python datetime holds µs: HA's timestamps have no more (and ours from HA neither).
  const micros = BigInt(ns) / 1000n;
  if (unit === 'us') {
    const truncated = client === 'influxdb-python' ? micros : BigInt(Math.trunc(Number(micros * 1000n) / 1e3));
    return truncated === 0n ? '0' : `${truncated}${ZEROS.us}`;
  }
  const divisor = unit === 's' ? 1e9 : 1e6;
  const nsFloat = client === 'influxdb-python' ? (Number(micros) / 1e6) * 1e9 : Number(micros * 1000n);
  const truncated = Math.trunc(nsFloat / divisor);
  return truncated === 0 ? '0' : `${truncated}${ZEROS[unit]}`;
}
