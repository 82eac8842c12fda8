/**
 * Opening a Home Assistant WebSocket and authenticating on it: auth_required → auth →
 * auth_ok | auth_invalid, within AUTH_TIMEOUT_MS. Resolves with the open socket; everything after
 * auth belongs to the session (connection.ts).
 */
import WebSocket from 'ws';
import { HaAuthRejectedError, HaConnectionError } from '../errors.js';
import { authMessage } from './messages.js';

/** HA closes a connection whose auth message has not arrived within 10 s; we give up at the same time. */
export const AUTH_TIMEOUT_MS = 10_000;

/** A get_states result or a coalesced frame can be tens of MB; this bounds what one frame may cost. */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;

export type SocketFactory = (url: string) => WebSocket;

export const createWebSocket: SocketFactory = (url) =>
  new WebSocket(url, {
    maxPayload: MAX_FRAME_BYTES,
    // HA runs beside us: compressing costs HA CPU and inflating costs ours, for no gain on a LAN.
    perMessageDeflate: false,
    // JSON.parse in the workers reads the bytes anyway; a second full pass here costs main-thread time.
    skipUTF8Validation: true,
    handshakeTimeout: AUTH_TIMEOUT_MS,
  });

export interface Authenticated {
  readonly socket: WebSocket;
  readonly haVersion: string;
}

export function openAuthenticated(url: string, token: string, createSocket: SocketFactory = createWebSocket): Promise<Authenticated> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(url);
    let haVersion = 'unknown';
    let settled = false;
    const finish = (err: Error | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('message', onMessage);
      socket.off('close', onClose);
      if (err === null) {
        resolve({ socket, haVersion });
      } else {
        socket.terminate();
        reject(err);
      }
    };
    const timer = setTimeout(() => finish(new HaConnectionError(`no auth_ok from Home Assistant within ${AUTH_TIMEOUT_MS / 1000} s`)), AUTH_TIMEOUT_MS);
    const onMessage = (data: Buffer): void => {
      let msg: { type?: unknown; ha_version?: unknown; message?: unknown };
      try {
        msg = JSON.parse(data.toString('utf8'));
      } catch {
        finish(new HaConnectionError('Home Assistant sent a frame that is not JSON during auth'));
        return;
      }
      if (typeof msg.ha_version === 'string') haVersion = msg.ha_version;
      switch (msg.type) {
        case 'auth_required':
          socket.send(authMessage(token));
          break;
        case 'auth_ok':
          finish(null);
          break;
        case 'auth_invalid':
          finish(new HaAuthRejectedError(typeof msg.message === 'string' ? msg.message : 'auth_invalid'));
          break;
        default:
          finish(new HaConnectionError(`unexpected message during auth: ${String(msg.type)}`));
      }
    };
    const onClose = (code: number): void => finish(new HaConnectionError(`Home Assistant closed the connection during auth (code ${code})`));
    socket.on('message', onMessage);
    socket.on('close', onClose);
    // 'error' is always followed by 'close'; keep the reason for the close message.
    socket.on('error', (err) => finish(new HaConnectionError(`cannot connect to Home Assistant at ${url}: ${err.message}`, { cause: err })));
  });
}
