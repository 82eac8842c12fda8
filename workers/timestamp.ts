/**
 * ISO 8601 → integer nanoseconds since the Unix epoch, as decimal digits.
 *
 * Home Assistant writes `2024-05-01T12:34:56.123456+00:00`, and drops the fraction when the
 * microseconds are 0 (`2024-05-01T12:34:56+00:00`). Accepted: a `T` or space separator, a fraction
 * of 1 to 9 digits, `Z`, `±HH:MM` or `±HHMM`, and no offset (read as UTC). Arithmetic stays in
 * integers: seconds come from Date.UTC (exact), the fraction is copied as digits, so nothing is
 * rounded the way a float of nanoseconds would be.
 */

const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$/;

/** Returns null when `iso` is not a valid timestamp. */
export function isoToNs(iso: string): string | null {
  const m = ISO.exec(iso);
  if (m === null) return null;
  const [, y, mo, d, h, mi, s, frac, zone] = m as unknown as [string, string, string, string, string, string, string, string?, string?];
  const year = +y;
  const month = +mo;
  const day = +d;
  const hour = +h;
  const minute = +mi;
  const second = +s;
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return null;
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  // Date.UTC rolls 31 February over into March: reject instead.
  if (new Date(ms).getUTCDate() !== day) return null;
  let offsetSeconds = 0;
  if (zone !== undefined && zone !== 'Z') {
    const oh = +zone.slice(1, 3);
    const om = +zone.slice(zone.length - 2);
    if (oh > 23 || om > 59) return null;
    offsetSeconds = (zone[0] === '-' ? -1 : 1) * (oh * 3600 + om * 60);
  }
  const seconds = ms / 1000 - offsetSeconds;
  const fraction = frac === undefined ? '000000000' : frac.padEnd(9, '0');
  if (seconds > 0) return `${seconds}${fraction}`;
  return (BigInt(seconds) * 1_000_000_000n + BigInt(fraction)).toString();
}

/** Float epoch seconds as HA's history API gives them (`1714566000.123456`) → ns, to the µs. */
export function epochSecondsToNs(seconds: number): string {
  const micros = Math.round(seconds * 1e6);
  return (BigInt(micros) * 1000n).toString();
}
