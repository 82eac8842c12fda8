import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { HeldBackLines } from '../../src/pipeline/held-back.js';
import type { HeldBackLine } from '../../workers/encode-batch.js';
import { createSeenStates, SeenStates } from '../../workers/seen-states.js';

const line = (value: number, us: number): string => `sensor,entity_id=sensor.a value=${value} ${us}000\n`;
const announce = (value: number, us: number): HeldBackLine => ({ entityId: 'sensor.a', line: line(value, us), out: line(value, us), arrival: 'announce' });

function setup() {
  const seen = new SeenStates(createSeenStates(64));
  const written: { text: string; token: number }[] = [];
  const held = new Map<number, number>();
  const lines = new HeldBackLines({
    seen,
    write: (lp, _n, token) => written.push({ text: Buffer.from(lp).toString(), token }),
    hold: (t) => held.set(t, (held.get(t) ?? 0) + 1),
    release: (t) => {
      const n = (held.get(t) ?? 0) - 1;
      if (n < 0) throw new Error(`released ${t} more than held`);
      if (n === 0) held.delete(t);
      else held.set(t, n);
    },
    onSkipped: () => {},
    log: pino({ level: 'silent' }),
  });
  return { seen, written, held, lines };
}

describe('held-back lines (restart de-duplication)', () => {
  it('wait for their connection\'s backfill, keep their watermark tokens held, then are judged', () => {
    const { seen, written, held, lines } = setup();
    seen.note('sensor.a', line(1, 100), 'change', 1, false);
    lines.begin(2);
    lines.add(2, [announce(1, 300)], 50);
    lines.add(2, [announce(1, 300)], 50);
    expect(written).toEqual([]);
    expect(held.get(50)).toBe(2);
    // The backfill brought the change the connection missed: 2 at 200. 1 at 300 is a change.
    seen.note('sensor.a', line(2, 200), 'recorded', 2, false);
    lines.settle(2, true);
    expect(written).toEqual([{ text: line(1, 300) + line(1, 300), token: 50 }]);
    expect(held.size).toBe(0);
  });

  it('a re-announcement after a complete backfill is left out', () => {
    const { seen, written, lines } = setup();
    seen.note('sensor.a', line(1, 100), 'change', 1, false);
    lines.begin(2);
    lines.add(2, [announce(1, 300)], 50);
    lines.settle(2, true);
    expect(written).toEqual([]);
  });

  it('are all written when the backfill did not complete, when the connection closed first, and for a connection whose backfill never completed', () => {
    const { seen, written, held, lines } = setup();
    seen.note('sensor.a', line(1, 100), 'change', 1, false);
    lines.begin(2);
    lines.add(2, [announce(1, 300)], 50);
    lines.settle(2, false);
    expect(written.map((w) => w.text)).toEqual([line(1, 300)]);

    lines.begin(3);
    lines.add(3, [announce(1, 400)], 60);
    lines.closed(3);
    expect(written.map((w) => w.text)).toEqual([line(1, 300), line(1, 400)]);
    // A late batch of connection 3 (its backfill never completed): written, not judged.
    lines.add(3, [announce(1, 500)], 61);
    expect(written.map((w) => w.text)).toEqual([line(1, 300), line(1, 400), line(1, 500)]);
    expect(held.size).toBe(0);
  });

  it('a late batch of a connection whose backfill completed is judged at once', () => {
    const { seen, written, lines } = setup();
    seen.note('sensor.a', line(1, 100), 'change', 1, false);
    lines.begin(2);
    lines.settle(2, true);
    lines.begin(3);
    lines.add(2, [announce(1, 300)], 50);
    expect(written).toEqual([]);
    lines.add(2, [announce(7, 400)], 51);
    expect(written).toEqual([{ text: line(7, 400), token: 51 }]);
  });
});
