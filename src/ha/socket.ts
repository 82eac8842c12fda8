/**
 * Opening a Home Assistant WebSocket and authenticating on it: auth_required → auth →
 * auth_ok | auth_invalid, within AUTH_TIMEOUT_MS. Resolves with the open socket; everything after
 * auth belongs to the session (connection.ts).
 *
 * Rules:
 * - The first message must be auth_required; auth_ok or auth_invalid count only after our token
 *   was sent. Anything else (an auth_ok before the token, a second auth_required, an event, a
 *   frame that is not JSON) is a protocol violation: the attempt fails with a HaConnectionError
 *   naming what arrived and how long after the socket opened, and the connection's normal
 *   backoff retries. An auth_invalid out of order is such a violation too, not a verdict on the
 *   token: only an auth_invalid answering our token stops the ingestor.
 * - Text from the server reaches an error message only as the message type, cut to 40 characters.
 */
import WebSocket from 'ws';
import { HaAuthRejectedError, HaConnectionError } from '../errors.js';
import { authMessage } from './messages.js';

/** HA closes a connection whose auth message has not arrived within 10 s; we give up at the same time. */
export const AUTH_TIMEOUT_MS = 10_000;

/**
 * The largest frame accepted from HA. HA's own biggest frames are a get_states answer (a few MB
 * for a big home), a coalesced frame (bounded by HA's 4,096 pending messages) and a backfill's
 * history answer (bounded by the backfill's request size, which shrinks after a frame over this).
 * A frame costs the ingestor up to ~4.5× its size at peak (its bytes, the worker's string, parsed
 * objects and lines): a 16 MiB frame measured +32 MB (256 events of one long attribute) to
 * +74 MB (4,000 events of small numeric attributes) of peak RSS; the documented bound is
 * 6 × MAX_FRAME_BYTES = 96 MiB. Before, at 64 MiB, a frame took +322 to +419 MB (610 MB reported). A bigger frame is refused by ws from its header, before it is
 * buffered: the connection is dropped and the backfill fetches what it carried.
 */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024;

/** ws's code for a message over maxPayload (it closes the socket with 1009). */
export const FRAME_TOO_BIG = 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH';

/**
 * How many bytes the refused message announced, read from ws's receiver (an internal field, for
 * the log only); null when it cannot be read.
 */
export function refusedFrameBytes(socket: WebSocket): number | null {
  const receiver = (socket as unknown as { _receiver?: { _totalPayloadLength?: unknown } })._receiver;
  const n = receiver?._totalPayloadLength;
  return typeof n === 'number' && n > 0 ? n : null;
}

export type SocketFactory = (url: string) => WebSocket;

/** A socket factory whose frames may be at most `maxFrameBytes` (ws refuses more from the header). */
export const webSocketFactory =
  (maxFrameBytes: number = MAX_FRAME_BYTES): SocketFactory =>
  (url) =>
    new WebSocket(url, {
      maxPayload: maxFrameBytes,
      // HA runs beside us: compressing costs HA CPU and inflating costs ours, for no gain on a LAN.
      perMessageDeflate: false,
      // JSON.parse in the workers reads the bytes anyway; a second full pass here costs main-thread time.
      skipUTF8Validation: true,
      handshakeTimeout: AUTH_TIMEOUT_MS,
    });

export const createWebSocket: SocketFactory = webSocketFactory();

export interface Authenticated {
  readonly socket: WebSocket;
  readonly haVersion: string;
}

/** What the server's message type may say in our messages: a short, printable excerpt. */
const shown = (type: unknown): string => (typeof type === 'string' ? JSON.stringify(type.slice(0, 40)) : `a message without a type (${typeof type})`);

export function openAuthenticated(url: string, token: string, createSocket: SocketFactory = createWebSocket): Promise<Authenticated> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(url);
    const startedAt = Date.now();
    let haVersion = 'unknown';
    let tokenSent = false;
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
    const violation = (what: string): void => {
      const step = tokenSent ? 'after we sent the access token' : 'before we sent the access token';
      finish(new HaConnectionError(`Home Assistant broke the auth protocol: ${what} arrived ${step}, ${Date.now() - startedAt} ms after the socket opened`));
    };
    const timer = setTimeout(() => finish(new HaConnectionError(`no auth_ok from Home Assistant within ${AUTH_TIMEOUT_MS / 1000} s`)), AUTH_TIMEOUT_MS);
    const onMessage = (data: Buffer): void => {
      let msg: { type?: unknown; ha_version?: unknown; message?: unknown };
      try {
        msg = JSON.parse(data.toString('utf8'));
      } catch {
        violation(`a frame that is not JSON (${data.length} bytes)`);
        return;
      }
      if (typeof msg.ha_version === 'string') haVersion = msg.ha_version.slice(0, 40);
      if (msg.type === 'auth_required' && !tokenSent) {
        tokenSent = true;
        socket.send(authMessage(token));
      } else if (msg.type === 'auth_ok' && tokenSent) finish(null);
      else if (msg.type === 'auth_invalid' && tokenSent) finish(new HaAuthRejectedError(typeof msg.message === 'string' ? msg.message : 'auth_invalid'));
      else violation(shown(msg.type));
    };
    const onClose = (code: number): void => finish(new HaConnectionError(`Home Assistant closed the connection during auth (code ${code})`));
    socket.on('message', onMessage);
    socket.on('close', onClose);
    // 'error' is always followed by 'close'; keep the reason for the close message.
    socket.on('error', (err) => finish(new HaConnectionError(`cannot connect to Home Assistant at ${url}: ${err.message}`, { cause: err })));
  });
}
