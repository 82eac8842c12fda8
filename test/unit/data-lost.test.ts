/** Data lost inside the pipeline hands its gap to the resync before the watermark can pass it (review finding 4). */
import { describe, expect, it } from 'vitest';
import { Resync } from '../../src/ha/resync.js';
import { createMetrics } from '../../src/metrics.js';
import { EncoderBatchError } from '../../src/pipeline/encoder-pool.js';
import { ResultRouter } from '../../src/pipeline/result-router.js';
import { ClockOffset } from '../../src/ha/clock-offset.js';
import { Watermark } from '../../src/pipeline/watermark.js';
import { capturingLogger } from '../helpers/log.js';

describe('data lost in the pipeline (review finding 4)', () => {
  it('an encoder batch that fails: a gap from the watermark is held and the connection dropped, so its live events are fetched again', () => {
    const watermark = new Watermark(1_000);
    const { log } = capturingLogger();
    const metrics = createMetrics();
    const accepted: unknown[] = [];
    const dropped: string[] = [];
    const resync = new Resync({
      backfill: {
        connection: { request: async () => ({}), requestStates: async () => ({}) as never, expectStates: () => ({}) as never },
        httpBase: 'http://unused',
        token: 't',
        feedFrame: () => {},
        maxWindowMs: 3_600_000,
        log,
        metrics,
      },
      watermark,
      reconnect: (why) => dropped.push(why),
      log,
      metrics,
    });
    const router = new ResultRouter({
      writer: {
        accept: (_lp: Uint8Array, _n: number, hold?: { release(): void }) => {
          accepted.push(1);
          hold?.release();
        },
      } as never,
      dedup: null,
      replies: () => {},
      resync,
      clockOffset: new ClockOffset(),
      observe: () => {},
      encoderFree: () => {},
      metrics,
      log,
    });
    const failed = watermark.hold(); // frames with live events at HA 2_000..2_500, lost by the failure
    const next = watermark.hold(); // the next batch: HA 3_000, written
    router.onError(new EncoderBatchError(1, 100, new Error('worker crashed')), {
      job: { bytes: new Uint8Array(0), ends: new Uint32Array(0), session: 1, stateResults: [] },
      hold: failed,
    });
    next.noteHaTime(3_000);
    next.release();
    expect(watermark.value(), 'value passed live events that are neither written, spooled nor dead-lettered').toBeLessThan(2_000);
    expect(dropped).toEqual(['an encoder batch failed']);
    expect(resync.gapStartMs).toBeLessThanOrEqual(1_000);
  });
});
