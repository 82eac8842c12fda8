/**
 * Restart de-duplication's waiting room (docs/reliability.md). While a connection's backfill has
 * not ended, the table of last points (workers/seen-states.ts) lacks the gap's points, so the
 * workers cannot tell a re-announcement from a return to an earlier state or from a change HA then
 * re-announced. They hand such points here. When the backfill has ended, each is judged against
 * the table, now holding the gap in time order, and written unless it is a re-announcement. When
 * the backfill failed or was cut short, or the connection ended first, all are written: a
 * duplicate is better than a lost change.
 */
import type { Logger } from 'pino';
import type { HeldBackLine } from '../../workers/encode-batch.js';
import type { SeenStates } from '../../workers/seen-states.js';

export type WriteLines = (lp: Uint8Array, lines: number, token: number) => void;

export class HeldBackLines {
  private waiting: HeldBackLine[] = [];
  private session = -1;

  constructor(
    private readonly seen: SeenStates,
    private readonly write: WriteLines,
    private readonly onSkipped: (n: number) => void,
    private readonly log: Logger,
  ) {}

  /** A connection begins: its points wait until `settle`. Points of an earlier one are written. */
  begin(session: number): void {
    this.writeAll(Date.now());
    this.session = session;
  }

  /** Whether points of `session` are to be held (jobs carry it as backfillPending). */
  pendingFor(session: number): boolean {
    return session === this.session;
  }

  /** Points from the workers: held while their connection's backfill runs, else judged now. */
  add(session: number, lines: readonly HeldBackLine[], token: number): void {
    if (lines.length === 0) return;
    if (session === this.session) this.waiting.push(...lines);
    else this.judge(lines, session, token);
  }

  /** The backfill of `session` has ended (`complete`: every window answered), or there was none. */
  settle(session: number, complete: boolean, token: number): void {
    if (session !== this.session) return;
    this.session = -1;
    const lines = this.waiting;
    this.waiting = [];
    if (complete) this.judge(lines, session, token);
    else this.writeLines(lines, token);
  }

  /** At shutdown, or when a connection ends before its backfill: everything held is written. */
  writeAll(token: number): void {
    const lines = this.waiting;
    this.waiting = [];
    this.session = -1;
    this.writeLines(lines, token);
  }

  private judge(lines: readonly HeldBackLine[], session: number, token: number): void {
    const kept: string[] = [];
    let skipped = 0;
    for (const h of lines) {
      const verdict = this.seen.note(h.entityId, h.line, h.arrival, session, false);
      if (!verdict.skip) kept.push(h.out);
      else if (verdict.kind === 'renewed') skipped++;
    }
    if (skipped > 0) this.onSkipped(skipped);
    if (lines.length > 0) this.log.info({ held: lines.length, written: kept.length, reannounced: skipped }, 'states held for the backfill judged');
    if (kept.length > 0) this.write(Buffer.from(kept.join('')), kept.length, token);
  }

  private writeLines(lines: readonly HeldBackLine[], token: number): void {
    if (lines.length === 0) return;
    // Recorded too, so that the table follows what the database holds.
    for (const h of lines) this.seen.note(h.entityId, h.line, 'change', this.session, false);
    this.log.warn({ held: lines.length }, 'states held for the backfill written without judging them (the backfill did not complete)');
    this.write(Buffer.from(lines.map((h) => h.out).join('')), lines.length, token);
  }
}
