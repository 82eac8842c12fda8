/** Review repros: error paths that let the watermark pass a gap / a live event that is not durable. */
import { describe, expect, it } from 'vitest';
import { HaCommandError } from '../../src/errors.js';
import { Resync } from '../../src/ha/resync.js';
import { createMetrics } from '../../src/metrics.js';
import { EncoderBatchError } from '../../src/pipeline/encoder-pool.js';
import { ResultRouter } from '../../src/pipeline/result-router.js';
import { ClockOffset } from '../../src/ha/clock-offset.js';
import { Watermark } from '../../src/pipeline/watermark.js';
import { capturingLogger } from '../helpers/log.js';

describe('error paths keep the gap (review findings 4 and 5)', () => {
  it('a history request HA keeps refusing (not unknown_command): tried again, then the gap is kept for the next connection, with its bounds counted', async () => {
    const T = Date.now() - 3_600_000;
    const watermark = new Watermark(T);
    const { log, lines } = capturingLogger();
    const metrics = createMetrics();
    const fetches: unknown[] = [];
    const resync = new Resync({
      backfill: {
        connection: {
          request: async () => {
            throw new HaCommandError('history/history_during_period', 'unknown_error', 'database is locked');
          },
          requestStates: async (m) => {
            fetches.push(m);
            return { kind: 'history', states: 0, points: 0, entityIds: [], reannounced: 0, deferred: 0, haRestarted: false, newest: null };
          },
          expectStates: () => {
            throw new Error('no REST');
          },
        },
        httpBase: 'http://unused',
        token: 't',
        feedFrame: () => {},
        maxWindowMs: 48 * 3_600_000,
        log,
        metrics,
      },
      watermark,
      entityIds: ['sensor.a'],
      log,
      metrics,
      recorderWaitMs: 200,
      probeIntervalMs: 10,
      retryBaseMs: 10,
    });
    resync.begin(1);
    // Live events of the new connection become durable (HA T + 1 h).
    const live = watermark.hold();
    live.noteHaTime(T + 3_600_000);
    live.release();
    await resync.subscribed(1, {
      kind: 'snapshot',
      states: 1,
      points: 1,
      entityIds: ['sensor.a'],
      reannounced: 0,
      deferred: 0,
      haRestarted: false,
      newest: { entityId: 'sensor.a', haMs: T + 3_599_000 },
    });
    expect(fetches).toHaveLength(0); // the gap was never fetched
    expect(metrics.backfillUnfilledSeconds.get(), 'the hour not fetched is counted').toBeGreaterThan(0);
    expect(lines.some((l) => String(l.msg).includes('could not be fetched: it is kept for the next connection'))).toBe(true);
    expect(resync.gapStartMs, 'the next connection gets the gap').toBeLessThanOrEqual(T);
    expect(watermark.value(), 'the watermark passed the unfilled hour').toBeLessThanOrEqual(T);
  });

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
