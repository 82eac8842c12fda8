/** The HA connection against the simulator, over a real socket. */
import { afterEach, describe, expect, it } from 'vitest';
import { HaAuthRejectedError, HaCommandError, HaConnectionLostError } from '../../src/errors.js';
import { HaConnection } from '../../src/ha/connection.js';
import { createMetrics } from '../../src/metrics.js';
import { HaSimulator } from '../../src/sim/server.js';
import { createSchemaBatchEncoder } from '../../workers/schema.js';
import { capturingLogger } from '../helpers/log.js';
import { until } from '../helpers/ports.js';

let sim: HaSimulator | null = null;
let conn: HaConnection | null = null;
afterEach(async () => {
  conn?.stop();
  await sim?.stop();
  sim = null;
  conn = null;
});

async function connect(
  mode: 'modern' | 'old',
  token = 'tok',
  extra: Partial<ConstructorParameters<typeof HaConnection>[0]> = {},
  simExtra: { haVersion?: string } = {},
) {
  sim = new HaSimulator({ token: 'tok', mode, entities: 50, seed: 7, ...simExtra });
  await sim.start();
  const frames: Buffer[] = [];
  const snapshots: number[] = [];
  const subscribed: { session: number; snapshot: unknown }[] = [];
  const rejected: Error[] = [];
  let authenticated = 0;
  // What the pool does with each frame, inline: parse, encode, hand replies back.
  const encoder = createSchemaBatchEncoder({ schema: 'typed' });
  const { log, lines } = capturingLogger();
  const metrics = createMetrics();
  conn = new HaConnection({
    url: sim.url,
    token,
    eventTypes: ['state_changed'],
    log,
    metrics,
    handlers: {
      frame: (f) => {
        const r = encoder.encode({
          bytes: new Uint8Array(f),
          ends: new Uint32Array([f.length]),
          session: conn?.session ?? 0,
          stateResults: [...(conn?.stateResults ?? [])],
        });
        if (r.events > 0) frames.push(f);
        for (const c of r.control) if ('encoded' in c) snapshots.push(c.encoded.states);
        conn?.receive(r.session, r.control);
      },
      closed: () => {},
      subscribed: (session, snapshot) => subscribed.push({ session, snapshot }),
      rejected: (e) => rejected.push(e),
      authenticated: () => authenticated++,
    },
    backoff: { baseMs: 20, maxMs: 100, stableMs: 10_000 },
    ...extra,
  });
  const done = conn.run();
  return { frames, snapshots, subscribed, rejected, authenticated: () => authenticated, lines, metrics, done };
}

const eventsIn = (frames: Buffer[]) =>
  frames.flatMap((f) => {
    const parsed = JSON.parse(f.toString());
    return (Array.isArray(parsed) ? parsed : [parsed]).filter((m: { type: string }) => m.type === 'event');
  });

describe('HaConnection', () => {
  it('authenticates, asks for coalescing, subscribes, takes a snapshot and passes event frames on', async () => {
    const { frames, snapshots, metrics } = await connect('modern');
    await sim?.waitForSubscribers();
    await until('snapshot', () => (snapshots.length === 1 ? true : undefined));
    expect(snapshots[0]).toBe(50);
    expect(conn?.knownEntityIds).toHaveLength(50);
    expect(conn?.coalescing).toBe(true);
    expect(metrics.haConnected.get()).toBe(1);
    await sim?.emit({ count: 2000 });
    await until('2000 events', () => (eventsIn(frames).length === 2000 ? true : undefined));
    expect(frames.length).toBeLessThan(2000); // coalesced
    frames.length = 0;
    await sim?.emit({ count: 1 });
    await sim?.emit({ count: 1 });
    await until('2 lone events', () => (eventsIn(frames).length === 2 ? true : undefined));
    // HA sends a lone message as an object or as a one-element array: both arrive.
    expect(frames.map((f) => String.fromCharCode(f[0] as number)).sort()).toEqual(['[', '{']);
  });

  it('a frame over maxFrameBytes: one error naming its size, the limit and the backfill; a metric; reconnected', async () => {
    const limit = 256 * 1024;
    const { frames, lines, metrics } = await connect('modern', 'tok', { maxFrameBytes: limit });
    await sim?.waitForSubscribers();
    const small = (await sim?.sendBigFrame(limit - 32 * 1024, 8, 'sensor.fits')) as number;
    await until('the frame under the limit', () => (eventsIn(frames).length === 8 ? true : undefined));
    expect(small).toBeLessThanOrEqual(limit);
    const size = (await sim?.sendBigFrame(limit + 64 * 1024, 8)) as number;
    await until('reconnected', () => (sim?.connectionsAccepted === 2 && conn?.state === 'subscribed' ? true : undefined), 10_000);
    const errors = lines.filter((l) => l.frameBytes !== undefined);
    expect(errors).toEqual([
      expect.objectContaining({
        level: 50,
        frameBytes: size,
        limitBytes: limit,
        msg: `a frame of ${size} bytes from Home Assistant is over the 0.25 MiB limit (MAX_FRAME_BYTES): the connection is dropped; what it carried is fetched from HA's history by the backfill`,
      }),
    ]);
    expect(lines.some((l) => l.msg === 'Home Assistant socket error')).toBe(false);
    expect(metrics.haFramesTooBig.get()).toBe(1);
    expect(conn?.framesTooBig).toBe(1);
    expect(eventsIn(frames)).toHaveLength(8);
  });

  it('works with an HA announced as older than coalescing, without sending it a command it does not know', async () => {
    const { frames, lines } = await connect('old');
    await sim?.waitForSubscribers();
    await sim?.emit({ count: 300 });
    await until('300 events', () => (eventsIn(frames).length === 300 ? true : undefined));
    expect(frames).toHaveLength(300);
    expect(conn?.coalescing).toBe(false);
    expect(conn?.haVersion).toBe('0.96.5');
    // Each unknown command is an ERROR line in HA's own log.
    expect(sim?.unknownCommands).toBe(0);
    expect(lines.some((l) => String(l.msg).includes('older than 2022.9 and cannot coalesce'))).toBe(true);
  });

  it('asks an HA whose version cannot be read for coalescing, and works on its unknown_command', async () => {
    const { frames, lines } = await connect('old', 'tok', {}, { haVersion: 'custom-build' });
    await sim?.waitForSubscribers();
    await sim?.emit({ count: 50 });
    await until('50 events', () => (eventsIn(frames).length === 50 ? true : undefined));
    expect(conn?.coalescing).toBe(false);
    expect(sim?.unknownCommands).toBe(1);
    expect(lines.some((l) => String(l.msg).includes('does not coalesce'))).toBe(true);
  });

  it('reports a rejected token once and stops in state "rejected", never trying again', async () => {
    const { rejected, authenticated, done } = await connect('modern', 'wrong');
    await done;
    expect(conn?.state).toBe('rejected');
    expect(authenticated()).toBe(0);
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toBeInstanceOf(HaAuthRejectedError);
    expect(rejected[0]?.message).toBe('Home Assistant rejected the access token (HA_TOKEN): Invalid access token or password');
    expect(sim?.connectionsAccepted).toBe(1);
  });

  it('reconnects and resubscribes after the connection drops, and after HA restarts', async () => {
    const { snapshots, metrics, frames } = await connect('modern');
    await sim?.waitForSubscribers();
    sim?.dropConnections();
    await until('second snapshot', () => (snapshots.length === 2 ? true : undefined));
    await sim?.restart(300);
    await until('third snapshot', () => (snapshots.length === 3 ? true : undefined), 10_000);
    expect(metrics.haReconnects.get()).toBeGreaterThanOrEqual(2);
    await sim?.waitForSubscribers();
    await sim?.emit({ count: 10 });
    await until('events after reconnect', () => (eventsIn(frames).length === 10 ? true : undefined));
  });

  it('drops a connection whose pings go unanswered', async () => {
    const { snapshots, lines } = await connect('modern', 'tok', { pingIntervalMs: 100, pongTimeoutMs: 200 });
    await sim?.waitForSubscribers();
    (sim as HaSimulator).answerPings = false;
    await until('a drop', () => (lines.some((l) => l.reason === 'no pong within 0.2 s') ? true : undefined), 5000);
    (sim as HaSimulator).answerPings = true;
    await until('reconnected', () => (snapshots.length >= 2 ? true : undefined), 5000);
  });

  it("request(): the result, HaCommandError with HA's code on an error result, ids assigned in one place", async () => {
    const { subscribed } = await connect('modern');
    await until('subscribed', () => (subscribed.length === 1 ? true : undefined));
    const c = conn as HaConnection;
    expect(await c.request({ type: 'get_config' })).toMatchObject({ location_name: 'Simulated home' });
    const refused = await c.request({ type: 'no_such_command' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(HaCommandError);
    expect(refused).toMatchObject({ code: 'HA_COMMAND_FAILED', haCode: 'unknown_command' });
    // Both answered: the simulator refuses an id that does not increase, so ids were fresh.
    await Promise.all([c.request({ type: 'get_config' }), c.request({ type: 'get_config' })]);
    expect(c.session).toBe(1);
  });

  it('awaitingReplies is true exactly while a command waits for its answer (the frame batcher then holds no frame)', async () => {
    const { subscribed } = await connect('modern');
    await until('subscribed', () => (subscribed.length === 1 ? true : undefined));
    const c = conn as HaConnection;
    await until('nothing in flight', () => (c.awaitingReplies ? undefined : true));
    const answer = c.request({ type: 'get_config' });
    expect(c.awaitingReplies).toBe(true);
    await answer;
    expect(c.awaitingReplies).toBe(false);
  });

  it('expectStates(): a REST answer whose summary never comes back is rejected when its connection closes (it kept awaitingReplies and its kind for good)', async () => {
    const { subscribed } = await connect('modern');
    await until('subscribed', () => (subscribed.length === 1 ? true : undefined));
    const c = conn as HaConnection;
    await until('nothing in flight', () => (c.awaitingReplies ? undefined : true));
    const { id, reply } = c.expectStates('rest');
    const outcome = reply.catch((e: unknown) => e);
    expect(c.awaitingReplies).toBe(true);
    expect(c.stateResults).toContainEqual([id, 'rest']);
    sim?.dropConnections(); // e.g. the encoder lost the answer's batch: the resync reconnects
    expect(await outcome).toBeInstanceOf(HaConnectionLostError);
    expect(c.stateResults).not.toContainEqual([id, 'rest']);
    await until('reconnected', () => (subscribed.length === 2 ? true : undefined), 5000);
    await until('nothing in flight', () => (c.awaitingReplies ? undefined : true));
  });

  it('request(): HaConnectionLostError when the connection closes first, or when not connected', async () => {
    const { subscribed } = await connect('modern');
    await until('subscribed', () => (subscribed.length === 1 ? true : undefined));
    const c = conn as HaConnection;
    (sim as HaSimulator).answerPings = false; // a command HA never answers
    const pending = c.request({ type: 'ping' }).catch((e: unknown) => e);
    sim?.dropConnections();
    const lost = await pending;
    expect(lost).toBeInstanceOf(HaConnectionLostError);
    expect(lost).toMatchObject({ code: 'HA_CONNECTION_LOST', retryable: true });
    (sim as HaSimulator).answerPings = true;
    const idle = new HaConnection({
      url: 'ws://127.0.0.1:1/api/websocket',
      token: 't',
      eventTypes: 'all',
      log: capturingLogger().log,
      metrics: createMetrics(),
      handlers: { frame: () => {}, closed: () => {}, rejected: () => {} },
    });
    await expect(idle.request({ type: 'get_config' })).rejects.toBeInstanceOf(HaConnectionLostError);
  });

  it('request(): a command unanswered for COMMAND_TIMEOUT_MS rejects and drops the connection', async () => {
    const { subscribed, lines } = await connect('modern', 'tok', { commandTimeoutMs: 200 });
    await until('subscribed', () => (subscribed.length === 1 ? true : undefined));
    (sim as HaSimulator).answerPings = false;
    const lost = await (conn as HaConnection).request({ type: 'ping' }).catch((e: unknown) => e);
    expect(lost).toBeInstanceOf(HaConnectionLostError);
    await until('dropped', () => (lines.some((l) => l.reason === 'no answer to ping within 0.2 s') ? true : undefined));
    (sim as HaSimulator).answerPings = true;
    await until('reconnected', () => (subscribed.length === 2 ? true : undefined), 5000);
  });

  it('get_states failing (HA 0.96 with a NaN attribute) does not end the connection: subscribed without a snapshot', async () => {
    const { subscribed, lines } = await connect('modern');
    await until('subscribed', () => (subscribed.length === 1 ? true : undefined));
    (sim as unknown as HaSimulator).failGetStates = true;
    (sim as unknown as HaSimulator).dropConnections();
    await until('second connection', () => (subscribed.length === 2 ? true : undefined));
    expect(subscribed[1]).toEqual({ session: 2, snapshot: null });
    expect(lines.some((l) => l.msg === 'get_states failed; continuing without a snapshot')).toBe(true);
    await sim?.emit({ count: 5 });
  });
});
