/**
 * The HA session: one authenticated socket at a time, reconnected forever.
 *
 * On every connection: request coalescing (older HA answers unknown_command: fine), subscribe to
 * the configured event types, take a get_states snapshot. Then read continuously: every frame
 * goes to `handlers.frame` untouched. The main thread parses none of them: the encoder workers
 * do, and hand results and pongs back through `receive()`, tagged with the connection's
 * `session` number so a late reply from an earlier connection is ignored.
 *
 * Liveness: an application ping every PING_INTERVAL_MS. A connection is dropped when neither a
 * pong nor any frame arrived for PONG_TIMEOUT_MS: frames prove the socket alive even when the
 * pong waits behind a busy encoder. A command unanswered for COMMAND_TIMEOUT_MS drops it too.
 * A lost connection is retried with exponential backoff and full jitter, 1 s → 60 s; auth_invalid
 * ends the loop through `handlers.fatal`.
 */
import type WebSocket from 'ws';
import type { Logger } from 'pino';
import type { StateResultKind, StatesSummary } from '../../workers/encode-batch.js';
import { backoffDelay } from '../backoff.js';
import { HaAuthRejectedError, HaCommandError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import { getStatesMessage, pingMessage, subscribeEventsMessage, supportedFeaturesMessage, type ControlMessage } from './messages.js';
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
export const COMMAND_TIMEOUT_MS = 120_000;

export interface ConnectionHandlers {
  /** A raw frame. Must not block: the socket is read on this thread. */
  frame(data: Buffer): void;
  /** The socket closed: frames of this session are complete. */
  closed(session: number): void;
  /**
   * Subscribed on a new connection. `gapStartMs` is when the previous connection's last frame
   * arrived (0 on the first connection): events since then may have been missed.
   */
  subscribed?(session: number, gapStartMs: number): void;
  /** Authenticated, nothing subscribed yet: what must be known before the first event is encoded. */
  beforeSubscribe?(): Promise<void>;
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
  readonly commandTimeoutMs?: number;
  /** Event types subscribed to for the ingestor's own use (registry updates); failures are logged only. */
  readonly extraEventTypes?: readonly string[];
}

export type Reply = ControlMessage | StatesSummary;

const CONNECTION_LOST: Reply = { id: -1, type: 'result', success: false, error: { code: 'connection_lost', message: 'connection closed' } };

export type ConnectionState = 'connecting' | 'subscribed' | 'waiting' | 'stopped';

export class HaConnection {
  state: ConnectionState = 'connecting';
  haVersion = 'unknown';
  coalescing = false;
  lastFrameAt = 0;
  /** Numbers each connection; replies carry it back from the workers. */
  session = 0;
  /** Commands in flight whose answers are states to write (the workers encode them). */
  readonly stateResults = new Map<number, StateResultKind>();
  /** Entity ids of the last snapshot. */
  knownEntityIds: readonly string[] = [];
  /**
   * This connection's snapshot showed that HA started since the last points we wrote (restart
   * de-duplication: the backfill's rows are then checked for re-announcements too).
   */
  haRestarted = false;
  /** Consecutive failed attempts; drives the backoff delay. */
  private attempt = 0;
  private socket: WebSocket | null = null;
  private nextId = 1;
  private nextSyntheticId = -1;
  /** Arrival of the last frame of the previous connection; where a gap would begin. */
  private previousLastFrameAt = 0;
  private readonly pending = new Map<number, (reply: Reply) => void>();
  private wakeUp: (() => void) | null = null;
  private readonly backoff: Backoff;
  private readonly random: () => number;

  constructor(private readonly opts: ConnectionOptions) {
    this.backoff = opts.backoff ?? DEFAULT_BACKOFF;
    this.random = opts.random ?? Math.random;
  }

  get stopped(): boolean {
    return this.state === 'stopped';
  }

  /** Runs until stop() or an auth rejection. */
  async run(): Promise<void> {
    const { log, metrics } = this.opts;
    while (!this.stopped) {
      let subscribedFor = 0;
      try {
        subscribedFor = await this.connectOnce();
      } catch (err) {
        if (err instanceof HaAuthRejectedError) {
          this.state = 'stopped';
          this.opts.handlers.fatal(err);
          return;
        }
        if (!this.stopped) log.warn({ error: { code: (err as HaCommandError).code, message: (err as Error).message } }, 'Home Assistant connection failed');
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

  /** Closes the socket and ends run(). */
  stop(): void {
    this.state = 'stopped';
    this.wakeUp?.();
    this.socket?.close(1000, 'ingestor stopping');
  }

  /** Results and pongs found by the workers in frames of connection `session`. */
  receive(session: number, replies: readonly Reply[]): void {
    if (session !== this.session) return;
    for (const reply of replies) {
      const resolve = this.pending.get(reply.id);
      if (resolve === undefined) continue;
      this.pending.delete(reply.id);
      resolve(reply);
    }
  }

  /** Drops the current socket; run() reconnects. */
  private drop(reason: string): void {
    this.opts.log.warn({ reason }, 'dropping Home Assistant connection');
    this.socket?.terminate();
  }

  /** One connection from open to close. Resolves with how long it was subscribed (ms). */
  private async connectOnce(): Promise<number> {
    const { log, metrics, handlers } = this.opts;
    this.state = 'connecting';
    const { socket, haVersion } = await openAuthenticated(this.opts.url, this.opts.token, this.opts.createSocket ?? createWebSocket);
    if (this.stopped) {
      socket.close(1000);
      return 0;
    }
    const session = ++this.session;
    this.socket = socket;
    this.haVersion = haVersion;
    this.nextId = 1;
    this.coalescing = false;
    this.haRestarted = false;
    this.stateResults.clear();
    let subscribedAt = 0;
    // Whether this connection handed its gap to `subscribed` (the backfill): until it has, the
    // gap still starts where the previous connection's frames ended.
    let gapHandedOver = false;
    let stopWatchdog = (): void => {};

    const closed = new Promise<number>((resolve) => {
      socket.on('close', (code: number, reason: Buffer) => {
        stopWatchdog();
        this.socket = null;
        for (const settle of this.pending.values()) settle(CONNECTION_LOST);
        this.pending.clear();
        this.stateResults.clear();
        if (gapHandedOver) this.previousLastFrameAt = this.lastFrameAt;
        handlers.closed(session);
        if (!this.stopped) log.warn({ code, reason: reason.toString() }, 'Home Assistant connection closed');
        resolve(subscribedAt === 0 ? 0 : Date.now() - subscribedAt);
      });
    });
    socket.on('error', (err) => log.warn({ error: { message: err.message } }, 'Home Assistant socket error'));
    socket.on('message', (data: Buffer) => {
      this.lastFrameAt = Date.now();
      metrics.haFrames.inc();
      metrics.haBytes.inc(data.length);
      handlers.frame(data);
    });

    log.info({ haVersion }, 'authenticated to Home Assistant');
    try {
      const features = this.command('supported_features', supportedFeaturesMessage);
      await handlers.beforeSubscribe?.();
      const types = this.opts.eventTypes === 'all' ? [undefined] : this.opts.eventTypes;
      const subscriptions = types.map((t) => this.command(`subscribe_events ${t ?? '(all)'}`, (id) => subscribeEventsMessage(id, t)));
      const states = this.command('get_states', getStatesMessage, 'snapshot');
      const extras = this.opts.eventTypes === 'all' ? [] : (this.opts.extraEventTypes ?? []).filter((t) => !(types as readonly (string | undefined)[]).includes(t));
      for (const t of extras) {
        void this.command(`subscribe_events ${t}`, (id) => subscribeEventsMessage(id, t)).then((reply) => {
          if (reply.type === 'result' && !reply.success && reply.error?.code !== 'connection_lost') log.info({ eventType: t, haError: reply.error }, 'cannot subscribe to an event type the ingestor uses');
        });
      }

      const featuresReply = await features;
      this.coalescing = featuresReply.type === 'result' && featuresReply.success;
      if (!this.coalescing) {
        const error = featuresReply.type === 'result' && !featuresReply.success ? featuresReply.error : undefined;
        if (error?.code === 'connection_lost') return closed;
        log.info({ haError: error }, 'Home Assistant does not coalesce messages (older release): one event per frame');
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
      stopWatchdog = this.startWatchdog();

      const snapshot = await states;
      if ('encoded' in snapshot) {
        this.knownEntityIds = snapshot.encoded.entityIds;
        metrics.snapshotStates.inc(snapshot.encoded.states);
        this.haRestarted = snapshot.encoded.haRestarted;
        log.info({ states: snapshot.encoded.states, points: snapshot.encoded.points, haRestarted: this.haRestarted, deferred: snapshot.encoded.deferred }, 'get_states snapshot encoded');
        if (this.haRestarted) {
          log.info(`Home Assistant has started since our last points: ${snapshot.encoded.deferred} states are held until the backfill has shown which are re-announcements (RESTART_DEDUP)`);
        }
      } else if (snapshot.type === 'result' && !snapshot.success && snapshot.error?.code !== 'connection_lost') {
        log.warn({ haError: snapshot.error }, 'get_states failed; continuing without a snapshot');
      }
      if (this.session === session && this.socket === socket) {
        gapHandedOver = true;
        handlers.subscribed?.(session, this.previousLastFrameAt);
      }
    } catch (err) {
      log.error({ error: { code: (err as HaCommandError).code, message: (err as Error).message } }, 'Home Assistant session setup failed');
      socket.terminate();
    }
    return closed;
  }

  /**
   * Pings every interval. While a ping is unanswered, every PONG_TIMEOUT_MS the socket must have
   * delivered some frame, or it is dropped. Returns the function that stops the watchdog.
   */
  private startWatchdog(): () => void {
    const pongTimeoutMs = this.opts.pongTimeoutMs ?? PONG_TIMEOUT_MS;
    let outstanding = false;
    let watchdog: NodeJS.Timeout | undefined;
    const interval = setInterval(() => {
      if (outstanding) return;
      outstanding = true;
      const sentAt = Date.now();
      let mark = sentAt;
      const check = (): void => {
        if (!outstanding) return;
        if (this.lastFrameAt < mark) {
          this.drop(`no pong within ${pongTimeoutMs / 1000} s`);
          return;
        }
        mark = Date.now();
        watchdog = setTimeout(check, pongTimeoutMs);
      };
      watchdog = setTimeout(check, pongTimeoutMs);
      void this.command('ping', pingMessage).then((reply) => {
        outstanding = false;
        clearTimeout(watchdog);
        if (reply.type === 'pong') this.opts.log.debug({ rttMs: Date.now() - sentAt }, 'pong');
      });
    }, this.opts.pingIntervalMs ?? PING_INTERVAL_MS);
    return () => {
      clearInterval(interval);
      clearTimeout(watchdog);
    };
  }

  /**
   * Sends a command on the current connection; resolves with its reply (never rejects; a lost
   * connection answers connection_lost). With `states`, the workers write the answer's states
   * as points and the reply is their summary.
   */
  request(name: string, build: (id: number) => string, states?: StateResultKind): Promise<Reply> {
    return this.command(name, build, states);
  }

  /**
   * Reserves an id for an answer that does not come from a command (a REST history answer fed
   * in as a frame), so that the workers' summary of it reaches the caller.
   */
  expectStates(kind: StateResultKind): { id: number; reply: Promise<Reply> } {
    const id = this.nextSyntheticId--;
    this.stateResults.set(id, kind);
    const reply = new Promise<Reply>((resolve) => this.pending.set(id, resolve));
    return { id, reply };
  }

  /** Sends a command with the next id; resolves with its reply (never rejects). */
  private command(name: string, build: (id: number) => string, states?: StateResultKind): Promise<Reply> {
    const socket = this.socket;
    if (socket === null || socket.readyState !== socket.OPEN) return Promise.resolve(CONNECTION_LOST);
    const id = this.nextId++;
    if (states !== undefined) this.stateResults.set(id, states);
    const timeoutMs = this.opts.commandTimeoutMs ?? COMMAND_TIMEOUT_MS;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        this.stateResults.delete(id);
        this.drop(`no answer to ${name} within ${timeoutMs / 1000} s`);
        resolve(CONNECTION_LOST);
      }, timeoutMs);
      this.pending.set(id, (reply) => {
        clearTimeout(timer);
        this.stateResults.delete(id);
        resolve(reply);
      });
      socket.send(build(id));
    });
  }
}
