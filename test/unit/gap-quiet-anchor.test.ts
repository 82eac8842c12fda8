import { describe, expect, it } from 'vitest';
import { Resync } from '../../src/ha/resync.js';
import { createMetrics } from '../../src/metrics.js';
import { Watermark } from '../../src/pipeline/watermark.js';
import { capturingLogger } from '../helpers/log.js';

describe('a quiet home whose newest live event was not a state change (review finding 7)', () => {
  it('an anchor older than the gap start means nothing changed: no wait for the recorder, no false alarm', async () => {
    const T = Date.now();
    const watermark = new Watermark(null);
    const { log, lines } = capturingLogger();
    const metrics = createMetrics();
    const rows = new Map([['sensor.a', [T]]]); // its last change, committed long ago
    const resync = new Resync({
      backfill: {
        connection: {
          request: async (m) => {
            const msg = m as unknown as { start_time: string; end_time: string; entity_ids: string[] };
            const from = Date.parse(msg.start_time);
            const to = Date.parse(msg.end_time);
            const out: Record<string, unknown[]> = {};
            for (const id of msg.entity_ids) out[id] = (rows.get(id) ?? []).filter((r) => r >= from && r < to).map((r) => ({ s: 'x', lu: r / 1000 }));
            return out;
          },
          requestStates: async () => ({ kind: 'history', states: 0, points: 0, entityIds: [], reannounced: 0, deferred: 0, haRestarted: false, newest: null }),
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
      recorderWaitMs: 300,
      probeIntervalMs: 10,
    });
    // Connection 1 (first start): sensor.a changed at T; 5 min later a silent entity_registry_updated (noteLiveTime).
    resync.begin(1);
    await resync.subscribed(1, null);
    const h = watermark.hold();
    h.noteHaTime(T);
    h.release();
    const r = watermark.hold();
    r.noteHaTime(T + 300_000);
    r.release();
    resync.closed(1);
    // Connection 2: nothing changed meanwhile; the snapshot's newest state is sensor.a at T.
    resync.begin(2);
    const started = Date.now();
    await resync.subscribed(2, {
      kind: 'snapshot',
      states: 1,
      points: 1,
      entityIds: ['sensor.a'],
      reannounced: 0,
      deferred: 0,
      haRestarted: false,
      newest: { entityId: 'sensor.a', haMs: T },
    });
    const waited = Date.now() - started;
    const alarm = lines.find((l) => String(l.msg).startsWith("HA's recorder did not reach"));
    expect(alarm, 'false "may be missing" error on a gap with no change at all').toBeUndefined();
    expect(waited, 'no wait for the recorder: nothing changed').toBeLessThan(300);
    expect(metrics.backfillUnfilledSeconds.get()).toBe(0);
  });
});
