/**
 * Review repro: HA's host loses power and comes back with its clock hours BEHIND where it was
 * (RTC without NTP, issue 9 defect 2). The ingestor (another host) reconnects; HA's recorder
 * holds the changes since HA's start, at HA times before the gap start computed from the
 * pre-cut stream. Nothing of them is fetched.
 */
import { describe, expect, it } from 'vitest';
import { Resync } from '../../src/ha/resync.js';
import { createMetrics } from '../../src/metrics.js';
import { Watermark } from '../../src/pipeline/watermark.js';
import { capturingLogger } from '../helpers/log.js';

describe('HA clock stepped back across an HA restart (review finding 3)', () => {
  it('the changes HA recorded between its start and our reconnect are fetched', async () => {
    const T = Date.parse('2024-05-01T12:00:00Z'); // last live event before the power cut (HA time)
    const boot = T - 5 * 3_600_000; // HA's clock after the cut
    const watermark = new Watermark(null);
    const { log, lines } = capturingLogger();
    const metrics = createMetrics();
    const rows = new Map([['sensor.a', [boot + 60_000, boot + 120_000, boot + 600_000]]]);
    const fetched: { start: string; end: string }[] = [];
    const history = (m: { start_time: string; end_time?: string; entity_ids: string[] }) => {
      const from = Date.parse(m.start_time);
      const to = m.end_time ? Date.parse(m.end_time) : Number.POSITIVE_INFINITY;
      const out: Record<string, unknown[]> = {};
      for (const id of m.entity_ids) out[id] = (rows.get(id) ?? []).filter((r) => r >= from && r < to).map((r) => ({ s: 'x', lu: r / 1000 }));
      return out;
    };
    let rowsFetched = 0;
    const resync = new Resync({
      backfill: {
        connection: {
          request: async (m) => history(m as never),
          requestStates: async (m) => {
            fetched.push({ start: String((m as never as { start_time: string }).start_time), end: String((m as never as { end_time: string }).end_time) });
            rowsFetched += Object.values(history(m as never)).flat().length;
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
    });
    resync.begin(1);
    await resync.subscribed(1, null);
    const live = watermark.hold();
    live.noteHaTime(T);
    live.release();
    resync.closed(1); // HA's host loses power
    resync.begin(2); // HA is back, its clock 5 h behind
    await resync.subscribed(2, {
      kind: 'snapshot',
      states: 1,
      points: 1,
      entityIds: ['sensor.a'],
      reannounced: 0,
      deferred: 0,
      haRestarted: true,
      newest: { entityId: 'sensor.a', haMs: boot + 600_000 },
    });
    expect(rowsFetched, 'state changes HA recorded since its start').toBe(3);
    expect(fetched.length).toBeGreaterThan(0);
    // The watermark follows HA's new clock: a later gap is not placed in its old future.
    expect(watermark.newestHaMs).toBeLessThanOrEqual(boot + 600_000);
    expect(lines.some((l) => String(l.msg).startsWith('Home Assistant restarted with its clock behind'))).toBe(true);
  });
});
