/**
 * Python's view of JSON values, as Home Assistant's own InfluxDB integration applies it:
 * `float(x)` and `str(x)`. Needed so that SCHEMA=ha writes the same fields HA would.
 *
 * JSON.parse loses Python's int/float distinction (`5.0` becomes 5); the frames of SCHEMA=ha
 * that need it are parsed by workers/float-spelling.ts, which keeps it for numbers inside lists
 * and dicts, so `[30.0, 100.0]` prints as HA prints it.
 *
 * Dict keys print sorted (workers/sorted-json.ts), unlike Python's insertion order: HA's REST
 * history sorts them, its live events do not, and one state must be one line.
 *
 * Bounded: a value nested deeper than MAX_NESTING throws NestingTooDeepError (one invalid state,
 * workers/invalid.ts) long before the recursion could reach the thread's stack limit.
 */
import { spelledAsFloat } from './float-spelling.js';
import { MAX_NESTING, NestingTooDeepError } from './invalid.js';
import { compareCodePoints } from './sorted-json.js';

const PY_FLOAT = /^[+-]?(?:(?:\d(?:_?\d)*)?\.?\d(?:_?\d)*(?:[eE][+-]?\d(?:_?\d)*)?|\d(?:_?\d)*\.|inf|infinity|nan)$/i;

/** Python's float(x) for a JSON value: a number, or null where Python raises. */
export function pyFloat(value: unknown): number | null {
  if (typeof value === 'number') return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value !== 'string') return null;
  const text = value.trim();
  if (!PY_FLOAT.test(text)) return null;
  const lower = text.toLowerCase().replace(/^[+-]/, '');
  const negative = text.startsWith('-');
  if (lower === 'inf' || lower === 'infinity') return negative ? -Infinity : Infinity;
  if (lower === 'nan') return Number.NaN;
  return Number(text.replace(/_/g, ''));
}

/** repr() of a float, by Python's rules: fixed notation for exponents -4…15, else 1e+16 style. */
export function pyFloatRepr(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : '-inf';
  if (Number.isInteger(n) && Math.abs(n) < 1e16) return String(n); // printed as a JSON int would be
  const [mantissa, expText] = n.toExponential().split('e') as [string, string];
  const exp = Number(expText);
  if (exp >= -4 && exp < 16) {
    const digits = mantissa.replace('-', '').replace('.', '');
    const sign = n < 0 ? '-' : '';
    if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
    const whole = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
    const frac = digits.slice(exp + 1);
    return `${sign}${whole}.${frac === '' ? '0' : frac}`;
  }
  const [i, f] = mantissa.split('.') as [string, string?];
  return `${i}${f ? `.${f}` : ''}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
}

/** repr() of a float with no fraction (HA sent `5.0`): `5.0`, `-0.0`, `1e+16`. */
function pyIntegralFloatRepr(n: number): string {
  if (Object.is(n, -0)) return '-0.0';
  return Math.abs(n) < 1e16 ? `${n}.0` : pyFloatRepr(n);
}

/** repr() of a str: single quotes unless it holds ' and no ", with Python's escapes. */
export function pyStrRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0) as number;
    if (ch === '\\') out += '\\\\';
    else if (ch === quote) out += `\\${quote}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${quote}${out}${quote}`;
}

function pyRepr(value: unknown, what: string, depth: number): string {
  if (value === null || value === undefined) return 'None';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'number') return pyFloatRepr(value);
  if (typeof value === 'string') return pyStrRepr(value);
  if (typeof value !== 'object') return String(value);
  if (depth > MAX_NESTING) throw new NestingTooDeepError(what);
  const member = (v: unknown, key: number | string): string =>
    typeof v === 'number' && spelledAsFloat(value, key) ? pyIntegralFloatRepr(v) : pyRepr(v, what, depth + 1);
  if (Array.isArray(value)) return `[${value.map(member).join(', ')}]`;
  // Keys sorted (code point order), as HA's REST history sends them: one state, one line.
  return `{${Object.entries(value as Record<string, unknown>)
    .sort(([a], [b]) => compareCodePoints(a, b))
    .map(([k, v]) => `${pyStrRepr(k)}: ${member(v, k)}`)
    .join(', ')}}`;
}

/** Python's str() of `container[key]`, a float HA spelled `5.0` printed as such. */
export function pyStrMember(container: object, key: string, what: string): string {
  const value = (container as Record<string, unknown>)[key];
  return typeof value === 'number' && spelledAsFloat(container, key) ? pyIntegralFloatRepr(value) : pyStr(value, what);
}

/** Python's str(x) for a JSON value; `what` names it in NestingTooDeepError. */
export function pyStr(value: unknown, what = 'a value'): string {
  return typeof value === 'string' ? value : pyRepr(value, what, 1);
}
