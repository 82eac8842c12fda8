/**
 * ISO 8601 → integer nanoseconds since the Unix epoch, as decimal digits.
 *
 * Home Assistant writes `2024-05-01T12:34:56.123456+00:00`, and drops the fraction when the
 * microseconds are 0 (`2024-05-01T12:34:56+00:00`). Accepted: a `T` or space separator, a fraction
 * of 1 to 9 digits, `Z`, `±HH:MM` or `±HHMM`, and no offset (read as UTC). Arithmetic stays in
 * integers: seconds come from the calendar date (exact), the fraction is copied as digits, so
 * nothing is rounded the way a float of nanoseconds would be.
 *
 * Years are read as written, 0000–9999 (Date.UTC would move 0–99 to 1900–1999). A time outside
 * what InfluxDB can store (1677-09-21T00:12:43.145224194Z … 2262-04-11T23:47:16.854775806Z,
 * int64 ns less one at each end) is refused (null; badTimeReason says why), never written as
 * another date.
 */

/** InfluxDB's MinNanoTime and MaxNanoTime (models/points.go: math.MinInt64 + 2, math.MaxInt64 - 1). */
export const MIN_NS = -9_223_372_036_854_775_806n;
export const MAX_NS = 9_223_372_036_854_775_806n;

const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$/;

/** Returns null when `iso` is not a valid timestamp or lies outside InfluxDB's range. */
export function isoToNs(iso: string): string | null {
  const t = parseIso(iso);
  if (t === null) return null;
  // 1678–2261 lie inside InfluxDB's range whatever the offset: the common case skips the BigInt.
  if (t.seconds > 0 && t.year < 2262) return `${t.seconds}${t.fraction}`;
  const ns = BigInt(t.seconds) * 1_000_000_000n + BigInt(t.fraction);
  return ns < MIN_NS || ns > MAX_NS ? null : ns.toString();
}

/**
 * isoToNs with a memory of the last whole second it read: the text before the fraction and the
 * zone after it. The states of a burst share them, so the regular expression and the calendar are
 * skipped for all but the first; the fraction's digits are checked and copied. Same results as
 * isoToNs for every input. One per encoder (it is state).
 */
export class IsoReader {
  private head = '';
  private zone = '';
  private seconds = '';

  read(iso: string): string | null {
    const head = this.head;
    if (head !== '' && iso.startsWith(head)) {
      let i = head.length;
      const sep = iso.charCodeAt(i);
      let digits = 0;
      if (sep === 0x2e || sep === 0x2c) {
        for (i++; i < iso.length; i++, digits++) {
          const c = iso.charCodeAt(i);
          if (c < 0x30 || c > 0x39) break;
        }
        if (digits >= 1 && digits <= 9 && iso.length - i === this.zone.length && iso.endsWith(this.zone)) {
          return `${this.seconds}${iso.slice(head.length + 1, i).padEnd(9, '0')}`;
        }
      } else if (iso.length === head.length + this.zone.length && iso.endsWith(this.zone)) {
        return `${this.seconds}000000000`;
      }
    }
    return this.readAll(iso);
  }

  private readAll(iso: string): string | null {
    const t = parseIso(iso);
    if (t === null) return null;
    if (t.seconds > 0 && t.year < 2262) {
      // The head is the 19 characters up to the seconds; the zone is what follows the fraction.
      const m = ISO.exec(iso) as RegExpExecArray;
      this.head = iso.slice(0, 19);
      this.zone = m[8] ?? '';
      this.seconds = String(t.seconds);
      return `${t.seconds}${t.fraction}`;
    }
    return isoToNs(iso);
  }
}

/** Why isoToNs refused `iso`, for the invalid event's reason. */
export function badTimeReason(iso: unknown): string {
  if (typeof iso === 'string' && parseIso(iso) !== null) {
    return `${JSON.stringify(iso)} is outside the range InfluxDB can store (1677-09-21 to 2262-04-11)`;
  }
  return `${JSON.stringify(iso)} is not a valid ISO 8601 time`;
}

/** Whole seconds since the epoch (UTC), the fraction as 9 digits, and the year as written. */
function parseIso(iso: string): { seconds: number; fraction: string; year: number } | null {
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
  const ms = utcMs(year, month, day, hour, minute, second);
  if (ms === null) return null;
  let offsetSeconds = 0;
  if (zone !== undefined && zone !== 'Z') {
    const oh = +zone.slice(1, 3);
    const om = +zone.slice(zone.length - 2);
    if (oh > 23 || om > 59) return null;
    offsetSeconds = (zone[0] === '-' ? -1 : 1) * (oh * 3600 + om * 60);
  }
  return { seconds: ms / 1000 - offsetSeconds, fraction: frac === undefined ? '000000000' : frac.padEnd(9, '0'), year };
}

/**
 * The calendar date as ms since the epoch, the year as written (setUTCFullYear, unlike Date.UTC,
 * leaves years 0–99 alone); null for a day the month does not have (31 February).
 */
function utcMs(year: number, month: number, day: number, hour: number, minute: number, second: number): number | null {
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, 0);
  return d.getUTCDate() === day && d.getUTCMonth() === month - 1 ? d.getTime() : null;
}

/** Float epoch seconds as HA's history API gives them (`1714566000.123456`) → ns, to the µs. */
export function epochSecondsToNs(seconds: number): string | null {
  const micros = Math.round(seconds * 1e6);
  if (!Number.isFinite(micros)) return null;
  const ns = BigInt(micros) * 1000n;
  return ns < MIN_NS || ns > MAX_NS ? null : ns.toString();
}
