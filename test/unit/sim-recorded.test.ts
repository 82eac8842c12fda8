/**
 * The simulator's seeded history (src/sim/recorded.ts): generated, deterministic, in order, and
 * answered like HA's recorder (window bounds exclusive, the state in force at a window's start).
 */
import { describe, expect, it } from 'vitest';
import { createHome } from '../../src/sim/home.js';
import { SeededHistory } from '../../src/sim/recorded.js';

const home = createHome(50, 3);
const TO_US = Date.parse('2026-11-30T00:00:00Z') * 1000;

describe('seeded history', () => {
  it('is the same for the same seed, in time order, and ends before its end', () => {
    const a = [...new SeededHistory(home, 3, 1, 300, TO_US).all()];
    const b = [...new SeededHistory(home, 3, 1, 300, TO_US).all()];
    expect(a).toEqual(b);
    expect(a.length).toBe(50 * 288);
    for (let i = 1; i < a.length; i++) if (a[i]?.entityId === a[i - 1]?.entityId) expect(a[i]?.us).toBeGreaterThan(a[i - 1]?.us as number);
    expect(Math.max(...a.map((r) => r.us))).toBeLessThan(TO_US);
    // Some rows fall on a whole second: HA then omits the fraction.
    expect(a.some((r) => r.us % 1_000_000 === 0)).toBe(true);
  });

  it('answers a window with exactly the rows strictly inside it, and the state in force at a time', () => {
    const h = new SeededHistory(home, 3, 1, 300, TO_US);
    const id = home[20]?.entityId as string;
    const all = [...h.all()].filter((r) => r.entityId === id);
    const row = all[100] as (typeof all)[number];
    const start = row.us / 1e6;
    const end = start + 3_600;
    const inside = all.filter((r) => r.us / 1e6 > start && r.us / 1e6 < end).map(({ entityId: _, ...r }) => r);
    expect(h.between(id, start, end)).toEqual(inside);
    expect(h.before(id, start)).toEqual((({ entityId: _, ...r }) => r)(all[99] as (typeof all)[number]));
    expect(h.before(id, h.fromUs / 1e6)).toBeNull();
  });

  it('10 days × 300 entities every 5 minutes (864,000 rows) holds no row in memory', () => {
    const before = process.memoryUsage().heapUsed;
    const h = new SeededHistory(createHome(300, 1), 1, 10, 300, TO_US);
    expect(h.rows).toBe(864_000);
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(5 * 2 ** 20);
  });
});
