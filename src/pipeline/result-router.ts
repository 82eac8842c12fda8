/**
 * Where an encoder result goes, in one place: counts to the metrics, lines to the writer (with
 * the batch's watermark hold), states that wait for the backfill to the waiting room, replies to
 * the HA connection, observations to the enrichment, and the live stream's HA time to the hold.
 *
 * A batch that failed as a whole (never an input problem: those are counted per event by the
 * workers) is counted exactly (frames, bytes), and before its hold is released the resync is
 * told (src/ha/resync.ts dataLost): it holds a gap from the watermark, which the watermark cannot
 * pass, and drops the connection so that the next one fetches the gap from HA's history.
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
import type { Hold } from './watermark.js';

export interface ResultRouterOptions {
  readonly writer: Writer;
  /** Restart de-duplication (null: off): judges each result's states, in job order. */
  readonly dedup: RestartDedup | null;
  readonly replies: (session: number, replies: readonly Reply[]) => void;
  /** Gap filling: the first live changes of each connection (its anchors) and every entity seen. */
  readonly resync: Pick<Resync, 'liveSeen' | 'knownEntity' | 'dataLost'>;
  readonly clockOffset: ClockOffset;
  readonly observe: (observed: readonly Observed[]) => void;
  /** A batch finished: frames waiting on disk may go to the pool now. */
  readonly encoderFree: () => void;
  readonly metrics: Metrics;
  readonly log: Logger;
}

export class ResultRouter {
  constructor(private readonly opts: ResultRouterOptions) {}

  /** Batches that failed as a whole in this run (their state changes are fetched again). */
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
   * A bug or a crashed worker, not an input problem: said loudly and counted exactly. While its
   * hold is still held, a gap from the watermark is handed to the resync, which drops the
   * connection and fetches the lost state changes again from HA's history.
   */
  onError(err: EncoderBatchError, { job, hold }: HeldJob): void {
    const { metrics, log } = this.opts;
    this.failedBatches++;
    metrics.encodeErrors.inc();
    metrics.dispatchDropped.inc(err.frames);
    log.error(
      { frames: err.frames, bytes: err.bytes, failedBatches: this.failedBatches, err },
      "an encoder batch failed as a whole: its state changes are fetched again from HA's history",
    );
    // Encoded while a history answer was awaited (the job's stateResults): the batch may have been
    // that answer, too big for a thread's heap; asked the same, it would fail the same.
    const backfillAnswer = job.stateResults.some(([, kind]) => kind !== 'snapshot');
    this.opts.resync.dataLost('an encoder batch failed', { backfillAnswer });
    hold.release();
    this.opts.encoderFree();
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
