/**
 * The writer: encoded chunks in; gzip batches POSTed to the database with at most `concurrency`
 * requests in flight; every batch ends written, spooled or dead-lettered, never dropped.
 *
 *   success                      counted as written
 *   retryable (network, timeout, retried in place (backoff with full jitter, Retry-After honoured)
 *   429, 5xx)                    up to `retriesBeforeSpool` times, then spooled
 *   401, 403, 404, other 4xx     spooled at once (a configuration problem must not cost data);
 *                                /health turns red with the server's message until a write succeeds
 *   413                          split in two, each half sent on its own
 *   400, 422                     split in two until the bad lines stand alone; each bad line goes to
 *                                the dead-letter file with the server's message
 *
 * Memory is bounded by `maxQueueBytes` of request bodies: past it new batches go to the spool.
 * Spooled batches are replayed oldest first, one at a time, beside live traffic (live keeps at
 * least one request slot). gzip runs on libuv's thread pool (zlib's async API).
 */
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import type { Logger } from 'pino';
import { backoffDelay } from '../backoff.js';
import type { Metrics } from '../metrics.js';
import { droppedInPartialWrite, type WriteClient } from '../sinks/influx.js';
import type { DeadLetters } from './dead-letter.js';
import { LineBatcher, type LineBatch } from './line-batcher.js';
import { decide } from './retry-policy.js';
import type { Spool, SpoolRecord } from './spool.js';
import type { Hold } from '../pipeline/watermark.js';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

export interface WriterOptions {
  readonly client: WriteClient;
  readonly spool: Spool;
  readonly deadLetters: DeadLetters;
  readonly maxLines: number;
  readonly maxBytes: number;
  readonly flushIntervalMs: number;
  readonly gzipLevel: number;
  readonly concurrency: number;
  readonly maxQueueBytes: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  /** Attempts of a live batch before it goes to the spool. */
  readonly retriesBeforeSpool: number;
  readonly log: Logger;
  readonly metrics: Metrics;
}

interface Item {
  readonly body: Buffer;
  readonly lines: number;
  readonly gzipped: boolean;
  /** Set when the item is a spooled record being replayed. */
  readonly record?: SpoolRecord;
}

interface LiveItem extends Item {
  /** Lines per watermark hold. */
  readonly holds: ReadonlyMap<Hold, number>;
}

export interface LastWrite {
  readonly ok: boolean;
  readonly status: number | 'error';
  readonly message: string;
  readonly at: number;
}

type Outcome = 'written' | 'kept' | 'settled';

const KEEP_STATUSES_ARE_CONFIG = (status: number): boolean => status === 401 || status === 403 || status === 404;

export class Writer {
  lastWrite: LastWrite | null = null;
  /** A configuration problem the database reported (401/403/404/…), until a write succeeds. */
  problem: { status: number; message: string } | null = null;
  /**
   * Set when a batch had to be kept (the database is away or refuses us): live batches then go
   * straight to the spool, and only the spool's replay probes the database, with backoff.
   */
  private down = false;
  private readonly batcher: LineBatcher;
  private readonly queue: LiveItem[] = [];
  private queuedBytes = 0;
  private liveInFlight = 0;
  private replayInFlight = 0;
  private compressing = 0;
  private stopping = false;
  private closing = false;
  private readonly inFlightItems = new Set<Item>();
  private readonly spooledAtClose = new Set<Item>();
  private readonly sleepers = new Set<{ timer: NodeJS.Timeout; wake: () => void }>();
  private idleWaiters: (() => void)[] = [];
  private replayKick: (() => void) | null = null;
  private replayDone: Promise<void> = Promise.resolve();
  /** Lines not yet settled, per watermark hold the writer owns. */
  private readonly holdLines = new Map<Hold, number>();

  constructor(private readonly opts: WriterOptions) {
    this.batcher = new LineBatcher(
      { maxLines: opts.maxLines, maxBytes: opts.maxBytes, maxDelayMs: opts.flushIntervalMs },
      (batch) =>
        void this.compress(batch).catch((err: Error) => {
          // Only the spool can fail here (the disk): say so loudly, count it, let the rest go on.
          this.opts.log.error({ points: batch.lines, error: { message: err.message } }, 'a batch could not be put in the spool (disk full or unwritable?): it is lost');
          this.opts.metrics.writerDroppedPoints.inc(batch.lines, { reason: 'spool_failed' });
          this.settleHolds(batch.holds);
          this.checkIdle();
        }),
    );
    opts.metrics.writerQueueLines.collect(() => this.batcher.pendingLines + this.queue.reduce((n, i) => n + i.lines, 0));
    opts.metrics.writerQueueBytes.collect(() => this.queuedBytes);
  }

  /** Starts replaying what the spool holds. */
  start(): void {
    this.replayDone = this.replayLoop();
  }

  /**
   * Encoded lines in. Never blocks. With a `hold`, the writer owns it from here and releases it
   * once every line accepted with it is settled (written, spooled or dead-lettered); lines of one
   * hold may travel in several batches. Zero lines release it at once.
   */
  accept(lp: Uint8Array, lines: number, hold?: Hold): void {
    if (lines === 0) {
      hold?.release();
      return;
    }
    if (hold !== undefined) this.holdLines.set(hold, (this.holdLines.get(hold) ?? 0) + lines);
    this.batcher.push(lp, lines, hold);
  }

  private settleHolds(holds: ReadonlyMap<Hold, number>): void {
    for (const [hold, n] of holds) {
      const left = (this.holdLines.get(hold) ?? 0) - n;
      if (left > 0) {
        this.holdLines.set(hold, left);
      } else {
        this.holdLines.delete(hold);
        hold.release();
      }
    }
  }

  /**
   * Sends what is buffered and waits for every answer, up to `timeoutMs`; then spools whatever
   * is still unanswered. Returns the number of points spooled at the deadline.
   */
  async close(timeoutMs: number): Promise<number> {
    this.stopping = true;
    this.replayKick?.();
    this.batcher.flush();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    const outcome = await Promise.race([this.idle(), deadline]);
    clearTimeout(timer);
    this.closing = true;
    for (const s of this.sleepers) {
      clearTimeout(s.timer);
      s.wake();
    }
    let spooled = 0;
    if (outcome === 'timeout') {
      while (this.compressing > 0) await new Promise((r) => setTimeout(r, 5));
      for (const item of this.queue.splice(0)) {
        await this.opts.spool.append(item.body, item.lines, item.gzipped);
        this.queuedBytes -= item.body.length;
        this.settleHolds(item.holds);
        spooled += item.lines;
      }
      // Requests still unanswered: spooled as well; if one succeeds after all, the rewrite is harmless.
      for (const item of [...this.inFlightItems].filter((i) => i.record === undefined)) {
        this.spooledAtClose.add(item);
        await this.opts.spool.append(item.body, item.lines, item.gzipped);
        spooled += item.lines;
      }
      if (spooled > 0) this.opts.log.warn({ points: spooled }, `shutdown deadline passed: ${spooled} points not yet acknowledged were spooled; they are replayed at the next start`);
    }
    if (outcome === 'timeout') {
      // Requests still out would hold the exit up to their own timeout: cut them. A replayed
      // record whose answer never comes stays in the spool (it is acknowledged only on an answer).
      await this.opts.client.destroy();
      await Promise.race([this.replayDone, new Promise((r) => setTimeout(r, 1000))]);
    } else {
      await this.replayDone;
      await this.opts.client.close();
    }
    await this.opts.spool.close();
    return spooled;
  }

  private idle(): Promise<void> {
    return new Promise((resolve) => {
      if (this.isIdle()) resolve();
      else this.idleWaiters.push(resolve);
    });
  }

  private isIdle(): boolean {
    return this.batcher.pendingLines === 0 && this.queue.length === 0 && this.liveInFlight === 0 && this.compressing === 0;
  }

  private checkIdle(): void {
    if (!this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private async compress(batch: LineBatch): Promise<void> {
    const first = batch.chunks[0] as Uint8Array;
    const raw = batch.chunks.length === 1 ? Buffer.from(first.buffer, first.byteOffset, first.byteLength) : Buffer.concat(batch.chunks);
    const gzipped = this.opts.gzipLevel > 0;
    this.compressing++;
    let body: Buffer;
    try {
      body = gzipped ? await gzipAsync(raw, { level: this.opts.gzipLevel }) : raw;
    } finally {
      this.compressing--;
    }
    const item: LiveItem = { body, lines: batch.lines, gzipped, holds: batch.holds };
    if (this.queuedBytes + body.length > this.opts.maxQueueBytes || this.closing) {
      // The database is away or slow: past the memory bound, batches wait on disk instead.
      await this.spoolItem(item);
      this.settleHolds(item.holds);
      this.checkIdle();
      return;
    }
    this.queuedBytes += body.length;
    this.queue.push(item);
    this.pump();
  }

  /** Live batches: up to `concurrency` in flight, one less while the spool is being replayed. */
  private pump(): void {
    const limit = this.replayInFlight > 0 ? this.opts.concurrency - 1 : this.opts.concurrency;
    while (this.liveInFlight < Math.max(1, limit) && this.queue.length > 0 && !this.closing) {
      const item = this.queue.shift() as LiveItem;
      this.liveInFlight++;
      void this.deliver(item)
        .catch(async (err: Error) => {
          this.opts.log.error({ error: { message: err.message } }, 'writer failed to settle a batch; spooling it');
          await this.spoolItem(item);
        })
        .catch((err: Error) => {
          this.opts.log.error({ points: item.lines, error: { message: err.message } }, 'a batch could not be put in the spool (disk full or unwritable?): it is lost');
          this.opts.metrics.writerDroppedPoints.inc(item.lines, { reason: 'spool_failed' });
        })
        .finally(() => this.liveSettled(item));
    }
  }

  private liveSettled(item: LiveItem): void {
    this.liveInFlight--;
    this.queuedBytes -= item.body.length;
    this.settleHolds(item.holds);
    this.pump();
    this.checkIdle();
  }

  /** Replays the spool oldest first, one batch at a time, backing off while the database refuses. */
  private async replayLoop(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      const record = this.opts.spool.hasPending ? await this.opts.spool.next() : null;
      if (record === null) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 1000);
          this.replayKick = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.replayKick = null;
        continue;
      }
      this.replayInFlight++;
      const outcome = await this.deliver({ body: record.body, lines: record.lines, gzipped: record.gzipped, record }).catch(() => 'kept' as const);
      this.replayInFlight--;
      this.pump();
      if (outcome === 'kept') {
        this.opts.spool.retryLater(record);
        failures++;
        // Probe at least every 10 s, so that a database that is back is noticed soon.
        await this.sleep(backoffDelay(failures, this.opts.retryBaseMs, Math.min(this.opts.retryMaxMs, 10_000)));
      } else {
        failures = 0;
        await this.opts.spool.ack(record);
      }
    }
  }

  /** Sends one item until it is written, kept (spooled, or left in the spool) or settled otherwise. */
  private async deliver(item: Item): Promise<Outcome> {
    const { client, metrics, log } = this.opts;
    if (this.down && item.record === undefined && this.opts.spool.hasPending) return this.keep(item);
    this.inFlightItems.add(item);
    try {
      for (let attempt = 0; ; attempt++) {
        // Past the shutdown deadline a batch is not tried again: it waits in the spool.
        if (this.closing && attempt > 0) return await this.keep(item);
        const started = performance.now();
        const res = await client.write(item.body, item.gzipped);
        metrics.writeDuration.set((performance.now() - started) / 1000);
        metrics.writeRequests.inc(1, { status: res.status === undefined ? 'error' : String(res.status) });
        metrics.writeBytes.inc(item.body.length);
        const decision = decide(res.status, res.retryAfter);
        this.lastWrite = { ok: decision.action === 'success', status: res.status ?? 'error', message: res.message, at: Date.now() };
        if (decision.action === 'success') {
          if (this.down) {
            this.down = false;
            log.info({ spooledPoints: this.opts.spool.lines }, 'the database answers again; the spool is being replayed');
          }
          this.problem = null;
          metrics.pointsWritten.inc(item.lines);
          return 'written';
        }
        const status = res.status;
        if (decision.action === 'reject' && status !== undefined) {
          if (status === 413 || status === 400 || status === 422) {
            if (item.lines > 1) return await this.split(item, status, res.message);
            if (status !== 413 || item.lines === 1) return await this.deadLetter(item, status, res.message);
          }
          // 401, 403, 404 and anything else: a configuration problem; keep the data.
          this.problem = { status, message: res.message };
          log.error(
            { status, server: res.message, points: item.lines },
            KEEP_STATUSES_ARE_CONFIG(status)
              ? 'the database refused our credentials or target (check INFLUX_TOKEN, INFLUX_ORG/BUCKET or INFLUX_DB); the batch is kept in the spool'
              : 'the database refused the write; the batch is kept in the spool',
          );
          return await this.keep(item);
        }
        if (this.closing || attempt + 1 >= this.opts.retriesBeforeSpool || item.record !== undefined) {
          // A replayed record that still fails is a probe of a database known to be away: quiet.
          const level = item.record === undefined ? 'warn' : 'debug';
          log[level]({ status: res.status, server: res.message, points: item.lines }, 'write failed; the batch is kept in the spool');
          return await this.keep(item);
        }
        const delay = decision.action === 'retry' && decision.afterMs !== undefined ? decision.afterMs : backoffDelay(attempt, this.opts.retryBaseMs, this.opts.retryMaxMs);
        metrics.writeRetries.inc();
        log.warn({ status: res.status, server: res.message, retryInMs: delay, attempt: attempt + 1 }, 'write failed; retrying');
        await this.sleep(delay);
      }
    } finally {
      this.inFlightItems.delete(item);
    }
  }

  /** Live items go to the spool; a replayed record stays where it is. */
  private async keep(item: Item): Promise<Outcome> {
    if (!this.down && !this.closing) {
      this.down = true;
      this.opts.log.warn('the database is not taking writes: batches go to the spool until it answers (see docs/reliability.md)');
    }
    if (item.record === undefined && !this.spooledAtClose.has(item)) await this.spoolItem(item);
    return 'kept';
  }

  private async spoolItem(item: Item): Promise<void> {
    await this.opts.spool.append(item.body, item.lines, item.gzipped);
    this.replayKick?.();
  }

  /** Splits a batch in two at a line boundary and delivers both halves. */
  private async split(item: Item, status: number, message: string): Promise<Outcome> {
    const { metrics, log } = this.opts;
    metrics.splitBatches.inc(1, { status: String(status) });
    const dropped = status === 400 ? droppedInPartialWrite(message) : undefined;
    log.warn({ status, points: item.lines, reportedBad: dropped, server: message }, status === 413 ? 'batch too large; splitting it' : 'the database refused some lines; isolating them');
    const raw = item.gzipped ? await gunzipAsync(item.body) : item.body;
    const lines = raw.toString('utf8').split('\n').filter((l) => l !== '');
    const half = Math.ceil(lines.length / 2);
    const halves = [lines.slice(0, half), lines.slice(half)];
    for (const part of halves) {
      const text = Buffer.from(`${part.join('\n')}\n`);
      const body = item.gzipped ? await gzipAsync(text, { level: this.opts.gzipLevel }) : text;
      // Halves of a replayed record are new items: written, spooled anew, or dead-lettered.
      await this.deliver({ body, lines: part.length, gzipped: item.gzipped });
    }
    return 'settled';
  }

  private async deadLetter(item: Item, status: number, message: string): Promise<Outcome> {
    const raw = item.gzipped ? await gunzipAsync(item.body) : item.body;
    const line = raw.toString('utf8').replace(/\n$/, '');
    await this.opts.deadLetters.add(line, status, message);
    this.opts.metrics.deadLetterPoints.inc(1);
    this.opts.metrics.pointsRejected.inc(1, { status: String(status) });
    this.opts.log.error({ status, server: message, line: line.slice(0, 500), file: this.opts.deadLetters.path }, 'the database refused a point; it is kept in the dead-letter file');
    return 'settled';
  }

  private sleep(ms: number): Promise<void> {
    if (this.closing) return Promise.resolve();
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
