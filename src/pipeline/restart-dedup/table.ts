/**
 * Restart de-duplication's table mechanics: the last two points per entity in typed arrays, open
 * addressing with linear probing, save and restore as bytes. What the fields mean and when they
 * change is the policy's business (policy.ts); this module only stores them. One thread (the
 * main thread) owns the table: no SharedArrayBuffer, no locks.
 *
 * An entity is a 64-bit hash of its id (key hi, key lo), a point a 64-bit hash of its line
 * without the timestamp; times are µs since the epoch in Float64 (exact below 2^53).
 *
 * Saved form (DATA_DIR/seen-states.bin, the same as version 3 of the shared table's file):
 *
 *   u32 magic "HASS" (0x53534148) | u32 version 3 | u32 entity count | u32 0
 *   | Float64 × SAVED_TIMES per entity (latest, before, skip 0, skip 1)
 *   | Int32 × SAVED_INTS per entity (key hi, key lo, latest hi, lo, flags, before hi, lo, flags)
 *
 * little-endian. Skip and latest sessions are not saved: sessions restart with the process.
 */

/** Int32 fields of a slot, at `slot * SLOT_INTS + SLOT.x`. */
export const SLOT = {
  keyHi: 0,
  keyLo: 1,
  /** USED | HAS_POINT (the latest point). */
  flags: 2,
  latestHi: 3,
  latestLo: 4,
  beforeHi: 5,
  beforeLo: 6,
  /** HAS_POINT when there is a point before the latest. */
  beforeFlags: 7,
  /** The connection in which a `recorded` repeat was last skipped. */
  skipSession: 8,
  /** The connection the latest point came from. */
  latestSession: 9,
} as const;
export const SLOT_INTS = 10;

/** Float64 fields of a slot, at `slot * SLOT_TIMES + TIME.x`. */
export const TIME = { latest: 0, before: 1, skip0: 2, skip1: 3 } as const;
export const SLOT_TIMES = 4;

export const USED = 1;
export const HAS_POINT = 2;
export const NO_SESSION = -1;

/** Never fill the table past this share: probing stays short. */
const MAX_LOAD = 0.75;
export const DEFAULT_SLOTS = 1 << 16;

const MAGIC = 0x53534148;
const FILE_VERSION = 3;
const HEADER_BYTES = 16;
const SAVED_INTS = 8;
const SAVED_TIMES = 4;
const ENTRY_BYTES = SAVED_TIMES * 8 + SAVED_INTS * 4;
/** The slot fields saved per entity, in file order. */
const SAVED_FIELDS = [SLOT.keyHi, SLOT.keyLo, SLOT.latestHi, SLOT.latestLo, SLOT.flags, SLOT.beforeHi, SLOT.beforeLo, SLOT.beforeFlags];

export class SeenTableFileError extends Error {
  readonly code = 'SEEN_STATES_FILE_INVALID';
}

export class SeenTable {
  readonly slots: number;
  readonly ints: Int32Array;
  readonly times: Float64Array;
  /** Entities held. */
  size = 0;
  /** Bumped by every change (policy.ts calls `changed`): an unchanged table need not be saved. */
  version = 0;
  private readonly maxUsed: number;

  constructor(slots = DEFAULT_SLOTS) {
    if (slots <= 0 || (slots & (slots - 1)) !== 0) throw new Error(`slots must be a power of two, not ${slots}`);
    this.slots = slots;
    this.ints = new Int32Array(slots * SLOT_INTS);
    this.times = new Float64Array(slots * SLOT_TIMES);
    this.maxUsed = Math.floor(slots * MAX_LOAD);
  }

  changed(): void {
    this.version++;
  }

  /** The entity's slot, or -1. */
  find(hi: number, lo: number): number {
    const ints = this.ints;
    const mask = this.slots - 1;
    for (let slot = (hi ^ lo) & mask, probes = 0; probes < this.slots; slot = (slot + 1) & mask, probes++) {
      const at = slot * SLOT_INTS;
      if (((ints[at + SLOT.flags] as number) & USED) === 0) return -1;
      if (ints[at + SLOT.keyHi] === hi && ints[at + SLOT.keyLo] === lo) return slot;
    }
    return -1;
  }

  /** The entity's slot, claimed (empty, no point) when the entity is new; -1 when the table is full. */
  claim(hi: number, lo: number): number {
    const ints = this.ints;
    const mask = this.slots - 1;
    for (let slot = (hi ^ lo) & mask, probes = 0; probes < this.slots; slot = (slot + 1) & mask, probes++) {
      const at = slot * SLOT_INTS;
      if (((ints[at + SLOT.flags] as number) & USED) === 0) {
        if (this.size >= this.maxUsed) return -1;
        ints[at + SLOT.keyHi] = hi;
        ints[at + SLOT.keyLo] = lo;
        ints[at + SLOT.flags] = USED;
        ints[at + SLOT.skipSession] = NO_SESSION;
        ints[at + SLOT.latestSession] = NO_SESSION;
        this.times[slot * SLOT_TIMES + TIME.skip0] = Number.NaN;
        this.times[slot * SLOT_TIMES + TIME.skip1] = Number.NaN;
        this.size++;
        this.changed();
        return slot;
      }
      if (ints[at + SLOT.keyHi] === hi && ints[at + SLOT.keyLo] === lo) return slot;
    }
    return -1;
  }

  /** Every entity with a point, in the saved form. */
  serialize(): Uint8Array {
    const used: number[] = [];
    for (let slot = 0; slot < this.slots; slot++) if (((this.ints[slot * SLOT_INTS + SLOT.flags] as number) & HAS_POINT) !== 0) used.push(slot);
    const n = used.length;
    const out = new Uint8Array(HEADER_BYTES + n * ENTRY_BYTES);
    const view = new DataView(out.buffer);
    view.setUint32(0, MAGIC, true);
    view.setUint32(4, FILE_VERSION, true);
    view.setUint32(8, n, true);
    const intsAt = HEADER_BYTES + n * SAVED_TIMES * 8;
    used.forEach((slot, e) => {
      for (let i = 0; i < SAVED_TIMES; i++) view.setFloat64(HEADER_BYTES + (e * SAVED_TIMES + i) * 8, this.times[slot * SLOT_TIMES + i] as number, true);
      SAVED_FIELDS.forEach((field, i) => {
        view.setInt32(intsAt + (e * SAVED_INTS + i) * 4, this.ints[slot * SLOT_INTS + field] as number, true);
      });
    });
    return out;
  }

  /** Puts saved entities back; returns how many (it stops when the table is full). Throws SeenTableFileError. */
  restore(bytes: Uint8Array): number {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const n = bytes.byteLength >= HEADER_BYTES ? view.getUint32(8, true) : -1;
    if (n < 0 || view.getUint32(0, true) !== MAGIC || view.getUint32(4, true) !== FILE_VERSION || bytes.byteLength !== HEADER_BYTES + n * ENTRY_BYTES) {
      throw new SeenTableFileError('not a seen-states file this version understands');
    }
    const intsAt = HEADER_BYTES + n * SAVED_TIMES * 8;
    const int = (e: number, i: number): number => view.getInt32(intsAt + (e * SAVED_INTS + i) * 4, true);
    let restored = 0;
    for (let e = 0; e < n; e++) {
      const slot = this.claim(int(e, 0), int(e, 1));
      if (slot < 0) break;
      const at = slot * SLOT_INTS;
      for (let i = 2; i < SAVED_INTS; i++) this.ints[at + (SAVED_FIELDS[i] as number)] = int(e, i);
      this.ints[at + SLOT.flags] = USED | (int(e, 4) & HAS_POINT);
      this.ints[at + SLOT.beforeFlags] = int(e, 7) & HAS_POINT;
      for (let i = 0; i < SAVED_TIMES; i++) this.times[slot * SLOT_TIMES + i] = view.getFloat64(HEADER_BYTES + (e * SAVED_TIMES + i) * 8, true);
      restored++;
    }
    this.changed();
    return restored;
  }
}
