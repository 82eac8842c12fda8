/** The backfill's requests: HA's REST history never asked for made-up start-time states. */
import { afterEach, describe, expect, it } from 'vitest';
import { HaCommandError } from '../../src/errors.js';
import { backfill, ENTITIES_PER_REQUEST, MAX_SHRINK, restHistoryUrl, WINDOW_MS } from '../../src/ha/backfill.js';
import type { StatesEncoded } from '../../src/ha/connection.js';
import { createMetrics } from '../../src/metrics.js';
import { historyStart } from '../../src/ha/messages.js';
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
    expect(url.pathname).toBe('/api/history/period/1969-12-31T23%3A59%3A59.999999Z'); // HA's start is exclusive: 1 µs early
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
    const { report, frames } = await restBackfill(sim, from - 60_000, sim.haNowMs() + 1, ids);
    expect(report.via).toBe('rest');
    const states = frames.flatMap((f) => (JSON.parse(f) as { result: { entity_id: string; last_updated: string }[][] }).result.flat());
    const recorded = new Set(sim.emitted.map((e) => `${e.entityId} ${e.lastUpdated}`));
    expect(states.length).toBe(sim.emitted.filter((e) => !e.entityId.includes(',')).length);
    expect(states.every((s) => recorded.has(`${s.entity_id} ${s.last_updated}`))).toBe(true);
    expect(sim.madeUpRows).toEqual([]);
  });

  it.each([
    ['0.96.5', 0],
    ['2022.4.7', 0],
    ['custom-build', 1],
  ] as const)('an HA announcing %s is asked for history/history_during_period %i times (older ones log it as an ERROR)', async (haVersion, asked) => {
    sim = new HaSimulator({ token: 't', entities: 5, mode: 'old' });
    await sim.start();
    const from = sim.haNowMs();
    await sim.emit({ count: 20 });
    let requested = 0;
    let waiting: ((e: StatesEncoded) => void) | null = null;
    const connection = {
      haVersion,
      request: () => Promise.reject(new Error('not used')),
      requestStates: () => {
        requested++;
        return Promise.reject(new HaCommandError('history/history_during_period', 'unknown_command', 'Unknown command.'));
      },
      expectStates: () => ({ id: -1, reply: new Promise<StatesEncoded>((resolve) => (waiting = resolve)) }),
    };
    const report = await backfill(
      {
        connection,
        httpBase: `http://127.0.0.1:${sim.port}`,
        token: 't',
        feedFrame: () => waiting?.({ kind: 'rest', states: 0, points: 0, entityIds: [], reannounced: 0, deferred: 0, haRestarted: false, newest: null }),
        maxWindowMs: 3_600_000,
        log: capturingLogger().log,
        metrics: createMetrics(),
      },
      from - 60_000,
      sim.haNowMs() + 1,
      sim.entityIds.filter((id) => !id.includes(',')),
    );
    expect(report.via).toBe('rest');
    expect(requested).toBe(asked);
  });

  it('after answers over MAX_FRAME_BYTES (shrink), requests are 2^shrink times smaller; at MAX_SHRINK it uses REST', async () => {
    const asked: { start: string; end: string; ids: number }[] = [];
    const connection = {
      request: () => Promise.reject(new Error('not used')),
      requestStates: (m: Record<string, unknown>) => {
        asked.push({ start: String(m.start_time), end: String(m.end_time), ids: (m.entity_ids as string[]).length });
        return Promise.resolve({
          kind: 'history',
          states: 0,
          points: 0,
          entityIds: [],
          reannounced: 0,
          deferred: 0,
          haRestarted: false,
          newest: null,
        } as StatesEncoded);
      },
      expectStates: () => {
        throw new Error('not used');
      },
    };
    const { log, lines } = capturingLogger();
    const opts = { connection, httpBase: 'http://127.0.0.1:9', token: 't', feedFrame: () => {}, maxWindowMs: 24 * WINDOW_MS, log, metrics: createMetrics() };
    const ids = Array.from({ length: ENTITIES_PER_REQUEST }, (_, i) => `sensor.e${i}`);
    await backfill(opts, 0, WINDOW_MS, ids, false, 2);
    expect(asked).toHaveLength(4 * 4); // windows of 15 min × chunks of 25 entities
    expect(asked[0]).toEqual({ start: historyStart(0), end: new Date(WINDOW_MS / 4).toISOString(), ids: 25 });
    asked.length = 0;
    const report = await backfill(opts, 0, WINDOW_MS, ids.slice(0, 1), false, MAX_SHRINK);
    expect(asked).toHaveLength(0);
    expect(report.via).toBe('none'); // REST tried (nothing listens on port 9): reported, not hidden
    expect(lines.some((l) => String(l.msg).includes('the backfill uses /api/history/period'))).toBe(true);
  });

  it('a row exactly on the boundary of two windows comes back once (HA reads last_updated > start AND < end)', async () => {
    sim = new HaSimulator({ token: 't', entities: 30, mode: 'old' });
    await sim.start();
    let us = 0;
    // The first change in a new millisecond has a whole-millisecond time: that is the boundary.
    for (let i = 0; i < 50 && (us === 0 || us % 1000 !== 0); i++) {
      await new Promise((r) => setTimeout(r, 2));
      sim.emitState('sensor.edge', String(i), {});
      us = sim.emitted.at(-1)?.lastUpdatedUs as number;
    }
    expect(us % 1000).toBe(0);
    const boundary = us / 1000;
    let waiting: ((e: StatesEncoded) => void) | null = null;
    const rows: string[] = [];
    const connection = {
      request: () => Promise.reject(new Error('not used')),
      requestStates: () => Promise.reject(new HaCommandError('history/history_during_period', 'unknown_command', 'Unknown command.')),
      expectStates: () => ({ id: -1, reply: new Promise<StatesEncoded>((resolve) => (waiting = resolve)) }),
    };
    const feedFrame = (frame: Buffer): void => {
      for (const st of (JSON.parse(frame.toString()) as { result: { last_updated: string }[][] }).result.flat()) rows.push(st.last_updated);
      waiting?.({ kind: 'rest', states: 0, points: 0, entityIds: [], reannounced: 0, deferred: 0, haRestarted: false, newest: null });
    };
    const { log } = capturingLogger();
    const opts = { connection, httpBase: `http://127.0.0.1:${sim.port}`, token: 't', feedFrame, maxWindowMs: 4 * WINDOW_MS, log, metrics: createMetrics() };
    // Two windows: [boundary − 1 h, boundary) and [boundary, boundary + 1 s).
    const report = await backfill(opts, boundary - WINDOW_MS, boundary + 1_000, ['sensor.edge']);
    expect(report.requests).toBe(3); // the history command (unknown to this HA), then two REST windows
    expect(rows.filter((r) => r === sim?.emitted.at(-1)?.lastUpdated)).toHaveLength(1);
    expect(rows).toHaveLength(sim.emitted.filter((e) => e.entityId === 'sensor.edge').length);
  });

  it('a REST answer over its bound is asked for again in halves (entities, then time): every state comes, memory stays bounded', async () => {
    sim = new HaSimulator({ token: 't', entities: 30, mode: 'old' });
    await sim.start();
    const from = sim.haNowMs();
    await sim.emit({ count: 200 });
    const ids = sim.entityIds.filter((id) => !id.includes(','));
    const { report, frames } = await restBackfill(sim, from - 60_000, sim.haNowMs() + 1, ids, { restMaxBytes: REST_MAX_BYTES });
    expect(report.unfilled).toEqual([]);
    expect(report.via).toBe('rest');
    expect(frames.length).toBeGreaterThan(2);
    for (const f of frames) expect(Buffer.byteLength(f)).toBeLessThan(REST_MAX_BYTES + 100);
    const states = frames.flatMap((f) => (JSON.parse(f) as { result: { entity_id: string; last_updated: string }[][] }).result.flat());
    const got = new Set(states.map((s) => `${s.entity_id} ${s.last_updated}`));
    const recorded = sim.emitted.filter((e) => !e.entityId.includes(',')).map((e) => `${e.entityId} ${e.lastUpdated}`);
    expect(recorded.filter((r) => !got.has(r))).toEqual([]);
  });

  it('an open-ended last window over the REST bound is split at its known end; one entity over it even in a minute leaves the others fetched', async () => {
    // Review of issue 11: with one entity left, an open window (end null) could not be halved, the
    // answer was reported "over N bytes even for one minute" and every other entity left unfilled.
    sim = new HaSimulator({ token: 't', entities: 3, mode: 'old' });
    await sim.start();
    const from = sim.haNowMs();
    for (let i = 0; i < 300; i++) sim.emitState('sensor.big', String(i), { note: 'x'.repeat(200) });
    await sim.emit({ count: 30 });
    await sim.recorderCaughtUp();
    const ids = ['sensor.big', ...sim.entityIds.filter((id) => !id.includes(',') && id !== 'sensor.big')];
    const toMs = sim.haNowMs() + 1;
    const { report, frames } = await restBackfill(sim, from - 60_000, toMs, ids, { openEnd: true, restMaxBytes: REST_MAX_BYTES });
    for (const f of frames) expect(Buffer.byteLength(f)).toBeLessThan(REST_MAX_BYTES + 100);
    const states = frames.flatMap((f) => (JSON.parse(f) as { result: { entity_id: string; last_updated: string }[][] }).result.flat());
    const got = new Set(states.map((s) => `${s.entity_id} ${s.last_updated}`));
    const recorded = sim.emitted.filter((e) => ids.includes(e.entityId));
    // Every other entity's rows came back.
    const others = recorded.filter((e) => e.entityId !== 'sensor.big');
    expect(others.length).toBeGreaterThan(0);
    expect(others.filter((e) => !got.has(`${e.entityId} ${e.lastUpdated}`))).toEqual([]);
    // sensor.big: 300 changes within a millisecond are over the bound in any minute. Only its
    // smallest window is reported, with its exact bounds; every row outside it came back.
    expect(report.unfilled.length).toBeGreaterThan(0);
    for (const u of report.unfilled) {
      expect(u.why).toContain('sensor.big');
      expect(u.to - u.from).toBeLessThanOrEqual(60_000);
      expect(u.why).toContain(`from ${new Date(u.from).toISOString()} to ${new Date(u.to).toISOString()}`);
    }
    const big = recorded.filter((e) => e.entityId === 'sensor.big');
    const outside = big.filter((e) => !report.unfilled.some((u) => Date.parse(e.lastUpdated) >= u.from && Date.parse(e.lastUpdated) < u.to));
    expect(outside.filter((e) => !got.has(`${e.entityId} ${e.lastUpdated}`))).toEqual([]);
  });
});

const REST_MAX_BYTES = 30_000;

/** A backfill against an HA without the history command (REST only), its answers bounded to `restMaxBytes` when given: the report and every answer fed in. */
async function restBackfill(sim: HaSimulator, fromMs: number, toMs: number, ids: string[], o: { openEnd?: boolean; restMaxBytes?: number } = {}) {
  let waiting: ((e: StatesEncoded) => void) | null = null;
  const frames: string[] = [];
  const connection = {
    request: () => Promise.reject(new Error('not used')),
    requestStates: () => Promise.reject(new HaCommandError('history/history_during_period', 'unknown_command', 'Unknown command.')),
    expectStates: () => ({ id: -1, reply: new Promise<StatesEncoded>((resolve) => (waiting = resolve)) }),
  };
  const { log } = capturingLogger();
  const feedFrame = (frame: Buffer): void => {
    frames.push(frame.toString());
    waiting?.({ kind: 'rest', states: 0, points: 0, entityIds: [], reannounced: 0, deferred: 0, haRestarted: false, newest: null });
  };
  const opts = {
    connection,
    httpBase: `http://127.0.0.1:${sim.port}`,
    token: 't',
    feedFrame,
    maxWindowMs: 3_600_000,
    log,
    metrics: createMetrics(),
    ...(o.restMaxBytes === undefined ? {} : { restMaxBytes: o.restMaxBytes }),
  };
  const report = await backfill(opts, fromMs, toMs, ids, o.openEnd === true);
  return { report, frames };
}
