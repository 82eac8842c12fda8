/**
 * The writer: encoded chunks in; gzip batches POSTed to the database with at most `concurrency`
 * requests in flight. Retryable failures are retried with backoff (Retry-After honoured) while
 * the batch stays in memory, gzipped; rejected batches are logged with the server's message and
 * counted. Memory is bounded by `maxQueueBytes` of gzipped bodies: past it a new batch is
 * dropped with an error log and a metric (the delivery-guarantees work routes it to disk).
 * gzip runs on libuv's thread pool (zlib's async API), not on the main thread.
 */
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import { droppedInPartialWrite, type WriteClient } from '../sinks/influx.js';
import { LineBatcher, type LineBatch } from './line-batcher.js';
import { backoffDelay } from '../backoff.js';
import { decide } from './retry-policy.js';

const gzipAsync = promisify(gzip);

export interface WriterOptions {
  readonly client: WriteClient;
  readonly maxLines: number;
  readonly maxBytes: number;
  readonly flushIntervalMs: number;
  readonly gzipLevel: number;
  readonly concurrency: number;
  readonly maxQueueBytes: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly log: Logger;
  readonly metrics: Metrics;
}

interface Body {
  readonly body: Buffer;
  readonly lines: number;
  readonly rawBytes: number;
}

export interface LastWrite {
  readonly ok: boolean;
  readonly status: number | 'error';
  readonly message: string;
  readonly at: number;
}

export class Writer {
  lastWrite: LastWrite | null = null;
  private readonly batcher: LineBatcher;
  private readonly queue: Body[] = [];
  /** Gzipped bytes queued or in flight. */
  private queuedBytes = 0;
  /** Lines anywhere between accept() and the database's answer. */
  private pendingLines = 0;
  private pendingRawBytes = 0;
  private inFlight = 0;
  private compressing = 0;
  private closing = false;
  private readonly sleepers = new Set<{ timer: NodeJS.Timeout; wake: () => void }>();
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly opts: WriterOptions) {
    this.batcher = new LineBatcher(
      { maxLines: opts.maxLines, maxBytes: opts.maxBytes, maxDelayMs: opts.flushIntervalMs },
      (batch) => void this.compress(batch),
    );
    opts.metrics.writerQueueLines.collect(() => this.pendingLines);
    opts.metrics.writerQueueBytes.collect(() => this.pendingRawBytes);
  }

  /** Encoded lines in. Never blocks. */
  accept(lp: Uint8Array, lines: number): void {
    if (lines === 0) return;
    this.pendingLines += lines;
    this.pendingRawBytes += lp.length;
    this.batcher.push(lp, lines);
  }

  /**
   * Sends what is buffered and waits for every answer, up to `timeoutMs`. Returns the number of
   * points that were still unacknowledged at the deadline (dropped from memory, logged).
   */
  async close(timeoutMs: number): Promise<number> {
    this.batcher.flush();
    const idle = new Promise<void>((resolve) => {
      if (this.isIdle()) resolve();
      else this.idleWaiters.push(resolve);
    });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    const outcome = await Promise.race([idle, deadline]);
    clearTimeout(timer);
    this.closing = true;
    for (const s of this.sleepers) {
      clearTimeout(s.timer);
      s.wake();
    }
    const left = outcome === 'timeout' ? this.pendingLines : 0;
    if (left > 0) {
      this.opts.log.error({ points: left }, `shutdown deadline passed with ${left} points not acknowledged by the database; they are lost`);
      this.opts.metrics.writerDroppedPoints.inc(left, { reason: 'shutdown' });
    }
    await this.opts.client.close();
    return left;
  }

  private isIdle(): boolean {
    return this.pendingLines === 0 && this.inFlight === 0 && this.compressing === 0;
  }

  private settle(lines: number, rawBytes: number): void {
    this.pendingLines -= lines;
    this.pendingRawBytes -= rawBytes;
    if (this.isIdle()) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private async compress(batch: LineBatch): Promise<void> {
    const first = batch.chunks[0] as Uint8Array;
    const raw = batch.chunks.length === 1 ? Buffer.from(first.buffer, first.byteOffset, first.byteLength) : Buffer.concat(batch.chunks);
    this.compressing++;
    let body: Buffer;
    try {
      body = this.opts.gzipLevel === 0 ? raw : await gzipAsync(raw, { level: this.opts.gzipLevel });
    } finally {
      this.compressing--;
    }
    if (this.queuedBytes + body.length > this.opts.maxQueueBytes) {
      this.opts.log.error(
        { points: batch.lines, queuedBytes: this.queuedBytes },
        'writer queue is full (database unreachable or too slow): batch dropped',
      );
      this.opts.metrics.writerDroppedPoints.inc(batch.lines, { reason: 'queue_full' });
      this.settle(batch.lines, batch.bytes);
      return;
    }
    this.queuedBytes += body.length;
    this.queue.push({ body, lines: batch.lines, rawBytes: batch.bytes });
    this.pump();
  }

  private pump(): void {
    while (this.inFlight < this.opts.concurrency && this.queue.length > 0 && !this.closing) {
      const item = this.queue.shift() as Body;
      this.inFlight++;
      void this.send(item).finally(() => {
        this.inFlight--;
        this.queuedBytes -= item.body.length;
        this.settle(item.lines, item.rawBytes);
        this.pump();
      });
    }
  }

  private async send(item: Body): Promise<void> {
    const { client, metrics, log } = this.opts;
    const gzipped = this.opts.gzipLevel > 0;
    for (let attempt = 0; ; attempt++) {
      const started = performance.now();
      const res = await client.write(item.body, gzipped);
      metrics.writeDuration.set((performance.now() - started) / 1000);
      metrics.writeRequests.inc(1, { status: res.status === undefined ? 'error' : String(res.status) });
      metrics.writeBytes.inc(item.body.length);
      const decision = decide(res.status, res.retryAfter);
      this.lastWrite = { ok: decision.action === 'success', status: res.status ?? 'error', message: res.message, at: Date.now() };
      if (decision.action === 'success') {
        metrics.pointsWritten.inc(item.lines);
        return;
      }
      if (decision.action === 'reject') {
        const dropped = res.status === 400 ? droppedInPartialWrite(res.message) : undefined;
        const rejected = dropped ?? item.lines;
        metrics.pointsWritten.inc(item.lines - rejected);
        metrics.pointsRejected.inc(rejected, { status: String(res.status) });
        log.error({ status: res.status, points: item.lines, rejected, server: res.message }, 'the database rejected a write');
        return;
      }
      // At the shutdown deadline close() counts what is still pending as lost.
      if (this.closing) return;
      const delay = decision.afterMs ?? backoffDelay(attempt, this.opts.retryBaseMs, this.opts.retryMaxMs);
      metrics.writeRetries.inc();
      log.warn({ status: res.status, server: res.message, retryInMs: delay, attempt: attempt + 1 }, 'write failed; retrying');
      await this.sleep(delay);
      if (this.closing) return;
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.sleepers.delete(entry);
          resolve();
        }, ms),
        wake: resolve,
      };
      this.sleepers.add(entry);
    });
  }
}
