/**
 * A batch that fails as a whole is counted exactly, and before its hold is released the resync
 * holds a gap from the watermark, which the watermark then cannot pass (issue 10 item 1, review
 * finding 4). The gap's fetch is covered in gap-error-paths.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics.js';
import { EncoderBatchError } from '../../src/pipeline/encoder-pool.js';
import { ResultRouter, type ResultRouterOptions } from '../../src/pipeline/result-router.js';
import { Watermark } from '../../src/pipeline/watermark.js';
import type { Writer } from '../../src/writer/writer.js';
import type { EncodeJob } from '../../workers/encode/result.js';
import { capturingLogger } from '../helpers/log.js';

const emptyJob: EncodeJob = { bytes: new Uint8Array(0), ends: new Uint32Array(0), session: 1, stateResults: [] };

/** A router whose resync holds a ceiling at the watermark's value when told of a loss. */
function setup() {
  const w = new Watermark();
  const first = w.hold();
  first.noteHaTime(1000);
  first.release();
  const metrics = createMetrics();
  const { log, lines } = capturingLogger();
  const lost: string[] = [];
  let freed = 0;
  const opts: ResultRouterOptions = {
    writer: {} as Writer,
    dedup: null,
    replies: () => {},
    resync: {
      liveSeen: () => {},
      knownEntity: () => {},
      dataLost: (reason, { backfillAnswer = false } = {}) => {
        lost.push(backfillAnswer ? `${reason} (backfill answer)` : reason);
        w.holdAt(w.value() as number); // what Resync.dataLost does (kept until the gap is filled)
      },
    },
    clockOffset: { sample: () => {} } as unknown as ResultRouterOptions['clockOffset'],
    observe: () => {},
    encoderFree: () => freed++,
    metrics,
    log,
  };
  return { w, r: new ResultRouter(opts), metrics, lines, lost, freed: () => freed };
}

describe('a batch that failed as a whole', () => {
  it('is counted exactly, the resync is told before the hold goes, and the watermark never passes it', () => {
    const { w, r, metrics, lines, lost, freed } = setup();
    const failed = w.hold();
    const later = w.hold();
    r.onError(new EncoderBatchError(20, 4096, new Error('boom')), { job: emptyJob, hold: failed });
    expect(metrics.encodeErrors.get()).toBe(1);
    expect(metrics.dispatchDropped.get()).toBe(20);
    expect(freed()).toBe(1);
    expect(lost).toEqual(['an encoder batch failed']);
    expect(lines.find((l) => String(l.msg).includes('failed as a whole'))).toMatchObject({ frames: 20, bytes: 4096 });
    later.noteHaTime(5000);
    later.release();
    expect(w.value()).toBe(1000);
    expect(w.held).toBe(0); // nothing stays held: drains are not stalled
    expect(r.failedBatches).toBe(1);
  });

  it('encoded while a history answer was awaited: the resync is told it may have been that answer (its next requests are smaller)', () => {
    const { w, r, lost } = setup();
    const job = (kind: 'snapshot' | 'history' | 'rest'): EncodeJob => ({ ...emptyJob, stateResults: [[7, kind]] });
    r.onError(new EncoderBatchError(1, 16 << 20, new Error('Worker terminated due to reaching memory limit: JS heap out of memory')), {
      job: job('history'),
      hold: w.hold(),
    });
    r.onError(new EncoderBatchError(1, 1024, new Error('boom')), { job: job('rest'), hold: w.hold() });
    r.onError(new EncoderBatchError(1, 1024, new Error('boom')), { job: job('snapshot'), hold: w.hold() });
    expect(lost).toEqual(['an encoder batch failed (backfill answer)', 'an encoder batch failed (backfill answer)', 'an encoder batch failed']);
  });
});
