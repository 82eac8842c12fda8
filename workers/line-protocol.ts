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
const EQUALS = 0x3d;
const BACKSLASH = 0x5c;

/**
 * The index of the `\n` that ends the line starting at `from`, or -1 when the line is not ended.
 * A line feed inside a quoted string value does not end it. Most lines cost one indexOf and a
 * short look back from it: when the line's last quote does not follow `=` or a backslash it closes
 * a string, so nothing is open at the line feed. Otherwise the line is read from quote to quote:
 * - the measurement and tags end at the first space not preceded by a backslash (InfluxDB's rule;
 *   quotes there are literal, and no name ends in a backslash in the influxdb spelling);
 * - after that, a quote opens a string only right after a field key's `=` (one not escaped: an
 *   even number of backslashes before it); a string ends at a quote with an even number of
 *   backslashes before it.
 * The VictoriaMetrics spelling has no raw line feed but the last, so there the first one is it.
 */
export function lineEnd(buf: Uint8Array, from: number): number {
  const nl = buf.indexOf(LF, from);
  if (nl === -1) return -1;
  // Most lines: the line's last quote (if any) closes a string, so the first line feed ends it.
  // Only an opening quote follows `=`; a quote after `=` or a backslash takes the full reading.
  let q = nl - 1;
  while (q >= from && buf[q] !== QUOTE) q--;
  if (q < from || (buf[q - 1] !== EQUALS && buf[q - 1] !== BACKSLASH)) return nl;
  return parsedLineEnd(buf, from, nl);
}

function parsedLineEnd(buf: Uint8Array, from: number, firstLf: number): number {
  let nl = firstLf;
  let sp = buf.indexOf(SPACE, from);
  while (sp !== -1 && sp < nl && sp > from && buf[sp - 1] === BACKSLASH) sp = buf.indexOf(SPACE, sp + 1);
  if (sp === -1 || sp > nl) return nl;
  let i = sp + 1;
  for (;;) {
    const q = buf.indexOf(QUOTE, i);
    if (q === -1 || q > nl) return nl;
    i = q + 1;
    if (buf[q - 1] !== EQUALS || backslashesBefore(buf, q - 1) % 2 === 1) continue;
    let close = buf.indexOf(QUOTE, q + 1);
    while (close !== -1 && backslashesBefore(buf, close) % 2 === 1) close = buf.indexOf(QUOTE, close + 1);
    if (close === -1) return -1;
    i = close + 1;
    if (close > nl) {
      nl = buf.indexOf(LF, i);
      if (nl === -1) return -1;
    }
  }
}

function backslashesBefore(buf: Uint8Array, at: number): number {
  let n = 0;
  while (at - 1 - n >= 0 && buf[at - 1 - n] === BACKSLASH) n++;
  return n;
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
