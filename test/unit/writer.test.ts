import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { batchSpoolMetrics, createMetrics } from '../../src/metrics.js';
import { DeadLetters } from '../../src/writer/dead-letter.js';
import { Spool } from '../../src/writer/spool.js';
import { createHttpWriteClient, influxWriteTarget } from '../../src/sinks/influx.js';
import { Writer } from '../../src/writer/writer.js';
import { FakeInflux, type Received, type Reply } from '../helpers/fake-influx.js';
import { capturingLogger } from '../helpers/log.js';
import { until } from '../helpers/ports.js';

const lines = (from: number, n: number) => Array.from({ length: n }, (_, i) => `m,entity_id=e${from + i} value=${from + i} ${1_000_000 + from + i}`);
const chunk = (ls: string[]) => Buffer.from(ls.map((l) => `${l}\n`).join(''));

let fake: FakeInflux;
let dir = '';
afterEach(async () => {
  await fake?.stop();
  rmSync(dir, { recursive: true, force: true });
});

type Opts = Partial<{
  maxLines: number;
  gzipLevel: number;
  api: 'v1' | 'v2';
  retriesBeforeSpool: number;
  spoolMaxBytes: number;
  respond: (r: Received) => Reply;
}>;

async function setup(script: Reply[], opts: Opts = {}) {
  fake = new FakeInflux(script, opts.respond);
  const url = await fake.start();
  const { log, lines: logLines } = capturingLogger();
  const metrics = createMetrics();
  const influx =
    opts.api === 'v1'
      ? ({ api: 'v1', url, db: 'ha', rp: undefined, username: 'u', password: 'p' } as const)
      : ({ api: 'v2', url, token: 'secret-token', org: 'home', bucket: 'ha' } as const);
  dir = mkdtempSync(join(tmpdir(), 'writer-'));
  const spool = new Spool(join(dir, 'spool'), opts.spoolMaxBytes ?? 1 << 30, log, batchSpoolMetrics(metrics));
  await spool.open();
  const deadLetters = new DeadLetters(join(dir, 'dead-letter'));
  const writer = new Writer({
    client: createHttpWriteClient(influxWriteTarget(influx), { connections: 2, timeoutMs: 2000 }),
    spool,
    deadLetters,
    retriesBeforeSpool: opts.retriesBeforeSpool ?? 10,
    maxLines: opts.maxLines ?? 1000,
    maxBytes: 1 << 20,
    flushIntervalMs: 50,
    gzipLevel: opts.gzipLevel ?? 1,
    concurrency: 2,
    maxQueueBytes: 1 << 20,
    retryBaseMs: 10,
    retryMaxMs: 50,
    log,
    metrics,
  });
  writer.start();
  return { writer, metrics, logLines, spool, deadLetters };
}

describe('Writer', () => {
  it('sends gzip batches of at most maxLines to /api/v2/write with the token', async () => {
    const { writer, metrics } = await setup([], { maxLines: 400 });
    writer.accept(chunk(lines(0, 1000)), 1000);
    expect(await writer.close(5000)).toBe(0);
    expect(fake.received.map((r) => r.lines.length).sort()).toEqual([200, 400, 400]);
    expect(fake.received.flatMap((r) => r.lines).sort()).toEqual(lines(0, 1000).sort());
    const r = fake.received[0];
    expect(r?.path).toBe('/api/v2/write?org=home&bucket=ha&precision=ns');
    expect(r?.headers.authorization).toBe('Token secret-token');
    expect(r?.headers['content-encoding']).toBe('gzip');
    expect(metrics.pointsWritten.get()).toBe(1000);
    expect(metrics.writeRequests.get({ status: '204' })).toBe(3);
  });

  it('writes v1 with Basic auth, and uncompressed at GZIP_LEVEL=0', async () => {
    const { writer } = await setup([], { api: 'v1', gzipLevel: 0 });
    writer.accept(chunk(lines(0, 3)), 3);
    await writer.close(5000);
    expect(fake.received[0]?.path).toBe('/write?db=ha&precision=ns');
    expect(fake.received[0]?.headers.authorization).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
    expect(fake.received[0]?.headers['content-encoding']).toBeUndefined();
    expect(fake.received[0]?.lines).toEqual(lines(0, 3));
  });

  it('retries 5xx, 429 and dropped connections until the database takes the batch', async () => {
    const { writer, metrics } = await setup([{ status: 503, body: '{"message":"busy"}' }, { status: 500 }, { status: 429 }, { status: 0, hangUp: true }]);
    writer.accept(chunk(lines(0, 10)), 10);
    expect(await writer.close(10_000)).toBe(0);
    expect(fake.received).toHaveLength(5);
    for (const r of fake.received) expect(r.lines).toEqual(lines(0, 10));
    expect(metrics.pointsWritten.get()).toBe(10);
    expect(metrics.writeRetries.get()).toBe(4);
    expect(metrics.writeRequests.get({ status: 'error' })).toBe(1);
    expect(writer.lastWrite).toMatchObject({ ok: true, status: 204 });
  });

  it('honours Retry-After', async () => {
    const { writer, logLines } = await setup([{ status: 429, headers: { 'retry-after': '1' } }]);
    writer.accept(chunk(lines(0, 1)), 1);
    await writer.close(10_000);
    expect(fake.received).toHaveLength(2);
    expect(logLines.find((l) => l.msg === 'write failed; retrying')).toMatchObject({ status: 429, retryInMs: 1000 });
    expect((fake.received[1]?.at ?? 0) - (fake.received[0]?.at ?? 0)).toBeGreaterThanOrEqual(950);
  });

  it('isolates bad lines by bisection: every good line written, each bad one dead-lettered with the message', async () => {
    const bad = (l: string) => l.includes('value="bad"');
    const partial = (r: Received): Reply => {
      const n = r.lines.filter(bad).length;
      return n === 0
        ? { status: 204 }
        : {
            status: 400,
            body: JSON.stringify({
              error: `partial write: field type conflict: input field "value" on measurement "m" is type string, already exists as type float dropped=${n}`,
            }),
          };
    };
    const { writer, metrics, deadLetters } = await setup([], { api: 'v1', respond: partial });
    const all = lines(0, 100);
    all[17] = 'm,entity_id=e17 value="bad" 1000017';
    all[90] = 'm,entity_id=e90 value="bad" 1000090';
    writer.accept(chunk(all), 100);
    await writer.close(10_000);
    const written = new Set(fake.received.filter((r) => !r.lines.some(bad)).flatMap((r) => r.lines));
    expect([...written].sort()).toEqual(all.filter((l) => !bad(l)).sort());
    expect(metrics.pointsWritten.get()).toBe(98);
    expect(metrics.deadLetterPoints.get()).toBe(2);
    const letters = readFileSync(deadLetters.path, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(letters.map((l) => l.line).sort()).toEqual([all[17], all[90]].sort());
    expect(letters[0]).toMatchObject({ status: 400, error: expect.stringContaining('field type conflict') });
  });

  it('splits a batch the database finds too large (413) until it fits', async () => {
    const { writer, metrics } = await setup([], { respond: (r) => (r.lines.length > 30 ? { status: 413, body: 'too large' } : { status: 204 }) });
    writer.accept(chunk(lines(0, 100)), 100);
    await writer.close(10_000);
    expect(metrics.pointsWritten.get()).toBe(100);
    expect(metrics.splitBatches.get({ status: '413' })).toBeGreaterThanOrEqual(3);
    const written = fake.received.filter((r) => r.lines.length <= 30).flatMap((r) => r.lines);
    expect(written.sort()).toEqual(lines(0, 100).sort());
  });

  it('keeps the data of a rejected token in the spool, turns unhealthy, and writes it once the token works', async () => {
    let tokenWorks = false;
    const { writer, metrics, logLines } = await setup([], {
      respond: () => (tokenWorks ? { status: 204 } : { status: 401, body: '{"code":"unauthorized","message":"unauthorized access"}' }),
    });
    writer.accept(chunk(lines(0, 5)), 5);
    await until('spooled', () => (metrics.spooledPoints.get() === 5 ? true : undefined));
    expect(writer.problem).toEqual({ status: 401, message: 'unauthorized access' });
    expect(metrics.pointsWritten.get()).toBe(0);
    tokenWorks = true;
    await until('replayed', () => (metrics.pointsWritten.get() === 5 ? true : undefined), 10_000);
    expect(writer.problem).toBeNull();
    expect(metrics.spoolReplayedPoints.get()).toBe(5);
    await writer.close(1000);
    expect(JSON.stringify(logLines)).not.toContain('secret-token');
  });

  it('spools what the database does not take in time, and replays it in order once it is back', async () => {
    let up = false;
    const { writer, metrics } = await setup([], { maxLines: 10, retriesBeforeSpool: 2, respond: () => (up ? { status: 204 } : { status: 503 }) });
    for (let i = 0; i < 5; i++) writer.accept(chunk(lines(i * 10, 10)), 10);
    await until('all spooled', () => (metrics.spooledPoints.get() === 50 ? true : undefined), 10_000);
    const before = fake.received.length;
    up = true;
    await until('replayed', () => (metrics.pointsWritten.get() === 50 ? true : undefined), 15_000);
    await writer.close(1000);
    expect(metrics.spoolReplayedPoints.get()).toBe(50);
    expect(
      fake.received
        .slice(before)
        .flatMap((r) => r.lines)
        .sort(),
    ).toEqual(lines(0, 50).sort());
  });

  it('at the shutdown deadline spools what the database never acknowledged', async () => {
    const { writer, metrics, logLines } = await setup([], { retriesBeforeSpool: 1000 });
    await fake.stop(); // nothing listens any more: every attempt fails
    writer.accept(chunk(lines(0, 7)), 7);
    await until('a failed attempt', () => (metrics.writeRetries.get() > 0 ? true : undefined));
    expect(await writer.close(200)).toBe(7);
    expect(logLines.some((l) => String(l.msg).includes('7 points not yet acknowledged were spooled'))).toBe(true);
    const again = new Spool(join(dir, 'spool'), 1 << 30, capturingLogger().log, batchSpoolMetrics(createMetrics()));
    await again.open();
    const record = await again.next();
    expect(record?.lines).toBe(7);
    expect(await again.next()).toBeNull();
    expect(gunzipSync(record?.body as Buffer).toString()).toBe(chunk(lines(0, 7)).toString());
  });
});
