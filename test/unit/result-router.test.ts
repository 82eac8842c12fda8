/**
 * A batch that fails as a whole is counted exactly and keeps the watermark before it, so that
 * the next start's backfill fetches its data from HA's history (issue 10, item 1).
 */
import { describe, expect, it } from 'vitest';
import type { EncodeJob } from '../../workers/encode/result.js';
import { createMetrics } from '../../src/metrics.js';
import { EncoderBatchError } from '../../src/pipeline/encoder-pool.js';
import { ResultRouter, type ResultRouterOptions } from '../../src/pipeline/result-router.js';
import { Watermark } from '../../src/pipeline/watermark.js';
import type { Writer } from '../../src/writer/writer.js';
import { capturingLogger } from '../helpers/log.js';

const emptyJob: EncodeJob = { bytes: new Uint8Array(0), ends: new Uint32Array(0), session: 1, stateResults: [] };

function router(withWatermark: Watermark | undefined) {
  const metrics = createMetrics();
  const { log, lines } = capturingLogger();
  let freed = 0;
  const opts: ResultRouterOptions = {
    writer: {} as Writer,
    dedup: null,
    replies: () => {},
    resync: { liveSeen: () => {}, knownEntity: () => {} },
    clockOffset: { sample: () => {} } as unknown as ResultRouterOptions['clockOffset'],
    observe: () => {},
    encoderFree: () => freed++,
    metrics,
    log,
    ...(withWatermark === undefined ? {} : { watermark: withWatermark }),
  };
  return { r: new ResultRouter(opts), metrics, lines, freed: () => freed };
}

/** A watermark at 1000 (one durable batch), then `n` more holds: the failed one first. */
function watermarkAt1000() {
  const w = new Watermark();
  const first = w.hold();
  first.noteHaTime(1000);
  first.release();
  return w;
}

describe.each([
  ['without the watermark: the hold itself stays held', false],
  ['with the watermark: the hold becomes one ceiling', true],
])('a batch that failed as a whole, %s', (_name, wired) => {
  it('is counted exactly and the watermark never passes it', () => {
    const w = watermarkAt1000();
    const { r, metrics, lines, freed } = router(wired ? w : undefined);
    const failed = w.hold();
    const later = w.hold();
    r.onError(new EncoderBatchError(20, 4096, new Error('boom')), { job: emptyJob, hold: failed });
    expect(metrics.encodeErrors.get()).toBe(1);
    expect(metrics.dispatchDropped.get()).toBe(20);
    expect(freed()).toBe(1);
    const said = lines.find((l) => String(l.msg).includes('failed as a whole'));
    expect(said).toMatchObject({ frames: 20, bytes: 4096 });
    // Later data becomes durable: the watermark stays before the failed batch.
    later.noteHaTime(5000);
    later.release();
    expect(w.value()).toBe(1000);
    expect(w.held).toBe(wired ? 0 : 1); // wired: drains are not stalled by a hold that never ends
  });
});

it('keeps one ceiling for any number of failed batches, the oldest', () => {
  const w = watermarkAt1000();
  const { r } = router(w);
  r.onError(new EncoderBatchError(1, 10, new Error('a')), { job: emptyJob, hold: w.hold() });
  const next = w.hold();
  next.noteHaTime(3000);
  next.release();
  r.onError(new EncoderBatchError(1, 10, new Error('b')), { job: emptyJob, hold: w.hold() });
  expect(r.failedBatches).toBe(2);
  expect(w.value()).toBe(1000);
});
