/**
 * A minimal Home Assistant WebSocket endpoint for connection tests: it authenticates any token
 * and hands every command after auth to `onCommand`, which answers (or not) as the test needs.
 */
import { type WebSocket, WebSocketServer } from 'ws';

export type Command = { id: number; type: string } & Record<string, unknown>;

export async function startFakeHaWs(onCommand: (ws: WebSocket, m: Command) => void): Promise<{ wss: WebSocketServer; url: string }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((r) => wss.once('listening', r));
  wss.on('connection', (ws) => {
    ws.send(JSON.stringify({ type: 'auth_required', ha_version: '2024.5.0' }));
    ws.on('message', (d) => {
      const m = JSON.parse(String(d)) as Command;
      if (m.type === 'auth') ws.send(JSON.stringify({ type: 'auth_ok', ha_version: '2024.5.0' }));
      else onCommand(ws, m);
    });
  });
  return { wss, url: `ws://127.0.0.1:${(wss.address() as { port: number }).port}/api/websocket` };
}
