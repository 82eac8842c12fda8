/**
 * The resync module against a fake HA connection (a recorder that commits when told) and the
 * real Watermark: where a gap starts and ends (HA's clock only), waiting for the recorder, and
 * what happens when connections drop in the middle.
 */
import { describe, expect, it } from 'vitest';
import { HaCommandError, HaConnectionLostError } from '../../src/errors.js';
import type { StatesEncoded } from '../../src/ha/connection.js';
import { historyStart } from '../../src/ha/messages.js';
import { Resync, type GapListener } from '../../src/ha/resync.js';
import { createMetrics } from '../../src/metrics.js';
import { Watermark } from '../../src/pipeline/watermark.js';
import { FakeHa } from '../helpers/fake-ha.js';
import { capturingLogger } from '../helpers/log.js';

const H = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

class Listener implements GapListener {
  readonly calls: string[] = [];
  begin(s: number): void {
    this.calls.push(`begin ${s}`);
  }
  settle(s: number, complete: boolean): void {
    this.calls.push(`settle ${s} ${complete}`);
  }
  closed(s: number): void {
    this.calls.push(`closed ${s}`);
  }
}

function setup(restoredHaMs: number | null, opts: { recorderWaitMs?: number; entityIds?: string[] } = {}) {
  const watermark = new Watermark(restoredHaMs);
  const ha = new FakeHa(watermark);
  const listener = new Listener();
  const { log, lines } = capturingLogger();
  const metrics = createMetrics();
  const resync = new Resync({
    backfill: { connection: ha, httpBase: 'http://unused', token: 't', feedFrame: () => {}, maxWindowMs: 48 * H, log, metrics },
    watermark,
    gapListener: listener,
    entityIds: opts.entityIds ?? ['sensor.a', 'sensor.b'],
    log,
    metrics,
    recorderWaitMs: opts.recorderWaitMs ?? 2_000,
    probeIntervalMs: 10,
    retryBaseMs: 10,
  });
  return { watermark, ha, listener, resync, lines, metrics };
}

const snapshot = (newest: { entityId: string; haMs: number } | null, entityIds: string[] = []): StatesEncoded => ({
  kind: 'snapshot',
  states: entityIds.length,
  points: entityIds.length,
  entityIds,
  reannounced: 0,
  deferred: 0,
  haRestarted: false,
  newest,
});

describe('Resync', () => {
  it("fills the gap in HA's clock, hours away from ours: from the saved watermark to the snapshot's newest state", async () => {
    for (const offset of [-5 * H, 7 * H]) {
      const T = Date.now() + offset; // HA's time of the last durable point
      const { watermark, ha, listener, resync } = setup(T);
      resync.begin(1);
      expect(watermark.value()).toBe(T - 60_000); // the ceiling, before anything is subscribed
      ha.row('sensor.a', T + 600_000);
      resync.liveSeen(1, [{ entityId: 'sensor.a', haMs: T + 600_000 }]);
      const done = resync.subscribed(1, snapshot({ entityId: 'sensor.b', haMs: T + 500_000 }, ['sensor.c']));
      const poll = setInterval(() => ha.settleAnswers(), 10);
      await done;
      clearInterval(poll);
      // The recorder shows the first live change: everything before it is committed.
      expect(ha.fetches).toEqual([{ start: historyStart(T - 60_000), end: iso(T + 500_001), ids: ['sensor.a', 'sensor.b', 'sensor.c'] }]);
      expect(listener.calls).toEqual(['begin 1', 'settle 1 true']);
      expect(watermark.value()).toBe(T);
    }
  });

  it('keeps the ceiling until the answers are durable, then lets the watermark go on', async () => {
    const T = Date.now() - 2 * H;
    const { watermark, ha, resync } = setup(T);
    resync.begin(1);
    const live = watermark.hold();
    live.noteHaTime(T + 10_000);
    ha.row('sensor.a', T + 10_000);
    resync.liveSeen(1, [{ entityId: 'sensor.a', haMs: T + 10_000 }]);
    const filled = resync.subscribed(1, null);
    live.release();
    await new Promise((r) => setTimeout(r, 100));
    expect(watermark.value()).toBe(T - 60_000);
    ha.settleAnswers();
    await filled;
    expect(watermark.value()).toBe(T + 10_000);
  });

  it("get_states failed: the first live change anchors; waits for HA's recorder to reach it; every entity ever seen is fetched", async () => {
    const T = Date.now();
    const { ha, listener, resync, lines } = setup(T);
    resync.begin(1);
    resync.knownEntity('sensor.first_seen_live'); // EncodeResult.newEntityIds
    ha.row('sensor.a', T + 5_000, false);
    resync.liveSeen(1, [{ entityId: 'sensor.a', haMs: T + 5_000 }]);
    ha.onProbe = () => {
      if (ha.probes === 4) ha.commitAll();
    };
    const filled = resync.subscribed(1, null);
    ha.settleAnswers();
    const early = ha.fetches.length;
    const waitDone = filled.then(() => ha.settleAnswers());
    await new Promise((r) => setTimeout(r, 200));
    ha.settleAnswers();
    await waitDone;
    expect(early).toBe(0);
    expect(ha.probes).toBe(4);
    expect(ha.fetches).toEqual([{ start: historyStart(T - 60_000), end: iso(T + 5_001), ids: ['sensor.a', 'sensor.b', 'sensor.first_seen_live'] }]);
    expect(resync.entityIds).toEqual(['sensor.a', 'sensor.b', 'sensor.first_seen_live']);
    expect(listener.calls).toEqual(['begin 1', 'settle 1 true']);
    expect(lines.some((l) => l.msg === "HA's recorder reached the live stream" && l.polls === 4)).toBe(true);
  });

  for (const [name, withSnapshot] of [
    ["the snapshot's newest state", true],
    ['the first live change (no snapshot)', false],
  ] as const) {
    it(`a watermark in HA's future (year 5138) is clamped to HA's now as ${name}, minus BACKFILL_MAX_WINDOW, with a warning naming both`, async () => {
      const future = Date.parse('5138-01-01T00:00:00Z');
      const haNow = Date.now() - 5 * H; // HA's clock, hours from ours: ours must not be used
      const { ha, listener, resync, lines, metrics, watermark } = setup(future);
      resync.begin(1);
      ha.row('sensor.a', haNow);
      if (!withSnapshot) resync.liveSeen(1, [{ entityId: 'sensor.a', haMs: haNow }]);
      const filled = resync.subscribed(1, withSnapshot ? snapshot({ entityId: 'sensor.a', haMs: haNow }, ['sensor.a']) : null);
      const poll = setInterval(() => ha.settleAnswers(), 10);
      await filled;
      clearInterval(poll);
      const from = haNow + 1 - 48 * H;
      // The whole window that can be known, an hour at a time, up to the anchor.
      expect(ha.fetches).toHaveLength(48);
      expect(ha.fetches[0]?.start).toBe(historyStart(from));
      expect(ha.fetches.at(-1)?.end).toBe(iso(haNow + 1));
      expect(listener.calls).toEqual(['begin 1', 'settle 1 true']);
      const warning = lines.find((l) => l.gapStart !== undefined);
      expect(warning).toMatchObject({ level: 40, gapStart: iso(future - 60_000), haNow: iso(haNow), backfillFrom: iso(from) });
      expect(String(warning?.msg)).toContain("after Home Assistant's now");
      expect(metrics.watermarkClamped.get()).toBe(1);
      // The watermark no longer claims HA's future: a crash now restarts from what HA knows.
      expect(watermark.value()).toBe(from);
      // The next connection starts where this gap ended, without another clamp.
      ha.fetches.length = 0;
      resync.closed(1);
      resync.begin(2);
      ha.row('sensor.a', haNow + 5_000);
      const next = resync.subscribed(2, snapshot({ entityId: 'sensor.a', haMs: haNow + 5_000 }, ['sensor.a']));
      const poll2 = setInterval(() => ha.settleAnswers(), 10);
      await next;
      clearInterval(poll2);
      expect(ha.fetches).toEqual([{ start: historyStart(haNow + 1 - 60_000), end: iso(haNow + 5_001), ids: ['sensor.a', 'sensor.b'] }]);
      expect(metrics.watermarkClamped.get()).toBe(1);
    });
  }

  it("a watermark only 2 h in HA's future: a live change before it proves it (not a quiet home), clamped the same way", async () => {
    const haNow = Date.now() + 3 * H;
    const { ha, resync, lines, metrics, watermark } = setup(haNow + 2 * H);
    resync.begin(1);
    ha.row('sensor.a', haNow);
    resync.liveSeen(1, [{ entityId: 'sensor.a', haMs: haNow }]);
    const filled = resync.subscribed(1, snapshot({ entityId: 'sensor.b', haMs: haNow - 10_000 }, ['sensor.b']));
    const poll = setInterval(() => ha.settleAnswers(), 10);
    await filled;
    clearInterval(poll);
    const from = haNow - 10_000 + 1 - 48 * H;
    expect(ha.fetches[0]?.start).toBe(historyStart(from));
    expect(lines.find((l) => l.gapStart !== undefined)).toMatchObject({ haNow: iso(haNow - 10_000), backfillFrom: iso(from) });
    expect(metrics.watermarkClamped.get()).toBe(1);
    expect(watermark.value()).toBe(from);
  });

  it('a watermark 4 min after the newest state with no live change before it: a quiet home, nothing fetched, no clamp', async () => {
    const T = Date.now() - H;
    const { ha, listener, resync, metrics } = setup(T + 240_000);
    resync.begin(1);
    await resync.subscribed(1, snapshot({ entityId: 'sensor.a', haMs: T }, ['sensor.a']));
    expect(ha.fetches).toEqual([]);
    expect(listener.calls).toEqual(['begin 1', 'settle 1 true']);
    expect(metrics.watermarkClamped.get()).toBe(0);
  });

  it('a recorder that never reaches the anchor: fetched anyway after the bound, the tail reported, settle(false)', async () => {
    const T = Date.now() + 3 * H;
    const { ha, listener, resync, lines, metrics, watermark } = setup(T, { recorderWaitMs: 150 });
    resync.begin(1);
    ha.row('sensor.a', T + 20_000); // committed: the newest row the recorder has
    resync.liveSeen(1, [{ entityId: 'sensor.a', haMs: T + 50_000 }]); // never committed
    const filled = resync.subscribed(1, null);
    const poll = setInterval(() => ha.settleAnswers(), 10);
    await filled;
    clearInterval(poll);
    expect(ha.fetches).toEqual([{ start: historyStart(T - 60_000), end: iso(T + 50_001), ids: ['sensor.a', 'sensor.b'] }]);
    expect(listener.calls).toEqual(['begin 1', 'settle 1 false']);
    const report = lines.find((l) => String(l.msg).startsWith("HA's recorder did not reach the live stream"));
    expect(report).toMatchObject({ level: 50, from: iso(T + 20_000), to: iso(T + 50_001) });
    expect(metrics.backfillUnfilledSeconds.get()).toBeCloseTo(30.001, 3);
    expect(watermark.value()).toBe(T); // released: the restored value is the floor again
  });

  it('without a live change the snapshot anchors the gap (HA restarted while we were away, nothing new since)', async () => {
    const T = Date.now() - H;
    const { ha, listener, resync } = setup(T);
    resync.begin(1);
    // HA restarted: every entity re-announced at its start, the newest of those is the anchor.
    ha.row('sensor.a', T + 30_000);
    ha.row('sensor.b', T + 30_001);
    const filled = resync.subscribed(1, { ...snapshot({ entityId: 'sensor.b', haMs: T + 30_001 }, ['sensor.a', 'sensor.b', 'sensor.new']), haRestarted: true });
    const poll = setInterval(() => ha.settleAnswers(), 10);
    await filled;
    clearInterval(poll);
    expect(ha.fetches).toEqual([{ start: historyStart(T - 60_000), end: iso(T + 30_002), ids: ['sensor.a', 'sensor.b', 'sensor.new'] }]);
    expect(listener.calls).toEqual(['begin 1', 'settle 1 true']);
  });

  it('a drop during the backfill hands the gap, start and ceiling, to the next connection', async () => {
    const T = Date.now();
    const { ha, listener, resync, watermark } = setup(T);
    resync.begin(1);
    ha.row('sensor.a', T + 1_000);
    resync.liveSeen(1, [{ entityId: 'sensor.a', haMs: T + 1_000 }]);
    // Session 1's live events become durable: the watermark must still not pass the gap.
    const live = watermark.hold();
    live.noteHaTime(T + 2_000);
    live.release();
    ha.lost = true;
    await resync.subscribed(1, null);
    resync.closed(1);
    expect(watermark.value()).toBe(T - 60_000);
    ha.lost = false;
    resync.begin(2);
    expect(watermark.value()).toBe(T - 60_000);
    ha.row('sensor.b', T + 9_000);
    resync.liveSeen(2, [{ entityId: 'sensor.b', haMs: T + 9_000 }]);
    const filled = resync.subscribed(2, null);
    const poll = setInterval(() => ha.settleAnswers(), 10);
    await filled;
    clearInterval(poll);
    expect(ha.fetches.at(-1)).toEqual({ start: historyStart(T - 60_000), end: iso(T + 9_001), ids: ['sensor.a', 'sensor.b'] });
    expect(listener.calls).toEqual(['begin 1', 'closed 1', 'begin 2', 'settle 2 true']);
    expect(watermark.value()).toBe(T + 2_000);
  });

  it.each([
    ['ran an encoder thread out of memory', 'an encoder batch that failed'],
    ['was over MAX_FRAME_BYTES', 'a frame over MAX_FRAME_BYTES'],
  ])('a history answer that %s: the next backfill asks in 4× smaller requests, not the same ones forever', async (_, cause) => {
    const T = Date.now();
    const { ha, resync, lines, metrics } = setup(T);
    // Seconds a request covers (its start is asked 1 ms early: HA reads last_updated > start).
    const seconds = (f: { start: string; end: string | undefined }) => Math.round((Date.parse(String(f.end)) - Date.parse(f.start)) / 1000);
    // The first answer fails in the encoder (ERR_WORKER_OUT_OF_MEMORY): the router tells the
    // resync, which drops the connection; its requests are rejected as the socket closes.
    ha.onFetch = () => {
      ha.onFetch = null;
      if (cause.startsWith('an encoder')) resync.dataLost('an encoder batch failed', { backfillAnswer: true });
      else metrics.haFramesTooBig.inc();
      resync.closed(1);
      throw new HaConnectionLostError('history', 'connection closed');
    };
    resync.begin(1);
    ha.row('sensor.a', T + 2 * H);
    await resync.subscribed(1, snapshot({ entityId: 'sensor.a', haMs: T + 2 * H }, ['sensor.a']));
    expect(ha.fetches).toHaveLength(1);
    expect(seconds(ha.fetches[0] as (typeof ha.fetches)[0])).toBe(3600);
    resync.begin(2);
    const filled = resync.subscribed(2, snapshot({ entityId: 'sensor.a', haMs: T + 2 * H }, ['sensor.a']));
    const poll = setInterval(() => ha.settleAnswers(), 10);
    await filled;
    clearInterval(poll);
    expect(seconds(ha.fetches[1] as (typeof ha.fetches)[0])).toBe(900);
    expect(ha.fetches.length).toBeGreaterThan(8); // 2 h in 15-minute windows
    expect(lines.find((l) => String(l.msg).includes('4× smaller'))).toMatchObject({ shrink: 2, msg: expect.stringContaining(cause) });
  });

  it('a REST answer lost in an encoder is never answered, but its connection closes: the next backfill still asks in smaller requests', async () => {
    const T = Date.now();
    const { ha, resync } = setup(T);
    const seconds = (f: { start: string; end: string | undefined }) => Math.round((Date.parse(String(f.end)) - Date.parse(f.start)) / 1000);
    ha.onFetch = () => {
      ha.onFetch = null;
      ha.hang = new Promise(() => {}); // the synthetic reply of a REST answer that failed: never settles
      resync.dataLost('an encoder batch failed', { backfillAnswer: true });
      resync.closed(1);
    };
    resync.begin(1);
    ha.row('sensor.a', T + 2 * H);
    void resync.subscribed(1, snapshot({ entityId: 'sensor.a', haMs: T + 2 * H }, ['sensor.a']));
    while (ha.fetches.length === 0) await new Promise((r) => setTimeout(r, 5));
    ha.hang = null;
    resync.begin(2);
    const filled = resync.subscribed(2, snapshot({ entityId: 'sensor.a', haMs: T + 2 * H }, ['sensor.a']));
    const poll = setInterval(() => ha.settleAnswers(), 10);
    await filled;
    clearInterval(poll);
    expect(seconds(ha.fetches[0] as (typeof ha.fetches)[0])).toBe(3600);
    expect(seconds(ha.fetches[1] as (typeof ha.fetches)[0])).toBe(900);
  });

  it('two reconnects in a row (one before subscribing, one while waiting for the recorder): one gap, filled once', async () => {
    const T = Date.now();
    const { ha, listener, resync, watermark } = setup(T);
    resync.begin(1);
    resync.closed(1); // dropped before subscribing
    resync.begin(2);
    ha.row('sensor.a', T + 5_000, false);
    resync.liveSeen(2, [{ entityId: 'sensor.a', haMs: T + 5_000 }]);
    const second = resync.subscribed(2, null);
    await new Promise((r) => setTimeout(r, 60));
    resync.closed(2); // dropped while the recorder lags
    await second;
    expect(ha.fetches).toHaveLength(0);
    expect(watermark.value()).toBe(T - 60_000);
    resync.begin(3);
    ha.commitAll();
    ha.row('sensor.b', T + 8_000);
    resync.liveSeen(3, [{ entityId: 'sensor.b', haMs: T + 8_000 }]);
    const third = resync.subscribed(3, null);
    const poll = setInterval(() => ha.settleAnswers(), 10);
    await third;
    clearInterval(poll);
    expect(ha.fetches).toEqual([{ start: historyStart(T - 60_000), end: iso(T + 8_001), ids: ['sensor.a', 'sensor.b'] }]);
    expect(listener.calls).toEqual(['begin 1', 'closed 1', 'begin 2', 'closed 2', 'begin 3', 'settle 3 true']);
    expect(watermark.value()).toBe(T);
  });

  it('a backfill that fails: reported, settle(false), the ceiling released', async () => {
    const T = Date.now();
    const { ha, listener, resync, watermark, lines, metrics } = setup(T);
    resync.begin(1);
    ha.row('sensor.a', T + 1_000);
    resync.liveSeen(1, [{ entityId: 'sensor.a', haMs: T + 1_000 }]);
    ha.failFetch = new HaCommandError('history/history_during_period', 'unknown_error', 'database locked');
    await resync.subscribed(1, null);
    expect(listener.calls).toEqual(['begin 1', 'settle 1 false']);
    expect(lines.some((l) => String(l.msg).startsWith('a gap could not be filled') && String(l.why).includes('database locked'))).toBe(true);
    expect(metrics.backfills.get({ result: 'partial' })).toBe(1);
    expect(watermark.value()).toBe(T);
  });

  it('the next gap starts where the live stream reached, in HA time; a very first start fills nothing', async () => {
    const { ha, listener, resync, watermark } = setup(null);
    resync.begin(1);
    expect(watermark.value()).toBeNull();
    await resync.subscribed(1, snapshot({ entityId: 'sensor.a', haMs: 1_000_000 }, ['sensor.a']));
    expect(ha.fetches).toHaveLength(0);
    resync.closed(1);
    const live = watermark.hold();
    live.noteHaTime(5_000_000); // HA's clock: far from ours
    live.release();
    resync.begin(2);
    ha.row('sensor.a', 5_100_000);
    resync.liveSeen(2, [{ entityId: 'sensor.a', haMs: 5_100_000 }]);
    const filled = resync.subscribed(2, null);
    const poll = setInterval(() => ha.settleAnswers(), 10);
    await filled;
    clearInterval(poll);
    expect(ha.fetches).toEqual([{ start: historyStart(5_000_000 - 60_000), end: iso(5_100_001), ids: ['sensor.a', 'sensor.b'] }]);
    expect(listener.calls).toEqual(['begin 1', 'settle 1 true', 'closed 1', 'begin 2', 'settle 2 true']);
  });

  it('a fetch still in flight when the connection closes: the gap goes to the next connection at once, the late answer releases nothing', async () => {
    const T = Date.now();
    const { ha, listener, resync, watermark } = setup(T);
    resync.begin(1);
    ha.row('sensor.a', T + 1_000);
    let answer!: () => void;
    ha.hang = new Promise((r) => (answer = r));
    const first = resync.subscribed(1, snapshot({ entityId: 'sensor.a', haMs: T + 1_000 }));
    await new Promise((r) => setTimeout(r, 50));
    expect(ha.fetches).toHaveLength(1);
    resync.closed(1);
    ha.hang = null;
    resync.begin(2); // before the late answer: still the same gap
    answer();
    ha.settleAnswers();
    await first;
    expect(watermark.value()).toBe(T - 60_000);
    ha.row('sensor.b', T + 3_000);
    const second = resync.subscribed(2, snapshot({ entityId: 'sensor.b', haMs: T + 3_000 }));
    const poll = setInterval(() => ha.settleAnswers(), 10);
    await second;
    clearInterval(poll);
    expect(ha.fetches.at(-1)).toMatchObject({ start: historyStart(T - 60_000), end: iso(T + 3_001) });
    expect(listener.calls).toEqual(['begin 1', 'closed 1', 'begin 2', 'settle 2 true']);
    expect(watermark.value()).toBe(T);
  });
});

/** The review's findings 3, 5 and 7, reproduced on the code before their fixes (review repros). */
describe('Resync when the anchor or HA says something unexpected', () => {
  const settleWhile = async (ha: FakeHa, done: Promise<void>): Promise<void> => {
    const poll = setInterval(() => ha.settleAnswers(), 10);
    await done;
    clearInterval(poll);
  };

  it('a quiet gap (the newest state is older than the gap start): no wait for the recorder, no alarm, complete', async () => {
    const T = Date.parse('2024-05-01T12:00:00Z');
    const { watermark, ha, listener, resync, lines, metrics } = setup(null, { recorderWaitMs: 300 });
    ha.row('sensor.a', T);
    resync.begin(1);
    await resync.subscribed(1, null);
    for (const at of [T, T + 300_000]) {
      // A state change, then a silent registry update 5 minutes later: the newest live HA time.
      const h = watermark.hold();
      h.noteHaTime(at);
      h.release();
    }
    resync.closed(1);
    resync.begin(2);
    const started = Date.now();
    await settleWhile(ha, resync.subscribed(2, snapshot({ entityId: 'sensor.a', haMs: T }, ['sensor.a'])));
    expect(Date.now() - started).toBeLessThan(300);
    expect(lines.some((l) => String(l.msg).startsWith("HA's recorder did not reach"))).toBe(false);
    expect(metrics.backfillUnfilledSeconds.get()).toBe(0);
    expect(listener.calls.at(-1)).toBe('settle 2 true');
  });

  it('HA restarted with its clock set back: the watermark follows its new clock and what it recorded since is fetched', async () => {
    const T = Date.parse('2024-05-01T12:00:00Z');
    const boot = T - 5 * H;
    const { watermark, ha, resync, lines } = setup(null, { recorderWaitMs: 300, entityIds: ['sensor.a'] });
    for (const at of [boot + 60_000, boot + 120_000, boot + 600_000]) ha.row('sensor.a', at);
    resync.begin(1);
    await resync.subscribed(1, null);
    const live = watermark.hold();
    live.noteHaTime(T);
    live.release();
    resync.closed(1); // HA's host loses power; it comes back 5 h behind
    resync.begin(2);
    await settleWhile(ha, resync.subscribed(2, { ...snapshot({ entityId: 'sensor.a', haMs: boot + 600_000 }, ['sensor.a']), haRestarted: true }));
    expect(ha.rowsFetched).toBe(3);
    expect(watermark.newestHaMs).toBeLessThanOrEqual(boot + 600_000);
    expect(lines.some((l) => String(l.msg).startsWith('Home Assistant restarted with its clock behind'))).toBe(true);
  });

  it('HA keeps refusing the history questions: tried again, then the gap is kept for the next connection, its bounds counted', async () => {
    const T = Date.now() - H;
    const { watermark, ha, listener, resync, lines, metrics } = setup(T, { recorderWaitMs: 200 });
    ha.failProbe = 'unknown_error'; // "database is locked", say
    resync.begin(1);
    const live = watermark.hold();
    live.noteHaTime(T + H);
    live.release();
    await resync.subscribed(1, snapshot({ entityId: 'sensor.a', haMs: T + H - 1_000 }, ['sensor.a']));
    expect(ha.fetches).toHaveLength(0);
    expect(metrics.backfillUnfilledSeconds.get()).toBeGreaterThan(0);
    expect(lines.some((l) => String(l.msg).includes('could not be fetched: it is kept for the next connection'))).toBe(true);
    expect(listener.calls).toEqual(['begin 1', 'settle 1 false']);
    expect(watermark.value()).toBeLessThanOrEqual(T);
    expect(resync.gapStartMs).toBeLessThanOrEqual(T);
  });
});
