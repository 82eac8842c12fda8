/**
 * The encoder pool: frame batches in, encoded line protocol out (to `onResult`).
 * POOL_SIZE worker threads through Piscina, or, with POOL_SIZE=0, the same encoder on the main
 * thread. What is submitted and not yet done is bounded by `maxQueueBytes` of raw frames: past
 * it `submit` refuses and the caller decides what happens to the batch.
 */
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { EncodeJob, EncodeResult } from '../../workers/encode-batch.js';
import { createSchemaBatchEncoder, type EncoderSetup } from '../../workers/schema.js';
import type { SchemaOptions } from '../../workers/typed-schema.js';
import type { HeldJob } from './overflow.js';
import type { Hold } from './watermark.js';

export const WORKER_FILE = fileURLToPath(new URL('../../workers/encode-worker.js', import.meta.url));

export interface EncoderPoolOptions {
  readonly poolSize: number;
  readonly maxQueueBytes: number;
  readonly schema?: SchemaOptions;
  /** Restart de-duplication's shared table (workers/seen-states.ts); none = off. */
  readonly seenStates?: SharedArrayBuffer;
  /** A batch's result; the hold is the caller's to pass on. */
  readonly onResult: (result: EncodeResult, hold: Hold) => void;
  /** A whole batch failed (a bug or a crashed worker); `held` says which. */
  readonly onError: (err: Error, held: HeldJob) => void;
  readonly workerFile?: string;
}

export class EncoderPool {
  queuedBytes = 0;
  inFlight = 0;
  private readonly piscina: Piscina | null;
  private readonly inline: ReturnType<typeof createSchemaBatchEncoder> | null;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly opts: EncoderPoolOptions) {
    if (opts.poolSize > 0) {
      this.piscina = new Piscina({
        filename: opts.workerFile ?? WORKER_FILE,
        minThreads: opts.poolSize,
        maxThreads: opts.poolSize,
        idleTimeout: Number.POSITIVE_INFINITY,
        workerData: { schema: opts.schema ?? { schema: 'typed' }, seenStates: opts.seenStates } satisfies EncoderSetup,
      });
      this.inline = null;
    } else {
      this.piscina = null;
      this.inline = createSchemaBatchEncoder(opts.schema ?? { schema: 'typed' }, opts.seenStates);
    }
  }

  get threads(): number {
    return this.piscina?.threads.length ?? 0;
  }

  /**
   * Queues a frame batch; false (and nothing queued) when the bound would be passed. A batch is
   * always taken when nothing is in flight, so one oversized frame cannot be refused forever.
   */
  submit(held: HeldJob, force = false): boolean {
    const { job } = held;
    const size = job.bytes.byteLength;
    if (!force && this.queuedBytes + size > this.opts.maxQueueBytes && this.inFlight > 0) return false;
    this.run(held, size, [job.bytes.buffer as ArrayBuffer, job.ends.buffer as ArrayBuffer]);
    return true;
  }

  /** Resolves when nothing is queued or running. */
  drain(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async close(): Promise<void> {
    await this.drain();
    await this.piscina?.destroy();
  }

  private run(held: HeldJob, size: number, transferList: ArrayBuffer[]): void {
    const { job, hold } = held;
    this.queuedBytes += size;
    this.inFlight++;
    const done = (): void => {
      this.queuedBytes -= size;
      this.inFlight--;
      if (this.inFlight === 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const w of waiters) w();
      }
    };
    if (this.inline !== null) {
      try {
        this.opts.onResult(this.inline.encode(job), hold);
      } catch (err) {
        this.opts.onError(err as Error, held);
      }
      done();
      return;
    }
    (this.piscina as Piscina).run(job, { transferList }).then(
      (result: EncodeResult) => {
        done();
        this.opts.onResult(result, hold);
      },
      (err: Error) => {
        done();
        this.opts.onError(err, held);
      },
    );
  }
}
