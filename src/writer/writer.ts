/**
 * The writer: encoded chunks in; gzip batches POSTed to the database with at most `concurrency`
 * requests in flight; every batch ends written, spooled or dead-lettered, never dropped. What to
 * do with each answer is decided by one table (retry-policy.ts, `decide`); this module executes
 * it:
 *
 *   success      counted as written (only a database's 204 is an acknowledgement)
 *   retry        retried in place (backoff with full jitter, Retry-After honoured) up to
 *                `retriesBeforeSpool` times, then spooled
 *   split        413: cut in two at a line boundary, each half delivered on its own
 *   isolate      400/422 whose body is the database naming bad lines: cut in two until the bad
 *                lines stand alone
 *   deadLetter   a single line the database refused as a line goes to the dead-letter file
 *   keep         401/403/404, a page or a redirect instead of an acknowledgement, a proxy's
 *                400/413, other refusals: spooled at once (a configuration problem or an outage
 *                must not cost data); /health turns red with the reason until a write succeeds
 *
 * A split whose part is kept (the database or a proxy refuses even a small part) sends no further
 * part: what is not settled yet is kept as one batch, so a refusing proxy costs a few requests per
 * batch, not one per line.
 *
 * Watermark holds: a hold accepted with lines is released when every one of its lines is settled
 * (hold-ledger.ts). A batch that can be neither written nor spooled (the database is away and the
 * disk is full or read-only) waits in memory (memory-keep.ts) within `maxQueueBytes` and is tried
 * again; beyond that it is dropped, counted, and its holds stay held, so the watermark stops
 * before it and the next start's backfill fetches it again from HA's history.
 *
 * Memory is bounded by `maxQueueBytes` of request bodies: past it new batches go to the spool.
 * Spooled batches are replayed oldest first, one at a time, beside live traffic (live keeps at
 * least one request slot). gzip runs on libuv's thread pool (zlib's async API). Every wait is a
 * cancellable timer (node:timers/promises) aborted at close.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import type { Logger } from 'pino';
import { backoffDelay } from '../backoff.js';
import type { Metrics } from '../metrics.js';
import type { Hold } from '../pipeline/watermark.js';
import type { WriteClient, WriteResponse } from '../sinks/influx.js';
import type { DeadLetters } from './dead-letter.js';
import { HoldLedger } from './hold-ledger.js';
import { LineBatcher, type LineBatch } from './line-batcher.js';
import { MemoryKeep } from './memory-keep.js';
import { decide, droppedInPartialWrite, type KeepCause, type WriteDecision } from './retry-policy.js';
import type { Spool, SpoolRecord } from './spool.js';
import { splitLines } from '../../workers/line-protocol.js';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/** What the writer needs of a spool (the replay of dead letters gives it a stand-in). */
export type WriterSpool = Pick<Spool, 'append' | 'hasPending' | 'next' | 'ack' | 'retryLater' | 'close' | 'lines'>;

export interface WriterOptions {
  readonly client: WriteClient;
  readonly spool: WriterSpool;
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
  /** Lines per watermark hold (live batches). */
  readonly holds?: ReadonlyMap<Hold, number>;
  /** Set when the item is a part of a split batch: a kept part's lines go to `kept`, not to the spool. */
  readonly part?: { readonly lines: readonly string[]; readonly kept: string[] };
  /** Set when the item waits in memory because neither the database nor the disk took it. */
  readonly inMemory?: boolean;
}

type LiveItem = Item & { readonly holds: ReadonlyMap<Hold, number> };

export interface LastWrite {
  readonly ok: boolean;
  readonly status: number | 'error';
  readonly message: string;
  readonly at: number;
}

/**
 * written/settled: done; kept: waits (spooled, or a replayed record left in the spool);
 * respooled: a replayed record's unsettled lines were spooled anew; inMemory: neither the database
 * nor the disk took it (its holds stay held).
 */
type Outcome = 'written' | 'kept' | 'settled' | 'respooled' | 'inMemory';
type Settling = Exclude<WriteDecision, { action: 'retry' }>;

/** Between probes of a database known to be away, at most this long. */
const MAX_PROBE_INTERVAL_MS = 10_000;
/** The replay loop looks at the spool at least this often when nothing wakes it. */
const REPLAY_IDLE_MS = 1_000;
/** After the deadline and the requests being cut, how long close() waits for them to answer. */
const CUT_GRACE_MS = 1_000;

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
  /** close() began: the replay loop ends. */
  private stopping = false;
  /** The shutdown deadline is over (or everything was answered): no more retries, no more waits. */
  private closing = false;
  private closed: Promise<number> | null = null;
  /** Aborted at closing: ends every retry and probe wait at once. */
  private readonly abort = new AbortController();
  /** Wakes the replay loop when it waits for the spool. */
  private kick: AbortController | null = null;
  private readonly inFlightItems = new Set<Item>();
  private readonly spooledAtClose = new Set<Item>();
  private idleWaiters: (() => void)[] = [];
  private compressedWaiters: (() => void)[] = [];
  private replayDone: Promise<void> = Promise.resolve();
  private readonly holds = new HoldLedger();
  /** Batches neither the database nor the disk took. */
  private readonly memory = new MemoryKeep<LiveItem>();

  constructor(private readonly opts: WriterOptions) {
    this.batcher = new LineBatcher({ maxLines: opts.maxLines, maxBytes: opts.maxBytes, maxDelayMs: opts.flushIntervalMs }, (batch) => {
      void this.compress(batch).catch((err: Error) => this.lost(batch.lines, err));
    });
    opts.metrics.writerQueueLines.collect(() => this.batcher.pendingLines + this.queue.reduce((n, i) => n + i.lines, 0) + this.memory.lines);
    opts.metrics.writerQueueBytes.collect(() => this.queuedBytes + this.memory.bytes);
    opts.metrics.writerMemoryOnlyPoints.collect(() => this.memory.lines);
  }

  /**
   * Where batches the database does not take go: "disk" (the spool), or what is at risk and why
   * (memory only; points dropped beyond the memory bound, to be backfilled at the next start).
   */
  get durability(): string {
    return this.memory.state;
  }

  /** Gzipped bodies waiting in memory (for the database or the spool): the history import's mark. */
  get queueBytes(): number {
    return this.queuedBytes + this.memory.bytes;
  }

  /** Watermark holds whose lines are not all settled yet. */
  get heldHolds(): number {
    return this.holds.size;
  }

  /** Starts replaying what the spool holds. */
  start(): void {
    if (this.stopping) return;
    this.replayDone = this.replayLoop().catch((err: Error) => {
      this.opts.log.error({ err }, 'the spool replay stopped; spooled batches wait for the next start');
    });
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
    if (hold !== undefined) this.holds.add(hold, lines);
    this.batcher.push(lp, lines, hold);
  }

  /** Seals the batch being filled now instead of at the flush interval (an import's window end: it waits for its lines). */
  flush(): void {
    this.batcher.flush();
  }

  /**
   * Sends what is buffered and waits for every answer, up to `timeoutMs`; then spools whatever
   * is still unanswered. Resolves to the number of points spooled at the deadline. Callable at
   * any time after construction (a failed start), and more than once (same result).
   */
  close(timeoutMs: number): Promise<number> {
    this.closed ??= this.closeOnce(timeoutMs);
    return this.closed;
  }

  private async closeOnce(timeoutMs: number): Promise<number> {
    this.stopping = true;
    this.kick?.abort();
    this.batcher.flush();
    const answered = await this.within(this.idle(), timeoutMs);
    this.closing = true;
    this.abort.abort();
    this.kick?.abort();
    const spooled = answered ? 0 : await this.spoolUnanswered();
    // A replay probe may still wait for its answer (the database is away).
    if (answered && (await this.within(this.replayDone, CUT_GRACE_MS))) {
      await this.opts.client.close();
    } else {
      // Requests still out would hold the exit up to their own timeout: cut them. A replayed
      // record whose answer never comes stays in the spool (it is acknowledged only on an answer).
      await this.opts.client.destroy();
      await this.within(Promise.all([this.replayDone, this.idle()]), CUT_GRACE_MS);
    }
    await this.opts.spool.close();
    return spooled;
  }

  /** Past the deadline: what waits in memory or is still unanswered goes to the spool. */
  private async spoolUnanswered(): Promise<number> {
    let spooled = 0;
    await this.untilCompressed();
    for (const item of [...this.queue.splice(0), ...this.memoryItems()]) {
      this.queuedBytes -= item.inMemory ? 0 : item.body.length;
      if (await this.spoolAtClose(item)) {
        this.holds.settle(item.holds);
        spooled += item.lines;
      }
    }
    // Requests still unanswered: spooled as well; if one succeeds after all, the rewrite is harmless.
    for (const item of [...this.inFlightItems].filter((i) => i.record === undefined && i.part === undefined)) {
      this.spooledAtClose.add(item);
      if (await this.spoolAtClose(item)) spooled += item.lines;
    }
    if (spooled > 0)
      this.opts.log.warn(
        { points: spooled },
        `shutdown deadline passed: ${spooled} points not yet acknowledged were spooled; they are replayed at the next start`,
      );
    this.checkIdle();
    return spooled;
  }

  private memoryItems(): LiveItem[] {
    const out: LiveItem[] = [];
    for (let item = this.memory.take(); item !== undefined; item = this.memory.take()) out.push(item);
    return out;
  }

  /** At close a batch the disk refuses is lost with its holds kept: the next start backfills it. */
  private async spoolAtClose(item: Item): Promise<boolean> {
    try {
      await this.opts.spool.append(item.body, item.lines, item.gzipped);
      return true;
    } catch (err) {
      this.lost(item.lines, err as Error);
      return false;
    }
  }

  /** Whether `p` settled within `ms` (the timer is cleared either way). */
  private async within(p: Promise<unknown>, ms: number): Promise<boolean> {
    const timer = new AbortController();
    const expired = sleep(ms, false, { signal: timer.signal }).catch(() => false);
    const settled = await Promise.race([
      p.then(
        () => true,
        () => true,
      ),
      expired,
    ]);
    timer.abort();
    return settled;
  }

  /** Waits `ms`, or less if the writer closes meanwhile. */
  private async pause(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.abort.signal }).catch(() => {});
  }

  private idle(): Promise<void> {
    return new Promise((resolve) => {
      if (this.isIdle()) resolve();
      else this.idleWaiters.push(resolve);
    });
  }

  private isIdle(): boolean {
    return this.batcher.pendingLines === 0 && this.queue.length === 0 && this.liveInFlight === 0 && this.compressing === 0 && this.memory.size === 0;
  }

  private checkIdle(): void {
    if (!this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private untilCompressed(): Promise<void> {
    if (this.compressing === 0) return Promise.resolve();
    return new Promise((resolve) => this.compressedWaiters.push(resolve));
  }

  /** A batch that could be neither written nor spooled: its holds stay held (see the header). */
  private lost(lines: number, err: Error): void {
    this.opts.log.error(
      { points: lines, err },
      'a batch could not be put in the spool (disk full or unwritable?): it is lost; the watermark stays before it, so the next start backfills it',
    );
    this.opts.metrics.writerDroppedPoints.inc(lines, { reason: 'spool_failed' });
    this.checkIdle();
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
      if (--this.compressing === 0) for (const w of this.compressedWaiters.splice(0)) w();
    }
    const item: LiveItem = { body, lines: batch.lines, gzipped, holds: batch.holds };
    if (this.queuedBytes + this.memory.bytes + body.length > this.opts.maxQueueBytes || this.closing) {
      // The database is away or slow: past the memory bound, batches wait on disk instead.
      if ((await this.spoolOrKeepInMemory(item)) !== 'inMemory') this.holds.settle(item.holds);
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
      void this.deliverLive(item);
    }
  }

  /** A live batch to its end: delivered, or spooled when delivering failed; then its holds settle. */
  private async deliverLive(item: LiveItem): Promise<void> {
    let outcome: Outcome;
    try {
      outcome = await this.deliver(item);
    } catch (err) {
      this.opts.log.error({ err }, 'writer failed to settle a batch; spooling it');
      outcome = await this.spoolOrKeepInMemory(item);
    }
    this.liveInFlight--;
    this.queuedBytes -= item.body.length;
    // A batch in memory (or dropped beyond the bound) keeps its holds: the watermark stays before it.
    if (outcome !== 'inMemory') this.holds.settle(item.holds);
    this.pump();
    this.checkIdle();
  }

  /**
   * The spool, or when the disk refuses (full, read-only), memory within the bound; beyond the
   * bound the batch is dropped with its holds kept (memory-keep.ts).
   */
  private async spoolOrKeepInMemory(item: LiveItem): Promise<Outcome> {
    try {
      await this.spoolItem(item);
      this.memory.diskWorks();
      return 'kept';
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const cause = e.code ?? e.message;
      const room = this.opts.maxQueueBytes - this.queuedBytes - this.memory.bytes;
      const wasDisk = this.memory.cause === null;
      if (this.memory.keep({ ...item, inMemory: true }, room, cause)) {
        if (wasDisk)
          this.opts.log.error(
            { err, points: item.lines },
            'the spool cannot write and the database does not take the batch: batches wait in memory (bounded) and are tried again; the watermark stays before them',
          );
      } else {
        this.opts.metrics.writerDroppedPoints.inc(item.lines, { reason: 'no_disk_no_database' });
        this.opts.log.error(
          { err, points: item.lines, droppedPoints: this.memory.droppedPoints },
          'neither the database, the spool nor memory can take this batch: dropped; the watermark stays before it, so the next start backfills it from HA history',
        );
      }
      return 'inMemory';
    }
  }

  /**
   * Replays what waits in memory (it is at risk), then the spool oldest first, one batch at a time,
   * backing off while the database refuses.
   */
  private async replayLoop(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      const inMemory = this.memory.take();
      const record = inMemory === undefined && this.opts.spool.hasPending ? await this.opts.spool.next() : null;
      if (inMemory === undefined && record === null) {
        await this.waitForSpool();
        continue;
      }
      const outcome = inMemory !== undefined ? await this.retryInMemory(inMemory) : await this.replay(record as SpoolRecord);
      if (outcome === 'kept' || outcome === 'respooled' || outcome === 'inMemory') {
        failures++;
        // Probe at least every 10 s, so that a database that is back is noticed soon.
        await this.pause(backoffDelay(failures, this.opts.retryBaseMs, Math.min(this.opts.retryMaxMs, MAX_PROBE_INTERVAL_MS)));
      } else {
        failures = 0;
      }
    }
  }

  private async waitForSpool(): Promise<void> {
    const kick = new AbortController();
    this.kick = kick;
    if (!this.stopping) await sleep(REPLAY_IDLE_MS, undefined, { signal: kick.signal }).catch(() => {});
    this.kick = null;
  }

  private async replay(record: SpoolRecord): Promise<Outcome> {
    this.replayInFlight++;
    const outcome = await this.deliver({ body: record.body, lines: record.lines, gzipped: record.gzipped, record }).catch(() => 'kept' as const);
    this.replayInFlight--;
    this.pump();
    if (outcome === 'kept') this.opts.spool.retryLater(record);
    else await this.opts.spool.ack(record);
    return outcome;
  }

  /** A batch waiting in memory: the database first, else the spool, else back to memory. */
  private async retryInMemory(item: LiveItem): Promise<Outcome> {
    this.replayInFlight++;
    const outcome = await this.deliver(item).catch(() => this.spoolOrKeepInMemory(item));
    this.replayInFlight--;
    this.pump();
    if (outcome !== 'inMemory') this.holds.settle(item.holds);
    this.checkIdle();
    return outcome;
  }

  /** Sends one item until it is written, kept (spooled, or left in the spool) or settled otherwise. */
  private async deliver(item: Item): Promise<Outcome> {
    // While the database is away, live batches queue behind what waits (only the replay probes).
    const waiting = this.opts.spool.hasPending || this.memory.size > 0;
    if (this.down && item.record === undefined && item.part === undefined && !item.inMemory && waiting) return this.keep(item);
    this.inFlightItems.add(item);
    try {
      for (let attempt = 0; ; attempt++) {
        // Past the shutdown deadline a batch is not tried again: it waits in the spool.
        if (this.closing && attempt > 0) return await this.keep(item);
        const res = await this.send(item);
        const decision = decide(res.status, res.retryAfter, item.lines, res.verdict);
        this.lastWrite = { ok: decision.action === 'success', status: res.status ?? 'error', message: res.message, at: Date.now() };
        if (decision.action !== 'retry') return await this.execute(item, decision, res);
        if (!this.mayRetry(item, attempt)) {
          // A replayed record that still fails is a probe of a database known to be away: quiet.
          this.opts.log[item.record === undefined ? 'warn' : 'debug'](
            { status: res.status, server: res.message, points: item.lines },
            'write failed; the batch is kept in the spool',
          );
          return await this.keep(item);
        }
        const delay = decision.afterMs ?? backoffDelay(attempt, this.opts.retryBaseMs, this.opts.retryMaxMs);
        this.opts.metrics.writeRetries.inc();
        this.opts.log.warn({ status: res.status, server: res.message, retryInMs: delay, attempt: attempt + 1 }, 'write failed; retrying');
        await this.pause(delay);
      }
    } finally {
      this.inFlightItems.delete(item);
    }
  }

  /** One request, measured. */
  private async send(item: Item): Promise<WriteResponse> {
    const { client, metrics } = this.opts;
    const started = performance.now();
    const res = await client.write(item.body, item.gzipped);
    metrics.writeDuration.set((performance.now() - started) / 1000);
    metrics.writeRequests.inc(1, { status: res.status === undefined ? 'error' : String(res.status) });
    metrics.writeBytes.inc(item.body.length);
    return res;
  }

  /** A live batch is retried in place a few times; a replayed or waiting one, or anything at close, is not. */
  private mayRetry(item: Item, attempt: number): boolean {
    return !this.closing && item.record === undefined && !item.inMemory && attempt + 1 < this.opts.retriesBeforeSpool;
  }

  /** Carries out every decision but retry. */
  private async execute(item: Item, decision: Settling, res: WriteResponse): Promise<Outcome> {
    const status = res.status as number;
    switch (decision.action) {
      case 'success':
        return this.written(item);
      case 'split':
      case 'isolate':
        return this.split(item, status, res.message);
      case 'deadLetter':
        return this.deadLetter(item, status, res.message);
      case 'keep':
        this.refused(item, status, res.message, decision.cause);
        return this.keep(item);
    }
  }

  /** Why a kept batch was kept, for the log (the server's own words follow in `server`). */
  private static readonly KEEP_REASONS: Record<KeepCause, string> = {
    config: 'the database refused our credentials or target (check INFLUX_TOKEN, INFLUX_ORG/BUCKET or INFLUX_DB); the batch is kept in the spool',
    refused: 'the database refused the write; the batch is kept in the spool',
    unacknowledged:
      'the answer is not a database acknowledgement (only 204 is: a proxy, a portal or a redirect answered?): the points are not counted as written; the batch is kept in the spool and sent again',
    'not-database':
      'the request was refused by something that does not speak for the database (no database error naming bad lines: a proxy?); an outage, not bad data: the batch is kept in the spool and sent again',
  };

  private written(item: Item): Outcome {
    if (this.down) {
      this.down = false;
      this.opts.log.info({ spooledPoints: this.opts.spool.lines }, 'the database answers again; the spool is being replayed');
    }
    this.problem = null;
    // Nothing waits in memory any more: nothing is at risk, whatever the disk does.
    if (this.memory.size === 0) this.memory.diskWorks();
    this.opts.metrics.pointsWritten.inc(item.lines);
    return 'written';
  }

  private refused(item: Item, status: number, message: string, cause: KeepCause): void {
    this.problem = { status, message };
    this.opts.metrics.writeOutages.inc(1, { cause });
    // A replayed record refused again is a probe of a database known to be away: quiet.
    this.opts.log[item.record === undefined && item.part === undefined ? 'error' : 'debug'](
      { status, server: message, points: item.lines },
      Writer.KEEP_REASONS[cause],
    );
  }

  /**
   * Live items go to the spool (or memory, when the disk refuses); a replayed record stays where it
   * is; a part's lines go back to the batch it was split from.
   */
  private async keep(item: Item): Promise<Outcome> {
    if (!this.down && !this.closing) {
      this.down = true;
      this.opts.log.warn('the database is not taking writes: batches go to the spool until it answers (see docs/reliability.md)');
    }
    if (item.part !== undefined) {
      item.part.kept.push(...item.part.lines);
      return 'kept';
    }
    if (item.record !== undefined || this.spooledAtClose.has(item)) return 'kept';
    return this.spoolOrKeepInMemory(item as LiveItem);
  }

  private async spoolItem(item: Item): Promise<void> {
    await this.opts.spool.append(item.body, item.lines, item.gzipped);
    this.kick?.abort();
  }

  /**
   * Splits a batch in two at a line boundary and delivers both halves. Once a part is kept, the
   * rest is not sent: every line not settled is kept together as one batch (see the header).
   */
  private async split(item: Item, status: number, message: string): Promise<Outcome> {
    const { metrics, log } = this.opts;
    metrics.splitBatches.inc(1, { status: String(status) });
    const dropped = status === 400 ? droppedInPartialWrite(message) : undefined;
    log[item.part === undefined ? 'warn' : 'debug'](
      { status, points: item.lines, reportedBad: dropped, server: message },
      status === 413 ? 'batch too large; splitting it' : 'the database refused some lines; isolating them',
    );
    const lines = await this.linesOf(item);
    const half = Math.ceil(lines.length / 2);
    const kept: string[] = [];
    for (const part of [lines.slice(0, half), lines.slice(half)]) {
      if (kept.length > 0) kept.push(...part);
      else await this.deliver({ body: await this.bodyOf(part, item.gzipped), lines: part.length, gzipped: item.gzipped, part: { lines: part, kept } });
    }
    if (kept.length === 0) return 'settled';
    return this.keepRest(item, kept);
  }

  /** What a split could not settle, kept the way its batch is kept. */
  private async keepRest(item: Item, kept: string[]): Promise<Outcome> {
    if (item.part !== undefined) {
      item.part.kept.push(...kept);
      return 'kept';
    }
    const rest: Item = { body: await this.bodyOf(kept, item.gzipped), lines: kept.length, gzipped: item.gzipped, holds: item.holds };
    if (item.record === undefined) return this.spoolOrKeepInMemory(rest as LiveItem);
    // A replayed record: its rest goes to the spool anew and the record is acknowledged; when the
    // disk refuses, the record stays (its written lines are written again later: same points).
    try {
      await this.spoolItem(rest);
      return 'respooled';
    } catch {
      return 'kept';
    }
  }

  private async linesOf(item: Item): Promise<string[]> {
    const raw = item.gzipped ? await gunzipAsync(item.body) : item.body;
    return splitLines(raw);
  }

  private async bodyOf(lines: readonly string[], gzipped: boolean): Promise<Buffer> {
    const text = Buffer.from(`${lines.join('\n')}\n`);
    return gzipped ? gzipAsync(text, { level: this.opts.gzipLevel }) : text;
  }

  private async deadLetter(item: Item, status: number, message: string): Promise<Outcome> {
    const raw = item.gzipped ? await gunzipAsync(item.body) : item.body;
    const line = raw.toString('utf8').replace(/\n$/, '');
    await this.opts.deadLetters.add(line, status, message);
    this.opts.metrics.deadLetterPoints.inc(1);
    this.opts.metrics.pointsRejected.inc(1, { status: String(status) });
    this.opts.log.error(
      { status, server: message, line: line.slice(0, 500), file: this.opts.deadLetters.path },
      'the database refused a point; it is kept in the dead-letter file',
    );
    return 'settled';
  }
}
