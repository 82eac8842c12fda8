import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMetrics, frameSpoolMetrics } from '../../src/metrics.js';
import { decodeFrames, EARLIER_RUN_SESSION, encodeFrames, FrameOverflow, type HeldJob, type OverflowPool } from '../../src/pipeline/overflow.js';
import { Watermark } from '../../src/pipeline/watermark.js';
import { Spool } from '../../src/writer/spool.js';
import type { EncodeJob } from '../../workers/encode-batch.js';
import { until } from '../helpers/ports.js';

const log = pino({ level: 'silent' });
let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'overflow-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Every field of EncodeJob set to a value that is not its default. `Required<>` makes a field
 * added to EncodeJob a compile error here until it is given a value, and the test below checks
 * the fields generically: a new field cannot go missing on the way through the disk.
 */
function fullJob(session: number): Required<EncodeJob> {
  const frames = ['{"id":1,"type":"event"}', '{"id":2,"type":"result","success":true,"result":[]}', '{"id":3}'];
  const bytes = Buffer.from(frames.join(''));
  let end = 0;
  const ends = Uint32Array.from(frames.map((f) => (end += Buffer.byteLength(f))));
  return {
    bytes: new Uint8Array(bytes),
    ends,
    session,
    stateResults: [
      [2, 'snapshot'],
      [7, 'history'],
    ],
    context: ',people_home=2i,outside_temp=11.5',
    observeEventTypes: ['area_registry_updated', 'device_registry_updated', 'entity_registry_updated'],
    silentEventTypes: ['area_registry_updated', 'device_registry_updated'],
  };
}

async function openSpool(): Promise<Spool> {
  const spool = new Spool(join(dir, 'frames'), 1 << 30, log, frameSpoolMetrics(createMetrics()));
  await spool.open();
  return spool;
}

class FakePool implements OverflowPool {
  queuedBytes = 0;
  readonly submitted: { held: HeldJob; force: boolean }[] = [];
  submit(held: HeldJob, force = false): boolean {
    this.submitted.push({ held, force });
    return true;
  }
}

describe('frame overflow records', () => {
  it('every job field survives encodeFrames → spool on disk → decodeFrames, field for field', async () => {
    const job = fullJob(42);
    const spool = await openSpool();
    await spool.append(encodeFrames(job, 'run-1'), job.ends.length, false);
    await spool.close();
    const again = await openSpool(); // read back from the file, not from memory
    const record = await again.next();
    expect(record).not.toBeNull();
    const { job: back, key } = decodeFrames(record?.body as Buffer, record?.lines as number);
    expect(key).toBe('run-1');
    expect(Object.keys(back).sort()).toEqual(Object.keys(job).sort());
    for (const k of Object.keys(job) as (keyof EncodeJob)[]) {
      expect(job[k], `field ${k} is set in the test job`).not.toBeUndefined();
      expect(back[k], `field ${k}`).toEqual(job[k]);
    }
    expect(back.ends).toBeInstanceOf(Uint32Array);
    expect(back.bytes).toBeInstanceOf(Uint8Array);
    // The pool transfers the buffers: they must be the job's own, not views into the record.
    expect(back.bytes.byteOffset).toBe(0);
    expect(back.bytes.buffer.byteLength).toBe(back.bytes.byteLength);
  });
});

describe('FrameOverflow', () => {
  it('keeps batches on disk while the pool is full and feeds them back in order, each with its own hold', async () => {
    const spool = await openSpool();
    const pool = new FakePool();
    const watermark = new Watermark(0);
    const overflow = new FrameOverflow(spool, pool, watermark, 1000, log);
    pool.queuedBytes = 10_000; // over the bound: nothing is fed
    const held = [1, 2, 3].map((s) => ({ job: fullJob(s), hold: watermark.hold() }));
    for (const h of held) await overflow.put(h);
    expect(overflow.active).toBe(true);
    expect(pool.submitted).toEqual([]);
    expect(readdirSync(join(dir, 'frames'))).toHaveLength(1);
    pool.queuedBytes = 0; // below half the bound: fed back
    overflow.feed();
    await until('all fed', () => (pool.submitted.length === 3 ? true : undefined), 5_000);
    expect(pool.submitted.map((s) => s.held.job.session)).toEqual([1, 2, 3]);
    expect(pool.submitted.map((s) => s.held.hold)).toEqual(held.map((h) => h.hold));
    expect(pool.submitted.every((s) => s.force)).toBe(true);
    expect(watermark.held).toBe(3); // still held: the writer releases them once their lines are durable
    for (const s of pool.submitted) s.held.hold.release();
    expect(watermark.held).toBe(0);
    await until('spool emptied', () => (!overflow.active ? true : undefined), 5_000);
    await overflow.stop();
    await spool.close();
  });

  it('stop() leaves what is on disk for the next start, where each record gets a hold of the new run', async () => {
    const first = await openSpool();
    const pool = new FakePool();
    pool.queuedBytes = 10_000;
    const before = new Watermark(0);
    const overflow = new FrameOverflow(first, pool, before, 1000, log);
    const oldHold = before.hold();
    await overflow.put({ job: fullJob(7), hold: oldHold });
    await overflow.put({ job: fullJob(8), hold: before.hold() });
    await overflow.stop();
    pool.queuedBytes = 0;
    overflow.feed(); // stopped: nothing moves
    expect(pool.submitted).toEqual([]);
    await first.close();
    expect(before.held).toBe(2); // the earlier run's watermark never passed them

    const second = await openSpool();
    const pool2 = new FakePool();
    const after = new Watermark(0);
    const overflow2 = new FrameOverflow(second, pool2, after, 1000, log);
    overflow2.feed();
    await until('fed after restart', () => (pool2.submitted.length === 2 ? true : undefined), 5_000);
    const [a, b] = pool2.submitted.map((s) => s.held);
    // An earlier run's frames answer none of this run's commands: session -1, every other field kept.
    expect([a?.job.session, b?.job.session]).toEqual([EARLIER_RUN_SESSION, EARLIER_RUN_SESSION]);
    expect(a?.job).toEqual({ ...fullJob(7), session: EARLIER_RUN_SESSION });
    expect(after.held).toBe(2);
    expect(a?.hold).not.toBe(oldHold);
    a?.hold.release();
    b?.hold.release();
    expect(after.held).toBe(0);
    await overflow2.stop();
    await second.close();
  });

  it('a batch that cannot be put on disk rejects and leaves its hold to the caller', async () => {
    const spool = await openSpool();
    await spool.close();
    rmSync(join(dir, 'frames'), { recursive: true }); // the next segment cannot be created
    const watermark = new Watermark(0);
    const pool = new FakePool();
    pool.queuedBytes = 10_000;
    const overflow = new FrameOverflow(spool, pool, watermark, 1000, log);
    const hold = watermark.hold();
    await expect(overflow.put({ job: fullJob(1), hold })).rejects.toThrow();
    hold.release(); // the caller's: released exactly once
    expect(watermark.held).toBe(0);
    expect(overflow.active).toBe(false);
  });
});
