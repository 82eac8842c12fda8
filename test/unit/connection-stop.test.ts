/** Review repro: stop() waits for HA's close frame; an HA that stopped reading holds it ~30 s (ws closeTimeout). */
import { WebSocketServer } from 'ws';
import { describe, expect, it } from 'vitest';
import { HaConnection } from '../../src/ha/connection.js';
import { createMetrics } from '../../src/metrics.js';
import { capturingLogger } from '../helpers/log.js';
import { startFakeHaWs } from '../helpers/fake-ha-ws.js';
import { until } from '../helpers/ports.js';

describe('stop() against an HA that no longer reads its socket (review finding 6)', () => {
  it("returns within about a second (CLOSE_GRACE_MS), not ws's 30 s", async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((r) => wss.once('listening', r));
    const port = (wss.address() as { port: number }).port;
    let raw: { pause(): void } | null = null;
    wss.on('connection', (ws, req) => {
      raw = req.socket;
      ws.send(JSON.stringify({ type: 'auth_required', ha_version: '2024.5.0' }));
      ws.on('message', (d) => {
        const m = JSON.parse(String(d));
        if (m.type === 'auth') return ws.send(JSON.stringify({ type: 'auth_ok', ha_version: '2024.5.0' }));
        ws.send(JSON.stringify({ id: m.id, type: 'result', success: true, result: m.type === 'get_states' ? [] : null }));
      });
    });
    const { log } = capturingLogger();
    let subscribed = false;
    const conn: HaConnection = new HaConnection({
      url: `ws://127.0.0.1:${port}/api/websocket`,
      token: 't',
      eventTypes: ['state_changed'],
      log,
      metrics: createMetrics(),
      handlers: {
        // The workers' part, inline: every result back to the connection.
        frame: (f) => {
          const m = JSON.parse(String(f));
          const kind = conn.stateResults.find(([id]) => id === m.id)?.[1];
          conn.receive(conn.session, [
            kind
              ? {
                  id: m.id,
                  type: 'result',
                  success: true,
                  encoded: { kind, states: 0, points: 0, entityIds: [], reannounced: 0, deferred: 0, haRestarted: false, newest: null },
                }
              : m,
          ]);
        },
        closed: () => {},
        subscribed: () => {
          subscribed = true;
        },
        rejected: () => {},
      },
    });
    const done = conn.run();
    await until('subscribed', () => (subscribed ? true : undefined), 5_000);
    (raw as unknown as { pause(): void }).pause(); // HA hung: it reads nothing more
    const t0 = Date.now();
    conn.stop();
    await done;
    const took = Date.now() - t0;
    wss.close();
    expect(took, 'stop() of the connection (the first disposer) before the writer even starts its SHUTDOWN_TIMEOUT_MS').toBeLessThan(5_000);
  }, 60_000);
});

describe('stop() while the session is being set up', () => {
  it('ends run() without a reconnect, even when the subscription is answered after it', async () => {
    let connections = 0;
    const { wss, url } = await startFakeHaWs((ws, m) => {
      ws.send(JSON.stringify({ id: m.id, type: 'result', success: m.type !== 'get_states', result: null }));
    });
    wss.on('connection', () => connections++);
    const { log } = capturingLogger();
    const conn: HaConnection = new HaConnection({
      url,
      token: 't',
      eventTypes: ['state_changed'],
      log,
      metrics: createMetrics(),
      backoff: { baseMs: 10, maxMs: 10, stableMs: 10_000 },
      handlers: {
        frame: (f) => {
          const m = JSON.parse(String(f));
          // SIGTERM lands between the subscription's answer arriving and its being handled.
          if (m.id === subscribeId()) conn.stop();
          conn.receive(conn.session, [m]);
        },
        closed: () => {},
        rejected: () => {},
      },
    });
    // supported_features is 1, subscribe_events 2 (ids are assigned in that order).
    const subscribeId = () => 2;
    const done = conn.run();
    await until(
      'run() ended',
      async () => ((await Promise.race([done.then(() => true), new Promise((r) => setTimeout(() => r(undefined), 20))])) ? true : undefined),
      5_000,
    );
    wss.close();
    expect(conn.state).toBe('stopped');
    expect(connections).toBe(1);
  });
});
