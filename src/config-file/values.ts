/**
 * The value checks of Home Assistant's config validation (homeassistant/helpers/config_validation.py,
 * `cv.*`), as the `influxdb:` block uses them, so that what HA accepts is accepted here, read the
 * same way: `cv.string` takes numbers too (as their text), `cv.boolean` takes yes/no/on/off/1/0,
 * `cv.port` an integer 1–65535 (also written as text), `cv.ensure_list` a single value where a
 * list is expected, `cv.entity_ids` a comma-separated string too, entity ids lower-cased.
 *
 * Each check returns the value read, or what was expected (said in the problem).
 */

import { PyFloat } from './pyyaml-scalars.js';

export type Checked<T> = { readonly ok: T } | { readonly expected: string };

export const ok = <T>(value: T): Checked<T> => ({ ok: value });
const expected = (text: string): Checked<never> => ({ expected: text });

/** What YAML and JSON make of a mapping (not a list, nor the marker of a tag). */
const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null);

/** cv.string: a string, or a number or boolean as Python's str() of it; not a list, a mapping or nothing. */
export function str(v: unknown): Checked<string> {
  if (typeof v === 'string') return ok(v);
  if (typeof v === 'number' && Number.isFinite(v)) return ok(String(v));
  if (typeof v === 'bigint' || v instanceof PyFloat) return ok(v.toString());
  // Python's str(True) is "True".
  if (typeof v === 'boolean') return ok(v ? 'True' : 'False');
  return expected('a text');
}

const TRUE = new Set(['1', 'true', 'yes', 'on', 'enable']);
const FALSE = new Set(['0', 'false', 'no', 'off', 'disable']);

/** cv.boolean. */
export function bool(v: unknown): Checked<boolean> {
  if (typeof v === 'boolean') return ok(v);
  if (typeof v === 'number') return ok(v !== 0);
  if (typeof v === 'bigint') return ok(v !== 0n);
  if (v instanceof PyFloat) return ok(v.value !== 0);
  if (typeof v === 'string') {
    const t = v.toLowerCase().trim();
    if (TRUE.has(t)) return ok(true);
    if (FALSE.has(t)) return ok(false);
  }
  return expected('true or false');
}

/**
 * A host name or address (cv.string in HA, which then builds `scheme://host:port`): a scheme,
 * a path or a port in it would make a URL HA cannot use either, so it is said here.
 */
export function hostName(v: unknown): Checked<string> {
  const s = str(v);
  if ('expected' in s || /^\s*$|:\/\/|[/\s]/.test(s.ok) || /^[^:]+:\d+$/.test(s.ok)) {
    return expected('a host name or address without scheme, port or path (ssl: true gives https, port: and path: the rest)');
  }
  return s;
}

/** vol.Coerce(int) for whole numbers, then a range. */
function integer(v: unknown, min: number, max: number, what: string): Checked<number> {
  // int() of a float truncates it (8086.0 is 8086).
  const n =
    typeof v === 'number' || typeof v === 'bigint'
      ? Number(v)
      : v instanceof PyFloat
        ? Math.trunc(v.value)
        : typeof v === 'string' && /^\s*[+-]?\d+\s*$/.test(v)
          ? Number(v)
          : Number.NaN;
  return Number.isInteger(n) && n >= min && n <= max ? ok(n) : expected(what);
}

/** cv.port. */
export const port = (v: unknown): Checked<number> => integer(v, 1, 65535, 'a port number from 1 to 65535');

/** cv.positive_int. */
export const positiveInt = (v: unknown): Checked<number> => integer(v, 0, Number.MAX_SAFE_INTEGER, 'a whole number, 0 or more');

/** vol.In over texts (after vol.Coerce(str) where HA coerces). */
export function oneOf<T extends string>(choices: readonly T[], coerce = false): (v: unknown) => Checked<T> {
  return (v) => {
    const text = coerce && (typeof v === 'number' || typeof v === 'bigint' || v instanceof PyFloat) ? v.toString() : v;
    return typeof text === 'string' && (choices as readonly string[]).includes(text) ? ok(text as T) : expected(`one of ${choices.join(', ')}`);
  };
}

/** A mapping (Python dict), for keys checked one by one by the caller. */
export function mapping(v: unknown): Checked<Record<string, unknown>> {
  return isPlainObject(v) ? ok(v) : expected('a mapping of keys to values');
}

/** cv.ensure_list: nothing → [], one value → [value]. */
export function ensureList(v: unknown): unknown[] {
  if (v === null || v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

/** homeassistant.core.valid_entity_id, on the lower-cased id (cv.entity_id lower-cases). */
const ENTITY_ID = /^(?!.+__)(?!_)[\da-z_]+(?<!_)\.(?!_)[\da-z_]+(?<!_)$/;

export function entityId(v: unknown): Checked<string> {
  const s = str(v);
  if ('expected' in s) return expected('an entity id such as sensor.kitchen');
  const id = s.ok.toLowerCase();
  return ENTITY_ID.test(id) ? ok(id) : expected('an entity id such as sensor.kitchen');
}

/** cv.ensure_list_csv: a string is split at commas (each part trimmed). */
export function ensureListCsv(v: unknown): unknown[] {
  return typeof v === 'string' ? v.split(',').map((part) => part.trim()) : ensureList(v);
}

/** Edit distance, a swap of two neighbours counting as one edit (optimal string alignment). */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number): number => (d[i] as number[])[j] as number;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = best;
    }
  }
  return at(a.length, b.length);
}

/** The known key `key` most likely stands for: a typo (two edits at most) or a longer/shorter spelling (`hostname`, `domain`). */
export function didYouMean(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  const prefixes = known.filter((k) => Math.min(k.length, lower.length) >= 3 && (lower.startsWith(k) || k.startsWith(lower)));
  // The closest in length: `ssl_ca` is ssl_ca_cert, not ssl.
  if (prefixes.length > 0) return prefixes.sort((x, y) => Math.abs(x.length - lower.length) - Math.abs(y.length - lower.length))[0];
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const k of known) {
    const d = distance(lower, k);
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return bestDistance <= (lower.length <= 4 ? 1 : 2) ? best : undefined;
}
