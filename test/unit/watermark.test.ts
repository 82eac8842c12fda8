import { describe, expect, it } from 'vitest';
import { type Hold, Watermark, WatermarkError } from '../../src/pipeline/watermark.js';

/** Resolves to whether `p` settled within the current turn of microtasks. */
async function settledNow(p: Promise<void>): Promise<boolean> {
  let done = false;
  void p.then(() => (done = true));
  await new Promise((r) => setImmediate(r));
  return done;
}

/** A small seeded generator, so that a failure can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('Watermark', () => {
  it('starts at the restored floor (or null) and keeps it until newer data is durable', () => {
    expect(new Watermark().value()).toBeNull();
    const w = new Watermark(5_000);
    expect(w.value()).toBe(5_000);
    const h = w.hold();
    h.noteHaTime(4_000); // older than the floor: the floor stays
    h.release();
    expect(w.value()).toBe(5_000);
    const g = w.hold();
    g.noteHaTime(6_000);
    g.release();
    expect(w.value()).toBe(6_000);
  });

  it('moves to the newest HA time of the released prefix only', () => {
    const w = new Watermark(0);
    const [a, b, c] = [w.hold(), w.hold(), w.hold()];
    a.noteHaTime(100);
    b.noteHaTime(200);
    c.noteHaTime(300);
    c.release(); // ahead of held ones: no move
    expect(w.value()).toBe(0);
    b.release();
    expect(w.value()).toBe(0);
    a.release(); // the prefix now covers a, b and c
    expect(w.value()).toBe(300);
    expect(w.held).toBe(0);
  });

  it('a released hold with no HA time (no live events) lets the prefix pass without moving it', () => {
    const w = new Watermark(10);
    const a = w.hold();
    const b = w.hold();
    b.noteHaTime(50);
    b.release();
    expect(w.value()).toBe(10);
    a.release();
    expect(w.value()).toBe(50);
  });

  it('never passes the HA time of data not yet released, whatever the release order (seeded random runs)', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const rnd = random(seed);
      const w = new Watermark(rnd() < 0.5 ? null : 1_000);
      const open: { hold: Hold; haMs: number | null }[] = [];
      let clock = 1_000;
      for (let step = 0; step < 200; step++) {
        if (open.length === 0 || rnd() < 0.55) {
          const hold = w.hold();
          // HA times mostly rise with arrival, sometimes go back (clock set back, slow batch).
          clock += Math.floor(rnd() * 20) - 4;
          const haMs = rnd() < 0.8 ? clock : null;
          if (haMs !== null) hold.noteHaTime(haMs);
          open.push({ hold, haMs });
        } else {
          const [gone] = open.splice(Math.floor(rnd() * open.length), 1);
          gone?.hold.release();
        }
        const v = w.value();
        expect(v === null || Number.isFinite(v)).toBe(true);
        for (const o of open) if (o.haMs !== null && v !== null) expect(v, `seed ${seed} step ${step}`).toBeLessThanOrEqual(o.haMs);
      }
      for (const o of open.splice(0)) o.hold.release();
      expect(w.held).toBe(0);
    }
  });

  it('a ceiling caps the value while held, and only then', () => {
    const w = new Watermark(1_000);
    const ceiling = w.holdAt(500);
    expect(w.value()).toBe(500);
    const h = w.hold();
    h.noteHaTime(2_000);
    h.release();
    expect(w.value()).toBe(500);
    expect(w.held).toBe(0); // a ceiling is not an arrival
    ceiling.release();
    expect(w.value()).toBe(2_000);
  });

  it('two ceilings: the lower one counts', () => {
    const w = new Watermark(1_000);
    const a = w.holdAt(800);
    const b = w.holdAt(600);
    expect(w.value()).toBe(600);
    b.release();
    expect(w.value()).toBe(800);
    a.release();
    expect(w.value()).toBe(1_000);
  });

  it('a shared hold is released when its last handle is', () => {
    const w = new Watermark(0);
    const h = w.hold();
    h.noteHaTime(100);
    const s1 = h.share();
    const s2 = s1.share();
    h.release();
    s2.release();
    expect(w.value()).toBe(0);
    expect(w.held).toBe(1);
    s1.release();
    expect(w.value()).toBe(100);
    expect(w.held).toBe(0);
  });

  it('a second release of a handle throws WatermarkError and changes nothing', () => {
    const w = new Watermark(0);
    const h = w.hold();
    const s = h.share();
    h.release();
    expect(() => h.release()).toThrow(WatermarkError);
    expect(() => h.release()).toThrow(expect.objectContaining({ code: 'WATERMARK_HOLD_RELEASED_TWICE' }));
    expect(w.held).toBe(1); // the second handle still holds
    expect(() => h.share()).toThrow(WatermarkError);
    s.release();
    expect(w.held).toBe(0);
  });

  it('drained(mark) resolves exactly when every arrival up to the mark is released, by notification', async () => {
    const w = new Watermark(0);
    const a = w.hold();
    const b = w.hold();
    const mark = w.mark();
    const later = w.hold(); // after the mark: not waited for
    const drained = w.drained(mark);
    b.release();
    expect(await settledNow(drained)).toBe(false);
    a.release();
    expect(await settledNow(drained)).toBe(true);
    expect(w.held).toBe(1);
    later.release();
  });

  it('drained() of a mark with nothing held resolves at once; a ceiling is not waited for', async () => {
    const w = new Watermark(0);
    const ceiling = w.holdAt(0);
    expect(await settledNow(w.drained(w.mark()))).toBe(true);
    ceiling.release();
  });

  it('onChange fires when the value may have moved', () => {
    const w = new Watermark(0);
    let calls = 0;
    w.onChange(() => calls++);
    const h = w.hold();
    h.noteHaTime(10);
    h.release();
    expect(calls).toBe(1);
    w.holdAt(5).release();
    expect(calls).toBe(3);
    // A held arrival noted before the value caps it (and fires), its release lifts the cap (and fires).
    const first = w.hold();
    const late = w.hold();
    late.noteHaTime(3);
    expect(w.value()).toBe(3);
    expect(calls).toBe(4);
    late.release();
    expect(w.value()).toBe(10);
    expect(calls).toBe(5);
    first.release();
  });

  it('idle: nothing held, the value is the newest HA time noted, newestHaMs tracks the live stream', () => {
    const w = new Watermark(null);
    const holds = Array.from({ length: 10 }, (_, i) => {
      const h = w.hold();
      h.noteHaTime(1_000 + i);
      return h;
    });
    expect(w.newestHaMs).toBe(1_009);
    expect(w.value()).toBeNull();
    for (const h of holds.reverse()) h.release();
    expect(w.held).toBe(0);
    expect(w.value()).toBe(1_009);
  });
});
