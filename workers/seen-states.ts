/**
 * The last points written per entity, for restart de-duplication. When Home Assistant starts, it
 * announces every entity again (old_state null) with its state and attributes unchanged and new
 * timestamps; written as points, those are duplicates at the wrong time. Each encoder thread
 * records here what it writes and checks re-announcements against it.
 *
 * Per entity two points are kept: the latest, and the one before it. The second serves history
 * rows that arrive after a newer state: when the ingestor was away while HA restarted and a
 * sensor changed after the restart, the snapshot brings the change first, then the backfill brings
 * the re-announcement, which is compared with the point before.
 *
 * One SharedArrayBuffer for the main thread and every encoder thread. Open addressing with linear
 * probing; an entity is a 64-bit hash of its id, a point a 64-bit hash of its line without the
 * timestamp (measurement, tags and fields: what a reader of the database sees). Hashes are over
 * the line's UTF-8 bytes, so the Latin-1 fast path and the UTF-8 path agree.
 *
 * The times of the last two re-announcements skipped are kept too: the backfill starts a minute
 * before the gap, so it brings points already judged, and a skipped one must stay skipped.
 *
 * Layout: a header (Int32 [0]: entities held), then per slot Float64 × 4 (times in µs since the
 * epoch, exact below 2^53: latest point, point before, two skipped), then per slot Int32 × 12:
 * lock, key hi, key lo, skip session, then hash hi, hash lo, flags for the latest point and for
 * the one before, then the connection the latest point came from. A slot
 * is changed only under its lock (a spin on Atomics.compareExchange around a few loads and
 * stores; there are as many contenders as encoder threads).
 */

const HEADER_BYTES = 16;
const INTS = 12;
/** Float64 per slot: the latest point's time, the time of the point before, two skip times. */
const TIMES = 4;
const SLOT_BYTES = INTS * 4 + TIMES * 8;
const T_LATEST = 0;
const T_BEFORE = 1;
const T_SKIP = 2;
const LOCK = 0;
const KEY_HI = 1;
const KEY_LO = 2;
const SKIP_SESSION = 3;
/** The connection whose point is the latest one. */
const LATEST_SESSION = 11;
/** Offsets of the two points in a slot: hash hi, hash lo, flags. */
const LATEST = 4;
const BEFORE = 8;
const HI = 0;
const LO = 1;
const FLAGS = 2;

/** In the key's flags word (LATEST + FLAGS): the slot belongs to an entity. */
const USED = 1;
const HAS_POINT = 2;

const NO_SESSION = -1;
const SPIN_LIMIT = 10_000_000;
/** Never fill the table past this share: probing stays short. */
const MAX_LOAD = 0.75;
export const DEFAULT_SLOTS = 1 << 16;
/** Saved per entity: key hi/lo, then hash hi/lo and flags of both points; and the two times. */
export const SAVED_INTS = 8;
export const SAVED_TIMES = TIMES;

/**
 * How a point came:
 * - `change`: a live state change (old_state set), or a history row when HA did not restart.
 *   Never taken for a re-announcement (only a point left out before, at the same time, stays
 *   left out).
 * - `announce`: a live state_changed with old_state null. Skipped when it repeats the entity's
 *   point before it.
 * - `recorded`: a get_states state, or a history row after HA restarted. A repeat cannot be told
 *   from a force_update repeat, so at most one per entity and connection is skipped.
 */
export type Arrival = 'change' | 'announce' | 'recorded';

/**
 * What `note` found, against the entity's point just before this one in time:
 * - `new`: none, or another state or attributes: written.
 * - `same`: a point seen before (the backfill starts a little before the gap): written again
 *   (an identical rewrite), or skipped again when it was skipped.
 * - `renewed`: same state and attributes, a newer time: a re-announcement (or a force_update
 *   repeat). Skipped or written as `skip` says.
 * - `older`: older than both points kept: written.
 */
export interface Verdict {
  readonly kind: 'new' | 'same' | 'renewed' | 'older';
  readonly skip: boolean;
}

const WRITE_NEW: Verdict = { kind: 'new', skip: false };
const WRITE_SAME: Verdict = { kind: 'same', skip: false };
const SKIP_SAME: Verdict = { kind: 'same', skip: true };
const WRITE_RENEWED: Verdict = { kind: 'renewed', skip: false };
const SKIP_RENEWED: Verdict = { kind: 'renewed', skip: true };
const WRITE_OLDER: Verdict = { kind: 'older', skip: false };

export function createSeenStates(slots = DEFAULT_SLOTS): SharedArrayBuffer {
  if (slots <= 0 || (slots & (slots - 1)) !== 0) throw new Error(`slots must be a power of two, not ${slots}`);
  return new SharedArrayBuffer(HEADER_BYTES + slots * SLOT_BYTES);
}

/**
 * Two 32-bit hashes (FNV-1a and a multiply-xorshift lane) of `s[start, end)` read as UTF-8.
 * `latin1`: every character is one byte already (the fast path's strings).
 */
function hash64(s: string, start: number, end: number, latin1: boolean, out: Int32Array): void {
  let a = 0x811c9dc5 | 0;
  let b = 0x9747b28c | 0;
  const step = (byte: number): void => {
    a = Math.imul(a ^ byte, 0x01000193);
    b = Math.imul(b ^ byte, 0x5bd1e995);
    b ^= b >>> 15;
  };
  for (let i = start; i < end; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80 || latin1) {
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x5bd1e995);
      b ^= b >>> 15;
      continue;
    }
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < end) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c < 0x800) {
      step(0xc0 | (c >> 6));
    } else if (c < 0x10000) {
      step(0xe0 | (c >> 12));
      step(0x80 | ((c >> 6) & 0x3f));
    } else {
      step(0xf0 | (c >> 18));
      step(0x80 | ((c >> 12) & 0x3f));
      step(0x80 | ((c >> 6) & 0x3f));
    }
    step(0x80 | (c & 0x3f));
  }
  out[0] = a;
  out[1] = b ^ Math.imul(a, 0x27d4eb2f);
}

/** The line's timestamp (ns digits after its last space) in µs. */
function timeOf(line: string, sp: number): number {
  const ns = line.slice(sp + 1, line.endsWith('\n') ? -1 : undefined);
  return ns.length > 3 ? Number(ns.slice(0, -3)) : 0;
}

export class SeenStates {
  readonly slots: number;
  private readonly header: Int32Array;
  private readonly ints: Int32Array;
  private readonly times: Float64Array;
  private readonly maxUsed: number;
  private readonly key = new Int32Array(2);
  private readonly hash = new Int32Array(2);

  constructor(sab: SharedArrayBuffer) {
    this.slots = (sab.byteLength - HEADER_BYTES) / SLOT_BYTES;
    this.header = new Int32Array(sab, 0, HEADER_BYTES / 4);
    this.times = new Float64Array(sab, HEADER_BYTES, this.slots * TIMES);
    this.ints = new Int32Array(sab, HEADER_BYTES + this.slots * TIMES * 8, this.slots * INTS);
    this.maxUsed = Math.floor(this.slots * MAX_LOAD);
  }

  /** Entities with an entry. */
  get size(): number {
    return Atomics.load(this.header, 0);
  }

  /**
   * Checks the point `line` (one line of line protocol, its timestamp last) of `entityId` against
   * the entity's points and records it. `session` is the HA connection it came from.
   */
  note(entityId: string, line: string, arrival: Arrival, session: number, latin1: boolean): Verdict {
    const sp = line.lastIndexOf(' ');
    const timeUs = timeOf(line, sp);
    hash64(entityId, 0, entityId.length, latin1, this.key);
    hash64(line, 0, sp, latin1, this.hash);
    const slot = this.lockSlot(this.key[0] as number, this.key[1] as number);
    if (slot < 0) return WRITE_NEW; // full: no de-duplication for new entities
    try {
      return this.judge(slot, timeUs, arrival, session);
    } finally {
      Atomics.store(this.ints, slot * INTS + LOCK, 0);
    }
  }

  /**
   * How a `recorded` point compares with the entity's latest point, changing nothing. With
   * `before`, a latest point that came in that connection does not count ('none'): only points
   * from earlier connections say what HA did while we were away.
   */
  compare(entityId: string, line: string, latin1: boolean, before?: number): Verdict['kind'] | 'none' {
    const sp = line.lastIndexOf(' ');
    const timeUs = timeOf(line, sp);
    hash64(entityId, 0, entityId.length, latin1, this.key);
    hash64(line, 0, sp, latin1, this.hash);
    const slot = this.lookup(this.key[0] as number, this.key[1] as number);
    if (slot < 0) return 'none';
    const base = slot * INTS;
    this.acquire(base);
    const has = ((this.ints[base + LATEST + FLAGS] as number) & HAS_POINT) !== 0;
    const same = this.isPoint(base + LATEST);
    const latestUs = this.times[slot * TIMES + T_LATEST] as number;
    const latestSession = this.ints[base + LATEST_SESSION];
    Atomics.store(this.ints, base + LOCK, 0);
    if (!has || latestSession === before) return 'none';
    if (timeUs < latestUs) return 'older';
    if (!same) return 'new';
    return timeUs === latestUs ? 'same' : 'renewed';
  }

  private isPoint(at: number): boolean {
    return this.ints[at + HI] === this.hash[0] && this.ints[at + LO] === this.hash[1];
  }

  /** The decision, with the slot locked. */
  private judge(slot: number, timeUs: number, arrival: Arrival, session: number): Verdict {
    const ints = this.ints;
    const times = this.times;
    const base = slot * INTS;
    const t = slot * TIMES;
    const latest = base + LATEST;
    const before = base + BEFORE;
    const latestUs = times[t + T_LATEST] as number;
    const beforeUs = times[t + T_BEFORE] as number;
    const set = (at: number, timeIndex: number): void => {
      ints[at + HI] = this.hash[0] as number;
      ints[at + LO] = this.hash[1] as number;
      ints[at + FLAGS] = (at === latest ? USED : 0) | HAS_POINT;
      if (at === latest) ints[base + LATEST_SESSION] = session;
      times[timeIndex] = timeUs;
    };
    /** For a repeat at a newer time: whether to skip it as a re-announcement. */
    const renewal = (): boolean => {
      const skip = arrival === 'announce' || (arrival === 'recorded' && ints[base + SKIP_SESSION] !== session);
      if (!skip) return false;
      if (arrival === 'recorded') ints[base + SKIP_SESSION] = session;
      times[t + T_SKIP + 1] = times[t + T_SKIP] as number;
      times[t + T_SKIP] = timeUs;
      return true;
    };

    if (((ints[latest + FLAGS] as number) & HAS_POINT) === 0) {
      set(latest, t + T_LATEST);
      return WRITE_NEW;
    }
    if (timeUs === times[t + T_SKIP] || timeUs === times[t + T_SKIP + 1]) return SKIP_SAME;
    if (timeUs > latestUs) {
      const renewed = this.isPoint(latest);
      const skip = renewed && renewal();
      ints[before + HI] = ints[latest + HI] as number;
      ints[before + LO] = ints[latest + LO] as number;
      ints[before + FLAGS] = HAS_POINT;
      times[t + T_BEFORE] = latestUs;
      set(latest, t + T_LATEST);
      return renewed ? (skip ? SKIP_RENEWED : WRITE_RENEWED) : WRITE_NEW;
    }
    if (timeUs === latestUs) {
      if (this.isPoint(latest)) return WRITE_SAME;
      set(latest, t + T_LATEST); // another point at the same time: it is the latest now
      return WRITE_NEW;
    }
    // Older than the latest point: judged against the point before it, which it then becomes.
    if (((ints[before + FLAGS] as number) & HAS_POINT) === 0 || timeUs < beforeUs) return WRITE_OLDER;
    if (timeUs === beforeUs) return this.isPoint(before) ? WRITE_SAME : WRITE_OLDER;
    const renewed = this.isPoint(before);
    const skip = renewed && renewal();
    set(before, t + T_BEFORE);
    return renewed ? (skip ? SKIP_RENEWED : WRITE_RENEWED) : WRITE_NEW;
  }

  /** Every entry, for saving: SAVED_INTS ints and SAVED_TIMES times each. */
  entries(): { ints: Int32Array; times: Float64Array } {
    const ints: number[] = [];
    const times: number[] = [];
    for (let slot = 0; slot < this.slots; slot++) {
      const base = slot * INTS;
      if ((Atomics.load(this.ints, base + LATEST + FLAGS) & HAS_POINT) === 0) continue;
      this.acquire(base);
      for (const i of [KEY_HI, KEY_LO, LATEST + HI, LATEST + LO, LATEST + FLAGS, BEFORE + HI, BEFORE + LO, BEFORE + FLAGS]) ints.push(this.ints[base + i] as number);
      for (let i = 0; i < TIMES; i++) times.push(this.times[slot * TIMES + i] as number);
      Atomics.store(this.ints, base + LOCK, 0);
    }
    return { ints: Int32Array.from(ints), times: Float64Array.from(times) };
  }

  /** Puts saved entries back (skip sessions are not kept: sessions restart with the process). */
  restore(ints: Int32Array, times: Float64Array): number {
    let restored = 0;
    for (let e = 0; e < times.length / TIMES; e++) {
      const at = e * SAVED_INTS;
      const slot = this.lockSlot(ints[at] as number, ints[at + 1] as number);
      if (slot < 0) break;
      const base = slot * INTS;
      this.ints[base + LATEST + HI] = ints[at + 2] as number;
      this.ints[base + LATEST + LO] = ints[at + 3] as number;
      this.ints[base + LATEST + FLAGS] = USED | ((ints[at + 4] as number) & HAS_POINT);
      this.ints[base + BEFORE + HI] = ints[at + 5] as number;
      this.ints[base + BEFORE + LO] = ints[at + 6] as number;
      this.ints[base + BEFORE + FLAGS] = (ints[at + 7] as number) & HAS_POINT;
      for (let i = 0; i < TIMES; i++) this.times[slot * TIMES + i] = times[e * TIMES + i] as number;
      Atomics.store(this.ints, base + LOCK, 0);
      restored++;
    }
    return restored;
  }

  /**
   * Takes a slot's lock. A holder keeps it for a few loads and stores; one still holding it after
   * SPIN_LIMIT tries died inside (a worker thread ended): the lock is taken over rather than
   * waited for forever.
   */
  private acquire(base: number): void {
    for (let i = 0; i < SPIN_LIMIT; i++) if (Atomics.compareExchange(this.ints, base + LOCK, 0, 1) === 0) return;
    Atomics.store(this.ints, base + LOCK, 1);
  }

  /** The entity's slot, or -1. */
  private lookup(hi: number, lo: number): number {
    const mask = this.slots - 1;
    for (let slot = (hi ^ lo) & mask, probes = 0; probes < this.slots; slot = (slot + 1) & mask, probes++) {
      const base = slot * INTS;
      if ((Atomics.load(this.ints, base + LATEST + FLAGS) & USED) === 0) return -1;
      if (this.ints[base + KEY_HI] === hi && this.ints[base + KEY_LO] === lo) return slot;
    }
    return -1;
  }

  /** The entity's slot, locked; claimed when the entity is new. -1 when the table is full. */
  private lockSlot(hi: number, lo: number): number {
    const ints = this.ints;
    const mask = this.slots - 1;
    for (let slot = (hi ^ lo) & mask, probes = 0; probes < this.slots; slot = (slot + 1) & mask, probes++) {
      const base = slot * INTS;
      // Keys never change once set, so a used slot of another entity needs no lock to pass.
      if ((Atomics.load(ints, base + LATEST + FLAGS) & USED) !== 0 && (ints[base + KEY_HI] !== hi || ints[base + KEY_LO] !== lo)) continue;
      this.acquire(base);
      if (((ints[base + LATEST + FLAGS] as number) & USED) === 0) {
        if (Atomics.load(this.header, 0) >= this.maxUsed) {
          Atomics.store(ints, base + LOCK, 0);
          return -1;
        }
        ints[base + KEY_HI] = hi;
        ints[base + KEY_LO] = lo;
        ints[base + SKIP_SESSION] = NO_SESSION;
        ints[base + LATEST_SESSION] = NO_SESSION;
        this.times[slot * TIMES + T_SKIP] = Number.NaN;
        this.times[slot * TIMES + T_SKIP + 1] = Number.NaN;
        Atomics.store(ints, base + LATEST + FLAGS, USED);
        Atomics.add(this.header, 0, 1);
        return slot;
      }
      if (ints[base + KEY_HI] === hi && ints[base + KEY_LO] === lo) return slot;
      Atomics.store(ints, base + LOCK, 0); // claimed meanwhile by another entity
    }
    return -1;
  }
}
