/**
 * Answers that are not the database's (issue 10, items 2–5): a page instead of 204, a proxy's
 * 400/413, a body that never ends, and a disk that refuses while the database is away. Real HTTP
 * (undici against a local server), the real spool.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { batchSpoolMetrics, createMetrics } from '../../src/metrics.js';
import { Watermark } from '../../src/pipeline/watermark.js';
import { answerVerdict, createHttpWriteClient, influxWriteTarget, type WriteClient, type WriteResponse } from '../../src/sinks/influx.js';
import { DeadLetters } from '../../src/writer/dead-letter.js';
import { replayDeadLetters } from '../../src/writer/dead-letter-replay.js';
import { Spool } from '../../src/writer/spool.js';
import { Writer } from '../../src/writer/writer.js';
import { FakeInflux, type Received, type Reply } from '../helpers/fake-influx.js';
import { until } from '../helpers/ports.js';

const log = pino({ level: 'silent' });
const lines = (from: number, n: number) => Array.from({ length: n }, (_, i) => `m,entity_id=e${from + i} value=${from + i} ${1_000_000 + from + i}`);
const chunk = (ls: string[]) => Buffer.from(ls.map((l) => `${l}\n`).join(''));
const NGINX_400 =
  '<html>\r\n<head><title>400 Bad Request</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';
const NGINX_413 = NGINX_400.replaceAll('400 Bad Request', '413 Request Entity Too Large');
const PORTAL = '<!DOCTYPE html><html><head><title>Sign in to the network</title></head><body>…</body></html>';

let dir = '';
const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
  rmSync(dir, { recursive: true, force: true });
});

async function fake(respond: (r: Received) => Reply): Promise<{ fake: FakeInflux; url: string }> {
  const f = new FakeInflux([], respond);
  const url = await f.start();
  stops.push(() => f.stop());
  return { fake: f, url };
}

function httpClient(url: string, timeoutMs = 2_000): WriteClient {
  return createHttpWriteClient(influxWriteTarget({ api: 'v1', url, db: 'ha', rp: undefined, username: undefined, password: undefined }), {
    connections: 2,
    timeoutMs,
  });
}

async function setup(client: WriteClient, opts: Partial<{ maxLines: number; maxQueueBytes: number }> = {}) {
  dir = mkdtempSync(join(tmpdir(), 'writer-outages-'));
  const metrics = createMetrics();
  const spool = new Spool(join(dir, 'spool'), 1 << 30, log, batchSpoolMetrics(metrics));
  await spool.open();
  const deadLetters = new DeadLetters(join(dir, 'dead-letter'));
  const writer = new Writer({
    client,
    spool,
    deadLetters,
    maxLines: opts.maxLines ?? 100,
    maxBytes: 1 << 20,
    flushIntervalMs: 5,
    gzipLevel: 1,
    concurrency: 2,
    maxQueueBytes: opts.maxQueueBytes ?? 1 << 20,
    retryBaseMs: 5,
    retryMaxMs: 50,
    retriesBeforeSpool: 2,
    log,
    metrics,
  });
  writer.start();
  return { writer, metrics, deadLetters, spool };
}

/** The gauge as /metrics would show it (computed when read). */
function inMemory(metrics: ReturnType<typeof createMetrics>): number {
  metrics.writerMemoryOnlyPoints.render();
  return metrics.writerMemoryOnlyPoints.get();
}

/** Lines the fake database acknowledged with 204. */
const acknowledged = (received: Received[], ok: (r: Received) => boolean) => received.filter(ok).flatMap((r) => r.lines);

describe('answerVerdict: only the database speaks for the lines', () => {
  it.each([
    [204, '', '', 'ack'],
    [200, 'text/html', PORTAL, 'other'],
    [200, '', '', 'other'],
    [302, 'text/html', '', 'other'],
    [400, 'text/html', NGINX_400, 'other'],
    [413, 'text/html', NGINX_413, 'other'],
    [400, 'application/json', '{"error":"unable to parse \'m v=\': missing field value"}', 'lines'],
    [
      400,
      'application/json',
      '{"error":"partial write: field type conflict: input field \\"v\\" on measurement \\"m\\" is type float, already exists as type string dropped=1"}',
      'lines',
    ],
    [400, 'application/json', '{"code":"invalid","message":"unable to parse \'m v=\': missing field value"}', 'lines'],
    [
      422,
      'application/json',
      '{"code":"unprocessable entity","message":"failure writing points to database: partial write: field type conflict dropped=1"}',
      'lines',
    ],
    [400, 'application/json', '{"error":"bad request"}', 'other'],
    [400, 'text/plain', 'unable to parse', 'other'],
    [500, 'application/json', '{"error":"unable to parse"}', 'other'],
  ] as const)('%s %s %j → %s', (status, type, body, verdict) => {
    expect(answerVerdict(status, type, body)).toBe(verdict);
  });
});

describe('answers that are not an acknowledgement', () => {
  it('200 with a page for a while: nothing counted as written until a 204; kept, then all arrives; the reason on the writer', async () => {
    let portal = true;
    const { fake: f, url } = await fake(() => (portal ? { status: 200, body: PORTAL, headers: { 'content-type': 'text/html' } } : { status: 204 }));
    const { writer, metrics, deadLetters } = await setup(httpClient(url));
    writer.accept(chunk(lines(0, 300)), 300);
    await until('kept', () => (metrics.spooledPoints.get() === 300 ? true : undefined), 5_000);
    expect(metrics.pointsWritten.get()).toBe(0);
    expect(writer.problem).toMatchObject({ status: 200, message: expect.stringContaining('not a database acknowledgement') });
    expect(writer.problem?.message).toContain('Sign in to the network');
    expect(metrics.writeOutages.get({ cause: 'unacknowledged' })).toBeGreaterThan(0);
    portal = false;
    await until('written', () => (metrics.pointsWritten.get() === 300 ? true : undefined), 15_000);
    await writer.close(1_000);
    expect(new Set(acknowledged(f.received, () => !portal))).toEqual(new Set(lines(0, 300)));
    expect(metrics.pointsWritten.get()).toBe(300);
    expect(writer.problem).toBeNull();
    expect(existsSync(deadLetters.path)).toBe(false);
  });

  it('a redirect is not a write either', async () => {
    let redirect = true;
    const { url } = await fake(() => (redirect ? { status: 302, headers: { location: 'https://user:hunter2@login.example/' } } : { status: 204 }));
    const { writer, metrics } = await setup(httpClient(url));
    writer.accept(chunk(lines(0, 10)), 10);
    await until('kept', () => (metrics.spooledPoints.get() === 10 ? true : undefined), 5_000);
    expect(writer.problem?.message).toContain('a redirect to https://login.example/');
    expect(writer.problem?.message).not.toContain('hunter2');
    expect(metrics.pointsWritten.get()).toBe(0);
    redirect = false;
    await until('written', () => (metrics.pointsWritten.get() === 10 ? true : undefined), 15_000);
    await writer.close(1_000);
  });

  it("a proxy's 400 page for a while: nothing dead-lettered, a few requests per batch, then everything written", async () => {
    let proxy = true;
    const { fake: f, url } = await fake(() => (proxy ? { status: 400, body: NGINX_400, headers: { 'content-type': 'text/html' } } : { status: 204 }));
    const { writer, metrics, deadLetters } = await setup(httpClient(url));
    writer.accept(chunk(lines(0, 500)), 500);
    await until('kept', () => (metrics.spooledPoints.get() === 500 ? true : undefined), 5_000);
    expect(f.received.length).toBeLessThanOrEqual(5 * 2); // not bisected down to lines
    expect(writer.problem).toMatchObject({ status: 400, message: expect.stringContaining('an HTML page ("400 Bad Request")') });
    proxy = false;
    await until('written', () => (metrics.pointsWritten.get() === 500 ? true : undefined), 15_000);
    await writer.close(1_000);
    expect(metrics.deadLetterPoints.get()).toBe(0);
    expect(existsSync(deadLetters.path)).toBe(false);
  });

  it('413 for every request, down to a single line: nothing dead-lettered, everything kept, requests bounded by the bisection depth', async () => {
    const { fake: f, url } = await fake(() => ({ status: 413, body: NGINX_413, headers: { 'content-type': 'text/html' } }));
    const { writer, metrics, deadLetters, spool } = await setup(httpClient(url), { maxLines: 256 });
    writer.accept(chunk(lines(0, 256)), 256);
    await until('kept', () => (spool.lines >= 256 || metrics.spooledPoints.get() >= 256 ? true : undefined), 5_000);
    // One path down to a single line per attempt (9 requests for 256 lines; the spool's replay may
    // have probed again meanwhile), not a bisection of every line (511 requests).
    expect(f.received.length).toBeLessThan(50);
    expect(metrics.deadLetterPoints.get()).toBe(0);
    expect(existsSync(deadLetters.path)).toBe(false);
    expect(writer.problem).toMatchObject({ status: 413 });
    expect(metrics.pointsWritten.get()).toBe(0);
    await writer.close(200);
  });

  it('a real bad line (the database names it) is still isolated and dead-lettered; the others written', async () => {
    const bad = (l: string) => l.includes('value="x"');
    const { url } = await fake((r) =>
      r.lines.some(bad)
        ? {
            status: 400,
            body: '{"error":"partial write: field type conflict: input field \\"value\\" on measurement \\"m\\" is type string, already exists as type float dropped=1"}',
            headers: { 'content-type': 'application/json', 'x-influxdb-version': '1.6.7' },
          }
        : { status: 204 },
    );
    const { writer, metrics, deadLetters } = await setup(httpClient(url));
    const all = lines(0, 40);
    all[7] = 'm,entity_id=e7 value="x" 1000007';
    writer.accept(chunk(all), 40);
    await writer.close(5_000);
    expect(metrics.pointsWritten.get()).toBe(39);
    expect(metrics.deadLetterPoints.get()).toBe(1);
    expect(JSON.parse(readFileSync(deadLetters.path, 'utf8')).line).toBe(all[7]);
  });
});

describe('a response body that never ends', () => {
  it('is cut at 64 KiB: the slots are free again, the batch is retried and written; memory does not grow', async () => {
    let endless = true;
    let open = 0;
    const server: Server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (!endless) {
          res.writeHead(204).end();
          return;
        }
        open++;
        res.writeHead(200, { 'content-type': 'text/html' });
        const page = Buffer.alloc(64 * 1024, '<p>');
        const pump = (): void => {
          while (res.write(page)) {}
          res.once('drain', pump);
        };
        res.on('close', () => open--);
        pump();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    stops.push(async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    });
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const { writer, metrics } = await setup(httpClient(url, 60_000));
    const rssBefore = process.memoryUsage().rss;
    for (let i = 0; i < 5; i++) writer.accept(chunk(lines(i * 100, 100)), 100);
    await until('kept', () => (metrics.spooledPoints.get() === 500 ? true : undefined), 10_000);
    // Every request was cut well before the 60 s deadline, and its connection closed.
    await until('connections closed', () => (open === 0 ? true : undefined), 5_000);
    expect(writer.lastWrite).toMatchObject({ ok: false, status: 200 });
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(100 * 1024 * 1024);
    endless = false;
    await until('written', () => (metrics.pointsWritten.get() === 500 ? true : undefined), 15_000);
    await writer.close(1_000);
  });

  it('a body that trickles forever ends at the request deadline (no answer: retried)', async () => {
    const server: Server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        const timer = setInterval(() => res.write('.'), 50);
        res.on('close', () => clearInterval(timer));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    stops.push(async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    });
    const client = httpClient(`http://127.0.0.1:${(server.address() as { port: number }).port}`, 500);
    const started = Date.now();
    const res: WriteResponse = await client.write(chunk(lines(0, 1)), false);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(res).toMatchObject({ status: undefined, message: 'no complete answer within 500 ms' });
    await client.destroy();
  });
});

describe('neither the database nor the disk', () => {
  /** The database answers 503 until `up`; the spool's folder is removed, so appends fail. */
  async function brokenBoth(maxQueueBytes: number) {
    const state = { up: false };
    const client: WriteClient = {
      write: async (body) =>
        state.up ? { status: 204, message: '', retryAfter: undefined } : { status: 503, message: `down ${body.length}`, retryAfter: undefined },
      close: async () => {},
      destroy: async () => {},
    };
    const parts = await setup(client, { maxLines: 10, maxQueueBytes });
    rmSync(join(dir, 'spool'), { recursive: true });
    return { ...parts, state };
  }

  it('batches wait in memory with their holds (the watermark stays before them), /health says so, and are written when the database is back', async () => {
    const { writer, metrics, state } = await brokenBoth(1 << 20);
    const watermark = new Watermark(0);
    for (let b = 0; b < 5; b++) {
      const hold = watermark.hold();
      hold.noteHaTime(1_000 + b);
      writer.accept(chunk(lines(b * 10, 10)), 10, hold);
    }
    await until('in memory', () => (inMemory(metrics) === 50 ? true : undefined), 10_000);
    expect(writer.durability).toMatch(/^memory only: the spool cannot write \(ENOENT\); 50 points wait in memory/);
    expect(watermark.held).toBe(5);
    expect(watermark.value()).toBe(0);
    expect(metrics.writerDroppedPoints.total()).toBe(0);
    state.up = true;
    await until('written', () => (metrics.pointsWritten.get() === 50 ? true : undefined), 15_000);
    await until('released', () => (watermark.held === 0 ? true : undefined), 5_000);
    expect(watermark.value()).toBe(1_004);
    expect(inMemory(metrics)).toBe(0);
    await writer.close(1_000);
  });

  it('the disk comes back first: what waits in memory goes to the spool', async () => {
    const { writer, metrics } = await brokenBoth(1 << 20);
    const watermark = new Watermark(0);
    writer.accept(chunk(lines(0, 10)), 10, watermark.hold());
    await until('in memory', () => (inMemory(metrics) === 10 ? true : undefined), 10_000);
    mkdirSync(join(dir, 'spool'));
    await until('spooled', () => (metrics.spooledPoints.get() === 10 ? true : undefined), 15_000);
    await until('released', () => (watermark.held === 0 ? true : undefined), 5_000);
    expect(writer.durability).toBe('disk');
    await writer.close(200);
  });

  it('beyond the memory bound: dropped with an exact count, their holds kept for the next start’s backfill', async () => {
    const { writer, metrics } = await brokenBoth(600); // room for about two gzipped batches
    const watermark = new Watermark(0);
    for (let b = 0; b < 10; b++) {
      const hold = watermark.hold();
      hold.noteHaTime(1_000 + b);
      writer.accept(chunk(lines(b * 10, 10)), 10, hold);
    }
    await until('all settled somewhere', () => (inMemory(metrics) + metrics.writerDroppedPoints.total() === 100 ? true : undefined), 10_000);
    const dropped = metrics.writerDroppedPoints.get({ reason: 'no_disk_no_database' });
    expect(dropped).toBeGreaterThan(0);
    expect(dropped % 10).toBe(0);
    expect(writer.durability).toContain(`${dropped} points dropped beyond the memory bound`);
    expect(watermark.held).toBe(10);
    expect(watermark.value()).toBe(0);
    await writer.close(100);
  });
});

describe('replayDeadLetters', () => {
  it('writes what the database takes now, keeps what it refuses again, and a second run sends nothing twice', async () => {
    const refuse = (l: string) => l.includes('still_bad');
    const { fake: f, url } = await fake((r) =>
      r.lines.some(refuse)
        ? {
            status: 400,
            body: '{"error":"partial write: field type conflict: input field \\"v\\" dropped=1"}',
            headers: { 'content-type': 'application/json' },
          }
        : { status: 204 },
    );
    dir = mkdtempSync(join(tmpdir(), 'replay-'));
    const letters = ['m,e=a v=1 1', 'm,e=b v=2 2', 'm,e=still_bad v=3 3'];
    writeFileSync(join(dir, 'dead-letter.jsonl'), letters.map((line) => `${JSON.stringify({ at: 'x', status: 400, error: 'old', line })}\n`).join(''));
    const first = await replayDeadLetters({ dir, client: httpClient(url), log });
    expect(first).toEqual({ letters: 3, written: 2, refused: 1, kept: 0 });
    expect(new Set(acknowledged(f.received, (r) => !r.lines.some(refuse)))).toEqual(new Set(letters.slice(0, 2)));
    const left = readFileSync(join(dir, 'dead-letter.jsonl'), 'utf8').trim().split('\n');
    expect(left.map((l) => JSON.parse(l).line)).toEqual(['m,e=still_bad v=3 3']);
    expect(existsSync(join(dir, 'dead-letter.replaying.jsonl'))).toBe(false);
    const before = f.received.length;
    const second = await replayDeadLetters({ dir, client: httpClient(url), log });
    expect(second).toEqual({ letters: 1, written: 0, refused: 1, kept: 0 });
    expect(f.received.slice(before).flatMap((r) => r.lines)).toEqual(['m,e=still_bad v=3 3']);
  });

  it('with the database away: nothing written, every letter back in the file unchanged', async () => {
    const { url } = await fake(() => ({ status: 400, body: NGINX_400, headers: { 'content-type': 'text/html' } }));
    dir = mkdtempSync(join(tmpdir(), 'replay-'));
    const entries = ['m v=1 1', 'm v=2 2'].map((line) => JSON.stringify({ at: 'then', status: 400, error: 'why', line }));
    writeFileSync(join(dir, 'dead-letter.jsonl'), entries.map((e) => `${e}\n`).join(''));
    const result = await replayDeadLetters({ dir, client: httpClient(url), log });
    expect(result).toEqual({ letters: 2, written: 0, refused: 0, kept: 2 });
    expect(readFileSync(join(dir, 'dead-letter.jsonl'), 'utf8').trim().split('\n').sort()).toEqual(entries.sort());
  });
});
