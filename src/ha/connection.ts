/**
 * The HA session: one authenticated socket at a time, reconnected forever.
 *
 * On every connection: request coalescing (older HA answers unknown_command: fine), subscribe to
 * the configured event types, take a get_states snapshot. Then read continuously: event frames go
 * to `handlers.frame` untouched (the workers parse them), results and pongs are handled here.
 * An application ping every PING_INTERVAL_MS; no pong within PONG_TIMEOUT_MS drops the socket.
 * A lost connection is retried with exponential backoff and full jitter, 1 s → 60 s; an
 * auth_invalid ends the loop through `handlers.fatal`.
 */
import type WebSocket from 'ws';
import type { Logger } from 'pino';
import { HaAuthRejectedError, HaCommandError, HaConnectionError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import { backoffDelay } from '../backoff.js';
import {
  getStatesMessage,
  isControlMessage,
  isEventMessage,
  mayHoldControl,
  messagesOf,
  pingMessage,
  subscribeEventsMessage,
  supportedFeaturesMessage,
  type ControlMessage,
} from './messages.js';
import { createWebSocket, openAuthenticated, type SocketFactory } from './socket.js';

export interface Backoff {
  readonly baseMs: number;
  readonly maxMs: number;
  /** A connection that stayed subscribed this long resets the backoff. */
  readonly stableMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { baseMs: 1_000, maxMs: 60_000, stableMs: 10_000 };
export const PING_INTERVAL_MS = 30_000;
export const PONG_TIMEOUT_MS = 10_000;

export interface ConnectionHandlers {
  /** A raw frame that may hold events. Must not block: the socket is read on this thread. */
  frame(data: Buffer): void;
  /** get_states result of a new connection. */
  snapshot(states: unknown[]): void;
  /** Authentication failed: the token is wrong. Nothing will be retried. */
  fatal(err: Error): void;
}

export interface ConnectionOptions {
  readonly url: string;
  readonly token: string;
  readonly eventTypes: readonly string[] | 'all';
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly handlers: ConnectionHandlers;
  readonly createSocket?: SocketFactory;
  readonly backoff?: Backoff;
  readonly random?: () => number;
  readonly pingIntervalMs?: number;
  readonly pongTimeoutMs?: number;
}

const CONNECTION_LOST: ControlMessage = { id: -1, type: 'result', success: false, error: { code: 'connection_lost', message: 'connection closed' } };

type Pending = { resolve: (msg: ControlMessage) => void; name: string };

export type ConnectionState = 'connecting' | 'subscribed' | 'waiting' | 'stopped';

export class HaConnection {
  state: ConnectionState = 'connecting';
  haVersion = 'unknown';
  coalescing = false;
  lastFrameAt = 0;
  /** Consecutive failed attempts; drives the backoff delay. */
  private attempt = 0;
  private socket: WebSocket | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private wakeUp: (() => void) | null = null;
  private readonly backoff: Backoff;
  private readonly random: () => number;

  constructor(private readonly opts: ConnectionOptions) {
    this.backoff = opts.backoff ?? DEFAULT_BACKOFF;
    this.random = opts.random ?? Math.random;
  }

  /** Runs until stop() or an auth rejection. */
  async run(): Promise<void> {
    const { log, metrics } = this.opts;
    while (this.state !== 'stopped') {
      let subscribedFor = 0;
      try {
        subscribedFor = await this.session();
      } catch (err) {
        if (err instanceof HaAuthRejectedError) {
          this.state = 'stopped';
          this.opts.handlers.fatal(err);
          return;
        }
        if (!this.stopped) log.warn({ err: { code: (err as HaConnectionError).code, message: (err as Error).message } }, 'Home Assistant connection failed');
      }
      metrics.haConnected.set(0);
      if (this.stopped) return;
      this.attempt = subscribedFor >= this.backoff.stableMs ? 0 : this.attempt + 1;
      const delay = backoffDelay(this.attempt, this.backoff.baseMs, this.backoff.maxMs, this.random);
      metrics.haReconnects.inc();
      this.state = 'waiting';
      log.info({ delayMs: delay, attempt: this.attempt }, 'reconnecting to Home Assistant');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeUp = null;
      if (this.state === 'waiting') this.state = 'connecting';
    }
  }

  get stopped(): boolean {
    return this.state === 'stopped';
  }

  /** Closes the socket and ends run(). */
  stop(): void {
    this.state = 'stopped';
    this.wakeUp?.();
    this.socket?.close(1000, 'ingestor stopping');
  }

  /** Drops the current socket; run() reconnects (used by the ping watchdog). */
  private drop(reason: string): void {
    this.opts.log.warn({ reason }, 'dropping Home Assistant connection');
    this.socket?.terminate();
  }

  /** One connection from open to close. Resolves with how long it was subscribed (ms). */
  private async session(): Promise<number> {
    const { log, metrics, handlers } = this.opts;
    this.state = 'connecting';
    const { socket, haVersion } = await openAuthenticated(this.opts.url, this.opts.token, this.opts.createSocket ?? createWebSocket);
    if (this.stopped) {
      socket.close(1000);
      return 0;
    }
    this.socket = socket;
    this.haVersion = haVersion;
    this.nextId = 1;
    this.coalescing = false;
    let subscribedAt = 0;
    let pingTimer: NodeJS.Timeout | undefined;
    let pongTimer: NodeJS.Timeout | undefined;

    const closed = new Promise<number>((resolve) => {
      socket.on('close', (code: number, reason: Buffer) => {
        clearInterval(pingTimer);
        clearTimeout(pongTimer);
        this.socket = null;
        for (const p of this.pending.values()) p.resolve(CONNECTION_LOST);
        this.pending.clear();
        if (!this.stopped) {
          log.warn({ code, reason: reason.toString() }, 'Home Assistant connection closed');
        }
        resolve(subscribedAt === 0 ? 0 : Date.now() - subscribedAt);
      });
    });
    socket.on('error', (err) => log.warn({ err: { message: err.message } }, 'Home Assistant socket error'));

    socket.on('message', (data: Buffer) => {
      this.lastFrameAt = Date.now();
      metrics.haFrames.inc();
      metrics.haBytes.inc(data.length);
      if (!mayHoldControl(data)) {
        handlers.frame(data);
        return;
      }
      let messages: unknown[];
      try {
        messages = messagesOf(JSON.parse(data.toString('utf8')));
      } catch {
        handlers.frame(data); // the worker counts it as invalid, with its reason
        return;
      }
      let hasEvent = false;
      for (const msg of messages) {
        if (isControlMessage(msg)) this.settle(msg);
        else if (isEventMessage(msg)) hasEvent = true;
      }
      if (hasEvent) handlers.frame(data);
    });

    log.info({ haVersion }, 'authenticated to Home Assistant');
    try {
      const features = this.command('supported_features', supportedFeaturesMessage);
      const types = this.opts.eventTypes === 'all' ? [undefined] : this.opts.eventTypes;
      const subscriptions = types.map((t) => this.command(`subscribe_events ${t ?? '(all)'}`, (id) => subscribeEventsMessage(id, t)));
      const states = this.command('get_states', getStatesMessage);

      const featuresReply = await features;
      this.coalescing = featuresReply.type === 'result' && featuresReply.success;
      if (!this.coalescing) {
        log.info({ haError: featuresReply.type === 'result' ? featuresReply.error : undefined }, 'Home Assistant does not coalesce messages (older release): one event per frame');
      }
      for (const [i, sub] of subscriptions.entries()) {
        const reply = await sub;
        if (reply.type === 'result' && !reply.success) {
          throw new HaCommandError(`subscribe_events ${types[i] ?? '(all)'}`, reply.error?.code ?? 'unknown', reply.error?.message ?? '');
        }
      }
      subscribedAt = Date.now();
      this.state = 'subscribed';
      metrics.haConnected.set(1);
      log.info({ eventTypes: this.opts.eventTypes, coalescing: this.coalescing }, 'subscribed to Home Assistant events');

      const pongTimeoutMs = this.opts.pongTimeoutMs ?? PONG_TIMEOUT_MS;
      let awaitingPong = false;
      pingTimer = setInterval(() => {
        if (awaitingPong) return; // the watchdog below decides
        awaitingPong = true;
        const sent = Date.now();
        pongTimer = setTimeout(() => this.drop(`no pong within ${pongTimeoutMs / 1000} s`), pongTimeoutMs);
        void this.command('ping', pingMessage).then((reply) => {
          awaitingPong = false;
          clearTimeout(pongTimer);
          if (reply.type === 'pong') log.debug({ rttMs: Date.now() - sent }, 'pong');
        });
      }, this.opts.pingIntervalMs ?? PING_INTERVAL_MS);

      const snapshot = await states;
      if (snapshot.type === 'result' && snapshot.success && Array.isArray(snapshot.result)) {
        log.info({ states: snapshot.result.length }, 'received get_states snapshot');
        metrics.snapshotStates.inc(snapshot.result.length);
        handlers.snapshot(snapshot.result);
      } else if (snapshot.type === 'result' && snapshot.error?.code !== 'connection_lost') {
        log.warn({ haError: snapshot.error }, 'get_states failed; continuing without a snapshot');
      }
    } catch (err) {
      log.error({ err: { code: (err as HaCommandError).code, message: (err as Error).message } }, 'Home Assistant session setup failed');
      socket.terminate();
    }
    return closed;
  }

  /** Sends a command with the next id; resolves with its reply (never rejects). */
  private command(name: string, build: (id: number) => string): Promise<ControlMessage> {
    const socket = this.socket;
    if (socket === null || socket.readyState !== socket.OPEN) return Promise.resolve(CONNECTION_LOST);
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, { resolve, name });
      socket.send(build(id));
    });
  }

  private settle(msg: ControlMessage): void {
    const p = this.pending.get(msg.id);
    if (p === undefined) return;
    this.pending.delete(msg.id);
    p.resolve(msg);
  }
}
