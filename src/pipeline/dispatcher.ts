/**
 * Dispatch: a sealed frame batch becomes a job with its watermark hold, and goes to the encoder
 * pool, or, when the encoders are behind (or frames already wait on disk, to keep the order), to
 * the frame overflow on disk. Never dropped while a disk can take it.
 */
import type { Logger } from 'pino';
import type { EncodeJob } from '../../workers/encode-batch.js';
import type { Metrics } from '../metrics.js';
import type { EncoderPool } from './encoder-pool.js';
import type { FrameBatch } from './frame-batcher.js';
import type { FrameOverflow } from './overflow.js';
import type { Watermark } from './watermark.js';

export type JobFields = Omit<EncodeJob, 'bytes' | 'ends'>;

export interface DispatcherOptions {
  readonly pool: EncoderPool;
  readonly overflow: FrameOverflow;
  readonly watermark: Watermark;
  /** What the job needs besides its frames (its connection, pending commands, context…), now. */
  readonly fields: () => JobFields;
  /** Frames were dropped: the gap they leave is handed to the resync (src/ha/resync.ts dataLost). */
  readonly onLost: (reason: string) => void;
  readonly metrics: Metrics;
  readonly log: Logger;
}

export class Dispatcher {
  constructor(private readonly opts: DispatcherOptions) {}

  dispatch({ bytes, ends, lastAt }: FrameBatch): void {
    const { pool, overflow, watermark, metrics, log } = this.opts;
    // Arrived when its last frame did (the clock offset is sampled against its newest event).
    const hold = watermark.hold(lastAt);
    const job: EncodeJob = { ...this.opts.fields(), bytes, ends };
    if (!overflow.active && pool.submit({ job, hold })) return;
    // The encoders are behind: the frames wait on disk, never on the floor. Their hold travels
    // with them (released when the writer has their lines, like any batch).
    overflow.put({ job, hold }).catch((err: Error) => {
      metrics.dispatchDropped.inc(ends.length);
      log.error({ frames: ends.length, err }, 'encoders are behind and the frames cannot be put on disk: they are fetched again from HA history');
      // Before the release: the watermark has not passed these frames yet.
      this.opts.onLost('frames could not be put on disk');
      hold.release();
    });
  }
}
