/**
 * Restart de-duplication's waiting room (docs/reliability.md). While a connection's backfill has
 * not ended, the table of last points (workers/seen-states.ts) lacks the gap's points, so the
 * workers cannot tell a re-announcement from a return to an earlier state or from a change HA then
 * re-announced. They hand such points here. When the backfill has ended complete, each is judged
 * against the table, now holding the gap in time order, and written unless it is a
 * re-announcement. Otherwise (the backfill failed or was cut short, the connection ended first,
 * the points belong to a connection whose backfill never completed) they are all written: a
 * duplicate is better than a lost change.
 *
 * A waiting point keeps a share of the watermark hold of the frames it came in, so that the saved
 * watermark cannot pass it before it is written: after a crash, the backfill brings it back.
 */
import type { Logger } from 'pino';
import type { HeldBackLine } from '../../workers/encode-batch.js';
import type { SeenStates } from '../../workers/seen-states.js';
import type { Hold } from './watermark.js';

export interface HeldBackOptions {
  readonly seen: SeenStates;
  /** Hands lines to the writer, which owns `hold` from then on. */
  readonly write: (lp: Uint8Array, lines: number, hold: Hold) => void;
  readonly onSkipped: (n: number) => void;
  readonly log: Logger;
}

/** The points of one result, with a share of its frames' hold. */
interface Group {
  readonly hold: Hold;
  readonly lines: readonly HeldBackLine[];
}

const count = (groups: readonly Group[]): number => groups.reduce((n, g) => n + g.lines.length, 0);

export class HeldBackLines {
  private waiting: Group[] = [];
  private session = -1;
  /** Connections whose backfill completed: their points can be judged. */
  private readonly complete = new Set<number>();

  constructor(private readonly opts: HeldBackOptions) {}

  /** A connection begins: its points wait until `settle`. Points of an earlier one are written. */
  begin(session: number): void {
    this.writeAll();
    this.session = session;
  }

  /** Whether points of `session` are to be held (jobs carry it as backfillPending). */
  pendingFor(session: number): boolean {
    return session === this.session;
  }

  /** Points from the workers, with a share of their frames' hold (owned from here on). */
  add(session: number, lines: readonly HeldBackLine[], hold: Hold): void {
    if (lines.length === 0) {
      hold.release();
      return;
    }
    const group = { hold, lines };
    if (session === this.session) {
      this.waiting.push(group);
    } else if (this.complete.has(session)) {
      this.judge([group], session);
    } else {
      this.writeLines([group]);
    }
  }

  /** The backfill of `session` has ended (`complete`: every window answered), or there was none. */
  settle(session: number, complete: boolean): void {
    if (complete) this.complete.add(session);
    if (session !== this.session) return;
    this.session = -1;
    const groups = this.waiting;
    this.waiting = [];
    if (complete) this.judge(groups, session);
    else this.writeLines(groups);
  }

  /** The connection `session` closed: what it holds is written, its backfill cannot end well. */
  closed(session: number): void {
    if (session === this.session) this.writeAll();
  }

  /** At shutdown, or when a connection ends before its backfill: everything held is written. */
  writeAll(): void {
    const groups = this.waiting;
    this.waiting = [];
    this.session = -1;
    this.writeLines(groups);
  }

  private judge(groups: readonly Group[], session: number): void {
    let skipped = 0;
    const kept = groups.map(({ hold, lines }) => ({
      hold,
      lines: lines.filter((h) => {
        const verdict = this.opts.seen.note(h.entityId, h.line, h.arrival, session, false);
        if (verdict.skip && verdict.kind === 'renewed') skipped++;
        return !verdict.skip;
      }),
    }));
    if (skipped > 0) this.opts.onSkipped(skipped);
    if (count(groups) > 0) this.opts.log.info({ held: count(groups), written: count(kept), reannounced: skipped }, 'states held for the backfill judged');
    this.flush(kept);
  }

  private writeLines(groups: readonly Group[]): void {
    if (groups.length === 0) return;
    // Recorded too, so that the table follows what the database holds.
    for (const g of groups) for (const h of g.lines) this.opts.seen.note(h.entityId, h.line, 'change', -1, false);
    this.opts.log.warn({ held: count(groups) }, 'states held for the backfill written without judging them (the backfill did not complete)');
    this.flush(groups);
  }

  /** Hands each group to the writer with its hold (released there once durable, or at once when empty). */
  private flush(kept: readonly Group[]): void {
    for (const { hold, lines } of kept) this.opts.write(Buffer.from(lines.map((h) => h.out).join('')), lines.length, hold);
  }
}
