/**
 * InfluxDB line protocol, one point per line:
 *
 *   measurement[,tag_key=tag_value…] field_key=field_value[,…] timestamp_ns\n
 *
 * Escaping (backslash before the character):
 *   measurement        comma, space
 *   tag key/value,
 *   field key          comma, equals sign, space
 *   string field value double quote, backslash (the value is wrapped in double quotes)
 *
 * Rules we add so that no input can break a line or change its meaning:
 *   - A raw line feed or carriage return is never written; it becomes the two characters `\n`
 *     (or `\r`). Every parser splits lines at a raw newline, and VictoriaMetrics does so even
 *     inside quoted strings.
 *   - A name (measurement, tag, field key) never ends with a backslash: the parser would read
 *     it as escaping the separator after it. Trailing backslashes are removed.
 *   - An empty tag value is not allowed: callers omit the tag (`escapeTagValue` returns '').
 *
 * A backslash elsewhere is kept as it is: InfluxDB reads `\` + a non-special character
 * literally, and `a\,b` (raw backslash, escaped comma) reads back as `a\,b`.
 */

const MEASUREMENT_SPECIAL = /[, \n\r]|\\$/;
const KEY_SPECIAL = /[,= \n\r]|\\$/;
const STRING_SPECIAL = /["\\\n\r]/;

function newlinesAsText(s: string): string {
  return s.replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

function trimTrailingBackslashes(s: string): string {
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 92) end--;
  return end === s.length ? s : s.slice(0, end);
}

export function escapeMeasurement(name: string): string {
  if (!MEASUREMENT_SPECIAL.test(name)) return name;
  return trimTrailingBackslashes(newlinesAsText(name)).replace(/[, ]/g, '\\$&');
}

/** Tag keys, tag values and field keys. Returns '' when nothing is left (caller omits it). */
export function escapeKey(name: string): string {
  if (!KEY_SPECIAL.test(name)) return name;
  return trimTrailingBackslashes(newlinesAsText(name)).replace(/[,= ]/g, '\\$&');
}

export const escapeTagValue = escapeKey;

/** The body of a string field value, without the surrounding quotes. */
export function escapeStringValue(value: string): string {
  if (!STRING_SPECIAL.test(value)) return value;
  return value.replace(/["\\]/g, '\\$&').replace(/\n/g, '\\\\n').replace(/\r/g, '\\\\r');
}

/** A float field value. Integers print without a dot, which line protocol reads as float. */
export function formatFloat(value: number): string {
  return Object.is(value, -0) ? '0' : String(value);
}
