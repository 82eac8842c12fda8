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

describe('HA simulator', () => {
  it('rejects a wrong token with auth_invalid and closes', async () => {
    sim = new HaSimulator({ token: 'right', entities: 40 });
    await sim.start();
    const { ws, messages } = await client(sim.url, 'wrong');
    await new Promise((r) => ws.once('close', r));
    expect(messages).toEqual([{ type: 'auth_required', ha_version: '2025.11.0' }, { type: 'auth_invalid', message: 'Invalid access token or password' }]);
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
});
