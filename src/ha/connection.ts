/**
 * The HA session: one authenticated socket at a time, reconnected forever.
 *
 * Each connection goes through named steps: open (socket + auth, socket.ts) → negotiate (ask
 * for coalescing, unless the announced release is older than that; an older HA answers
 * unknown_command: fine) → subscribe (the configured event
 * types) → snapshot (get_states) → watch (read until the socket closes). Every frame goes to
 * `handlers.frame` untouched. The main thread parses none of them: the encoder workers do, and
 * hand results and pongs back through `receive()`, tagged with the connection's `session` number
 * so a late reply from an earlier connection is ignored.
 *
 * Commands (rules, after home-assistant-js-websocket's sendMessagePromise):
 * - ids are assigned in one place, `request`, strictly increasing per connection;
 * - `request` returns a promise that resolves with the command's `result` and rejects with
 *   HaCommandError on an error result, or HaConnectionLostError when the connection closes first
 *   or the command stays unanswered for COMMAND_TIMEOUT_MS (the connection is then dropped);
 * - with a StateResultKind the workers write the answer's states as points and the promise
 *   resolves with their summary (StatesEncoded) instead of megabytes of states.
 *
 * Liveness: an application ping every PING_INTERVAL_MS. A connection is dropped when neither a
 * pong nor any frame arrived for PONG_TIMEOUT_MS: frames prove the socket alive even when the
 * pong waits behind a busy encoder. A lost connection is retried with exponential backoff and
 * full jitter, 1 s → 60 s. auth_invalid ends the loop for good (state `rejected`, through
 * `handlers.rejected`): the token is never sent again (src/ha/rejected-token.ts says why).
 */
import type WebSocket from 'ws';
import type { Logger } from 'pino';
import type { StateResultKind, StatesSummary } from '../../workers/encode-batch.js';
import { backoffDelay } from '../backoff.js';
import { HaAuthRejectedError, HaCommandError, HaConnectionLostError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import { getStates, ping, subscribeEvents, supportedFeatures, type Command, type ControlMessage } from './messages.js';
import { FRAME_TOO_BIG, MAX_FRAME_BYTES, openAuthenticated, refusedFrameBytes, type SocketFactory, webSocketFactory } from './socket.js';
import { haHasCommand } from './version.js';

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
/** At shutdown, how long HA may take to answer our close frame. */
export const CLOSE_GRACE_MS = 1_000;

/** What the workers reduce an answer full of states to. */
export type StatesEncoded = StatesSummary['encoded'];

export interface ConnectionHandlers {
  /** A raw frame. Must not block: the socket is read on this thread. */
  frame(data: Buffer): void;
  /** The socket closed: frames of this session are complete. */
  closed(session: number): void;
  /**
   * Authenticated, nothing subscribed yet: what must be in place before the first event of
   * `session` is encoded (registries, the gap's ceiling on the watermark).
   */
  beforeSubscribe?(session: number): Promise<void>;
  /** Subscribed and snapshot taken (null when get_states failed): the gap can be filled. */
  subscribed?(session: number, snapshot: StatesEncoded | null): void;
  /** HA accepted the token (every connection). */
  authenticated?(): void;
  /** HA rejected the token: the loop has ended, nothing will be retried. */
  rejected(err: HaAuthRejectedError): void;
}

export interface ConnectionOptions {
  readonly url: string;
  readonly token: string;
  readonly eventTypes: readonly string[] | 'all';
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly handlers: ConnectionHandlers;
  /** Default: a ws socket refusing frames over `maxFrameBytes`. */
  readonly createSocket?: SocketFactory;
  /** The frame limit (default MAX_FRAME_BYTES, 16 MiB): for the default socket and the log. */
  readonly maxFrameBytes?: number;
  readonly backoff?: Backoff;
  readonly random?: () => number;
  readonly pingIntervalMs?: number;
  readonly pongTimeoutMs?: number;
  readonly commandTimeoutMs?: number;
  /** Event types subscribed to for the ingestor's own use (registry updates); failures are logged only. */
  readonly extraEventTypes?: readonly string[];
}

export type Reply = ControlMessage | StatesSummary;

export type ConnectionState = 'connecting' | 'subscribed' | 'waiting' | 'rejected' | 'stopped';

/** A command waiting for its answer. */
interface Pending {
  readonly name: string;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

/** One socket from open to close: its ids, its commands in flight. */
interface Session {
  readonly id: number;
  readonly socket: WebSocket;
  nextId: number;
  readonly pending: Map<number, Pending>;
  /** Commands in flight whose answers are states to write (the workers encode them). */
  readonly stateResults: Map<number, StateResultKind>;
  closed: boolean;
}

const describe = (message: Record<string, unknown>): string => String(message.type ?? 'command');

export class HaConnection {
  private stateValue: ConnectionState = 'connecting';
  private stopRequested = false;
  private version = 'unknown';
  private coalesce = false;
  private lastFrame = 0;
  private sessionCount = 0;
  private current: Session | null = null;
  private entityIds: readonly string[] = [];
  private restarted = false;
  /** Consecutive failed attempts; drives the backoff delay. */
  private attempt = 0;
  private nextSyntheticId = -1;
  private tooBig = 0;
  /** Synthetic ids (answers fed in as frames) waiting for the workers' summary. */
  private readonly synthetic = new Map<number, Pending>();
  private readonly syntheticKinds = new Map<number, StateResultKind>();
  private wakeUp: (() => void) | null = null;
  private readonly backoff: Backoff;
  private readonly random: () => number;

  constructor(private readonly opts: ConnectionOptions) {
    this.backoff = opts.backoff ?? DEFAULT_BACKOFF;
    this.random = opts.random ?? Math.random;
  }

  get state(): ConnectionState {
    return this.stateValue;
  }
  /** stop() was called: once set, never cleared (the session's own steps must not undo it). */
  get stopped(): boolean {
    return this.stopRequested;
  }
  get haVersion(): string {
    return this.version;
  }
  get coalescing(): boolean {
    return this.coalesce;
  }
  /** Arrival (our clock) of the last frame, 0 before any. */
  get lastFrameAt(): number {
    return this.lastFrame;
  }
  /** Numbers each connection; replies carry it back from the workers. */
  get session(): number {
    return this.sessionCount;
  }
  /** Frames refused as over MAX_FRAME_BYTES so far (each dropped its connection). */
  get framesTooBig(): number {
    return this.tooBig;
  }
  /** Commands wait for their answers (answers ride in frames: the frame batcher must not hold them). */
  get awaitingReplies(): boolean {
    return (this.current !== null && this.current.pending.size > 0) || this.synthetic.size > 0;
  }
  /** Entity ids of the last snapshot. */
  get knownEntityIds(): readonly string[] {
    return this.entityIds;
  }
  /** This connection's snapshot showed that HA started since the last points we wrote. */
  get haRestarted(): boolean {
    return this.restarted;
  }
  /** Ids whose answers are states to write, for the encoder job of frames arriving now. */
  get stateResults(): readonly (readonly [number, StateResultKind])[] {
    const own = this.current === null ? [] : [...this.current.stateResults];
    return this.syntheticKinds.size === 0 ? own : [...own, ...this.syntheticKinds];
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
          this.stopRequested = true;
          this.stateValue = 'rejected';
          this.opts.handlers.rejected(err);
          return;
        }
        if (!this.stopped) log.warn({ err }, 'Home Assistant connection failed');
      }
      metrics.haConnected.set(0);
      if (this.stopped) return;
      this.attempt = subscribedFor >= this.backoff.stableMs ? 0 : this.attempt + 1;
      const delay = backoffDelay(this.attempt, this.backoff.baseMs, this.backoff.maxMs, this.random);
      metrics.haReconnects.inc();
      this.stateValue = 'waiting';
      log.info({ delayMs: delay, attempt: this.attempt }, 'reconnecting to Home Assistant');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeUp = null;
      if (this.stateValue === 'waiting' && !this.stopped) this.stateValue = 'connecting';
    }
  }

  /**
   * Closes the socket and ends run(). An HA that does not answer the close within
   * CLOSE_GRACE_MS is cut off: a shutdown must not wait ws's 30 s for it.
   */
  stop(): void {
    this.stopRequested = true;
    this.stateValue = 'stopped';
    this.wakeUp?.();
    const socket = this.current?.socket;
    if (socket === undefined) return;
    socket.close(1000, 'ingestor stopping');
    setTimeout(() => socket.terminate(), CLOSE_GRACE_MS).unref();
  }

  /** Drops the current connection (run() reconnects): data was lost here and a new gap must be filled. */
  reconnect(reason: string): void {
    if (this.current !== null) this.drop(this.current, reason);
  }

  /** Results and pongs found by the workers in frames of connection `session` (< 0: an earlier run's, which answer nothing). */
  receive(session: number, replies: readonly Reply[]): void {
    if (session < 0) return;
    for (const reply of replies) {
      if (reply.id < 0) {
        const waiter = this.synthetic.get(reply.id);
        this.synthetic.delete(reply.id);
        this.syntheticKinds.delete(reply.id);
        if (waiter !== undefined) settle(waiter, reply);
        continue;
      }
      const s = this.current;
      if (s === null || s.id !== session) continue;
      const waiter = s.pending.get(reply.id);
      if (waiter === undefined) continue;
      s.pending.delete(reply.id);
      s.stateResults.delete(reply.id);
      settle(waiter, reply);
    }
  }

  /**
   * Sends `message` (without id: assigned here) on the current connection. Resolves with the
   * result; rejects with HaCommandError or HaConnectionLostError (see the module's rules).
   */
  request(message: Command, states?: StateResultKind): Promise<unknown> {
    const s = this.current;
    const name = describe(message);
    if (s === null || s.closed || s.socket.readyState !== s.socket.OPEN) return Promise.reject(new HaConnectionLostError(name, 'not connected'));
    const id = s.nextId++;
    if (states !== undefined) s.stateResults.set(id, states);
    const timeoutMs = this.opts.commandTimeoutMs ?? COMMAND_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        s.pending.delete(id);
        s.stateResults.delete(id);
        this.drop(s, `no answer to ${name} within ${timeoutMs / 1000} s`);
        reject(new HaConnectionLostError(name, `unanswered for ${timeoutMs / 1000} s`));
      }, timeoutMs);
      const done =
        <T>(f: (v: T) => void) =>
        (v: T): void => {
          clearTimeout(timer);
          f(v);
        };
      s.pending.set(id, { name, resolve: done(resolve), reject: done(reject) });
      s.socket.send(JSON.stringify({ ...message, id }));
    });
  }

  /** `request` for a command whose answer is states to write: resolves with their summary. */
  requestStates(message: Command, kind: StateResultKind): Promise<StatesEncoded> {
    return this.request(message, kind) as Promise<StatesEncoded>;
  }

  /**
   * Reserves an id for an answer that does not come from a command (a REST history answer fed
   * in as a frame), so that the workers' summary of it reaches the caller.
   */
  expectStates(kind: StateResultKind): { id: number; reply: Promise<StatesEncoded> } {
    const id = this.nextSyntheticId--;
    if (this.current === null) return { id, reply: Promise.reject(new HaConnectionLostError(`${kind} answer`, 'not connected')) };
    this.syntheticKinds.set(id, kind);
    const reply = new Promise<StatesEncoded>((resolve, reject) =>
      this.synthetic.set(id, { name: `${kind} answer`, resolve: resolve as (v: unknown) => void, reject }),
    );
    return { id, reply };
  }

  /** Drops the session's socket; run() reconnects. */
  private drop(s: Session, reason: string): void {
    if (s.closed) return;
    this.opts.log.warn({ reason }, 'dropping Home Assistant connection');
    s.socket.terminate();
  }

  /** One connection from open to close. Resolves with how long it was subscribed (ms). */
  private async connectOnce(): Promise<number> {
    const s = await this.open();
    if (s === null) return 0;
    const closed = this.watch(s);
    let subscribedAt = 0;
    try {
      await this.negotiate(s);
      const { states } = await this.subscribe(s);
      subscribedAt = Date.now();
      const stopWatchdog = this.startWatchdog(s);
      void closed.then(stopWatchdog);
      const snapshot = await this.snapshot(states);
      if (!s.closed) this.opts.handlers.subscribed?.(s.id, snapshot);
    } catch (err) {
      if (!(err instanceof HaConnectionLostError)) {
        this.opts.log.error({ err }, 'Home Assistant session setup failed');
        s.socket.terminate();
      }
    }
    await closed;
    return subscribedAt === 0 ? 0 : Date.now() - subscribedAt;
  }

  /** Step 1: socket + auth. Null when stop() came meanwhile. */
  private async open(): Promise<Session | null> {
    if (!this.stopped) this.stateValue = 'connecting';
    const { socket, haVersion } = await openAuthenticated(this.opts.url, this.opts.token, this.opts.createSocket ?? webSocketFactory(this.opts.maxFrameBytes));
    if (this.stopped) {
      socket.close(1000);
      return null;
    }
    const s: Session = { id: ++this.sessionCount, socket, nextId: 1, pending: new Map(), stateResults: new Map(), closed: false };
    this.current = s;
    this.version = haVersion;
    this.coalesce = false;
    this.restarted = false;
    this.opts.log.info({ haVersion }, 'authenticated to Home Assistant');
    this.opts.handlers.authenticated?.();
    return s;
  }

  /**
   * Step 2: coalescing, then what must precede subscribing. A release announced as older than
   * supported_features is not asked (HA logs every unknown command as an ERROR, src/ha/version.ts);
   * an unknown version is asked, and unknown_command is fine.
   */
  private async negotiate(s: Session): Promise<void> {
    const log = this.opts.log;
    if (!haHasCommand(this.version, 'supported_features')) {
      log.info({ haVersion: this.version }, 'Home Assistant is older than 2022.9 and cannot coalesce messages: one event per frame');
      await this.opts.handlers.beforeSubscribe?.(s.id);
      return;
    }
    const features = this.request(supportedFeatures()).then(
      () => true,
      (err: Error) => {
        if (err instanceof HaConnectionLostError) throw err;
        log.info(
          { haError: { code: (err as HaCommandError).haCode, message: err.message } },
          'Home Assistant does not coalesce messages (older release): one event per frame',
        );
        return false;
      },
    );
    // Sent before beforeSubscribe's own commands; awaited after them (one round trip, not two).
    features.catch(() => {});
    await this.opts.handlers.beforeSubscribe?.(s.id);
    this.coalesce = await features;
  }

  /**
   * Step 3: the configured event types (an error ends the connection), the extras (logged only),
   * and get_states right behind them: HA handles a connection's messages in order, so the
   * snapshot is taken after the subscriptions (the resync's anchor relies on it) without waiting
   * a round trip for their answers. Resolves with the snapshot's answer (still pending, wrapped).
   */
  private async subscribe(s: Session): Promise<{ readonly states: Promise<StatesEncoded> }> {
    const { log, metrics } = this.opts;
    const types = this.opts.eventTypes === 'all' ? [undefined] : this.opts.eventTypes;
    const subscriptions = types.map((t) => this.request(subscribeEvents(t)));
    const extras =
      this.opts.eventTypes === 'all' ? [] : (this.opts.extraEventTypes ?? []).filter((t) => !(types as readonly (string | undefined)[]).includes(t));
    for (const t of extras) {
      this.request(subscribeEvents(t)).catch((err: Error) => {
        if (err instanceof HaCommandError)
          log.info({ eventType: t, haError: { code: err.haCode, message: err.message } }, 'cannot subscribe to an event type the ingestor uses');
      });
    }
    const states = this.requestStates(getStates(), 'snapshot');
    states.catch(() => {}); // awaited in snapshot(); a failed subscription ends the session first
    const settled = await Promise.allSettled(subscriptions);
    for (const r of settled) if (r.status === 'rejected') throw r.reason;
    if (s.closed) throw new HaConnectionLostError('subscribe_events', 'connection closed');
    if (this.stopped) throw new HaConnectionLostError('subscribe_events', 'the ingestor is stopping');
    this.stateValue = 'subscribed';
    metrics.haConnected.set(1);
    log.info({ eventTypes: this.opts.eventTypes, coalescing: this.coalesce }, 'subscribed to Home Assistant events');
    return { states };
  }

  /** Step 4: get_states, encoded by the workers. Null when it failed (HA 0.96 with a NaN attribute). */
  private async snapshot(states: Promise<StatesEncoded>): Promise<StatesEncoded | null> {
    const { log, metrics } = this.opts;
    const s = this.current;
    let snapshot: StatesEncoded;
    try {
      snapshot = await states;
    } catch (err) {
      if (err instanceof HaConnectionLostError) throw err;
      log.warn({ err }, 'get_states failed; continuing without a snapshot');
      return null;
    }
    if (this.current !== s) return null;
    this.entityIds = snapshot.entityIds;
    this.restarted = snapshot.haRestarted;
    metrics.snapshotStates.inc(snapshot.states);
    log.info(
      { states: snapshot.states, points: snapshot.points, haRestarted: snapshot.haRestarted, deferred: snapshot.deferred },
      'get_states snapshot encoded',
    );
    if (snapshot.haRestarted) {
      log.info(
        `Home Assistant has started since our last points: ${snapshot.deferred} states are held until the backfill has shown which are re-announcements (RESTART_DEDUP)`,
      );
    }
    return snapshot;
  }

  /** Step 5: read every frame until the socket closes; then fail what is in flight. */
  private watch(s: Session): Promise<void> {
    const { log, metrics, handlers } = this.opts;
    s.socket.on('error', (err: Error & { code?: string }) => {
      if (err.code !== FRAME_TOO_BIG) {
        log.warn({ err }, 'Home Assistant socket error');
        return;
      }
      this.tooBig++;
      metrics.haFramesTooBig.inc();
      const bytes = refusedFrameBytes(s.socket);
      const limit = this.opts.maxFrameBytes ?? MAX_FRAME_BYTES;
      log.error(
        { frameBytes: bytes, limitBytes: limit },
        `a frame of ${bytes === null ? `more than ${limit}` : bytes} bytes from Home Assistant is over the ${+(limit / 1024 / 1024).toFixed(2)} MiB limit (MAX_FRAME_BYTES): ` +
          "the connection is dropped; what it carried is fetched from HA's history by the backfill",
      );
    });
    s.socket.on('message', (data: Buffer) => {
      this.lastFrame = Date.now();
      metrics.haFrames.inc();
      metrics.haBytes.inc(data.length);
      handlers.frame(data);
    });
    return new Promise((resolve) => {
      s.socket.on('close', (code: number, reason: Buffer) => {
        s.closed = true;
        if (this.current === s) this.current = null;
        for (const waiter of s.pending.values()) waiter.reject(new HaConnectionLostError(waiter.name, 'connection closed'));
        s.pending.clear();
        s.stateResults.clear();
        // Answers fed in as frames belong to this connection's backfill too: one whose summary
        // never came (its batch failed in an encoder) would otherwise wait, and count, for good.
        for (const waiter of this.synthetic.values()) waiter.reject(new HaConnectionLostError(waiter.name, 'connection closed'));
        this.synthetic.clear();
        this.syntheticKinds.clear();
        handlers.closed(s.id);
        if (!this.stopped) log.warn({ code, reason: reason.toString() }, 'Home Assistant connection closed');
        resolve();
      });
    });
  }

  /**
   * Pings every interval. While a ping is unanswered, every PONG_TIMEOUT_MS the socket must have
   * delivered some frame, or it is dropped. Returns the function that stops the watchdog.
   */
  private startWatchdog(s: Session): () => void {
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
        if (this.lastFrame < mark) {
          this.drop(s, `no pong within ${pongTimeoutMs / 1000} s`);
          return;
        }
        mark = Date.now();
        watchdog = setTimeout(check, pongTimeoutMs);
      };
      watchdog = setTimeout(check, pongTimeoutMs);
      const answered = (): void => {
        outstanding = false;
        clearTimeout(watchdog);
      };
      this.request(ping()).then(() => {
        answered();
        this.opts.log.debug({ rttMs: Date.now() - sentAt }, 'pong');
      }, answered);
    }, this.opts.pingIntervalMs ?? PING_INTERVAL_MS);
    return () => {
      clearInterval(interval);
      clearTimeout(watchdog);
    };
  }
}

/** Resolves or rejects a waiter with a reply from the workers. */
function settle(waiter: Pending, reply: Reply): void {
  if ('encoded' in reply) waiter.resolve(reply.encoded);
  else if (reply.type === 'pong') waiter.resolve(undefined);
  else if (reply.success) waiter.resolve(reply.result);
  else waiter.reject(new HaCommandError(waiter.name, reply.error?.code ?? 'unknown', reply.error?.message ?? ''));
}
