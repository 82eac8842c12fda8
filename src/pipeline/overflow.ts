/**
 * Frames the encoders cannot take now wait on disk instead of being dropped: the main thread
 * must keep reading HA's socket (HA disconnects slow readers) whatever the encoders do.
 *
 * While anything waits on disk, new batches queue behind it there too (first in, first out);
 * batches are fed back to the pool whenever its queue is below half its bound. The spool is a
 * Spool of its own (<SPOOL_DIR>/frames) whose record body is
 *
 *   header length (u32 BE) | header JSON {session, token, stateResults, haRestarted, backfillPending}
 *   | ends (u32 BE × frames) | frame bytes
 *
 * so a batch comes back exactly as it left, still tagged with its connection. The watermark
 * token of a batch put on disk stays held until the writer has its lines: a record is deleted
 * as soon as it is handed to the pool, and a crash then must not find the watermark past it.
 * Records left by an earlier run get their token held when they are fed.
 */
import type { Logger } from 'pino';
import type { EncodeJob } from '../../workers/encode-batch.js';
import type { Spool } from '../writer/spool.js';
import type { EncoderPool } from './encoder-pool.js';
import type { Watermark } from './watermark.js';

export function encodeFrames(job: EncodeJob): Buffer {
  const header = Buffer.from(JSON.stringify({ session: job.session, token: job.token, stateResults: job.stateResults, haRestarted: job.haRestarted, backfillPending: job.backfillPending }));
  const ends = Buffer.alloc(job.ends.length * 4);
  job.ends.forEach((e, i) => ends.writeUInt32BE(e, i * 4));
  const length = Buffer.alloc(4);
  length.writeUInt32BE(header.length);
  return Buffer.concat([length, header, ends, job.bytes]);
}

export function decodeFrames(body: Buffer, frames: number): EncodeJob {
  const headerLength = body.readUInt32BE(0);
  const header = JSON.parse(body.toString('utf8', 4, 4 + headerLength)) as Pick<EncodeJob, 'session' | 'token' | 'stateResults' | 'haRestarted' | 'backfillPending'>;
  const endsAt = 4 + headerLength;
  const ends = new Uint32Array(frames);
  for (let i = 0; i < frames; i++) ends[i] = body.readUInt32BE(endsAt + i * 4);
  const start = endsAt + frames * 4;
  const bytes = new Uint8Array(body.length - start);
  bytes.set(body.subarray(start));
  return { ...header, ends, bytes };
}

export class FrameOverflow {
  /** Appends under way: while any is, new batches must queue behind them. */
  private appending = 0;
  private feeding = false;
  private spilling = false;
  private stopped = false;
  private feedLoop: Promise<void> = Promise.resolve();
  /** Tokens of this run's batches on disk: held since they arrived (main.ts). */
  private readonly heldTokens = new Map<number, number>();

  constructor(
    private readonly spool: Spool,
    private readonly pool: EncoderPool,
    private readonly watermark: Watermark,
    private readonly maxQueueBytes: number,
    private readonly log: Logger,
  ) {}

  get active(): boolean {
    return this.appending > 0 || this.spool.hasPending;
  }

  /** Puts a batch on disk; resolves once it is durable there. */
  async put(job: EncodeJob): Promise<void> {
    if (!this.spilling) {
      this.spilling = true;
      this.log.warn({ queuedBytes: this.pool.queuedBytes }, 'encoders are behind: frames wait on disk until they catch up');
    }
    this.appending++;
    try {
      await this.spool.append(encodeFrames(job), job.ends.length, false);
      this.heldTokens.set(job.token, (this.heldTokens.get(job.token) ?? 0) + 1);
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
          const job = decodeFrames(record.body, record.lines);
          const ownHolds = this.heldTokens.get(job.token) ?? 0;
          if (ownHolds > 1) this.heldTokens.set(job.token, ownHolds - 1);
          else if (ownHolds === 1) this.heldTokens.delete(job.token);
          else this.watermark.hold(job.token); // from an earlier run: held until the writer has it
          this.pool.submit(job, true);
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
