/**
 * Frames the encoders cannot take now wait on disk instead of being dropped: the main thread
 * must keep reading HA's socket (HA disconnects slow readers) whatever the encoders do.
 *
 * While anything waits on disk, new batches queue behind it there too (first in, first out);
 * batches are fed back to the pool whenever its queue is below half its bound. The spool is a
 * Spool of its own (<SPOOL_DIR>/frames) whose record body is
 *
 *   header length (u32 BE) | header: JSON of every job field but bytes and ends
 *   | ends (u32 BE × frames) | frame bytes
 *
 * so a batch comes back exactly as it left, every field included (a field added to EncodeJob
 * travels without a change here). The watermark hold of a batch put on disk stays held in memory
 * until the writer has its lines; a record is deleted as soon as it is handed to the pool, and a
 * crash then must not find the watermark past it. Records left by an earlier run get a new hold
 * when they are fed.
 */
import type { Logger } from 'pino';
import type { EncodeJob } from '../../workers/encode-batch.js';
import type { Spool } from '../writer/spool.js';
import type { EncoderPool } from './encoder-pool.js';
import type { Hold, Watermark } from './watermark.js';

/** What the overflow needs of the encoder pool (a fake in tests). */
export type OverflowPool = Pick<EncoderPool, 'queuedBytes' | 'submit'>;

/** The session of frames an earlier run left on disk: no connection of this run has it. */
export const EARLIER_RUN_SESSION = -1;

/** A job and the watermark hold that travels with it. */
export interface HeldJob {
  readonly job: EncodeJob;
  readonly hold: Hold;
}

/** `key` names the record's hold in this run (records of an earlier run have none of ours). */
export function encodeFrames(job: EncodeJob, key = ''): Buffer {
  const { bytes, ends: frameEnds, ...fields } = job;
  const header = Buffer.from(JSON.stringify({ fields, key }));
  const ends = Buffer.alloc(frameEnds.length * 4);
  for (const [i, e] of frameEnds.entries()) ends.writeUInt32BE(e, i * 4);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(header.length);
  return Buffer.concat([length, header, ends, bytes]);
}

export function decodeFrames(body: Buffer, frames: number): { job: EncodeJob; key: string } {
  const headerLength = body.readUInt32BE(0);
  const { fields, key } = JSON.parse(body.toString('utf8', 4, 4 + headerLength)) as { fields: Omit<EncodeJob, 'bytes' | 'ends'>; key: string };
  const endsAt = 4 + headerLength;
  const ends = new Uint32Array(frames);
  for (let i = 0; i < frames; i++) ends[i] = body.readUInt32BE(endsAt + i * 4);
  const start = endsAt + frames * 4;
  const bytes = new Uint8Array(body.length - start);
  bytes.set(body.subarray(start));
  return { job: { ...fields, ends, bytes }, key };
}

export class FrameOverflow {
  /** Appends under way: while any is, new batches must queue behind them. */
  private appending = 0;
  private feeding = false;
  private spilling = false;
  private stopped = false;
  private feedLoop: Promise<void> = Promise.resolve();
  /** Holds of this run's batches on disk, by record key. */
  private readonly holds = new Map<string, Hold>();
  private readonly run = `${process.pid}-${Date.now()}`;
  private puts = 0;

  constructor(
    private readonly spool: Spool,
    private readonly pool: OverflowPool,
    private readonly watermark: Watermark,
    private readonly maxQueueBytes: number,
    private readonly log: Logger,
  ) {}

  get active(): boolean {
    return this.appending > 0 || this.spool.hasPending;
  }

  /** Puts a batch on disk; resolves once it is durable there. On a rejection the hold is the caller's to release. */
  async put({ job, hold }: HeldJob): Promise<void> {
    if (!this.spilling) {
      this.spilling = true;
      this.log.warn({ queuedBytes: this.pool.queuedBytes }, 'encoders are behind: frames wait on disk until they catch up');
    }
    this.appending++;
    const key = `${this.run}-${this.puts++}`;
    // Known before the record can be read back, so that it is fed with its own hold.
    this.holds.set(key, hold);
    try {
      await this.spool.append(encodeFrames(job, key), job.ends.length, false);
    } catch (err) {
      this.holds.delete(key); // not on disk: the hold is the caller's again
      throw err;
    } finally {
      this.appending--;
    }
    this.feed();
  }

  /** Stops feeding the pool (shutdown); resolves when no batch is on its way to it. What is on disk stays for the next start. */
  stop(): Promise<void> {
    this.stopped = true;
    return this.feedLoop;
  }

  /** Feeds batches from disk to the pool while it has room. Call whenever the pool finishes one. */
  feed(): void {
    if (this.stopped || this.feeding || !this.spool.hasPending) return;
    this.feeding = true;
    this.feedLoop = (async () => {
      try {
        while (!this.stopped && this.pool.queuedBytes < this.maxQueueBytes / 2) {
          const record = await this.spool.next();
          if (record === null) {
            if (this.spilling && !this.active) {
              this.spilling = false;
              this.log.info('encoders caught up: every frame from disk fed back');
            }
            break;
          }
          if (this.stopped) {
            this.spool.retryLater(record);
            break;
          }
          const decoded = decodeFrames(record.body, record.lines);
          const own = this.holds.get(decoded.key);
          this.holds.delete(decoded.key);
          // This run's records keep the hold they were put with. An earlier run's get one now, and
          // session -1: their states are written, but their replies answer none of this run's
          // commands (ids and session numbers start again in every run).
          const job = own === undefined ? { ...decoded.job, session: EARLIER_RUN_SESSION } : decoded.job;
          this.pool.submit({ job, hold: own ?? this.watermark.hold() }, true);
          await this.spool.ack(record);
        }
      } catch (err) {
        this.log.error({ error: { message: (err as Error).message } }, 'cannot feed frames from disk to the encoders; they stay on disk');
      } finally {
        this.feeding = false;
      }
    })();
  }
}
