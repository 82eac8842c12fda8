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
 *   - In names and tag values, a backslash followed by another backslash, by a character that is
 *     escaped there, or by nothing (the end) becomes `/`. Parsers disagree on such sequences
 *     (InfluxDB 1.x/2.x read `\\` as two backslashes, VictoriaMetrics and InfluxDB 3 as one,
 *     and a trailing one escapes the separator after it): no spelling reads back the same
 *     everywhere. A backslash before any other character is kept; every parser reads it literally.
 *   - An empty tag value is not allowed: callers omit the tag (`escapeTagValue` returns '').
 */

const MEASUREMENT_SPECIAL = /[, \n\r\\]/;
const KEY_SPECIAL = /[,= \n\r\\]/;
const STRING_SPECIAL = /["\\\n\r]/;

function newlinesAsText(s: string): string {
  return s.replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

export function escapeMeasurement(name: string): string {
  if (!MEASUREMENT_SPECIAL.test(name)) return name;
  return newlinesAsText(name)
    .replace(/\\(?=[\\, ]|$)/g, '/')
    .replace(/[, ]/g, '\\$&');
}

/** Tag keys, tag values and field keys. Returns '' for '' (the caller omits the tag). */
export function escapeKey(name: string): string {
  if (!KEY_SPECIAL.test(name)) return name;
  return newlinesAsText(name)
    .replace(/\\(?=[\\,= ]|$)/g, '/')
    .replace(/[,= ]/g, '\\$&');
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
