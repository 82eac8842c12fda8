/** The simulator keeps HA's rules, so that tests against it mean something. */
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { HaSimulator } from '../../src/sim/server.js';
import { until } from '../helpers/ports.js';

let sim: HaSimulator | null = null;
afterEach(async () => {
  await sim?.stop();
  sim = null;
});

async function client(url: string, token: string): Promise<{ ws: WebSocket; messages: unknown[] }> {
  const ws = new WebSocket(url);
  const messages: unknown[] = [];
  ws.on('message', (d: Buffer) => messages.push(JSON.parse(d.toString())));
  await new Promise((r) => ws.once('open', r));
  await until('auth_required', () => (messages.length > 0 ? true : undefined));
  ws.send(JSON.stringify({ type: 'auth', access_token: token }));
  return { ws, messages };
}

/** What the ingestor's backfill sends (src/ha/messages.ts historyDuringPeriod). */
const asTheIngestorAsks = { include_start_time_state: false, significant_changes_only: false, minimal_response: false, no_attributes: false };

describe('HA simulator', () => {
  it('rejects a wrong token with auth_invalid and closes', async () => {
    sim = new HaSimulator({ token: 'right', entities: 40 });
    await sim.start();
    const { ws, messages } = await client(sim.url, 'wrong');
    await new Promise((r) => ws.once('close', r));
    expect(messages).toEqual([
      { type: 'auth_required', ha_version: '2025.11.0' },
      { type: 'auth_invalid', message: 'Invalid access token or password' },
    ]);
  });

  it('closes a connection that does not authenticate in time', async () => {
    sim = new HaSimulator({ token: 't', entities: 40, authTimeoutMs: 200 });
    await sim.start();
    const ws = new WebSocket(sim.url);
    const closedAfter = await new Promise<number>((resolve) => {
      const t = Date.now();
      ws.once('close', () => resolve(Date.now() - t));
    });
    expect(closedAfter).toBeGreaterThanOrEqual(150);
  });

  it('refuses ids that do not increase, answers unknown commands, sends id last in events', async () => {
    sim = new HaSimulator({ token: 't', entities: 40 });
    await sim.start();
    const { ws, messages } = await client(sim.url, 't');
    ws.send(JSON.stringify({ id: 5, type: 'subscribe_events', event_type: 'state_changed' }));
    ws.send(JSON.stringify({ id: 5, type: 'ping' }));
    ws.send(JSON.stringify({ id: 6, type: 'no_such_command' }));
    await until('replies', () => (messages.length >= 5 ? true : undefined));
    expect(messages.slice(1, 5)).toEqual([
      { type: 'auth_ok', ha_version: '2025.11.0' },
      { id: 5, type: 'result', success: true, result: null },
      { id: 5, type: 'result', success: false, error: { code: 'id_reuse', message: 'Identifier values have to increase.' } },
      { id: 6, type: 'result', success: false, error: { code: 'unknown_command', message: 'Unknown command.' } },
    ]);
    const raw: string[] = [];
    ws.on('message', (d: Buffer) => raw.push(d.toString()));
    await sim.emit({ count: 3 });
    await until('events', () => (raw.length === 3 ? true : undefined));
    for (const r of raw) expect(r).toMatch(/^\{"type":"event","event":\{.*\},"id":5\}$/);
  });

  it('disconnects a client that stops reading, as HA does', async () => {
    sim = new HaSimulator({ token: 't', entities: 40, mode: 'old' });
    await sim.start();
    const { ws } = await client(sim.url, 't');
    ws.send(JSON.stringify({ id: 1, type: 'subscribe_events' }));
    await sim.waitForSubscribers();
    (ws as unknown as { _socket: { pause(): void } })._socket.pause();
    await sim.emit({ count: 20_000, rate: 100_000 });
    // The paused client never reads the close; the simulator's side is what counts.
    await until('slow-reader disconnect', () => (sim?.slowReaderDisconnects === 1 ? true : undefined));
    expect(sim.subscribedClients).toBe(0);
    ws.terminate();
  });

  it('runs on its own clock (clockOffsetMs): states, events and history windows are in HA time', async () => {
    const offset = -3_600_000;
    sim = new HaSimulator({ token: 't', entities: 40, clockOffsetMs: offset });
    await sim.start();
    const { ws, messages } = await client(sim.url, 't');
    const before = Date.now();
    await sim.emit({ count: 5 });
    const times = sim.emitted.map((e) => e.lastUpdatedUs / 1000);
    for (const t of times) expect(Math.abs(t - (before + offset))).toBeLessThan(2_000);
    const start = new Date(before + offset - 1000).toISOString();
    ws.send(JSON.stringify({ id: 1, type: 'history/history_during_period', start_time: start, entity_ids: sim.entityIds, ...asTheIngestorAsks }));
    await until('history', () => (messages.length >= 3 ? true : undefined));
    const rows = Object.values((messages[2] as { result: Record<string, unknown[]> }).result).flat();
    expect(rows).toHaveLength(5);
    // On our clock the same window holds nothing.
    ws.send(
      JSON.stringify({
        id: 2,
        type: 'history/history_during_period',
        start_time: new Date(before - 1000).toISOString(),
        entity_ids: sim.entityIds,
        ...asTheIngestorAsks,
      }),
    );
    await until('history on our clock', () => (messages.length >= 4 ? true : undefined));
    expect((messages[3] as { result: Record<string, unknown[]> }).result).toEqual({});
  });

  it('shows a state in history only once its recorder committed it, in order (recorderLagMs)', async () => {
    sim = new HaSimulator({ token: 't', entities: 40, recorderLagMs: 400 });
    await sim.start();
    const { ws, messages } = await client(sim.url, 't');
    const ask = (id: number) =>
      ws.send(
        JSON.stringify({
          id,
          type: 'history/history_during_period',
          start_time: new Date(Date.now() - 60_000).toISOString(),
          entity_ids: sim?.entityIds,
          ...asTheIngestorAsks,
        }),
      );
    await sim.emit({ count: 3 });
    sim.recorderLagMs = 0; // a later row never commits before an earlier one
    await sim.emit({ count: 2 });
    ask(1);
    await until('first answer', () => (messages.length >= 3 ? true : undefined));
    expect(Object.values((messages[2] as { result: Record<string, unknown[]> }).result).flat()).toHaveLength(0);
    await sim.recorderCaughtUp();
    ask(2);
    await until('second answer', () => (messages.length >= 4 ? true : undefined));
    expect(Object.values((messages[3] as { result: Record<string, unknown[]> }).result).flat()).toHaveLength(5);
  });

  it("REST history: each entity's state at the window start, at the window start, unless skip_initial_state", async () => {
    sim = new HaSimulator({ token: 't', entities: 40, mode: 'old' });
    await sim.start();
    await sim.emit({ count: 20 });
    const id = sim.emitted[0]?.entityId as string;
    await new Promise((r) => setTimeout(r, 5));
    const start = new Date().toISOString(); // after every row: only the start state
    const get = async (extra: string) =>
      (await (
        await fetch(`http://127.0.0.1:${sim?.port}/api/history/period/${encodeURIComponent(start)}?filter_entity_id=${encodeURIComponent(id)}${extra}`, {
          headers: { authorization: 'Bearer t' },
        })
      ).json()) as { last_updated: string; state: string }[][];
    const made = await get('');
    expect(made).toHaveLength(1);
    expect(made[0]?.[0]?.state).toBe(sim.stateOf(id)?.state);
    expect(Date.parse(made[0]?.[0]?.last_updated as string)).toBe(Date.parse(start));
    expect(sim.madeUpRows).toHaveLength(1);
    expect(await get('&skip_initial_state')).toEqual([]);
  });

  it("history/history_during_period with HA's defaults: a start-time row, significant changes only; no_attributes; a start after HA's now answers {}", async () => {
    sim = new HaSimulator({ token: 't', entities: 40 });
    await sim.start();
    const { ws, messages } = await client(sim.url, 't');
    const from = sim.haNowMs() - 1;
    sim.emitState('sensor.x', '1', { unit: 'W' });
    sim.emitState('sensor.x', '1', { unit: 'kW' }); // attributes only: not significant
    sim.emitState('climate.y', 'heat', { t: 20 });
    sim.emitState('climate.y', 'heat', { t: 21 }); // every climate row is significant
    await new Promise((r) => setTimeout(r, 5));
    const ask = (id: number, extra: Record<string, unknown>, start = from) =>
      ws.send(
        JSON.stringify({
          id,
          type: 'history/history_during_period',
          start_time: new Date(start).toISOString(),
          entity_ids: ['sensor.x', 'climate.y'],
          ...extra,
        }),
      );
    const answer = async (n: number) => {
      await until(`answer ${n}`, () => (messages.length >= n + 2 ? true : undefined));
      return (messages[n + 1] as { result: Record<string, { s: string; a?: unknown; lu: number }[]> }).result;
    };
    ask(1, {});
    const defaults = await answer(1);
    expect(defaults['sensor.x']?.map((r) => r.s)).toEqual(['1']);
    expect(defaults['climate.y']?.map((r) => r.a)).toEqual([{ t: 20 }, { t: 21 }]);
    ask(2, asTheIngestorAsks);
    const all = await answer(2);
    expect(all['sensor.x']?.map((r) => r.a)).toEqual([{ unit: 'W' }, { unit: 'kW' }]);
    ask(3, { ...asTheIngestorAsks, no_attributes: true });
    expect(
      Object.values(await answer(3))
        .flat()
        .some((r) => 'a' in r),
    ).toBe(false);
    // A window that starts after both entities' rows: HA makes up each one's state at the start.
    ask(4, { significant_changes_only: false }, sim.haNowMs());
    const made = await answer(4);
    expect(made['sensor.x']).toEqual([{ s: '1', a: { unit: 'kW' }, lu: expect.any(Number) }]);
    expect(sim.madeUpRows.map((r) => r.entityId)).toEqual(['sensor.x', 'climate.y']);
    ask(5, asTheIngestorAsks, sim.haNowMs() + 60_000);
    expect(await answer(5)).toEqual({});
  });

  it('can fail get_states, as HA 0.96 does with a NaN attribute', async () => {
    sim = new HaSimulator({ token: 't', entities: 40 });
    sim.failGetStates = true;
    await sim.start();
    const { ws, messages } = await client(sim.url, 't');
    ws.send(JSON.stringify({ id: 1, type: 'get_states' }));
    await until('answer', () => (messages.length >= 3 ? true : undefined));
    expect(messages[2]).toMatchObject({ id: 1, success: false, error: { code: 'unknown_error' } });
  });
});
