/**
 * JSON text of an attribute value with object keys sorted, at every depth, in code point order
 * (Python's sort of str keys; HA's REST history sorts keys that way). So the live point and the
 * backfilled point of one state are the same line, whichever order HA sent the keys in.
 *
 * Code point order is also the order of the keys' UTF-8 bytes, so the Latin-1 fast path (keys
 * in Latin-1 form, one character per byte) sorts the same way as the UTF-8 path.
 *
 * Bounded: a value nested deeper than MAX_NESTING throws NestingTooDeepError (one invalid state,
 * workers/invalid.ts) long before the recursion could reach the thread's stack limit.
 */
import { MAX_NESTING, NestingTooDeepError } from './invalid.js';

/** Compares two strings by code point (UTF-16 code unit order differs only around surrogates). */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // A surrogate (U+D800–DFFF) encodes a code point above U+FFFF: it sorts after U+E000–FFFF.
    if (x >= 0xd800 && y >= 0xd800) return fixup(x) - fixup(y);
    return x - y;
  }
  return a.length - b.length;
}

function fixup(c: number): number {
  if (c >= 0xe000) return c - 0x800;
  if (c >= 0xd800) return c + 0x2000;
  return c;
}

/**
 * JSON.stringify with sorted keys (JSON.stringify itself puts integer-like keys first). `what`
 * names the value in the error; `depth` is the nesting level of `value` (1: the attribute itself).
 */
export function sortedJson(value: unknown, what = 'a value', depth = 1): string {
  if (typeof value !== 'object' || value === null) return JSON.stringify(value) ?? 'null';
  if (depth > MAX_NESTING) throw new NestingTooDeepError(what);
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : sortedJson(v, what, depth + 1))).join(',')}]`;
  const o = value as Record<string, unknown>;
  const parts: string[] = [];
  for (const k of Object.keys(o).sort(compareCodePoints)) {
    if (o[k] !== undefined) parts.push(`${JSON.stringify(k)}:${sortedJson(o[k], what, depth + 1)}`);
  }
  return `{${parts.join(',')}}`;
}
