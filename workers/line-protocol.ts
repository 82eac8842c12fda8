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
 * Databases read the rest differently, so the spelling depends on the target (INFLUX_FLAVOR);
 * every rule below was checked by writing to InfluxDB 1.6.7 and VictoriaMetrics and reading back
 * (test/integration/exact-strings.test.ts):
 *
 *   influxdb (1.x/2.x)  A string field value is exact: line feeds and carriage returns are written
 *                       raw inside the quotes (InfluxDB reads them back as they were).
 *                       In names a backslash is literal: InfluxDB never reads `\\` as one. What
 *                       cannot be spelled is replaced by `/`: a backslash at the end of a name (it
 *                       would escape the separator after it); in a field key, the last backslash of
 *                       an odd run before `,` `=` or space (field keys pair backslashes); in a
 *                       measurement, a backslash before `,` space `=` `"` (1.6+ unescapes
 *                       measurements twice, earlier versions once: influxdata/influxdb#8587).
 *                       A `"` in a field key is written `\"` (InfluxDB unescapes it there).
 *   victoriametrics     VictoriaMetrics reads `\\` as one backslash, so every backslash in a name
 *                       is doubled: names are exact. It splits lines at a raw line feed even inside
 *                       quotes, so there string values keep the two characters `\n` / `\r` (it
 *                       keeps no string fields anyway).
 *
 * In every flavour a raw line feed or carriage return in a name (measurement, tag, field key)
 * becomes the two characters `\n` / `\r`: a line-based format cannot carry it. An empty tag value
 * is not allowed: callers omit the tag (the escapers return '' for '').
 *
 * Because a raw line feed may sit inside a string value, lines are found with `lineEnd`, never by
 * searching for the next `\n`.
 */

export type Flavor = 'influxdb' | 'victoriametrics';

export interface Escaper {
  readonly flavor: Flavor;
  measurement(name: string): string;
  /** Tag keys and tag values. */
  tag(name: string): string;
  fieldKey(name: string): string;
  /** The body of a string field value, without the surrounding quotes. */
  stringValue(value: string): string;
}

const NEWLINE_IN_NAME = /[\n\r]/;
function newlinesAsText(s: string): string {
  return NEWLINE_IN_NAME.test(s) ? s.replace(/\n/g, '\\n').replace(/\r/g, '\\r') : s;
}

const M_SPECIAL = /[, \n\r\\]/;
const T_SPECIAL = /[,= \n\r\\]/;
const F_SPECIAL = /[,= "\n\r\\]/;
const S_SPECIAL = /["\\\n\r]/;

const influxdb: Escaper = {
  flavor: 'influxdb',
  measurement: (name) =>
    M_SPECIAL.test(name)
      ? newlinesAsText(name)
          .replace(/\\(?=[, ="]|$)/g, '/')
          .replace(/[, ]/g, '\\$&')
      : name,
  tag: (name) => (T_SPECIAL.test(name) ? newlinesAsText(name).replace(/\\$/, '/').replace(/[,= ]/g, '\\$&') : name),
  fieldKey: (name) =>
    F_SPECIAL.test(name)
      ? newlinesAsText(name)
          .replace(/\\$/, '/')
          .replace(/(?<!\\)((?:\\\\)*)\\(?=[,= ])/g, '$1/')
          .replace(/[,= "]/g, '\\$&')
      : name,
  stringValue: (value) => (S_SPECIAL.test(value) ? value.replace(/["\\]/g, '\\$&') : value),
};

const victoriametrics: Escaper = {
  flavor: 'victoriametrics',
  measurement: (name) => (M_SPECIAL.test(name) ? newlinesAsText(name.replace(/[, \\]/g, '\\$&')) : name),
  tag: (name) => (T_SPECIAL.test(name) ? newlinesAsText(name.replace(/[,= \\]/g, '\\$&')) : name),
  fieldKey: (name) => (T_SPECIAL.test(name) ? newlinesAsText(name.replace(/[,= \\]/g, '\\$&')) : name),
  stringValue: (value) => (S_SPECIAL.test(value) ? value.replace(/["\\]/g, '\\$&').replace(/\n/g, '\\\\n').replace(/\r/g, '\\\\r') : value),
};

export const ESCAPERS: Readonly<Record<Flavor, Escaper>> = { influxdb, victoriametrics };

export function escaperFor(flavor: Flavor | undefined): Escaper {
  return ESCAPERS[flavor ?? 'influxdb'];
}

/** The InfluxDB flavour's escapers, by their old names. */
export const escapeMeasurement = influxdb.measurement;
export const escapeKey = influxdb.tag;
export const escapeTagValue = influxdb.tag;
export const escapeFieldKey = influxdb.fieldKey;
export const escapeStringValue = influxdb.stringValue;

/** A float field value. Integers print without a dot, which line protocol reads as float. */
export function formatFloat(value: number): string {
  return Object.is(value, -0) ? '0' : String(value);
}

const LF = 0x0a;
const SPACE = 0x20;
const QUOTE = 0x22;
const COMMA = 0x2c;
const EQUALS = 0x3d;
const BACKSLASH = 0x5c;

/**
 * The index of the `\n` that ends the line starting at `from`, or -1 when the line is not ended.
 * A line feed inside a quoted string value does not end it. Names are read as InfluxDB 1.x reads
 * them (a separator preceded by a backslash is escaped); for the VictoriaMetrics spelling that can
 * only make the names look longer, and its lines have no raw line feed but the last.
 */
export function lineEnd(buf: Uint8Array, from: number): number {
  const n = buf.length;
  let i = from;
  // The measurement and the tags: up to the first space that is not escaped.
  for (; i < n; i++) {
    const c = buf[i];
    if (c === LF) return i;
    if (c === SPACE && (i === from || buf[i - 1] !== BACKSLASH)) break;
  }
  let inKey = true;
  for (i++; i < n; i++) {
    const c = buf[i];
    if (c === LF) return i;
    if (inKey) {
      if (c === BACKSLASH) i++;
      else if (c === EQUALS) {
        inKey = false;
        if (buf[i + 1] === QUOTE) i = stringEnd(buf, i + 2);
      }
    } else if (c === COMMA) inKey = true;
    else if (c === SPACE) return buf.indexOf(LF, i);
  }
  return -1;
}

/** The index of the quote that closes a string value whose body starts at `from` (n when none). */
function stringEnd(buf: Uint8Array, from: number): number {
  for (let i = from; i < buf.length; i++) {
    const c = buf[i];
    if (c === BACKSLASH) i++;
    else if (c === QUOTE) return i;
  }
  return buf.length;
}

/** The lines of a body (each without its `\n`; a last line without one is kept). */
export function splitLines(body: Uint8Array): string[] {
  const out: string[] = [];
  const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  let pos = 0;
  while (pos < text.length) {
    const end = lineEnd(text, pos);
    const stop = end === -1 ? text.length : end;
    if (stop > pos) out.push(text.toString('utf8', pos, stop));
    pos = stop + 1;
  }
  return out;
}
