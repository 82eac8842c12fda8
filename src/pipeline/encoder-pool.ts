/**
 * The encoder pool: frame batches in, encoded line protocol out (to `onResult`).
 * POOL_SIZE worker threads through Piscina, or, with POOL_SIZE=0, the same encoder on the main
 * thread. What is submitted and not yet delivered is bounded by `maxQueueBytes` of raw frames:
 * past it `submit` refuses and the caller decides what happens to the batch.
 *
 * Results and failures are delivered in submit order, whatever order the threads finish in (a
 * reorder buffer keyed by a sequence number given at submit): every main-thread consumer (restart
 * de-duplication above all) sees the jobs in arrival order, for any POOL_SIZE.
 *
 * A batch that fails as a whole reaches `onError` as an EncoderBatchError that says how many
 * frames and bytes it held: counted at submit, because the job's buffers are transferred to the
 * worker (and read as empty here afterwards).
 */
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { IngestorError } from '../errors.js';
import type { EncodeResult } from '../../workers/encode/result.js';
import { createSchemaBatchEncoder, type EncoderSetup } from '../../workers/schema.js';
import type { SchemaOptions } from '../../workers/typed-schema.js';
import type { HeldJob } from './overflow.js';
import type { Hold } from './watermark.js';

export const WORKER_FILE = fileURLToPath(new URL('../../workers/encode-worker.js', import.meta.url));

/**
 * V8's young generation per encoder thread, in MB (V8's own default reaches 48: 16 MB
 * semi-spaces). Encoding 1,000-event batches in a thread took the same time as with the default,
 * within the noise of this shared machine (24: 0.99–1.07×; 12: 1.10–1.14×; 6: 1.18–1.26×), and
 * the thread holds 16 MB less at full speed (docs/reliability.md, Memory). A process-wide
 * `--max-semi-space-size` overrides it (V8 flags win over a thread's resource limits).
 */
export const WORKER_YOUNG_GENERATION_MB = 24;
/** Threads beyond the first stop after this long without a batch (a home's rate needs one). */
export const EXTRA_THREAD_IDLE_MS = 60_000;

export interface EncoderPoolOptions {
  readonly poolSize: number;
  readonly maxQueueBytes: number;
  readonly schema?: SchemaOptions;
  /** Restart de-duplication on: results carry records (EncodeResult.dedup). */
  readonly dedup?: boolean;
  /** A batch's result, in submit order; the hold is the caller's to pass on. */
  readonly onResult: (result: EncodeResult, hold: Hold) => void;
  /** A whole batch failed (a bug or a crashed worker), in submit order; `held` says which. */
  readonly onError: (err: EncoderBatchError, held: HeldJob) => void;
  readonly workerFile?: string;
  /** Old-generation limit of each encoder thread, in MB (MEMORY_LIMIT_MB); undefined: V8's default. */
  readonly workerOldGenerationMb?: number;
}

/** A batch failed as a whole (the worker threw or died): what it held, and why. */
export class EncoderBatchError extends IngestorError {
  constructor(
    readonly frames: number,
    readonly bytes: number,
    cause: unknown,
  ) {
    super(
      'ENCODER_BATCH_FAILED',
      `an encoder batch of ${frames} frames (${bytes} bytes) failed as a whole: ${(cause as Error)?.message ?? String(cause)}`,
      true,
      { cause },
    );
  }
}

type Outcome = { readonly ok: true; readonly result: EncodeResult } | { readonly ok: false; readonly err: unknown };

interface Pending {
  readonly held: HeldJob;
  readonly size: number;
  /** Frames in the batch, counted before its buffers are transferred. */
  readonly frames: number;
  outcome: Outcome | null;
}

export class EncoderPool {
  queuedBytes = 0;
  private readonly piscina: Piscina | null;
  private readonly inline: ReturnType<typeof createSchemaBatchEncoder> | null;
  private idleWaiters: (() => void)[] = [];
  /** Submitted and not yet delivered, by sequence number; delivery follows `nextToDeliver`. */
  private readonly pending = new Map<number, Pending>();
  private nextSeq = 0;
  private nextToDeliver = 0;

  constructor(private readonly opts: EncoderPoolOptions) {
    const setup: EncoderSetup = { schema: opts.schema ?? { schema: 'typed' }, dedup: opts.dedup === true };
    if (opts.poolSize > 0) {
      this.piscina = new Piscina({
        filename: opts.workerFile ?? WORKER_FILE,
        // One thread always (it keeps its encoder's caches warm); more only while batches queue.
        minThreads: 1,
        maxThreads: opts.poolSize,
        idleTimeout: EXTRA_THREAD_IDLE_MS,
        resourceLimits: {
          maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB,
          ...(opts.workerOldGenerationMb === undefined ? {} : { maxOldGenerationSizeMb: opts.workerOldGenerationMb }),
        },
        workerData: setup,
      });
      this.inline = null;
    } else {
      this.piscina = null;
      this.inline = createSchemaBatchEncoder(setup.schema, setup);
    }
  }

  get threads(): number {
    return this.piscina?.threads.length ?? 0;
  }

  /** Batches submitted and not yet delivered. */
  get inFlight(): number {
    return this.pending.size;
  }

  /**
   * Queues a frame batch; false (and nothing queued) when the bound would be passed. A batch is
   * always taken when nothing is in flight, so one oversized frame cannot be refused forever.
   */
  submit(held: HeldJob, force = false): boolean {
    const { job } = held;
    const size = job.bytes.byteLength;
    if (!force && this.queuedBytes + size > this.opts.maxQueueBytes && this.inFlight > 0) return false;
    const seq = this.nextSeq++;
    const entry: Pending = { held, size, frames: job.ends.length, outcome: null };
    this.pending.set(seq, entry);
    this.queuedBytes += size;
    if (this.inline !== null) {
      try {
        this.complete(seq, { ok: true, result: this.inline.encode(job) });
      } catch (err) {
        this.complete(seq, { ok: false, err });
      }
      return true;
    }
    (this.piscina as Piscina).run(job, { transferList: [job.bytes.buffer as ArrayBuffer, job.ends.buffer as ArrayBuffer] }).then(
      (result: EncodeResult) => this.complete(seq, { ok: true, result }),
      (err: unknown) => this.complete(seq, { ok: false, err }),
    );
    return true;
  }

  /** Resolves when nothing is queued, running or waiting for delivery. */
  drain(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async close(): Promise<void> {
    await this.drain();
    await this.piscina?.destroy();
  }

  /** A job finished: it and every finished job after it, up to the first unfinished one, are delivered. */
  private complete(seq: number, outcome: Outcome): void {
    (this.pending.get(seq) as Pending).outcome = outcome;
    for (let next = this.pending.get(this.nextToDeliver); next?.outcome != null; next = this.pending.get(this.nextToDeliver)) {
      this.pending.delete(this.nextToDeliver++);
      this.queuedBytes -= next.size;
      try {
        this.deliver(next, next.outcome);
      } catch (err) {
        // A consumer's bug: surface it as before (uncaught), without stalling later deliveries.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
    if (this.inFlight === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private deliver({ held, frames, size }: Pending, outcome: Outcome): void {
    if (outcome.ok) this.opts.onResult(outcome.result, held.hold);
    else this.opts.onError(new EncoderBatchError(frames, size, outcome.err), held);
  }
}
