/** The backfill's requests: HA's REST history never asked for made-up start-time states. */
import { afterEach, describe, expect, it } from 'vitest';
import { HaCommandError } from '../../src/errors.js';
import { backfill, restHistoryUrl } from '../../src/ha/backfill.js';
import type { StatesEncoded } from '../../src/ha/connection.js';
import { createMetrics } from '../../src/metrics.js';
import { HaSimulator } from '../../src/sim/server.js';
import { capturingLogger } from '../helpers/log.js';

let sim: HaSimulator | null = null;
afterEach(async () => {
  await sim?.stop();
  sim = null;
});

describe('backfill', () => {
  it('asks /api/history/period with skip_initial_state (HA: include_start_time_state = "skip_initial_state" not in query)', () => {
    const url = new URL(restHistoryUrl('http://ha:8123', 0, 1_000, ['sensor.a', 'light.b']));
    expect(url.pathname).toBe('/api/history/period/1970-01-01T00%3A00%3A00.000Z');
    expect(url.searchParams.has('skip_initial_state')).toBe(true);
    expect(url.searchParams.get('filter_entity_id')).toBe('sensor.a,light.b');
    expect(url.searchParams.get('end_time')).toBe('1970-01-01T00:00:01.000Z');
  });

  it('on an HA without history/history_during_period, the REST answer holds only recorded states', async () => {
    sim = new HaSimulator({ token: 't', entities: 30, mode: 'old' });
    await sim.start();
    const from = sim.haNowMs();
    await sim.emit({ count: 200 });
    const ids = sim.entityIds.filter((id) => !id.includes(','));
    let waiting: ((e: StatesEncoded) => void) | null = null;
    const frames: string[] = [];
    const connection = {
      request: () => Promise.reject(new Error('not used')),
      requestStates: () => Promise.reject(new HaCommandError('history/history_during_period', 'unknown_command', 'Unknown command.')),
      expectStates: () => ({ id: -1, reply: new Promise<StatesEncoded>((resolve) => (waiting = resolve)) }),
    };
    const { log } = capturingLogger();
    const report = backfill(
      {
        connection,
        httpBase: `http://127.0.0.1:${sim.port}`,
        token: 't',
        feedFrame: (frame) => {
          frames.push(frame.toString());
          waiting?.({ kind: 'rest', states: 0, points: 0, entityIds: [], reannounced: 0, deferred: 0, haRestarted: false, newest: null });
        },
        maxWindowMs: 3_600_000,
        log,
        metrics: createMetrics(),
      },
      from - 60_000,
      sim.haNowMs() + 1,
      ids,
    );
    expect((await report).via).toBe('rest');
    const states = frames.flatMap((f) => (JSON.parse(f) as { result: { entity_id: string; last_updated: string }[][] }).result.flat());
    const recorded = new Set(sim.emitted.map((e) => `${e.entityId} ${e.lastUpdated}`));
    expect(states.length).toBe(sim.emitted.filter((e) => !e.entityId.includes(',')).length);
    expect(states.every((s) => recorded.has(`${s.entity_id} ${s.last_updated}`))).toBe(true);
    expect(sim.madeUpRows).toEqual([]);
  });
});
