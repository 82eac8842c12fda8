import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { WaitingRoom, type HeldLine } from '../../src/pipeline/restart-dedup/held-back.js';
import { note } from '../../src/pipeline/restart-dedup/policy.js';
import { SeenTable } from '../../src/pipeline/restart-dedup/table.js';
import { Watermark, type Hold } from '../../src/pipeline/watermark.js';
import { pointOf } from '../../workers/encode/records.js';
import { capturingLogger } from '../helpers/log.js';

const line = (value: number, us: number): string => `sensor,entity_id=sensor.a value=${value} ${us}000\n`;
const announce = (value: number, us: number): HeldLine => ({
  point: pointOf('sensor.a', line(value, us)),
  arrival: 'announce',
  bytes: Buffer.from(line(value, us)),
});

function setup() {
  const table = new SeenTable(64);
  const seen = { note: (l: string, session: number) => note(table, pointOf('sensor.a', l), 'change', session) };
  const watermark = new Watermark();
  const written: { text: string; seq: number }[] = [];
  const lines = new WaitingRoom({
    note: (p, arrival, session) => note(table, p, arrival, session),
    // The writer: owns the hold, releases it once the lines are durable (here: at once).
    write: (lp, _n, hold) => {
      written.push({ text: Buffer.from(lp).toString(), seq: hold.seq });
      hold.release();
    },
    onSkipped: () => {},
    log: pino({ level: 'silent' }),
  });
  /** A batch's hold: the router keeps it (released at once here), a share waits with the lines. */
  const batch = (): { share: () => Hold; done: () => void; seq: number } => {
    const hold = watermark.hold();
    return { share: () => hold.share(), done: () => hold.release(), seq: hold.seq };
  };
  return { seen, written, watermark, lines, batch };
}

describe('held-back lines (restart de-duplication)', () => {
  it("wait for their connection's backfill, keep a share of their frames' hold, then are judged", () => {
    const { seen, written, watermark, lines, batch } = setup();
    seen.note(line(1, 100), 1);
    lines.begin(2);
    const b = batch();
    lines.add(2, [announce(1, 300)], b.share());
    lines.add(2, [announce(1, 300)], b.share());
    b.done();
    expect(written).toEqual([]);
    expect(lines.size).toBe(2);
    expect(watermark.held).toBe(1);
    // The backfill brought the change the connection missed: 2 at 200. 1 at 300 is a change.
    seen.note(line(2, 200), 2);
    lines.settle(2, true);
    expect(written).toEqual([
      { text: line(1, 300), seq: b.seq },
      { text: line(1, 300), seq: b.seq },
    ]);
    expect(watermark.held).toBe(0);
  });

  it('a re-announcement after a complete backfill is left out, and its hold let go', () => {
    const { seen, written, watermark, lines, batch } = setup();
    seen.note(line(1, 100), 1);
    lines.begin(2);
    const b = batch();
    lines.add(2, [announce(1, 300)], b.share());
    b.done();
    lines.settle(2, true);
    expect(written).toEqual([]);
    expect(watermark.held).toBe(0);
  });

  it('are all written when the backfill did not complete, when the connection closed first, and for a connection whose backfill never completed', () => {
    const { seen, written, watermark, lines, batch } = setup();
    seen.note(line(1, 100), 1);
    lines.begin(2);
    let b = batch();
    lines.add(2, [announce(1, 300)], b.share());
    b.done();
    lines.settle(2, false);
    expect(written.map((w) => w.text)).toEqual([line(1, 300)]);

    lines.begin(3);
    b = batch();
    lines.add(3, [announce(1, 400)], b.share());
    b.done();
    lines.closed(3);
    expect(written.map((w) => w.text)).toEqual([line(1, 300), line(1, 400)]);
    // A late batch of connection 3 (its backfill never completed): written, not judged.
    b = batch();
    lines.add(3, [announce(1, 500)], b.share());
    b.done();
    expect(written.map((w) => w.text)).toEqual([line(1, 300), line(1, 400), line(1, 500)]);
    expect(watermark.held).toBe(0);
  });

  it('a late batch of a connection whose backfill completed is judged at once', () => {
    const { seen, written, watermark, lines, batch } = setup();
    seen.note(line(1, 100), 1);
    lines.begin(2);
    lines.settle(2, true);
    lines.begin(3);
    const b = batch();
    lines.add(2, [announce(1, 300)], b.share());
    expect(written).toEqual([]);
    lines.add(2, [announce(7, 400)], b.share());
    b.done();
    expect(written).toEqual([{ text: line(7, 400), seq: b.seq }]);
    expect(watermark.held).toBe(0);
  });

  it('writeAll at shutdown writes what waits and lets every share go', () => {
    const { seen, written, watermark, lines, batch } = setup();
    seen.note(line(1, 100), 1);
    lines.begin(2);
    const b = batch();
    lines.add(2, [announce(1, 300)], b.share());
    lines.add(2, [], b.share()); // nothing to wait: released at once
    b.done();
    expect(watermark.held).toBe(1);
    lines.writeAll();
    expect(written.map((w) => w.text)).toEqual([line(1, 300)]);
    expect(watermark.held).toBe(0);
  });
});

describe('the waiting room is bounded in bytes', () => {
  it('past maxBytes, writes what waits and every later point of the connection unjudged, until the backfill ends', () => {
    const table = new SeenTable(64);
    const written: string[] = [];
    const watermark = new Watermark();
    const one = Buffer.byteLength(line(1, 300));
    const room = new WaitingRoom({
      note: (p, arrival, session) => note(table, p, arrival, session),
      write: (lp, _n, hold) => {
        written.push(Buffer.from(lp).toString());
        hold.release();
      },
      onSkipped: () => {},
      log: pino({ level: 'silent' }),
      maxBytes: 2 * one,
    });
    note(table, pointOf('sensor.a', line(1, 100)), 'change', 1);
    room.begin(2);
    const hold = watermark.hold();
    room.add(2, [announce(1, 300)], hold.share());
    room.add(2, [announce(1, 301)], hold.share());
    expect(written).toEqual([]);
    expect(room.bytes).toBe(2 * one);
    // The third would pass the bound: all three are written (duplicates at worst, never a loss).
    room.add(2, [announce(1, 302)], hold.share());
    expect(written).toEqual([line(1, 300), line(1, 301), line(1, 302)]);
    expect(room.bytes).toBe(0);
    expect(room.size).toBe(0);
    // Later points of the same connection do not wait any more, whatever their size.
    room.add(2, [announce(1, 303)], hold.share());
    expect(written).toHaveLength(4);
    hold.release();
    expect(watermark.held).toBe(0);
    // The next connection waits again.
    room.settle(2, true);
    room.begin(3);
    const next = watermark.hold();
    room.add(3, [announce(1, 304)], next.share());
    next.release();
    expect(written).toHaveLength(4);
    expect(room.size).toBe(1);
    expect(watermark.held).toBe(1);
  });

  it("log counts that sum to what was held: written, left out now, left out already (the backfill's rows came first)", () => {
    const table = new SeenTable(64);
    const { log, lines: logged } = capturingLogger();
    let skippedMetric = 0;
    const room = new WaitingRoom({
      note: (p, arrival, session) => note(table, p, arrival, session),
      write: (_lp, _n, hold) => hold.release(),
      onSkipped: (n) => {
        skippedMetric += n;
      },
      log,
    });
    const watermark = new Watermark();
    note(table, pointOf('sensor.a', line(1, 100)), 'change', 1);
    room.begin(2);
    const hold = watermark.hold();
    room.add(2, [announce(1, 300), announce(1, 400), announce(2, 500)], hold.share());
    hold.release();
    // The backfill brings HA's re-announcement at 300 first: it is left out then.
    expect(note(table, pointOf('sensor.a', line(1, 300)), 'recorded', 2)).toEqual({ kind: 'renewed', skip: true });
    room.settle(2, true);
    const judged = logged.filter((l) => String(l.msg).startsWith('states held for the backfill judged'));
    expect(judged).toHaveLength(1);
    expect(judged[0]).toMatchObject({ held: 3, written: 1, reannounced: 1, leftOutBefore: 1 });
    const j = judged[0] as { held: number; written: number; reannounced: number; leftOutBefore: number };
    expect(j.written + j.reannounced + j.leftOutBefore).toBe(j.held);
    expect(judged[0]?.msg).toBe(
      'states held for the backfill judged: of 3, 1 written, 1 left out as re-announcements, 1 left out already (re-announcements the backfill brought first)',
    );
    // The one left out already was counted when the backfill's row was left out, not twice.
    expect(skippedMetric).toBe(1);
  });
});
