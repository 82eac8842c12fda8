import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

describe('spool records after damage', () => {
  const RECORD = 20 + 100;
  /** 50 records of 100-byte bodies, record i naming i points. */
  const segment = () => Buffer.concat(Array.from({ length: 50 }, (_, i) => encodeRecord(body(i), i, true)));
  const ids = (d: ReturnType<typeof decodeRecords>) => d.records.map((r) => Number(r.body.toString().slice(0, 6)));
  const except = (...lost: number[]) => Array.from({ length: 50 }, (_, i) => i).filter((i) => !lost.includes(i));
  const flip = (data: Buffer, at: number, n = 4) => {
    for (let i = at; i < at + n; i++) data[i] = (data[i] as number) ^ 0x5a;
    return data;
  };

  it('four damaged bytes in the middle lose only their record; every record after them is kept', () => {
    const d = decodeRecords(flip(segment(), 20 * RECORD + 50), 1);
    expect(ids(d)).toEqual(except(20));
    expect(d).toMatchObject({ damagedBytes: RECORD, damagedRecords: 1, damagedItems: 20, cutShortBytes: 0 });
  });

  it('damage across two records (a body and the next header) loses those two only', () => {
    const d = decodeRecords(flip(segment(), 21 * RECORD - 2, 8), 1);
    expect(ids(d)).toEqual(except(20, 21));
    expect(d.damagedBytes).toBe(2 * RECORD);
    expect(d.cutShortBytes).toBe(0);
  });

  it('a damaged first header loses the first record only', () => {
    const d = decodeRecords(flip(segment(), 0), 1);
    expect(ids(d)).toEqual(except(0));
    expect(d).toMatchObject({ damagedBytes: RECORD, damagedRecords: 0, cutShortBytes: 0 });
  });

  it('a huge length field loses its record only, in the first record and in the last', () => {
    const first = segment();
    first.writeUInt32BE(0xfffffff0, 4);
    expect(ids(decodeRecords(first, 1))).toEqual(except(0));
    expect(decodeRecords(first, 1)).toMatchObject({ damagedBytes: RECORD, damagedRecords: 0, cutShortBytes: 0 });
    const last = segment();
    last.writeUInt32BE(0xfffffff0, 49 * RECORD + 4);
    expect(ids(decodeRecords(last, 1))).toEqual(except(49));
    expect(decodeRecords(last, 1)).toMatchObject({ damagedBytes: RECORD, cutShortBytes: 0 });
  });

  it('a torn tail (a record begun and not finished) is told apart from damage', () => {
    const data = segment();
    for (const keep of [2, 13, 20 + 37]) {
      const d = decodeRecords(data.subarray(0, 49 * RECORD + keep), 1);
      expect(ids(d)).toEqual(except(49));
      expect(d).toMatchObject({ damagedBytes: 0, cutShortBytes: keep });
    }
  });

  it('damage and a torn tail in one file are both counted, each as what it is', () => {
    const d = decodeRecords(flip(segment(), 10 * RECORD + 30).subarray(0, 50 * RECORD - 7), 1);
    expect(ids(d)).toEqual(except(10, 49));
    expect(d).toMatchObject({ damagedBytes: RECORD, damagedRecords: 1, damagedItems: 10, cutShortBytes: RECORD - 7 });
  });

  it('garbage that is no record at all is skipped as damage, up to the next record', () => {
    const data = Buffer.concat([Buffer.from('xyz'), segment(), Buffer.from('HAS'), Buffer.from('garbage!')]);
    const d = decodeRecords(data, 1);
    expect(ids(d)).toEqual(except());
    expect(d).toMatchObject({ damagedBytes: 3 + 11, cutShortBytes: 0 });
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
    expect(metrics.spoolCorruptBytes.get({ cause: 'cut_short' })).toBe(30);
    expect(metrics.spoolCorruptBytes.total()).toBe(30);
    expect(logLines.some((l) => String(l.msg).includes('cut short at the end'))).toBe(true);
    expect(logLines.some((l) => String(l.msg).includes('damaged'))).toBe(false);
  });

  it('keeps every intact record of a file with damaged bytes in the middle, and says it was damage, not a crash', async () => {
    dir = mkdtempSync(join(tmpdir(), 'spool-'));
    const first = await open();
    for (let i = 1; i <= 30; i++) await first.spool.append(body(i), 7, true);
    await first.spool.close();
    const [file] = readdirSync(dir);
    const path = join(dir, file as string);
    const data = readFileSync(path);
    for (let i = 0; i < 4; i++) data[10 * 120 + 60 + i] = (data[10 * 120 + 60 + i] as number) ^ 0xff; // inside record 11's body
    writeFileSync(path, data);
    const { spool, metrics, logLines } = await open();
    const got: number[] = [];
    for (let r = await spool.next(); r !== null; r = await spool.next()) {
      got.push(Number(r.body.toString().slice(0, 6)));
      await spool.ack(r);
    }
    expect(got).toEqual(Array.from({ length: 30 }, (_, i) => i + 1).filter((i) => i !== 11));
    expect(metrics.spoolCorruptBytes.get({ cause: 'damaged' })).toBe(120);
    expect(metrics.spoolCorruptBytes.get({ cause: 'cut_short' })).toBe(0);
    expect(metrics.spoolDroppedPoints.get({ reason: 'damaged' })).toBe(7);
    expect(metrics.spoolReplayedPoints.get()).toBe(29 * 7);
    const said = logLines.find((l) => String(l.msg).includes('damaged bytes'));
    expect(said).toMatchObject({ skippedBytes: 120, damagedRecords: 1, damagedItems: 7, intactRecords: 29 });
    expect(logLines.some((l) => String(l.msg).includes('cut short'))).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
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
