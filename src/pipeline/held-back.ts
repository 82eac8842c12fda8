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
 * A waiting point keeps the watermark token of the frames it came in held, so that the saved
 * watermark cannot pass it before it is written: after a crash, the backfill brings it back.
 */
import type { Logger } from 'pino';
import type { HeldBackLine } from '../../workers/encode-batch.js';
import type { SeenStates } from '../../workers/seen-states.js';

export interface HeldBackOptions {
  readonly seen: SeenStates;
  /** Hands lines to the writer, which holds `token` until they are durable. */
  readonly write: (lp: Uint8Array, lines: number, token: number) => void;
  readonly hold: (token: number) => void;
  readonly release: (token: number) => void;
  readonly onSkipped: (n: number) => void;
  readonly log: Logger;
}

interface Waiting {
  readonly held: HeldBackLine;
  readonly token: number;
}

export class HeldBackLines {
  private waiting: Waiting[] = [];
  /** Watermark holds taken for waiting points, per token. */
  private readonly holds = new Map<number, number>();
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

  /** Points from the workers, in frames of watermark `token`. */
  add(session: number, lines: readonly HeldBackLine[], token: number): void {
    if (lines.length === 0) return;
    const items = lines.map((held) => ({ held, token }));
    if (session === this.session) {
      this.opts.hold(token);
      this.holds.set(token, (this.holds.get(token) ?? 0) + 1);
      this.waiting.push(...items);
    } else if (this.complete.has(session)) {
      this.judge(items, session);
    } else {
      this.writeLines(items);
    }
  }

  /** The backfill of `session` has ended (`complete`: every window answered), or there was none. */
  settle(session: number, complete: boolean): void {
    if (complete) this.complete.add(session);
    if (session !== this.session) return;
    this.session = -1;
    const items = this.waiting;
    this.waiting = [];
    if (complete) this.judge(items, session);
    else this.writeLines(items);
  }

  /** The connection `session` closed: what it holds is written, its backfill cannot end well. */
  closed(session: number): void {
    if (session === this.session) this.writeAll();
  }

  /** At shutdown, or when a connection ends before its backfill: everything held is written. */
  writeAll(): void {
    const items = this.waiting;
    this.waiting = [];
    this.session = -1;
    this.writeLines(items);
  }

  private judge(items: readonly Waiting[], session: number): void {
    const kept: Waiting[] = [];
    let skipped = 0;
    for (const item of items) {
      const verdict = this.opts.seen.note(item.held.entityId, item.held.line, item.held.arrival, session, false);
      if (!verdict.skip) kept.push(item);
      else if (verdict.kind === 'renewed') skipped++;
    }
    if (skipped > 0) this.opts.onSkipped(skipped);
    if (items.length > 0) this.opts.log.info({ held: items.length, written: kept.length, reannounced: skipped }, 'states held for the backfill judged');
    this.flush(kept);
  }

  private writeLines(items: readonly Waiting[]): void {
    if (items.length === 0) return;
    // Recorded too, so that the table follows what the database holds.
    for (const { held: h } of items) this.opts.seen.note(h.entityId, h.line, 'change', -1, false);
    this.opts.log.warn({ held: items.length }, 'states held for the backfill written without judging them (the backfill did not complete)');
    this.flush(items);
  }

  /** Writes `kept` by token (the writer holds each until durable), then lets go of ours. */
  private flush(kept: readonly Waiting[]): void {
    const byToken = new Map<number, string[]>();
    for (const { held, token } of kept) {
      const lines = byToken.get(token);
      if (lines === undefined) byToken.set(token, [held.out]);
      else lines.push(held.out);
    }
    for (const [token, lines] of byToken) this.opts.write(Buffer.from(lines.join('')), lines.length, token);
    if (this.waiting.length > 0) return; // only ever flushed whole, but never release what still waits
    for (const [token, n] of this.holds) for (let i = 0; i < n; i++) this.opts.release(token);
    this.holds.clear();
  }
}
