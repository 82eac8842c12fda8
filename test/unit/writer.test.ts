import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics.js';
import { createHttpWriteClient, influxWriteTarget } from '../../src/sinks/influx.js';
import { Writer } from '../../src/writer/writer.js';
import { FakeInflux, type Reply } from '../helpers/fake-influx.js';
import { capturingLogger } from '../helpers/log.js';
import { until } from '../helpers/ports.js';

const lines = (from: number, n: number) => Array.from({ length: n }, (_, i) => `m,entity_id=e${from + i} value=${from + i} ${1_000_000 + from + i}`);
const chunk = (ls: string[]) => Buffer.from(ls.map((l) => `${l}\n`).join(''));

let fake: FakeInflux;
afterEach(async () => fake?.stop());

async function setup(script: Reply[], opts: Partial<{ maxLines: number; gzipLevel: number; api: 'v1' | 'v2' }> = {}) {
  fake = new FakeInflux(script);
  const url = await fake.start();
  const { log, lines: logLines } = capturingLogger();
  const metrics = createMetrics();
  const influx =
    opts.api === 'v1'
      ? ({ api: 'v1', url, db: 'ha', rp: undefined, username: 'u', password: 'p' } as const)
      : ({ api: 'v2', url, token: 'secret-token', org: 'home', bucket: 'ha' } as const);
  const writer = new Writer({
    client: createHttpWriteClient(influxWriteTarget(influx), { connections: 2, timeoutMs: 2000 }),
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
  return { writer, metrics, logLines };
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

  it('counts a v1 partial write: the good lines are written, dropped=N are rejected', async () => {
    const { writer, metrics, logLines } = await setup([{ status: 400, body: '{"error":"partial write: field type conflict: input field \\"value\\" on measurement \\"m\\" is type string, already exists as type float dropped=2"}' }], { api: 'v1' });
    writer.accept(chunk(lines(0, 10)), 10);
    await writer.close(5000);
    expect(metrics.pointsWritten.get()).toBe(8);
    expect(metrics.pointsRejected.get({ status: '400' })).toBe(2);
    expect(logLines.find((l) => l.msg === 'the database rejected a write')).toMatchObject({ status: 400, rejected: 2, server: expect.stringContaining('field type conflict') });
  });

  it('reports a rejected token with the server message, and never logs the token', async () => {
    const { writer, metrics, logLines } = await setup([{ status: 401, body: '{"code":"unauthorized","message":"unauthorized access"}' }]);
    writer.accept(chunk(lines(0, 5)), 5);
    await writer.close(5000);
    expect(writer.lastWrite).toMatchObject({ ok: false, status: 401, message: 'unauthorized access' });
    expect(metrics.pointsRejected.get({ status: '401' })).toBe(5);
    expect(JSON.stringify(logLines)).not.toContain('secret-token');
  });

  it('at the shutdown deadline reports what the database never acknowledged', async () => {
    const { writer, metrics, logLines } = await setup([], {});
    await fake.stop(); // nothing listens any more: every attempt fails
    writer.accept(chunk(lines(0, 7)), 7);
    await until('a failed attempt', () => (metrics.writeRetries.get() > 0 ? true : undefined));
    expect(await writer.close(200)).toBe(7);
    expect(metrics.writerDroppedPoints.get({ reason: 'shutdown' })).toBe(7);
    expect(logLines.some((l) => String(l.msg).includes('7 points not acknowledged'))).toBe(true);
  });
});
