import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { batchSpoolMetrics, createMetrics, type Metrics } from '../../src/metrics.js';
import { type Hold, Watermark } from '../../src/pipeline/watermark.js';
import type { WriteClient, WriteResponse } from '../../src/sinks/influx.js';
import { DeadLetters } from '../../src/writer/dead-letter.js';
import { Spool } from '../../src/writer/spool.js';
import { Writer } from '../../src/writer/writer.js';
import { until } from '../helpers/ports.js';

const log = pino({ level: 'silent' });
const ok: WriteResponse = { status: 204, message: '', retryAfter: undefined };
const answer = (status: number | undefined, retryAfter?: string): WriteResponse => ({ status, message: `status ${status}`, retryAfter });

/** A database in memory: `respond` decides each request's answer from its lines. */
class FakeClient implements WriteClient {
  readonly requests: string[][] = [];
  readonly written: string[] = [];
  closed = false;
  constructor(private readonly respond: (lines: string[], n: number) => WriteResponse | Promise<WriteResponse>) {}
  async write(body: Buffer): Promise<WriteResponse> {
    const lines = body
      .toString('utf8')
      .split('\n')
      .filter((l) => l !== '');
    this.requests.push(lines);
    const res = await this.respond(lines, this.requests.length);
    if (res.status !== undefined && res.status < 300) this.written.push(...lines);
    return res;
  }
  async close(): Promise<void> {
    this.closed = true;
  }
  async destroy(): Promise<void> {
    this.closed = true;
  }
}

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'writer-holds-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function setup(client: FakeClient, opts: Partial<{ maxLines: number; retriesBeforeSpool: number; maxQueueBytes: number }> = {}) {
  const metrics: Metrics = createMetrics();
  const spool = new Spool(join(dir, 'spool'), 1 << 30, log, batchSpoolMetrics(metrics));
  await spool.open();
  const deadLetters = new DeadLetters(join(dir, 'dead-letter'));
  const writer = new Writer({
    client,
    spool,
    deadLetters,
    maxLines: opts.maxLines ?? 10,
    maxBytes: 1 << 20,
    flushIntervalMs: 5,
    gzipLevel: 0,
    concurrency: 2,
    maxQueueBytes: opts.maxQueueBytes ?? 1 << 20,
    retryBaseMs: 1,
    retryMaxMs: 5,
    retriesBeforeSpool: opts.retriesBeforeSpool ?? 3,
    log,
    metrics,
  });
  return { writer, spool, deadLetters, metrics };
}

/** Lines of the spool left on disk (read by a new Spool, as the next start would). */
async function spooledLines(): Promise<string[]> {
  const again = new Spool(join(dir, 'spool'), 1 << 30, log, batchSpoolMetrics(createMetrics()));
  await again.open();
  const out: string[] = [];
  for (let r = await again.next(); r !== null; r = await again.next()) {
    out.push(
      ...r.body
        .toString('utf8')
        .split('\n')
        .filter((l) => l !== ''),
    );
    await again.ack(r);
  }
  await again.close();
  return out;
}

/** A hold that counts its releases (the real one throws on a second). */
function counted(hold: Hold, releases: Map<number, number>): Hold {
  return {
    seq: hold.seq,
    arrivedAtMs: hold.arrivedAtMs,
    noteHaTime: (ms) => hold.noteHaTime(ms),
    share: () => hold.share(),
    release: () => {
      releases.set(hold.seq, (releases.get(hold.seq) ?? 0) + 1);
      hold.release();
    },
  };
}

const chunkOf = (lines: string[]) => Buffer.from(lines.map((l) => `${l}\n`).join(''));

describe('Writer outcomes and watermark holds', () => {
  it('every batch ends written, spooled or dead-lettered, and every hold is released exactly once', async () => {
    // Bad lines are refused one by one (400); lines of an entity the database keeps failing on
    // (503) end in the spool; the rest is written.
    const client = new FakeClient((lines) => {
      if (lines.some((l) => l.includes('bad'))) return answer(400);
      if (lines.some((l) => l.includes('flaky'))) return answer(503);
      return ok;
    });
    const { writer, deadLetters } = await setup(client, { maxLines: 7, retriesBeforeSpool: 2 });
    writer.start();
    const watermark = new Watermark(0);
    const releases = new Map<number, number>();
    const all: string[] = [];
    for (let b = 0; b < 20; b++) {
      const kind = b % 7 === 3 ? 'bad' : b % 9 === 5 ? 'flaky' : 'good';
      const lines = Array.from({ length: 1 + (b % 5) }, (_, i) => `m,e=${kind}${b}_${i} v=${i} ${b * 10 + i}`);
      all.push(...lines);
      const hold = watermark.hold();
      hold.noteHaTime(1_000 + b);
      writer.accept(chunkOf(lines), lines.length, counted(hold, releases));
    }
    expect(await writer.close(10_000)).toBe(0);
    const dead = existsSync(deadLetters.path)
      ? readFileSync(deadLetters.path, 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l).line as string)
      : [];
    const spooled = await spooledLines();
    expect(dead.length).toBeGreaterThan(0);
    expect(spooled.length).toBeGreaterThan(0);
    expect(new Set([...client.written, ...spooled, ...dead])).toEqual(new Set(all));
    expect(dead.every((l) => l.includes('bad'))).toBe(true);
    expect(watermark.held).toBe(0);
    expect(writer.heldHolds).toBe(0);
    expect([...releases.values()].every((n) => n === 1)).toBe(true);
    expect(releases.size).toBe(20);
    expect(watermark.value()).toBe(1_019);
  });

  it('a hold whose lines span two batches is released only after both are settled', async () => {
    let openSecond!: () => void;
    const second = new Promise<void>((resolve) => (openSecond = resolve));
    const client = new FakeClient(async (_lines, n) => {
      if (n === 2) await second;
      return ok;
    });
    const { writer } = await setup(client, { maxLines: 5 });
    writer.start();
    const watermark = new Watermark(0);
    const hold = watermark.hold();
    hold.noteHaTime(500);
    const lines = Array.from({ length: 8 }, (_, i) => `m,e=a v=${i} ${i}`);
    writer.accept(chunkOf(lines), 8, hold);
    await until('both batches sent', () => (client.requests.length === 2 ? true : undefined), 5_000);
    await until('the first answered', () => (client.written.length >= 5 ? true : undefined), 5_000);
    expect(client.written).toHaveLength(5);
    expect(watermark.held).toBe(1);
    expect(watermark.value()).toBe(0);
    openSecond();
    await until('released', () => (watermark.held === 0 ? true : undefined), 5_000);
    expect(watermark.value()).toBe(500);
    await writer.close(1_000);
  });

  it('lines put in the spool are settled: their hold is released while the database is away', async () => {
    const client = new FakeClient(() => answer(undefined));
    const { writer, metrics } = await setup(client, { retriesBeforeSpool: 1 });
    writer.start();
    const watermark = new Watermark(0);
    const hold = watermark.hold();
    hold.noteHaTime(42);
    writer.accept(chunkOf(['m v=1 1', 'm v=2 2']), 2, hold);
    await until('spooled and released', () => (watermark.held === 0 ? true : undefined), 5_000);
    expect(metrics.spooledPoints.get()).toBe(2);
    expect(watermark.value()).toBe(42);
    await writer.close(200);
    expect(await spooledLines()).toEqual(['m v=1 1', 'm v=2 2']);
  });

  it('zero lines release the hold at once; lines without a hold are written as well', async () => {
    const client = new FakeClient(() => ok);
    const { writer } = await setup(client);
    writer.start();
    const watermark = new Watermark(0);
    writer.accept(new Uint8Array(0), 0, watermark.hold());
    expect(watermark.held).toBe(0);
    writer.accept(chunkOf(['weather t=1 1']), 1);
    await writer.close(1_000);
    expect(client.written).toEqual(['weather t=1 1']);
  });

  it('a batch that can be neither written nor spooled keeps its hold: the watermark stops before it', async () => {
    const client = new FakeClient(() => ok);
    const { writer, metrics } = await setup(client, { maxQueueBytes: 0 }); // every batch goes to the spool
    rmSync(join(dir, 'spool'), { recursive: true }); // …which cannot write any more
    const watermark = new Watermark(0);
    const hold = watermark.hold();
    hold.noteHaTime(900);
    writer.accept(chunkOf(['m v=1 1']), 1, hold);
    await until('dropped', () => (metrics.writerDroppedPoints.get({ reason: 'no_disk_no_database' }) === 1 ? true : undefined), 5_000);
    expect(watermark.held).toBe(1);
    expect(watermark.value()).toBe(0);
    await writer.close(200);
  });
});

describe('Writer lifecycle', () => {
  it('close() right after construction, or right after start(), ends at once and closes the client', async () => {
    const c1 = new FakeClient(() => ok);
    const { writer: w1 } = await setup(c1);
    expect(await w1.close(5_000)).toBe(0);
    expect(c1.closed).toBe(true);
    const c2 = new FakeClient(() => ok);
    const { writer: w2 } = await setup(c2);
    w2.start();
    const started = Date.now();
    expect(await w2.close(5_000)).toBe(0);
    expect(await w2.close(5_000)).toBe(0); // twice: the same close
    expect(Date.now() - started).toBeLessThan(500);
    expect(c2.requests).toEqual([]);
  });

  it('a retry wait (Retry-After: 60) is cut at the shutdown deadline; the batch waits in the spool', async () => {
    const client = new FakeClient(() => answer(503, '60'));
    const { writer } = await setup(client, { retriesBeforeSpool: 10 });
    writer.start();
    const watermark = new Watermark(0);
    writer.accept(chunkOf(['m v=1 1']), 1, watermark.hold());
    await until('first attempt', () => (client.requests.length === 1 ? true : undefined), 5_000);
    const started = Date.now();
    expect(await writer.close(100)).toBe(1);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await spooledLines()).toEqual(['m v=1 1']);
    await until('released', () => (watermark.held === 0 ? true : undefined), 2_000);
  });

  it('close() is bounded when a replay probe never gets an answer (the database hangs)', async () => {
    const client = new FakeClient(() => new Promise<WriteResponse>(() => {}));
    const { writer, spool } = await setup(client);
    await spool.append(chunkOf(['m v=1 1']), 1, false); // left by an earlier run
    writer.start();
    await until('probe sent', () => (client.requests.length === 1 ? true : undefined), 5_000);
    const started = Date.now();
    expect(await writer.close(5_000)).toBe(0);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(await spooledLines()).toEqual(['m v=1 1']); // never acknowledged: still there
  });
});
