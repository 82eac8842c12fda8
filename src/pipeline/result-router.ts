/**
 * Where an encoder result goes, in one place: counts to the metrics, lines to the writer (with
 * the batch's watermark hold), states that wait for the backfill to the waiting room, replies to
 * the HA connection, observations to the enrichment, and the live stream's HA time to the hold.
 *
 * A batch that failed as a whole (never an input problem: those are counted per event by the
 * workers) is counted exactly (frames, bytes) and its data is left to HA's history: the
 * watermark must not pass it, so its hold is never released. With `watermark` given, the arrival
 * hold is exchanged for one ceiling hold at the watermark's value (the same cap, but it does not
 * stall drains nor keep later releases waiting in memory); at most one such ceiling is kept, the
 * oldest, which covers every later failure. The next start's backfill then fetches from there.
 */
import type { Logger } from 'pino';
import type { EncodeResult, Observed } from '../../workers/encode-batch.js';
import type { ClockOffset } from '../ha/clock-offset.js';
import type { Reply } from '../ha/connection.js';
import type { Resync } from '../ha/resync.js';
import type { Metrics } from '../metrics.js';
import type { Writer } from '../writer/writer.js';
import type { HeldJob } from './overflow.js';
import type { RestartDedup } from './restart-dedup/index.js';
import type { EncoderBatchError } from './encoder-pool.js';
import type { Hold, Watermark } from './watermark.js';

export interface ResultRouterOptions {
  readonly writer: Writer;
  /** Restart de-duplication (null: off): judges each result's states, in job order. */
  readonly dedup: RestartDedup | null;
  readonly replies: (session: number, replies: readonly Reply[]) => void;
  /** Gap filling: the first live changes of each connection (its anchors) and every entity seen. */
  readonly resync: Pick<Resync, 'liveSeen' | 'knownEntity'>;
  readonly clockOffset: ClockOffset;
  readonly observe: (observed: readonly Observed[]) => void;
  /** A batch finished: frames waiting on disk may go to the pool now. */
  readonly encoderFree: () => void;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** Lets a failed batch's hold become one ceiling (see above); without it the hold stays held. */
  readonly watermark?: Pick<Watermark, 'value' | 'holdAt'>;
}

export class ResultRouter {
  /** The ceiling kept for failed batches (with `watermark`), and where it caps the value. */
  private lostCeiling: { readonly hold: Hold; readonly atMs: number } | null = null;

  constructor(private readonly opts: ResultRouterOptions) {}

  /** Batches that failed as a whole in this run; their data waits for HA's history at the next start. */
  failedBatches = 0;

  onResult(r: EncodeResult, hold: Hold): void {
    const { writer, dedup } = this.opts;
    this.count(r);
    if (r.liveHaMaxMs >= 0) {
      hold.noteHaTime(r.liveHaMaxMs);
      this.opts.clockOffset.sample(hold.arrivedAtMs, r.liveHaMaxMs);
    }
    if (r.liveFirst.length > 0) this.opts.resync.liveSeen(r.session, r.liveFirst);
    for (const id of r.newEntityIds) this.opts.resync.knownEntity(id);
    // Before the replies: it fills in the snapshot and history summaries the connection reads.
    const out = dedup === null ? r : dedup.filter(r, hold);
    writer.accept(out.lp, out.lines, hold);
    if (r.observed.length > 0) this.opts.observe(r.observed);
    this.opts.encoderFree();
    if (r.control.length > 0) this.opts.replies(r.session, r.control);
  }

  /**
   * A bug or a crashed worker, not an input problem: said loudly and counted exactly. The hold is
   * kept (never released), so the watermark stays before the lost frames and the next start's
   * backfill brings their state changes from HA's history.
   */
  onError(err: EncoderBatchError, { hold }: HeldJob): void {
    const { metrics, log } = this.opts;
    this.failedBatches++;
    metrics.encodeErrors.inc();
    metrics.dispatchDropped.inc(err.frames);
    const keptAt = this.keepHold(hold);
    log.error(
      {
        frames: err.frames,
        bytes: err.bytes,
        failedBatches: this.failedBatches,
        watermarkKeptAt: keptAt === null ? null : new Date(keptAt).toISOString(),
        err,
      },
      "an encoder batch failed as a whole: its frames are not written now; the watermark stays before them, so the next start's backfill fetches them from HA's history",
    );
    this.opts.encoderFree();
  }

  /** Keeps the watermark before the failed batch: as one ceiling when possible, else the hold itself. */
  private keepHold(hold: Hold): number | null {
    const value = this.opts.watermark?.value() ?? null;
    if (this.opts.watermark === undefined || value === null) return value;
    if (this.lostCeiling === null || value < this.lostCeiling.atMs) {
      const previous = this.lostCeiling;
      this.lostCeiling = { hold: this.opts.watermark.holdAt(value), atMs: value };
      previous?.hold.release();
    }
    // The ceiling now caps the value where this hold did: the arrival hold may go.
    hold.release();
    return this.lostCeiling.atMs;
  }

  private count(r: EncodeResult): void {
    const { metrics, log } = this.opts;
    metrics.events.inc(r.events);
    metrics.eventsRemoved.inc(r.removed);
    metrics.eventsSkipped.inc(r.skipped);
    metrics.eventsInvalid.inc(r.invalid);
    if (r.errors.length > 0) log.warn({ invalid: r.invalid, examples: r.errors }, 'events that could not be encoded were skipped');
  }
}
