import { appendFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { batchSpoolMetrics, createMetrics } from '../../src/metrics.js';
import { decodeRecords, encodeRecord, SEGMENT_BYTES, Spool, SpoolOpenError } from '../../src/writer/spool.js';
import { capturingLogger } from '../helpers/log.js';

let dir = '';
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function open(maxBytes = 1 << 30) {
  const { log, lines } = capturingLogger();
  const metrics = createMetrics();
  const spool = new Spool(dir, maxBytes, log, batchSpoolMetrics(metrics));
  await spool.open();
  return { spool, metrics, logLines: lines };
}

const body = (n: number, size = 100) => Buffer.from(`${String(n).padStart(6, '0')}${'x'.repeat(size - 6)}`);

describe('spool records', () => {
  it('round-trip, and a damaged tail keeps what is intact', () => {
    const data = Buffer.concat([encodeRecord(body(1), 10, true), encodeRecord(body(2), 20, false), encodeRecord(body(3), 30, true)]);
    expect(decodeRecords(data, 1).records.map((r) => [r.body.toString().slice(0, 6), r.lines, r.gzipped])).toEqual([
      ['000001', 10, true],
      ['000002', 20, false],
      ['000003', 30, true],
    ]);
    const cut = decodeRecords(data.subarray(0, data.length - 5), 1);
    expect(cut.records).toHaveLength(2);
    const flipped = Buffer.from(data);
    flipped.writeUInt8(flipped.readUInt8(data.length - 1) ^ 0xff, data.length - 1); // checksum no longer holds
    expect(decodeRecords(flipped, 1).records).toHaveLength(2);
  });
});

describe('Spool', () => {
  it('replays oldest first and deletes a file once all its records are acknowledged', async () => {
    dir = mkdtempSync(join(tmpdir(), 'spool-'));
    const { spool, metrics } = await open();
    for (let i = 1; i <= 3; i++) await spool.append(body(i), i, true);
    expect(metrics.spooledPoints.get()).toBe(6);
    const first = await spool.next();
    const second = await spool.next();
    expect([first?.body.toString().slice(0, 6), second?.body.toString().slice(0, 6)]).toEqual(['000001', '000002']);
    spool.retryLater(second!);
    await spool.ack(first!);
    const again = await spool.next();
    expect(again?.body.toString().slice(0, 6)).toBe('000002');
    await spool.ack(again!);
    const third = await spool.next();
    await spool.ack(third!);
    expect(await spool.next()).toBeNull();
    expect(readdirSync(dir)).toEqual([]);
    expect(spool.hasPending).toBe(false);
  });

  it('survives a restart, and keeps the intact records of a file cut short by a crash', async () => {
    dir = mkdtempSync(join(tmpdir(), 'spool-'));
    const first = await open();
    for (let i = 1; i <= 3; i++) await first.spool.append(body(i), 5, true);
    await first.spool.close();
    const [file] = readdirSync(dir);
    const path = join(dir, file as string);
    appendFileSync(path, encodeRecord(body(4), 5, true).subarray(0, 30)); // a crash in mid-write
    const { spool, metrics, logLines } = await open();
    const got: string[] = [];
    for (let r = await spool.next(); r !== null; r = await spool.next()) {
      got.push(r.body.toString().slice(0, 6));
      await spool.ack(r);
    }
    expect(got).toEqual(['000001', '000002', '000003']);
    expect(metrics.spoolCorruptBytes.get()).toBe(30);
    expect(logLines.some((l) => String(l.msg).includes('cut short'))).toBe(true);
  });

  it('when full, drops the oldest file with an error and a metric, never silently', async () => {
    dir = mkdtempSync(join(tmpdir(), 'spool-'));
    const big = SEGMENT_BYTES / 2;
    const { spool, metrics, logLines } = await open(SEGMENT_BYTES * 2 + 1000);
    for (let i = 1; i <= 6; i++) await spool.append(body(i, big), 100, true);
    expect(spool.bytes).toBeLessThanOrEqual(SEGMENT_BYTES * 2 + 1000);
    expect(metrics.spoolDroppedPoints.get()).toBeGreaterThan(0);
    expect(logLines.some((l) => l.level === 50 && String(l.msg).includes('spool is full'))).toBe(true);
    const left: string[] = [];
    for (let r = await spool.next(); r !== null; r = await spool.next()) {
      left.push(r.body.toString().slice(0, 6));
      await spool.ack(r);
    }
    // Each record fills half a segment: four fit in the limit, the two oldest were dropped.
    expect(left).toEqual(['000003', '000004', '000005', '000006']);
    expect(metrics.spoolDroppedPoints.get()).toBe(200);
    expect(metrics.spoolDroppedPoints.get() + left.length * 100).toBe(600);
  });

  it('reads records appended after replay began', async () => {
    dir = mkdtempSync(join(tmpdir(), 'spool-'));
    const { spool } = await open();
    await spool.append(body(1), 1, true);
    const a = await spool.next();
    await spool.append(body(2), 1, true);
    await spool.ack(a!);
    const b = await spool.next();
    expect(b?.body.toString().slice(0, 6)).toBe('000002');
    await spool.ack(b!);
    expect(await spool.next()).toBeNull();
  });

  it('open() of a directory that cannot be used fails with a clear error naming the path', async () => {
    dir = mkdtempSync(join(tmpdir(), 'spool-'));
    const blocker = join(dir, 'file');
    writeFileSync(blocker, ''); // a file where the directory should be
    const spool = new Spool(join(blocker, 'spool'), 1 << 30, capturingLogger().log, batchSpoolMetrics(createMetrics()));
    const err = await spool.open().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SpoolOpenError);
    expect(err).toMatchObject({ code: 'SPOOL_UNAVAILABLE', path: join(blocker, 'spool'), retryable: false });
    expect((err as Error).message).toMatch(/cannot use the spool directory .*\/file\/spool: (ENOTDIR|EEXIST)/);
    await spool.close(); // closable after a failed open, without side effects
    expect(readdirSync(dir)).toEqual(['file']);
  });
});
