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

/** The points of one result, in frames of watermark `token` (held while they wait). */
interface Group {
  readonly token: number;
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

  /** Points from the workers, in frames of watermark `token`. */
  add(session: number, lines: readonly HeldBackLine[], token: number): void {
    if (lines.length === 0) return;
    const group = { token, lines };
    if (session === this.session) {
      this.opts.hold(token);
      this.waiting.push(group);
    } else if (this.complete.has(session)) {
      this.judge([group], session, false);
    } else {
      this.writeLines([group], false);
    }
  }

  /** The backfill of `session` has ended (`complete`: every window answered), or there was none. */
  settle(session: number, complete: boolean): void {
    if (complete) this.complete.add(session);
    if (session !== this.session) return;
    this.session = -1;
    const groups = this.waiting;
    this.waiting = [];
    if (complete) this.judge(groups, session, true);
    else this.writeLines(groups, true);
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
    this.writeLines(groups, true);
  }

  /** `held`: the groups waited, and their tokens are let go once handed to the writer. */
  private judge(groups: readonly Group[], session: number, held: boolean): void {
    let skipped = 0;
    const kept = groups.map(({ token, lines }) => ({
      token,
      lines: lines.filter((h) => {
        const verdict = this.opts.seen.note(h.entityId, h.line, h.arrival, session, false);
        if (verdict.skip && verdict.kind === 'renewed') skipped++;
        return !verdict.skip;
      }),
    }));
    if (skipped > 0) this.opts.onSkipped(skipped);
    if (count(groups) > 0) this.opts.log.info({ held: count(groups), written: count(kept), reannounced: skipped }, 'states held for the backfill judged');
    this.flush(kept, held ? groups : []);
  }

  private writeLines(groups: readonly Group[], held: boolean): void {
    if (groups.length === 0) return;
    // Recorded too, so that the table follows what the database holds.
    for (const g of groups) for (const h of g.lines) this.opts.seen.note(h.entityId, h.line, 'change', -1, false);
    this.opts.log.warn({ held: count(groups) }, 'states held for the backfill written without judging them (the backfill did not complete)');
    this.flush(groups, held ? groups : []);
  }

  /** Hands `kept` to the writer (which holds each token until durable), then lets go of `held`'s. */
  private flush(kept: readonly Group[], held: readonly Group[]): void {
    const byToken = new Map<number, string[]>();
    for (const { token, lines } of kept) {
      const outs = byToken.get(token) ?? [];
      outs.push(...lines.map((h) => h.out));
      if (outs.length > 0) byToken.set(token, outs);
    }
    for (const [token, outs] of byToken) this.opts.write(Buffer.from(outs.join('')), outs.length, token);
    for (const { token } of held) this.opts.release(token);
  }
}
