/** Restart de-duplication's table mechanics (src/pipeline/restart-dedup/table.ts), apart from the policy. */
import { describe, expect, it } from 'vitest';
import { HAS_POINT, SeenTable, SLOT, SLOT_INTS, SLOT_TIMES, TIME, USED } from '../../src/pipeline/restart-dedup/table.js';

/** Keys whose home slot (hi ^ lo) & mask is `home`. */
const keyAt = (home: number, n: number): [number, number] => [n << 8, (n << 8) ^ home];

describe('seen table', () => {
  it('claims a slot per key, finds it again, and probes past collisions to the next free slot', () => {
    const t = new SeenTable(16);
    const [a, b, c] = [keyAt(3, 1), keyAt(3, 2), keyAt(4, 3)];
    expect(t.find(...a)).toBe(-1);
    expect(t.claim(...a)).toBe(3);
    expect(t.claim(...b)).toBe(4); // same home slot: the next one
    expect(t.claim(...c)).toBe(5); // its home slot is taken by b
    expect([t.find(...a), t.find(...b), t.find(...c)]).toEqual([3, 4, 5]);
    expect(t.claim(...b)).toBe(4); // claimed once
    expect(t.size).toBe(3);
    expect(t.find(...keyAt(3, 9))).toBe(-1); // stops at the first free slot
  });

  it('wraps around the end, and refuses new keys past 3/4 full while finding the old ones', () => {
    const t = new SeenTable(8);
    expect(t.claim(...keyAt(7, 1))).toBe(7);
    expect(t.claim(...keyAt(7, 2))).toBe(0);
    for (let n = 3; n <= 6; n++) expect(t.claim(...keyAt(1, n))).toBeGreaterThan(0);
    expect(t.size).toBe(6);
    expect(t.claim(...keyAt(2, 7))).toBe(-1);
    expect(t.find(...keyAt(7, 2))).toBe(0);
    expect(t.claim(...keyAt(7, 2))).toBe(0);
  });

  it('a new slot is empty: no point, no sessions, no skip times', () => {
    const t = new SeenTable(8);
    const slot = t.claim(1, 2);
    const at = slot * SLOT_INTS;
    expect(t.ints[at + SLOT.flags]).toBe(USED);
    expect([t.ints[at + SLOT.skipSession], t.ints[at + SLOT.latestSession]]).toEqual([-1, -1]);
    expect(t.times[slot * SLOT_TIMES + TIME.skip0]).toBeNaN();
  });

  it('save/restore round trip: every field the policy needs, into a table of another size', () => {
    const t = new SeenTable(64);
    for (let n = 0; n < 40; n++) {
      const slot = t.claim(n * 7919, n * 104729);
      const at = slot * SLOT_INTS;
      if (n === 39) continue; // claimed, no point yet: not saved
      t.ints[at + SLOT.flags] = USED | HAS_POINT;
      t.ints[at + SLOT.latestHi] = n;
      t.ints[at + SLOT.latestLo] = -n;
      t.ints[at + SLOT.beforeHi] = n + 1;
      t.ints[at + SLOT.beforeLo] = n + 2;
      t.ints[at + SLOT.beforeFlags] = n % 2 === 0 ? HAS_POINT : 0;
      for (let i = 0; i < SLOT_TIMES; i++) t.times[slot * SLOT_TIMES + i] = 1.7e15 + n * 10 + i;
    }
    const bytes = t.serialize();
    expect(bytes.byteLength).toBe(16 + 39 * 64);
    const u = new SeenTable(256);
    const v = u.version;
    expect(u.restore(bytes)).toBe(39);
    expect(u.version).not.toBe(v);
    for (let n = 0; n < 39; n++) {
      const a = t.find(n * 7919, n * 104729);
      const b = u.find(n * 7919, n * 104729);
      for (const f of [SLOT.flags, SLOT.latestHi, SLOT.latestLo, SLOT.beforeHi, SLOT.beforeLo, SLOT.beforeFlags])
        expect(u.ints[b * SLOT_INTS + f]).toBe(t.ints[a * SLOT_INTS + f]);
      for (let i = 0; i < SLOT_TIMES; i++) expect(u.times[b * SLOT_TIMES + i]).toBe(t.times[a * SLOT_TIMES + i]);
    }
    expect(u.find(39 * 7919, 39 * 104729)).toBe(-1);
    // Byte-identical when saved again (same entities, any table size).
    expect(Buffer.from(new SeenTable(64).serialize()).length).toBe(16);
  });

  it('restores what fits into a smaller table, and rejects bytes of another format', () => {
    const t = new SeenTable(64);
    for (let n = 0; n < 20; n++) {
      const slot = t.claim(n, n * 3 + 1);
      t.ints[slot * SLOT_INTS + SLOT.flags] = USED | HAS_POINT;
    }
    expect(new SeenTable(8).restore(t.serialize())).toBe(6);
    const bad = t.serialize();
    bad[4] = 2; // version 2
    expect(() => new SeenTable(8).restore(bad)).toThrow(/not a seen-states file/);
    expect(() => new SeenTable(8).restore(t.serialize().subarray(0, 20))).toThrow(/not a seen-states file/);
  });
});
