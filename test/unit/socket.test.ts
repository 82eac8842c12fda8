/** Auth on a real socket against servers that break HA's auth protocol in each way we know of. */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { HaAuthRejectedError, HaConnectionError } from '../../src/errors.js';
import { openAuthenticated } from '../../src/ha/socket.js';

let server: WebSocketServer | null = null;
afterEach(async () => {
  for (const c of server?.clients ?? []) c.terminate();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = null;
});

/** A server that plays `script` to each client: frames sent on connect, and after our token. */
async function serve(script: { first: string[]; afterToken?: string[] }): Promise<{ url: string; received: string[] }> {
  const received: string[] = [];
  server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  server.on('connection', (ws: WebSocket) => {
    for (const f of script.first) ws.send(f);
    ws.on('message', (d: Buffer) => {
      received.push(d.toString());
      for (const f of script.afterToken ?? []) ws.send(f);
    });
  });
  await new Promise<void>((r) => server?.once('listening', () => r()));
  const port = (server.address() as { port: number }).port;
  return { url: `ws://127.0.0.1:${port}/api/websocket`, received };
}

const j = (o: unknown): string => JSON.stringify(o);

describe('openAuthenticated', () => {
  it('auth_required → auth → auth_ok: authenticated, with HA version', async () => {
    const { url, received } = await serve({ first: [j({ type: 'auth_required', ha_version: '2025.1.0' })], afterToken: [j({ type: 'auth_ok' })] });
    const { socket, haVersion } = await openAuthenticated(url, 'tok');
    socket.terminate();
    expect(haVersion).toBe('2025.1.0');
    expect(received.map((r) => JSON.parse(r))).toEqual([{ type: 'auth', access_token: 'tok' }]);
  });

  for (const [name, first, afterToken, expected] of [
    [
      'auth_ok before auth_required',
      [j({ type: 'auth_ok', ha_version: 'x' })],
      [],
      /"auth_ok" arrived before we sent the access token, \d+ ms after the socket opened/,
    ],
    ['auth_invalid before the token', [j({ type: 'auth_invalid', message: 'x' })], [], /"auth_invalid" arrived before we sent the access token/],
    ['an event first', [j({ type: 'event', id: 1 })], [], /"event" arrived before we sent the access token/],
    ['a frame that is not JSON', ['<html>'], [], /a frame that is not JSON \(6 bytes\) arrived before/],
    ['a message without a type', [j({ hello: 1 })], [], /a message without a type \(undefined\) arrived before/],
    ['auth_required twice', [j({ type: 'auth_required' })], [j({ type: 'auth_required' })], /"auth_required" arrived after we sent the access token/],
    ['a long type is cut', [j({ type: 'x'.repeat(500) })], [], new RegExp(`"${'x'.repeat(40)}" arrived`)],
  ] as const) {
    it(`${name}: a failed connection (retryable) naming what arrived and when, never authenticated`, async () => {
      const { url } = await serve({ first: [...first], afterToken: [...afterToken] });
      const err = await openAuthenticated(url, 'tok').then(
        () => null,
        (e: Error) => e,
      );
      expect(err).toBeInstanceOf(HaConnectionError);
      expect(err?.message).toMatch(/^Home Assistant broke the auth protocol: /);
      expect(err?.message).toMatch(expected);
      expect((err as HaConnectionError).retryable).toBe(true);
    });
  }

  it('auth_invalid answering our token is the verdict on the token', async () => {
    const { url } = await serve({ first: [j({ type: 'auth_required' })], afterToken: [j({ type: 'auth_invalid', message: 'Invalid access token' })] });
    await expect(openAuthenticated(url, 'tok')).rejects.toBeInstanceOf(HaAuthRejectedError);
  });
});
