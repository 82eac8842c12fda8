/**
 * Resync: filling the gap a connection (or a restart) left, in HA's clock, once HA's recorder
 * provably holds it. One instance per process; one gap per connection.
 *
 * Rules:
 * 1. Every time here is HA's own (its `last_updated`/`time_fired`, ms since the epoch on HA's
 *    clock). The ingestor's clock is never used to place a gap: HA may run hours off.
 * 2. The gap starts where the data we have reaches (`gapStart`): within a process, the newest
 *    HA time of the live stream (`watermark.newestHaMs`) or the end of the last gap filled; after
 *    a restart, the saved watermark (`watermark.value()`). Nothing known (a very first start):
 *    no backfill. The start goes back MARGIN_MS, and is held as a ceiling on the watermark from
 *    before the connection subscribes until the backfill's answers are durable.
 * 3. The gap ends at an anchor in HA's time: the newest state of the get_states snapshot (taken
 *    after subscribing, so it is at least as new as every change in the gap), or without a
 *    snapshot (HA 0.96 fails get_states on a NaN attribute) the connection's first live state
 *    change. HA's recorder commits late (0.96: per event, 20–40 s behind in bursts; current HA:
 *    every commit_interval) but in order: once any row at or after the anchor is in history,
 *    everything before it is. So cheap one-entity requests ask about the anchor's entity and the
 *    connection's first live changes (any of them may be the one the recorder shows first: an
 *    attribute-only change is absent from old REST history) until one shows a row at or after the
 *    anchor; only then is the gap fetched — for every entity ever seen (live, snapshot, history,
 *    state.json), not only the last snapshot's.
 * 4. The wait is bounded (RECORDER_WAIT_MS). Past it the gap is fetched anyway, and the tail that
 *    may be missing is reported with its bounds (log, backfill_unfilled_seconds_total) and the gap
 *    listener is told `settle(session, false)`.
 * 5. A connection that closes before its gap is filled hands the gap — start and ceiling — to the
 *    next connection: the watermark never passes a gap that was not filled.
 * 6. A gap start after the anchor is one of three things, told apart by HA's own times only: a
 *    start in HA's future (a restored state.json from year 5138, or HA's clock set back), proven
 *    by a live change of this connection before the start or by a start more than
 *    BACKFILL_MAX_WINDOW after the anchor; else HA restarted with its clock set back (the
 *    snapshot says HA restarted: the watermark is rebased onto its new clock); else a quiet home
 *    (its newest live event was not a state change: the gap is empty). A start in HA's future
 *    is clamped to the anchor minus BACKFILL_MAX_WINDOW (the most that can be fetched), the
 *    ceiling and the watermark are lowered to it, and a warning names both times. HA's "now" is
 *    the anchor, never our clock.
 *
 * The clock offset (src/ha/clock-offset.ts) is for display only: nothing here depends on it.
 */
import type { Logger } from 'pino';
import { HaConnectionLostError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { Hold, Watermark } from '../pipeline/watermark.js';
import { backfill, MAX_SHRINK, probeRecorder, type BackfillOptions, type BackfillReport } from './backfill.js';
import type { StatesEncoded } from './connection.js';

/** The backfill starts this long before the gap: HA's clock may step back a little (NTP). */
export const MARGIN_MS = 60_000;
/** How long HA's recorder may take to commit the anchor before the gap is fetched anyway. */
export const RECORDER_WAIT_MS = 120_000;
/** Between two questions to the recorder. */
export const PROBE_INTERVAL_MS = 1_000;
/** A fetch that fails (HA's database busy, its history not loaded yet) is tried this often. */
export const FETCH_ATTEMPTS = 3;
/** Before the second attempt; doubled for each one after. */
export const RETRY_BASE_MS = 5_000;

/** Restart de-duplication's waiting room (src/pipeline/held-back.ts) follows each gap. */
export interface GapListener {
  /** A connection begins: its possible re-announcements wait for the gap. */
  begin(session: number): void;
  /** The gap of `session` is in the pipeline; complete = nothing of it is known missing. */
  settle(session: number, complete: boolean): void;
  /** The connection closed. */
  closed(session: number): void;
}

export interface LiveFirst {
  readonly entityId: string;
  readonly haMs: number;
}

export interface ResyncOptions {
  /** How the gap is fetched (connection, REST base, token, where answers go). */
  readonly backfill: BackfillOptions;
  readonly watermark: Watermark;
  readonly gapListener?: GapListener;
  /** Entity ids saved by an earlier run (state.json `entityIds`); a Set given is shared. */
  readonly entityIds?: Iterable<string>;
  /**
   * The watermark an earlier run saved (HA ms): the restart's gap starts there, and is held from
   * construction on, before frames that run left on disk can move the watermark.
   */
  readonly restoredHaMs?: number | null;
  /** Drops the HA connection, so that a gap reported lost is filled by the next one. */
  readonly reconnect?: (reason: string) => void;
  /** Attempts of a gap's fetch before it is left to the next connection (default FETCH_ATTEMPTS). */
  readonly fetchAttempts?: number;
  readonly retryBaseMs?: number;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly marginMs?: number;
  readonly recorderWaitMs?: number;
  readonly probeIntervalMs?: number;
}

/** The gap of one connection. */
interface Gap {
  readonly session: number;
  /** HA ms; null: nothing to fill (a very first start). Lowered when it lay in HA's future. */
  fromMs: number | null;
  ceiling: Hold | null;
  liveFirst: readonly LiveFirst[];
  closed: boolean;
  /** Its answers are in the pipeline: closing the connection no longer matters. */
  fetched: boolean;
  /** Given to the next connection (its ceiling is not this gap's to release any more). */
  handedOn: boolean;
  /** Wakes a wait (a live event came, the connection closed). */
  wake: (() => void) | null;
  /** When its fill began: frames over MAX_FRAME_BYTES and backfill answers lost in an encoder so far. */
  before: { tooBig: number; answersLost: number } | null;
}

/** The gap was handed to the next connection. */
class Aborted extends Error {}

const iso = (ms: number): string => new Date(ms).toISOString();

export class Resync {
  private readonly known: Set<string>;
  private gap: Gap | null = null;
  /** A gap whose connection closed before it was filled: the next connection's. */
  private carried: { fromMs: number; ceiling: Hold } | null = null;
  /** HA ms up to which gaps were filled (or, on a first start, the first snapshot reached). */
  private coveredMs: number | null = null;
  private rest = false;
  /**
   * Halvings of the backfill's requests: two more each time an answer was over MAX_FRAME_BYTES or
   * failed in an encoder (out of heap): asked the same, it would fail the same, forever.
   */
  private shrink = 0;
  /** Encoder batches lost while they may have held a backfill answer (dataLost's backfillAnswer). */
  private answersLost = 0;
  private running: Promise<void> = Promise.resolve();

  constructor(private readonly opts: ResyncOptions) {
    // A Set given is shared (the app saves it as it grows); anything else is copied.
    this.known = opts.entityIds instanceof Set ? opts.entityIds : new Set(opts.entityIds ?? []);
    if (opts.restoredHaMs !== undefined && opts.restoredHaMs !== null) this.carry(opts.restoredHaMs);
  }

  /**
   * Data was lost inside the pipeline (an encoder batch failed as a whole, frames could not be
   * put on disk): while its hold is still held, the watermark has not passed it. A gap from there
   * is held and given to the next connection, and the connection is dropped so that it comes now.
   * `backfillAnswer`: the lost batch was encoded while a history answer was awaited (it may have
   * been that answer): the backfill under way then asks again in smaller requests.
   */
  dataLost(reason: string, { backfillAnswer = false }: { backfillAnswer?: boolean } = {}): void {
    if (backfillAnswer) this.answersLost++;
    const at = this.opts.watermark.value() ?? this.opts.watermark.newestHaMs;
    if (at === null) {
      this.opts.log.error({ reason }, 'data lost before anything was durable: the first backfill cannot cover it');
      return;
    }
    this.carry(at);
    this.opts.log.error({ reason, from: iso(at) }, `data lost in the pipeline (${reason}): it is fetched again from HA's history from ${iso(at)} (HA time)`);
    this.opts.reconnect?.(reason);
  }

  /**
   * Holds a gap from `haMs` (fetched from the margin before it) for the next connection; the older
   * start wins. The ceiling is at `haMs` itself: the saved watermark does not creep back by the
   * margin at each restart.
   */
  private carry(haMs: number): void {
    const fromMs = haMs - (this.opts.marginMs ?? MARGIN_MS);
    if (this.carried !== null && this.carried.fromMs <= fromMs) return;
    const ceiling = this.opts.watermark.holdAt(haMs);
    this.carried?.ceiling.release();
    this.carried = { fromMs, ceiling };
  }

  /** How the gap is fetched: the history import fetches the same way (src/import/job.ts). */
  get backfillOptions(): BackfillOptions {
    return this.opts.backfill;
  }

  /** Every entity id ever seen: the backfill's candidates (the app saves them in state.json). */
  get entityIds(): string[] {
    return [...this.known];
  }

  knownEntity(id: string): void {
    this.known.add(id);
  }

  /** Where the current gap starts (HA ms), for /health; null when none is being filled. */
  get gapStartMs(): number | null {
    return this.gap?.fromMs ?? this.carried?.fromMs ?? null;
  }

  /** Resolves when the gap being filled (if any) is done or handed on. Tests. */
  idle(): Promise<void> {
    return this.running;
  }

  /**
   * A connection authenticated and is about to subscribe (ConnectionHandlers.beforeSubscribe):
   * the gap's start is fixed and held now, before any of its live events can be made durable.
   */
  begin(session: number): void {
    let fromMs: number | null = null;
    let ceiling: Hold | null = null;
    if (this.carried !== null) {
      ({ fromMs, ceiling } = this.carried);
      this.carried = null;
    } else {
      const start = this.gapStart();
      if (start !== null) {
        fromMs = start - (this.opts.marginMs ?? MARGIN_MS);
        ceiling = this.opts.watermark.holdAt(fromMs);
      }
    }
    this.gap = { session, fromMs, ceiling, liveFirst: [], closed: false, fetched: false, handedOn: false, wake: null, before: null };
    this.opts.gapListener?.begin(session);
  }

  /** The first live state changes of a result of `session` (EncodeResult.liveFirst), in arrival order. */
  liveSeen(session: number, liveFirst: readonly LiveFirst[]): void {
    const gap = this.gap;
    if (gap === null || gap.session !== session || gap.liveFirst.length > 0 || liveFirst.length === 0) return;
    gap.liveFirst = liveFirst;
    gap.wake?.();
  }

  /** Subscribed and snapshot taken (ConnectionHandlers.subscribed): fill the gap. */
  subscribed(session: number, snapshot: StatesEncoded | null): Promise<void> {
    for (const id of snapshot?.entityIds ?? []) this.known.add(id);
    const gap = this.gap;
    if (gap === null || gap.session !== session) return this.running;
    this.running = this.fill(gap, snapshot);
    return this.running;
  }

  /** The connection closed (ConnectionHandlers.closed). */
  closed(session: number): void {
    const gap = this.gap;
    if (gap !== null && gap.session === session) {
      gap.closed = true;
      gap.wake?.();
      // Not filled: the gap goes to the next connection now, whatever a fill still in flight
      // (a REST request does not end with the socket) does later.
      if (!gap.fetched) this.handOn(gap);
    }
    this.opts.gapListener?.closed(session);
  }

  /** Where the data we have reaches, HA ms; null when nothing is known. */
  private gapStart(): number | null {
    const candidates = [this.opts.watermark.newestHaMs, this.coveredMs, this.opts.watermark.value()].filter((v): v is number => v !== null);
    return candidates.length === 0 ? null : Math.max(...candidates);
  }

  private handOn(gap: Gap): void {
    if (gap.handedOn) return;
    gap.handedOn = true;
    // Here, not where the fill fails: a fill waiting for a REST answer that an encoder lost is
    // never answered, but its connection closes.
    if (gap.before !== null) this.shrinkAfter(this.opts.metrics.haFramesTooBig.get() > gap.before.tooBig, this.answersLost > gap.before.answersLost);
    if (this.gap === gap) this.gap = null;
    if (gap.ceiling === null || gap.fromMs === null) return;
    // Two gaps unfilled: the older start covers both; one ceiling is enough.
    if (this.carried !== null && this.carried.fromMs <= gap.fromMs) gap.ceiling.release();
    else {
      this.carried?.ceiling.release();
      this.carried = { fromMs: gap.fromMs, ceiling: gap.ceiling };
    }
  }

  private async fill(gap: Gap, snapshot: StatesEncoded | null): Promise<void> {
    const { log, gapListener } = this.opts;
    if (gap.fromMs === null) {
      // A very first start: nothing to fill; from here on, the stream and this snapshot are ours.
      if (snapshot?.newest) this.coveredMs = Math.max(this.coveredMs ?? snapshot.newest.haMs, snapshot.newest.haMs);
      this.gap = null;
      gapListener?.settle(gap.session, true);
      return;
    }
    gap.before = { tooBig: this.opts.metrics.haFramesTooBig.get(), answersLost: this.answersLost };
    try {
      const complete = await this.fillWithRetries(gap, gap.fromMs, snapshot);
      if (gap.handedOn) return; // closed meanwhile: the next connection fills the gap again
      gap.fetched = true;
      gapListener?.settle(gap.session, complete);
      // The answers went into the pipeline as frames that arrived before now: release the gap's
      // start only when all of those are durable too.
      await this.opts.watermark.drained(this.opts.watermark.mark());
      gap.ceiling?.release();
      if (this.gap === gap) this.gap = null;
    } catch (err) {
      if (gap.handedOn || err instanceof Aborted || err instanceof HaConnectionLostError) {
        log.info({ from: iso(gap.fromMs) }, 'the connection closed before its gap was filled: the next connection fills it');
        this.handOn(gap);
        return;
      }
      // HA cannot answer for now: the gap stays held (the saved watermark waits at its start)
      // and the next connection, or the next start, tries again.
      const until = this.opts.watermark.newestHaMs ?? gap.fromMs;
      this.opts.metrics.backfillUnfilledSeconds.inc(Math.max(0, until - gap.fromMs) / 1000);
      log.error(
        { err, from: iso(gap.fromMs), to: iso(until) },
        `the gap from ${iso(gap.fromMs)} to ${iso(until)} (HA time) could not be fetched: it is kept for the next connection`,
      );
      gapListener?.settle(gap.session, false);
      this.handOn(gap);
    }
  }

  /**
   * The connection closed during the backfill because an answer was over MAX_FRAME_BYTES, or
   * because a batch that may have held one ran an encoder out of heap: the next backfill's requests
   * are 4× smaller (at most three more reconnects before MAX_SHRINK: one entity, about a minute,
   * over REST, whose answers are bounded by restMaxBytes and halved further).
   */
  private shrinkAfter(tooBig: boolean, encoderFailed: boolean): void {
    if ((!tooBig && !encoderFailed) || this.shrink >= MAX_SHRINK) return;
    this.shrink = Math.min(MAX_SHRINK, this.shrink + 2);
    const why = tooBig ? 'a frame over MAX_FRAME_BYTES' : 'an encoder batch that failed (out of memory?) while a history answer was awaited';
    this.opts.log.warn({ shrink: this.shrink }, `${why} dropped the connection during the backfill: its requests are ${2 ** this.shrink}× smaller now`);
  }

  /** fillGap, tried again after a failure that is not the connection's end. */
  private async fillWithRetries(gap: Gap, fromMs: number, snapshot: StatesEncoded | null): Promise<boolean> {
    const attempts = this.opts.fetchAttempts ?? FETCH_ATTEMPTS;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.fillGap(gap, fromMs, snapshot);
      } catch (err) {
        if (attempt >= attempts || err instanceof Aborted || err instanceof HaConnectionLostError) throw err;
        const delay = (this.opts.retryBaseMs ?? RETRY_BASE_MS) * 2 ** (attempt - 1);
        this.opts.log.warn({ err, attempt, retryInMs: delay }, 'fetching the gap from HA history failed; trying again');
        await this.waitFor(gap, () => false, delay);
      }
    }
  }

  /** Anchor, recorder wait, fetch, report. Resolves with whether nothing is known missing. */
  private async fillGap(gap: Gap, fromMs: number, snapshot: StatesEncoded | null): Promise<boolean> {
    const { log, metrics } = this.opts;
    const anchor = await this.anchor(gap, snapshot);
    if (anchor === null) return this.fillWithoutAnchor(gap, fromMs);
    if (anchor.haMs < fromMs) {
      // Proven in HA's future first: HA's restart heuristic (restart dedup) may fire on a busy home.
      if (this.startInHaFuture(gap, fromMs, anchor)) fromMs = this.clampToAnchor(gap, fromMs, anchor);
      else if (snapshot?.haRestarted === true) return this.clockSetBack(gap, fromMs, anchor);
      // A quiet home: nothing changed since the gap's start, the gap is empty (no wait, no alarm).
      else return true;
    }
    const reached = await this.recorderReached(gap, anchor);
    const toMs = anchor.haMs + 1;
    const report = await this.fetch(gap, fromMs, toMs);
    if (reached.found) {
      this.coveredMs = Math.max(this.coveredMs ?? toMs, toMs);
      return report.unfilled.length === 0;
    }
    const tailFrom = Math.max(fromMs, reached.newestMs ?? fromMs);
    metrics.backfillUnfilledSeconds.inc(Math.max(0, toMs - tailFrom) / 1000);
    log.error(
      { from: iso(tailFrom), to: iso(toMs), anchor: anchor.entityId, waitedMs: this.opts.recorderWaitMs ?? RECORDER_WAIT_MS },
      `HA's recorder did not reach the live stream in time: changes from ${iso(tailFrom)} to ${iso(toMs)} (HA time) may be missing`,
    );
    this.coveredMs = Math.max(this.coveredMs ?? toMs, toMs);
    return false;
  }

  /**
   * The gap starts after HA's now (rule 6): start from the anchor minus BACKFILL_MAX_WINDOW, with
   * the ceiling and the watermark there, so that a crash now still restarts from a time HA knows.
   */
  private clampToAnchor(gap: Gap, fromMs: number, anchor: LiveFirst): number {
    const clamped = anchor.haMs + 1 - this.opts.backfill.maxWindowMs;
    this.opts.log.warn(
      { gapStart: iso(fromMs), haNow: iso(anchor.haMs), anchor: anchor.entityId, backfillFrom: iso(clamped) },
      `the gap starts at ${iso(fromMs)}, after Home Assistant's now (${iso(anchor.haMs)}, its newest state): the saved watermark lies in HA's future ` +
        `(a restored or foreign state.json, or HA's clock set back). Backfilling what can be known: from ${iso(clamped)} (BACKFILL_MAX_WINDOW before HA's now)`,
    );
    this.opts.metrics.watermarkClamped.inc();
    const ceiling = this.opts.watermark.holdAt(clamped);
    gap.ceiling?.release();
    gap.ceiling = ceiling;
    gap.fromMs = clamped;
    this.opts.watermark.rebase(clamped);
    if (this.coveredMs !== null && this.coveredMs > anchor.haMs + 1) this.coveredMs = null;
    return clamped;
  }

  /**
   * The anchor lies before the gap's start without an HA restart: a quiet home (its newest live
   * event was not a state change: the gap is empty) or a start in HA's future (a restored
   * state.json, rule 6). Only HA's own times tell them apart: a live change of this connection
   * before the start (in a quiet home every change after reconnecting is at or after it), or a
   * start more than BACKFILL_MAX_WINDOW ahead of HA's newest state.
   */
  private startInHaFuture(gap: Gap, fromMs: number, anchor: LiveFirst): boolean {
    if (fromMs - anchor.haMs > this.opts.backfill.maxWindowMs) return true;
    return gap.liveFirst.some((f) => f.haMs < fromMs);
  }

  /**
   * The anchor (HA's newest state) is older than the gap's start and HA restarted with its clock
   * set back (an RTC without NTP): every time it now gives is earlier than ours, and the watermark
   * is rebased onto its new clock; the gap is what HA recorded since it started, fetched from
   * BACKFILL_MAX_WINDOW before the anchor.
   */
  private async clockSetBack(gap: Gap, fromMs: number, anchor: LiveFirst): Promise<boolean> {
    const { log, watermark } = this.opts;
    log.warn(
      { gapStart: iso(fromMs), anchor: iso(anchor.haMs) },
      `Home Assistant restarted with its clock behind the times it gave before (${iso(anchor.haMs)} < ${iso(fromMs)}): the gap is fetched on its new clock`,
    );
    watermark.rebase(anchor.haMs);
    const from = anchor.haMs - this.opts.backfill.maxWindowMs;
    const reached = await this.recorderReached(gap, anchor, from);
    const report = await this.fetch(gap, from, anchor.haMs + 1);
    this.coveredMs = anchor.haMs + 1;
    return reached.found && report.unfilled.length === 0;
  }

  /** No snapshot and no live change within the bound: fetch up to HA's now, say the tail is unproven. */
  private async fillWithoutAnchor(gap: Gap, fromMs: number): Promise<boolean> {
    const newest = Math.max(fromMs, this.opts.watermark.newestHaMs ?? fromMs);
    await this.fetch(gap, fromMs, newest, true);
    this.opts.log.error(
      { from: iso(fromMs) },
      "no anchor for the gap (no snapshot, no live change): it was fetched up to HA's now, but the recorder's last commits may be missing",
    );
    return false;
  }

  private async fetch(gap: Gap, fromMs: number, toMs: number, openEnd = false): Promise<BackfillReport> {
    if (gap.closed) throw new Aborted();
    return backfill(this.opts.backfill, fromMs, toMs, [...this.known], openEnd, this.shrink);
  }

  /** The snapshot's newest state; without a snapshot, the first live change (awaited up to the bound). */
  private async anchor(gap: Gap, snapshot: StatesEncoded | null): Promise<LiveFirst | null> {
    if (snapshot?.newest) return snapshot.newest;
    await this.waitFor(gap, () => gap.liveFirst.length > 0, this.opts.recorderWaitMs ?? RECORDER_WAIT_MS);
    return gap.liveFirst[0] ?? null;
  }

  /**
   * Asks the recorder about the anchor's entity and the connection's first live changes until one
   * shows a row at or after the anchor, or the bound passes. `newestMs`: the newest row seen
   * before the anchor (where the possibly missing tail begins).
   */
  private async recorderReached(gap: Gap, anchor: LiveFirst, fromMs = gap.fromMs ?? 0): Promise<{ found: boolean; newestMs: number | null }> {
    const deadline = Date.now() + (this.opts.recorderWaitMs ?? RECORDER_WAIT_MS);
    let newestMs: number | null = null;
    for (let polls = 1; ; polls++) {
      const ids = new Set([anchor.entityId, ...gap.liveFirst.map((f) => f.entityId)]);
      for (const id of ids) {
        if (gap.closed) throw new Aborted();
        // From up to an hour before the anchor: the newest committed row bounds the missing tail.
        const probe = await probeRecorder(this.opts.backfill, id, Math.max(fromMs, anchor.haMs - 3_600_000), anchor.haMs + 3_600_000, this.rest);
        this.rest = probe.rest;
        if (probe.newestMs === null) continue;
        if (probe.newestMs >= anchor.haMs) {
          if (polls > 1) this.opts.log.info({ polls, entity: id, anchor: iso(anchor.haMs) }, "HA's recorder reached the live stream");
          return { found: true, newestMs: probe.newestMs };
        }
        newestMs = Math.max(newestMs ?? probe.newestMs, probe.newestMs);
      }
      if (Date.now() >= deadline) return { found: false, newestMs };
      await this.waitFor(gap, () => false, Math.min(this.opts.probeIntervalMs ?? PROBE_INTERVAL_MS, Math.max(0, deadline - Date.now())));
    }
  }

  /** Waits until `ready()` or `ms` passed; throws Aborted when the connection closed. */
  private async waitFor(gap: Gap, ready: () => boolean, ms: number): Promise<void> {
    if (!ready() && !gap.closed && ms > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        gap.wake = () => {
          if (!ready() && !gap.closed) return;
          clearTimeout(timer);
          resolve();
        };
      });
      gap.wake = null;
    }
    if (gap.closed) throw new Aborted();
  }
}
