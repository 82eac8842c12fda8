/**
 * Review repro: frames an earlier run left in the frame overflow are replayed at the next start
 * with a NEW hold; their live HA times advance the watermark (and watermark.newestHaMs) before the
 * first connection's resync.begin(), so the restart gap starts at the newest replayed frame instead
 * of the saved watermark. Live events the earlier run held only in memory (older than the frames
 * on disk, since the overflow is FIFO) are neither replayed nor backfilled.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Resync } from '../../src/ha/resync.js';
import { createMetrics, frameSpoolMetrics } from '../../src/metrics.js';
import { EncoderPool } from '../../src/pipeline/encoder-pool.js';
import { FrameOverflow, type HeldJob, type OverflowPool } from '../../src/pipeline/overflow.js';
import { Watermark } from '../../src/pipeline/watermark.js';
import { Spool } from '../../src/writer/spool.js';
import type { EncodeJob } from '../../workers/encode/result.js';
import { until } from '../helpers/ports.js';

const log = pino({ level: 'silent' });
let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'review-ovf-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const T0 = Date.parse('2024-05-01T00:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString().replace('Z', '+00:00');
function liveJob(session: number, atMs: number): EncodeJob {
  const st = { entity_id: 'sensor.a', state: String(atMs), attributes: {}, last_changed: iso(atMs), last_updated: iso(atMs) };
  const frame = Buffer.from(
    JSON.stringify({
      type: 'event',
      event: { event_type: 'state_changed', data: { entity_id: 'sensor.a', old_state: st, new_state: st }, time_fired: iso(atMs) },
      id: 3,
    }),
  );
  return { bytes: new Uint8Array(frame), ends: Uint32Array.of(frame.length), session, stateResults: [] };
}

async function openSpool(): Promise<Spool> {
  const s = new Spool(join(dir, 'frames'), 1 << 30, log, frameSpoolMetrics(createMetrics()));
  await s.open();
  return s;
}

class FullPool implements OverflowPool {
  queuedBytes = 1 << 30;
  submit(_held: HeldJob): boolean {
    return false;
  }
}

describe('frames an earlier run left on disk (review finding 1)', () => {
  it('move neither the restart gap nor the saved watermark past what that run had only in memory', async () => {
    // --- Run 1: saved watermark T0. Batch A (HA T0+10 s) is in the encoders (memory);
    // B and C (HA T0+5 min, T0+10 min) came later, while the encoders were behind: on disk.
    const w1 = new Watermark(T0);
    const spool1 = await openSpool();
    const ov1 = new FrameOverflow(spool1, new FullPool(), w1, 32 << 20, log);
    const holdA = w1.hold(); // A: submitted to the pool, not durable yet
    await ov1.put({ job: liveJob(1, T0 + 5 * 60_000), hold: w1.hold() });
    await ov1.put({ job: liveJob(1, T0 + 10 * 60_000), hold: w1.hold() });
    const saved = w1.value(); // what state.json holds at the SIGKILL
    expect(saved).toBe(T0);
    expect(holdA).toBeDefined();
    // SIGKILL: nothing is stopped; A (HA T0+10 s) is gone with the process.

    // --- Run 2, as App.start() does it: overflow.feed() first, the HA connection after.
    const w2 = new Watermark(saved);
    const spool2 = await openSpool();
    const pool = new EncoderPool({
      poolSize: 0,
      maxQueueBytes: 32 << 20,
      // ResultRouter + a writer that writes at once: note the live HA time, release when durable.
      onResult: (r, hold) => {
        if (r.liveHaMaxMs >= 0) hold.noteHaTime(r.liveHaMaxMs);
        hold.release();
      },
      onError: (_e, { hold }) => hold.release(),
    });
    const ov2 = new FrameOverflow(spool2, pool, w2, 32 << 20, log);
    const fetches: string[] = [];
    const metrics = createMetrics();
    const resync = new Resync({
      backfill: {
        connection: {
          request: async () => ({}),
          requestStates: async (m) => {
            fetches.push(String((m as unknown as { start_time: string }).start_time));
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
      watermark: w2,
      restoredHaMs: saved,
      entityIds: ['sensor.a'],
      log,
      metrics,
      recorderWaitMs: 50,
      probeIntervalMs: 10,
    });
    // As App does it: the resync (holding the restart's gap) exists before the frames are fed.
    ov2.feed();
    await until('old records fed', () => (!ov2.active && w2.held === 0 ? true : undefined), 5_000);
    const valueBeforeConnect = w2.value(); // what the 2 s saver writes to state.json now
    resync.begin(1);
    const gapStart = resync.gapStartMs;
    // The invariant: A (HA T0+10 s) is not durable, so neither may pass it.
    expect(valueBeforeConnect, 'watermark passed A before any connection').toBeLessThanOrEqual(T0 + 10_000);
    expect(gapStart, 'restart gap starts after A: A is never backfilled').toBeLessThanOrEqual(T0 + 10_000);
    await ov2.stop();
    await pool.close();
  });
});
