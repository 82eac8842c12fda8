/**
 * The Latin-1 fast path (encode-batch.ts) reads a frame's UTF-8 bytes one byte per character.
 * Strings that come from elsewhere (configuration, area names, the enrichment context) must then
 * take the same form before they meet the frame's strings or go into a line: their UTF-8 bytes,
 * one per character.
 */

const NON_ASCII = /[\u0080-\uffff]/;

export function toLatin1Form(s: string): string {
  return NON_ASCII.test(s) ? Buffer.from(s, 'utf8').toString('latin1') : s;
}

export function fromLatin1Form(s: string): string {
  return /[\x80-\xff]/.test(s) ? Buffer.from(s, 'latin1').toString('utf8') : s;
}

/** Every string of a plain JSON-like value, keys included, in Latin-1 form. Other values (a SharedArrayBuffer) are kept. */
export function deepLatin1Form<T>(value: T): T {
  if (typeof value === 'string') return toLatin1Form(value) as T;
  if (Array.isArray(value)) return value.map(deepLatin1Form) as T;
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [toLatin1Form(k), deepLatin1Form(v)])) as T;
  }
  return value;
}
