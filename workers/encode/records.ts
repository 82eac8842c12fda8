/**
 * The worker's half of restart de-duplication: for each state line it writes, what the main
 * thread's judge needs (src/pipeline/restart-dedup/), as typed arrays that are transferred.
 * Workers share no table and take no lock: the verdicts are applied on the main thread, in job
 * order, so they follow event order for any pool size.
 *
 * Hashes are over UTF-8 bytes, so the Latin-1 fast path (where every character is one byte
 * already) and the UTF-8 path agree. A line's hash is taken in `finish`, from its bytes in `lp`
 * (a loop over a typed array, about 3× cheaper than over the encoder's string, which would first
 * have to be flattened): the line's part before the enrichment context, which the record keeps
 * the length of.
 */
import { RECORD_INTS, REC, type DedupRecords } from './result.js';
import { lineEnd } from '../line-protocol.js';

/**
 * Two 32-bit hashes (FNV-1a and a multiply-xorshift lane) of `s[start, end)` read as UTF-8, into
 * out[at], out[at + 1]. `latin1`: every character is one byte already (the fast path's strings).
 */
export function hash64(s: string, start: number, end: number, latin1: boolean, out: Int32Array, at: number): void {
  let a = 0x811c9dc5 | 0;
  let b = 0x9747b28c | 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80 || latin1) {
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x5bd1e995);
      b ^= b >>> 15;
      continue;
    }
    // Beyond ASCII in a UTF-16 string: hash its UTF-8 bytes.
    let cp = c;
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < end) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    for (const byte of utf8Bytes(cp)) {
      a = Math.imul(a ^ byte, 0x01000193);
      b = Math.imul(b ^ byte, 0x5bd1e995);
      b ^= b >>> 15;
    }
  }
  out[at] = a;
  out[at + 1] = b ^ Math.imul(a, 0x27d4eb2f);
}

function utf8Bytes(cp: number): number[] {
  if (cp < 0x800) return [0xc0 | (cp >> 6), 0x80 | (cp & 0x3f)];
  if (cp < 0x10000) return [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f)];
  return [0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f)];
}

/** hash64 of `bytes[start, end)` (UTF-8 bytes, the same values as hash64 of their text). */
export function hashBytes(bytes: Uint8Array, start: number, end: number, out: Int32Array, at: number): void {
  let a = 0x811c9dc5 | 0;
  let b = 0x9747b28c | 0;
  for (let i = start; i < end; i++) {
    const c = bytes[i] as number;
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  out[at] = a;
  out[at + 1] = b ^ Math.imul(a, 0x27d4eb2f);
}

/** A line's timestamp (the ns digits after its last space, before the newline) in µs. */
export function lineTimeUs(line: string, sp: number): number {
  const end = line.charCodeAt(line.length - 1) === 0x0a ? line.length - 1 : line.length;
  return end - sp - 1 > 3 ? Number(line.slice(sp + 1, end - 3)) : 0;
}

/** Records of one batch, grown as lines are added. `start` holds the line's ordinal until `finish`. */
export class RecordBuilder {
  private ints = new Int32Array(64 * RECORD_INTS);
  private times = new Float64Array(64);
  count = 0;

  /**
   * Adds the record of `line` (the schema's line, without context), line number `ordinal` in lp,
   * where it is written with `contextBytes` bytes of enrichment context before its timestamp.
   * Returns its time in µs.
   */
  add(entityId: string, line: string, flags: number, resultId: number, ordinal: number, latin1: boolean, contextBytes: number): number {
    if (this.count === this.times.length) this.grow();
    const at = this.count * RECORD_INTS;
    const sp = line.lastIndexOf(' ');
    hash64(entityId, 0, entityId.length, latin1, this.ints, at + REC.keyHi);
    this.ints[at + REC.flags] = flags;
    this.ints[at + REC.resultId] = resultId;
    // Until finish: the line's ordinal, and the context's length (the line's hash comes from lp).
    this.ints[at + REC.start] = ordinal;
    this.ints[at + REC.end] = contextBytes;
    const us = lineTimeUs(line, sp);
    this.times[this.count++] = us;
    return us;
  }

  /**
   * Turns line ordinals into byte ranges of `lp`, where every line ends in '\n', and hashes each
   * line's bytes up to its context (or its timestamp's space).
   */
  finish(lp: Uint8Array): DedupRecords {
    const ints = this.ints;
    let line = 0;
    let pos = 0;
    for (let r = 0; r < this.count; r++) {
      const at = r * RECORD_INTS;
      const ordinal = ints[at + REC.start] as number;
      while (line < ordinal) {
        pos = lineEnd(lp, pos) + 1;
        line++;
      }
      const end = lineEnd(lp, pos) + 1;
      const sp = lp.lastIndexOf(0x20, end - 1);
      hashBytes(lp, pos, sp - (ints[at + REC.end] as number), ints, at + REC.hashHi);
      ints[at + REC.start] = pos;
      ints[at + REC.end] = end;
      pos = end;
      line++;
    }
    const out = { count: this.count, ints: this.ints.slice(0, this.count * RECORD_INTS), timesUs: this.times.slice(0, this.count) };
    this.count = 0;
    return out;
  }

  private grow(): void {
    const ints = new Int32Array(this.ints.length * 2);
    ints.set(this.ints);
    const times = new Float64Array(this.times.length * 2);
    times.set(this.times);
    this.ints = ints;
    this.times = times;
  }
}

/** The judge's input for one line (what a record holds), computed directly: for tests and tools. */
export function pointOf(entityId: string, line: string, latin1 = false): { keyHi: number; keyLo: number; hashHi: number; hashLo: number; timeUs: number } {
  const ints = new Int32Array(4);
  const sp = line.lastIndexOf(' ');
  hash64(entityId, 0, entityId.length, latin1, ints, 0);
  hash64(line, 0, sp, latin1, ints, 2);
  return { keyHi: ints[0] as number, keyLo: ints[1] as number, hashHi: ints[2] as number, hashLo: ints[3] as number, timeUs: lineTimeUs(line, sp) };
}
