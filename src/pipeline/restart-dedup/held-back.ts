/**
 * Restart de-duplication's waiting room (docs/reliability.md). While a connection's backfill has
 * not ended, the table lacks the gap's points, so a point that may be a re-announcement cannot be
 * told from a return to an earlier state or from a change HA then re-announced. Such points wait
 * here. When the backfill has ended complete, each is judged against the table, now holding the
 * gap in time order, and written unless it is a re-announcement. Otherwise (the backfill failed
 * or was cut short, the connection ended first, the points belong to a connection whose backfill
 * never completed) they are all written: a duplicate is better than a lost change.
 *
 * A waiting group keeps a share of its frames' watermark hold (`hold.share()`, taken by the
 * caller), so that the saved watermark cannot pass it before it is written: after a crash, the
 * backfill brings it back. The share goes to the writer with the group's lines, or is released
 * here when none of them is written.
 *
 * The room holds at most `maxBytes` of lines. A group that would pass it is written with
 * everything that waits, unjudged, and so is every later point of that connection until its
 * backfill ends: a re-announcement may then be written (a duplicate), nothing is lost, and
 * memory stays bounded however long the recorder keeps the backfill waiting.
 */
import type { Logger } from 'pino';
import type { Hold } from '../watermark.js';
import type { Arrival, Point, Verdict } from './policy.js';

/** A point that waits: what to judge it by, and its bytes as they are to be written. */
export interface HeldLine {
  readonly point: Point;
  readonly arrival: Arrival;
  readonly bytes: Uint8Array;
}

export interface WaitingRoomOptions {
  /** Judges and records a point (policy.note on the table). */
  readonly note: (point: Point, arrival: Arrival, session: number) => Verdict;
  /** Hands lines to the writer, which owns `hold` from then on. */
  readonly write: (lp: Uint8Array, lines: number, hold: Hold) => void;
  readonly onSkipped: (n: number) => void;
  readonly log: Logger;
  /** Bytes of lines that may wait; default DEFAULT_WAITING_ROOM_BYTES. */
  readonly maxBytes?: number;
}

/** After an HA restart a home's whole snapshot waits here, a line of a few hundred bytes per entity: 16 MiB holds tens of thousands. */
export const DEFAULT_WAITING_ROOM_BYTES = 16 * 1024 * 1024;

/** The points of one result, with a share of its frames' hold. */
interface Group {
  readonly hold: Hold;
  readonly lines: readonly HeldLine[];
}

const count = (groups: readonly Group[]): number => groups.reduce((n, g) => n + g.lines.length, 0);
const bytesOf = (lines: readonly HeldLine[]): number => lines.reduce((n, h) => n + h.bytes.byteLength, 0);

export class WaitingRoom {
  private waiting: Group[] = [];
  private session = -1;
  private waitingBytes = 0;
  /** The current connection passed `maxBytes`: its points are written unjudged until its backfill ends. */
  private overflowed = false;
  /** Connections whose backfill completed: their points can be judged. */
  private readonly complete = new Set<number>();

  constructor(private readonly opts: WaitingRoomOptions) {}

  /** A connection begins: its points wait until `settle`. Points of an earlier one are written. */
  begin(session: number): void {
    this.writeAll();
    this.session = session;
  }

  /** Whether points of `session` wait (its backfill has not ended). */
  pendingFor(session: number): boolean {
    return session === this.session;
  }

  /** Points of `session`, with a share of their frames' hold (owned from here on). */
  add(session: number, lines: readonly HeldLine[], hold: Hold): void {
    if (lines.length === 0) {
      hold.release();
      return;
    }
    const group = { hold, lines };
    if (session === this.session) this.wait(group);
    else if (this.complete.has(session)) this.judge([group], session);
    else this.writeUnjudged([group]);
  }

  private wait(group: Group): void {
    const size = bytesOf(group.lines);
    const max = this.opts.maxBytes ?? DEFAULT_WAITING_ROOM_BYTES;
    if (!this.overflowed && this.waitingBytes + size <= max) {
      this.waiting.push(group);
      this.waitingBytes += size;
      return;
    }
    if (!this.overflowed) {
      this.opts.log.warn(
        { held: count(this.waiting) + group.lines.length, maxBytes: max },
        'too many states wait for the backfill: written now without judging them',
      );
      this.overflowed = true;
    }
    const groups = [...this.waiting, group];
    this.waiting = [];
    this.waitingBytes = 0;
    this.writeUnjudged(groups, true);
  }

  /** The backfill of `session` has ended (`complete`: every window answered), or there was none. */
  settle(session: number, complete: boolean): void {
    if (complete) this.complete.add(session);
    if (session !== this.session) return;
    this.session = -1;
    const groups = this.waiting;
    this.waiting = [];
    this.waitingBytes = 0;
    this.overflowed = false;
    if (complete) this.judge(groups, session);
    else this.writeUnjudged(groups);
  }

  /** The connection `session` closed: what it holds is written, its backfill cannot end well. */
  closed(session: number): void {
    if (session === this.session) this.writeAll();
  }

  /** At shutdown, or when a connection ends before its backfill: everything held is written. */
  writeAll(): void {
    const groups = this.waiting;
    this.waiting = [];
    this.waitingBytes = 0;
    this.overflowed = false;
    this.session = -1;
    this.writeUnjudged(groups);
  }

  /** Points waiting. */
  get size(): number {
    return count(this.waiting);
  }

  /** Bytes of the lines waiting (bounded by `maxBytes`). */
  get bytes(): number {
    return this.waitingBytes;
  }

  /**
   * Judges what waited and writes what is kept. Its log line's counts sum to `held`: each point
   * is written, or left out as a re-announcement now (`reannounced`, also counted in the metric),
   * or left out because the backfill brought that re-announcement first and it was left out then
   * (`leftOutBefore`: the same point at the same time, counted once, when it was first left out).
   */
  private judge(groups: readonly Group[], session: number): void {
    let reannounced = 0;
    let leftOutBefore = 0;
    const kept = groups.map(({ hold, lines }) => ({
      hold,
      lines: lines.filter((h) => {
        const verdict = this.opts.note(h.point, h.arrival, session);
        if (verdict.skip && verdict.kind === 'renewed') reannounced++;
        else if (verdict.skip) leftOutBefore++;
        return !verdict.skip;
      }),
    }));
    if (reannounced > 0) this.opts.onSkipped(reannounced);
    const held = count(groups);
    const written = count(kept);
    if (held > 0)
      this.opts.log.info(
        { held, written, reannounced, leftOutBefore },
        `states held for the backfill judged: of ${held}, ${written} written, ${reannounced} left out as re-announcements, ` +
          `${leftOutBefore} left out already (re-announcements the backfill brought first)`,
      );
    this.flush(kept);
  }

  private writeUnjudged(groups: readonly Group[], quiet = false): void {
    if (groups.length === 0) return;
    // Recorded too, so that the table follows what the database holds.
    for (const g of groups) for (const h of g.lines) this.opts.note(h.point, 'change', -1);
    if (!quiet) this.opts.log.warn({ held: count(groups) }, 'states held for the backfill written without judging them (the backfill did not complete)');
    this.flush(groups);
  }

  /** Each group to the writer with its hold; a group left empty lets go of its hold here. */
  private flush(groups: readonly Group[]): void {
    for (const { hold, lines } of groups) {
      if (lines.length === 0) {
        hold.release();
        continue;
      }
      this.opts.write(Buffer.concat(lines.map((h) => h.bytes)), lines.length, hold);
    }
  }
}
