/**
 * A Home Assistant stand-in that speaks HA's WebSocket protocol on a real socket: auth (10 s
 * timeout, auth_invalid), strictly increasing ids, subscribe/unsubscribe, get_states, get_config,
 * ping/pong, coalesced array frames after supported_features (or unknown_command in "old" mode),
 * `id` last in event messages, fraction-less timestamps when the microseconds are 0, old_state
 * null for new entities, HA's slow-reader disconnect, dropping and restarting on command, and
 * history/history_during_period over what it emitted.
 *
 * As hard as the real thing where it matters for gaps:
 * - `clockOffsetMs`: HA's clock is ours plus this; every timestamp it emits is on that clock, and
 *   history windows are read on it.
 * - `recorderLagMs`: a state reaches history only once "committed", this long after it was
 *   emitted, and rows commit in order (HA 0.96: per event, 20–40 s behind in bursts; current HA:
 *   every commit_interval).
 * - REST `/api/history/period` adds, for each entity, its state at the window start with
 *   last_updated and last_changed rewritten to the window start, unless `skip_initial_state` is
 *   in the query (HA: `include_start_time_state = "skip_initial_state" not in request.query`).
 * - `failGetStates`: get_states answers an error (HA 0.96 with a NaN attribute).
 *
 * It records every state it emits so tests can compare a database against it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { createHome, createRng, registriesFor, type Attributes, type Rng, type SimEntity } from './home.js';
import { SeededHistory } from './recorded.js';
import { SimStatistics, type SimStatisticsOptions } from './statistics.js';

export interface SimState {
  entity_id: string;
  state: string;
  attributes: Attributes;
  last_changed: string;
  last_reported?: string;
  last_updated: string;
  context: { id: string; parent_id: null; user_id: string | null };
}

/** One emitted state, as the database should end up holding it. */
export interface EmittedState {
  readonly entityId: string;
  readonly state: string;
  readonly attributes: Attributes;
  /** last_updated exactly as sent. */
  readonly lastUpdated: string;
  readonly lastUpdatedUs: number;
  /** Whether a client was subscribed when it was emitted. */
  readonly delivered: boolean;
}

export interface SimulatorOptions {
  readonly port?: number;
  readonly host?: string;
  readonly token: string;
  readonly seed?: number;
  readonly entities?: number;
  /**
   * "old": plays HA 0.96 (announced as such unless `haVersion` says otherwise) without the `config`
   * integration loaded: no coalescing, no history/history_during_period, no registry commands
   * (each answers unknown_command and is counted in `unknownCommands`), no last_reported,
   * 512-message slow-reader limit.
   */
  readonly mode?: 'modern' | 'old';
  readonly authTimeoutMs?: number;
  /** Keep every emitted state (tests) or only count (benchmarks). */
  readonly record?: boolean;
  /** Most messages in one coalesced frame. */
  readonly maxMessagesPerFrame?: number;
  readonly haVersion?: string;
  /** Whether the token is an admin's (registries readable). */
  readonly admin?: boolean;
  /** HA's clock minus ours, ms. */
  readonly clockOffsetMs?: number;
  /** How long a state takes to reach history (rows commit in order), ms. */
  readonly recorderLagMs?: number;
  /** The first this many connections break the auth protocol (see `authOkFirst`). */
  readonly authOkFirst?: number;
  /**
   * Answer as Home Assistant's Supervisor does to an add-on: the WebSocket at /core/websocket, REST
   * under /core/api/ (home-assistant/supervisor, supervisor/api/__init__.py `_register_proxy`).
   */
  readonly supervisor?: boolean;
  /**
   * Days of history HA's recorder holds from before the simulator started (src/sim/recorded.ts:
   * generated, not stored), ending an hour before now; with it, each entity's initial state is a
   * recorded row too. 0: none (the default: history holds only what the simulator emits).
   */
  readonly historyDays?: number;
  /** One recorded change per entity every this many seconds in those days (default 300). */
  readonly historyIntervalS?: number;
  /**
   * Long-term statistics (src/sim/statistics.ts). Without: a recorder with none (the commands
   * answer empty). timeForm "iso" plays a release before 2022.11: the history/ commands only.
   */
  readonly statistics?: SimStatisticsOptions;
}

export interface EmitOptions {
  readonly count: number;
  /** Events per second; undefined = as fast as the client reads. */
  readonly rate?: number;
  /** Every Nth event is a brand-new entity (old_state null). 0 = never. */
  readonly newEntityEvery?: number;
  /** Every Nth event removes an entity (new_state null). 0 = never. */
  readonly removeEvery?: number;
  /** Serialize every event before sending the first, so the simulator's own cost is not measured. */
  readonly pregenerate?: boolean;
}

interface Client {
  readonly ws: WebSocket;
  authed: boolean;
  lastId: number;
  coalesce: boolean;
  readonly subscriptions: Map<number, string | undefined>;
  pending: number;
  overSoftLimitSince: number;
  arrayToggle: boolean;
}

const STATE_CHANGED = 'state_changed';

/** HA's recorder: domains whose every row is significant (homeassistant/components/recorder/const.py). */
const SIGNIFICANT_DOMAINS = new Set(['climate', 'device_tracker', 'humidifier', 'thermostat', 'water_heater']);

/** One recorded state: state, attributes, last_updated and last_changed in µs. */
interface HistoryRow {
  s: string;
  a: Attributes;
  us: number;
  lcUs: number;
  /** When the recorder has it (our clock, ms). */
  committedAt: number;
}

/** HA's ISO form (with or without a fraction, +00:00) → µs since the epoch. */
function microsFromIso(iso: string): number {
  const fraction = /^\.(\d{1,6})/.exec(iso.slice(19))?.[1] ?? '';
  return Date.parse(`${iso.slice(0, 19)}Z`) * 1000 + Number(fraction.padEnd(6, '0'));
}

/** A time in a request (ISO, any offset, up to µs as HA's parser reads them) → seconds since the epoch. */
function secondsFromRequest(text: string): number {
  const digits = /T\d\d:\d\d:\d\d\.(\d+)/.exec(text)?.[1] ?? '';
  const beyondMs = digits.length > 3 ? Number(digits.slice(3, 6).padEnd(3, '0')) : 0;
  return (Date.parse(text) * 1000 + beyondMs) / 1e6;
}

function isoFromMicros(us: number): string {
  const seconds = Math.floor(us / 1e6);
  const micros = us - seconds * 1e6;
  const base = new Date(seconds * 1000).toISOString().slice(0, 19);
  return micros === 0 ? `${base}+00:00` : `${base}.${String(micros).padStart(6, '0')}+00:00`;
}

export class HaSimulator {
  readonly emitted: EmittedState[] = [];
  /** HA start-up re-announcements (old_state null, state and attributes unchanged), in order. */
  readonly reannounced: EmittedState[] = [];
  /** Count of every emitted state change (also when not recorded). */
  emittedCount = 0;
  /** The snapshot get_states returned last (what the ingestor wrote as points). */
  lastSnapshot: SimState[] = [];
  /** Every state any get_states returned, once each (entity and last_updated). */
  readonly snapshotStates = new Map<string, SimState>();
  connectionsAccepted = 0;
  /** Tokens answered auth_invalid: what HA counts as failed logins (ban.py, process_wrong_login). */
  authRejections = 0;
  /** Commands answered unknown_command (each is an ERROR line in a real HA's log). */
  unknownCommands = 0;
  /** Delay of history/history_during_period answers (a slow recorder), ms. */
  historyDelayMs = 0;
  /** Set false to play an HA that stopped answering (application-level) pings. */
  answerPings = true;
  slowReaderDisconnects = 0;
  /** HA's clock minus ours (ms); applies to states made from now on. */
  clockOffsetMs: number;
  /** Recorder lag for states emitted from now on (ms); rows still commit in order. */
  recorderLagMs: number;
  /** get_states answers an error, as HA 0.96 does when one attribute is NaN. */
  failGetStates = false;
  /**
   * The next this many connections break the auth protocol: auth_ok first (before auth_required,
   * before any token), then silence — what a misbehaving proxy did to the ingestor.
   */
  authOkFirst = 0;
  /** The made-up initial-state rows the REST history returned (no recorder row at their time). */
  readonly madeUpRows: { entityId: string; lastUpdated: string }[] = [];
  /** Commit time of the newest row (our clock): rows commit in order. */
  private lastCommitAt = 0;
  /** Each entity's state when the simulator started (before any history row). */
  private readonly initial = new Map<string, SimState>();

  /** The recorder's long-term statistics (empty without the `statistics` option). */
  readonly statistics: SimStatistics;
  private readonly opts: Required<
    Omit<
      SimulatorOptions,
      'port' | 'host' | 'clockOffsetMs' | 'recorderLagMs' | 'authOkFirst' | 'supervisor' | 'historyDays' | 'historyIntervalS' | 'statistics'
    >
  > & {
    port: number;
    host: string;
  };
  /** '/core' as the Supervisor's proxy, '' as HA itself. */
  private readonly pathPrefix: string;
  /** The days recorded before the simulator started (historyDays), or null. */
  readonly seeded: SeededHistory | null = null;
  private readonly rng: Rng;
  private readonly home: SimEntity[];
  private readonly states = new Map<string, SimState>();
  /** Entities whose integration has not loaded yet after a restart: absent from get_states. */
  private readonly unloaded = new Map<string, SimState>();
  private readonly history = new Map<string, HistoryRow[]>();
  private readonly clients = new Set<Client>();
  private http: Server | null = null;
  private wss: WebSocketServer | null = null;
  private clockUs = 0;
  private readonly areaNames = new Map<string, string>();
  private nextNewEntity = 0;
  private drainWaiters: (() => void)[] = [];

  constructor(options: SimulatorOptions) {
    this.opts = {
      port: options.port ?? 0,
      host: options.host ?? '127.0.0.1',
      token: options.token,
      seed: options.seed ?? 1,
      entities: options.entities ?? 300,
      mode: options.mode ?? 'modern',
      authTimeoutMs: options.authTimeoutMs ?? 10_000,
      record: options.record ?? true,
      maxMessagesPerFrame: options.maxMessagesPerFrame ?? 500,
      haVersion: options.haVersion ?? (options.mode === 'old' ? '0.96.5' : '2025.11.0'),
      admin: options.admin ?? true,
    };
    this.clockOffsetMs = options.clockOffsetMs ?? 0;
    this.recorderLagMs = options.recorderLagMs ?? 0;
    this.authOkFirst = options.authOkFirst ?? 0;
    this.pathPrefix = options.supervisor ? '/core' : '';
    this.rng = createRng(this.opts.seed);
    this.home = createHome(this.opts.entities, this.opts.seed);
    // Initial states: whole seconds (no fraction) in the last hour, as after an HA start.
    const nowS = Math.floor(this.haNowMs() / 1000);
    for (const entity of this.home) {
      const us = (nowS - 3600 + Math.floor(this.rng() * 3000)) * 1e6;
      const st = this.makeState(entity, null, us);
      this.states.set(entity.entityId, st);
      this.initial.set(entity.entityId, st);
    }
    this.clockUs = this.haNowMs() * 1000;
    if ((options.historyDays ?? 0) > 0) {
      this.seeded = new SeededHistory(this.home, this.opts.seed, options.historyDays as number, options.historyIntervalS ?? 300, (nowS - 3600) * 1e6);
      // HA records every state it sets, the ones current at its start too.
      for (const st of this.initial.values()) {
        const us = microsFromIso(st.last_updated);
        this.history.set(st.entity_id, [{ s: st.state, a: st.attributes, us, lcUs: us, committedAt: 0 }]);
      }
    }
    this.statistics = new SimStatistics(options.statistics ?? { sensors: 0, counters: 0 }, this.opts.seed, this.haNowMs());
  }

  /** Now on HA's clock, ms. */
  haNowMs(): number {
    return Date.now() + this.clockOffsetMs;
  }

  /** A history row, committed `recorderLagMs` from now but never before an earlier row. */
  private record(entityId: string, row: Omit<HistoryRow, 'committedAt'>): void {
    this.lastCommitAt = Math.max(this.lastCommitAt, Date.now() + this.recorderLagMs);
    let rows = this.history.get(entityId);
    if (rows === undefined) this.history.set(entityId, (rows = []));
    rows.push({ ...row, committedAt: this.lastCommitAt });
  }

  /** Every row the recorder holds now, seeded and emitted (tests compare a database against it). */
  *recordedRows(): Generator<{ entityId: string; s: string; a: Attributes; us: number }> {
    if (this.seeded !== null) yield* this.seeded.all();
    for (const [entityId, rows] of this.history) for (const r of rows) yield { entityId, s: r.s, a: r.a, us: r.us };
  }

  /** Resolves once every row emitted so far is in history (the recorder caught up). */
  async recorderCaughtUp(): Promise<void> {
    const wait = this.lastCommitAt - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }

  get url(): string {
    const addr = this.http?.address() as AddressInfo | null;
    if (!addr) throw new Error('simulator not started');
    return `ws://${this.opts.host}:${addr.port}${this.webSocketPath}`;
  }

  private get webSocketPath(): string {
    return this.pathPrefix === '' ? '/api/websocket' : `${this.pathPrefix}/websocket`;
  }

  get port(): number {
    return (this.http?.address() as AddressInfo).port;
  }

  /** An entity's current state. */
  stateOf(entityId: string): SimState | undefined {
    return this.states.get(entityId);
  }

  get entityIds(): string[] {
    return [...this.states.keys()];
  }

  /** Messages queued to clients and not yet flushed to their sockets. */
  get pendingMessages(): number {
    let n = 0;
    for (const c of this.clients) n += c.pending;
    return n;
  }

  get subscribedClients(): number {
    let n = 0;
    for (const c of this.clients) if (c.subscriptions.size > 0) n++;
    return n;
  }

  async start(): Promise<void> {
    const http = createServer((req, res) => this.rest(req, res));
    const wss = new WebSocketServer({ server: http, path: this.webSocketPath, perMessageDeflate: false, maxPayload: 16 * 1024 * 1024 });
    wss.on('connection', (ws) => this.accept(ws));
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(this.opts.port, this.opts.host, () => resolve());
    });
    this.http = http;
    this.wss = wss;
  }

  async stop(): Promise<void> {
    for (const c of this.clients) c.ws.terminate();
    this.clients.clear();
    const http = this.http;
    await new Promise<void>((resolve) => (this.wss ? this.wss.close(() => resolve()) : resolve()));
    await new Promise<void>((resolve) => (http ? http.close(() => resolve()) : resolve()));
    this.wss = null;
    this.releaseDrainWaiters();
  }

  /** Drops every client connection, as a network failure or HA restart would. */
  dropConnections(): void {
    for (const c of this.clients) c.ws.terminate();
  }

  /**
   * Stops listening for `downMs`, then listens again on the same port. `whileDown` runs with
   * nobody connected (an HA start-up re-announces entities before its API is up).
   */
  async restart(downMs: number, whileDown?: () => void): Promise<void> {
    const port = this.port;
    await this.stop();
    whileDown?.();
    await new Promise((r) => setTimeout(r, downMs));
    (this.opts as { port: number }).port = port;
    await this.start();
  }

  /** Resolves once at least `n` clients are subscribed, or rejects after `timeoutMs`. */
  async waitForSubscribers(n = 1, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.subscribedClients < n) {
      if (Date.now() > deadline) throw new Error(`no subscriber within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Emits `count` state changes at `rate` per second, or as fast as the clients read. */
  async emit(options: EmitOptions): Promise<void> {
    const { count, rate } = options;
    const frameMax = this.opts.maxMessagesPerFrame;
    const ready = options.pregenerate ? this.generate(count, options) : null;
    let sent = 0;
    const burst = (n: number): void => {
      this.broadcast(ready === null ? this.generate(n, options, sent) : ready.slice(sent, sent + n));
      sent += n;
    };
    if (rate === undefined) {
      const highWater = this.opts.mode === 'old' ? 256 : 2048;
      while (sent < count) {
        burst(Math.min(frameMax, count - sent));
        if (this.pendingMessages > highWater) await this.waitForDrain(highWater / 2);
        else await new Promise((r) => setImmediate(r));
      }
      return;
    }
    const started = performance.now();
    while (sent < count) {
      await new Promise((r) => setTimeout(r, 5));
      const due = Math.min(count, Math.floor(((performance.now() - started) / 1000) * rate));
      while (sent < due) burst(Math.min(frameMax, due - sent));
    }
  }

  /** HA's registries for the entities of this home (with renamed areas applied). */
  registries(): ReturnType<typeof registriesFor> {
    // The registries list every entity, also those whose integration has not loaded yet.
    const reg = registriesFor([...this.states.keys(), ...this.unloaded.keys()]);
    for (const a of reg.areas) a.name = this.areaNames.get(a.area_id) ?? a.name;
    return reg;
  }

  /** Renames an area and announces it with area_registry_updated, as HA does. */
  renameArea(areaId: string, name: string): void {
    this.areaNames.set(areaId, name);
    const event = JSON.stringify({
      event_type: 'area_registry_updated',
      data: { action: 'update', area_id: areaId },
      origin: 'LOCAL',
      time_fired: isoFromMicros(this.haNowMs() * 1000),
      context: { id: this.contextId(), parent_id: null, user_id: null },
    });
    for (const client of this.clients) {
      for (const [subId, type] of client.subscriptions) {
        if (type === undefined || type === 'area_registry_updated') this.sendEvents(client, [`{"type":"event","event":${event},"id":${subId}}`]);
      }
    }
  }

  /** Emits one chosen state change (of a new entity when the id is unknown). */
  emitState(entityId: string, state: string, attributes: Attributes): void {
    this.unloaded.delete(entityId);
    const entity: SimEntity = { entityId, domain: entityId.slice(0, entityId.indexOf('.')), next: () => ({ state, attributes }) };
    this.broadcast(this.generate(1, {}, 0, entity));
  }

  /**
   * What HA does for every entity as it starts: a state_changed with old_state null, the state
   * and attributes unchanged, new last_changed/last_updated. Recorded in history like any state,
   * sent to whoever is subscribed. Returns how many were announced.
   */
  reannounce(entityIds: readonly string[] = this.entityIds): number {
    const messages: string[] = [];
    for (const id of entityIds) {
      const previous = this.states.get(id) ?? this.unloaded.get(id);
      if (previous === undefined) continue;
      this.unloaded.delete(id);
      this.clockUs = Math.max(this.clockUs + 1, this.haNowMs() * 1000);
      const ts = isoFromMicros(this.clockUs);
      const st: SimState = { ...previous, last_changed: ts, last_updated: ts, context: { id: this.contextId(), parent_id: null, user_id: null } };
      if (previous.last_reported !== undefined) st.last_reported = ts;
      this.states.set(id, st);
      messages.push(
        JSON.stringify({
          event_type: STATE_CHANGED,
          data: { entity_id: id, old_state: null, new_state: st },
          origin: 'LOCAL',
          time_fired: ts,
          context: st.context,
        }),
      );
      this.reannounced.push({
        entityId: id,
        state: st.state,
        attributes: st.attributes,
        lastUpdated: ts,
        lastUpdatedUs: this.clockUs,
        delivered: this.subscribedClients > 0,
      });
      this.record(id, { s: st.state, a: st.attributes, us: this.clockUs, lcUs: this.clockUs });
    }
    this.broadcast(messages);
    return messages.length;
  }

  /**
   * Entities whose integration is still loading after a restart: gone from get_states (no event)
   * until `reannounce` brings them back.
   */
  unload(entityIds: readonly string[]): void {
    for (const id of entityIds) {
      const st = this.states.get(id);
      if (st === undefined) continue;
      this.states.delete(id);
      this.unloaded.set(id, st);
    }
  }

  /** Sends events made earlier by generate(), as they are (benchmarks pre-generate them). */
  sendPrepared(events: string[]): void {
    this.broadcast(events);
  }

  /**
   * One coalesced frame of about `bytes` bytes to every subscribed client: `events` state changes
   * of one entity (`entityId`) whose `padding` attribute fills the frame, recorded as
   * emitted like any change. HA's own biggest frames are a get_states answer and a coalesced
   * frame of up to 4,096 pending messages. Resolves with the frame's exact size once sent.
   */
  async sendBigFrame(bytes: number, events = 256, entityId = 'sensor.big_frame', shape: 'string' | 'keys' = 'string'): Promise<number> {
    // Each event carries the padding twice (old and new state) and ~1 KB of its own.
    const each = Math.max(0, Math.floor((bytes - events * 1_100) / (2 * events)));
    // 'keys': the same bytes as many small numeric attributes (the costliest shape to parse).
    const attributes: Attributes =
      shape === 'string'
        ? { padding: 'x'.repeat(each) }
        : Object.fromEntries(Array.from({ length: Math.floor(each / 17) }, (_, i) => [`k${String(i).padStart(5, '0')}`, 1e6 + i]));
    let n = 0;
    const entity: SimEntity = { entityId, domain: 'sensor', next: () => ({ state: String(++n), attributes }) };
    const messages = this.generate(events, {}, 0, entity);
    let size = 0;
    const sends: Promise<void>[] = [];
    for (const client of this.clients) {
      for (const [subId, type] of client.subscriptions) {
        if (type !== undefined && type !== STATE_CHANGED) continue;
        const frame = `[${messages.map((m) => `{"type":"event","event":${m},"id":${subId}}`).join(',')}]`;
        size = Buffer.byteLength(frame);
        sends.push(new Promise((resolve) => client.ws.send(frame, () => resolve())));
      }
    }
    await Promise.all(sends);
    return size;
  }

  private broadcast(events: string[]): void {
    for (const client of this.clients) {
      for (const [subId, type] of client.subscriptions) {
        if (type !== undefined && type !== STATE_CHANGED) continue;
        this.sendEvents(
          client,
          events.map((m) => `{"type":"event","event":${m},"id":${subId}}`),
        );
      }
    }
  }

  /**
   * The next `n` state changes as serialized `event` objects (what goes inside an event
   * message), recorded as emitted. Benchmarks use it to pre-generate traffic.
   */
  generate(n: number, options: Omit<EmitOptions, 'count' | 'rate'> = {}, offset = 0, chosen?: SimEntity): string[] {
    const messages: string[] = [];
    for (let i = 0; i < n; i++) {
      const index = offset + i + 1;
      let entity: SimEntity;
      let oldState: SimState | null;
      let removal = false;
      if (chosen !== undefined) {
        entity = chosen;
        oldState = this.states.get(entity.entityId) ?? null;
      } else if (options.newEntityEvery && index % options.newEntityEvery === 0) {
        const template = this.home[this.nextNewEntity % this.home.length] as SimEntity;
        const id = `${template.entityId}_new_${this.nextNewEntity++}`;
        entity = { ...template, entityId: id };
        this.home.push(entity);
        oldState = null;
      } else {
        entity = this.home[Math.floor(this.rng() * this.home.length)] as SimEntity;
        oldState = this.states.get(entity.entityId) ?? null;
        removal = Boolean(options.removeEvery && index % options.removeEvery === 0 && oldState !== null);
      }
      this.clockUs = Math.max(this.clockUs + 1, this.haNowMs() * 1000);
      const newState = removal ? null : this.makeState(entity, oldState, this.clockUs);
      if (newState === null) {
        this.states.delete(entity.entityId);
        this.home.splice(this.home.indexOf(entity), 1);
      } else {
        this.states.set(entity.entityId, newState);
      }
      const timeFired = newState?.last_updated ?? isoFromMicros(this.clockUs);
      const event = {
        event_type: STATE_CHANGED,
        data: { entity_id: entity.entityId, old_state: oldState, new_state: newState },
        origin: 'LOCAL',
        time_fired: timeFired,
        context: newState?.context ?? { id: this.contextId(), parent_id: null, user_id: null },
      };
      messages.push(JSON.stringify(event));
      if (newState !== null) {
        this.emittedCount++;
        if (this.opts.record) {
          this.emitted.push({
            entityId: newState.entity_id,
            state: newState.state,
            attributes: newState.attributes,
            lastUpdated: newState.last_updated,
            lastUpdatedUs: this.clockUs,
            delivered: this.subscribedClients > 0,
          });
          this.record(newState.entity_id, { s: newState.state, a: newState.attributes, us: this.clockUs, lcUs: microsFromIso(newState.last_changed) });
        }
      }
    }
    return messages;
  }

  private sendEvents(client: Client, messages: string[]): void {
    if (client.coalesce) {
      for (let i = 0; i < messages.length; i += this.opts.maxMessagesPerFrame) {
        const part = messages.slice(i, i + this.opts.maxMessagesPerFrame);
        // A lone message goes out as an object or as a one-element array: HA does both.
        client.arrayToggle = !client.arrayToggle;
        this.send(client, part.length === 1 && client.arrayToggle ? (part[0] as string) : `[${part.join(',')}]`, part.length);
      }
    } else {
      for (const m of messages) this.send(client, m, 1);
    }
  }

  private send(client: Client, frame: string, messages: number): void {
    if (client.ws.readyState !== client.ws.OPEN) return;
    client.pending += messages;
    client.ws.send(frame, () => {
      client.pending -= messages;
      if (this.pendingMessages === 0 || this.drainWaiters.length > 0) this.releaseDrainWaiters();
    });
    this.enforceSlowReaderLimit(client);
  }

  /** HA closes a client with 4096 pending messages (512 before 2022), or >1024 for 10 s. */
  private enforceSlowReaderLimit(client: Client): void {
    const hard = this.opts.mode === 'old' ? 512 : 4096;
    if (client.pending >= hard) {
      this.slowReaderDisconnects++;
      client.ws.close(1008, 'Client unable to keep up with pending messages');
      client.ws.terminate();
      return;
    }
    if (client.pending > 1024) {
      if (client.overSoftLimitSince === 0) client.overSoftLimitSince = Date.now();
      else if (Date.now() - client.overSoftLimitSince > 10_000) {
        this.slowReaderDisconnects++;
        client.ws.terminate();
      }
    } else {
      client.overSoftLimitSince = 0;
    }
  }

  /** Resolves once at most `below` messages wait to be flushed to the clients. */
  waitForDrain(below: number): Promise<void> {
    if (this.pendingMessages <= below || this.clients.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.pendingMessages <= below || this.clients.size === 0) resolve();
        else this.drainWaiters.push(check);
      };
      this.drainWaiters.push(check);
    });
  }

  private releaseDrainWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  private contextId(): string {
    const chars = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
    let s = '';
    for (let i = 0; i < 26; i++) s += chars[Math.floor(this.rng() * 32)];
    return s;
  }

  private makeState(entity: SimEntity, previous: SimState | null, us: number): SimState {
    const { state, attributes } = entity.next(this.rng, previous?.state ?? null);
    const ts = isoFromMicros(us);
    const s: SimState = {
      entity_id: entity.entityId,
      state,
      attributes,
      last_changed: previous !== null && previous.state === state ? previous.last_changed : ts,
      last_reported: ts,
      last_updated: ts,
      context: { id: this.contextId(), parent_id: null, user_id: null },
    };
    if (this.opts.mode === 'old') delete s.last_reported;
    return s;
  }

  private accept(ws: WebSocket): void {
    this.connectionsAccepted++;
    const client: Client = { ws, authed: false, lastId: 0, coalesce: false, subscriptions: new Map(), pending: 0, overSoftLimitSince: 0, arrayToggle: false };
    this.clients.add(client);
    const authTimer = setTimeout(() => ws.close(), this.opts.authTimeoutMs);
    ws.on('close', () => {
      clearTimeout(authTimer);
      this.clients.delete(client);
      this.releaseDrainWaiters();
    });
    ws.on('error', () => ws.terminate());
    if (this.authOkFirst > 0) {
      this.authOkFirst--;
      ws.send(JSON.stringify({ type: 'auth_ok', ha_version: this.opts.haVersion }));
      return;
    }
    ws.send(JSON.stringify({ type: 'auth_required', ha_version: this.opts.haVersion }));
    ws.on('message', (data: Buffer) => {
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(data.toString('utf8'));
      } catch {
        ws.close(1003, 'not JSON');
        return;
      }
      if (!client.authed) {
        if (msg.type !== 'auth') {
          ws.close(1002, 'auth expected');
          return;
        }
        if (msg.access_token === this.opts.token) {
          client.authed = true;
          clearTimeout(authTimer);
          ws.send(JSON.stringify({ type: 'auth_ok', ha_version: this.opts.haVersion }));
        } else {
          this.authRejections++;
          ws.send(JSON.stringify({ type: 'auth_invalid', message: 'Invalid access token or password' }));
          ws.close();
        }
        return;
      }
      this.command(client, msg);
    });
  }

  private reply(client: Client, message: Record<string, unknown>): void {
    // Results share frames with events when coalescing; send them on their own here.
    if (client.ws.readyState === client.ws.OPEN) client.ws.send(JSON.stringify(message));
  }

  private command(client: Client, msg: Record<string, unknown>): void {
    const id = msg.id;
    const fail = (code: string, message: string): void => {
      if (code === 'unknown_command') this.unknownCommands++;
      this.reply(client, { id, type: 'result', success: false, error: { code, message } });
    };
    if (typeof id !== 'number' || !Number.isInteger(id)) {
      fail('invalid_format', 'Message incorrectly formatted.');
      return;
    }
    if (id <= client.lastId) {
      fail('id_reuse', 'Identifier values have to increase.');
      return;
    }
    client.lastId = id;
    const ok = (result: unknown): void => this.reply(client, { id, type: 'result', success: true, result });
    switch (msg.type) {
      case 'supported_features':
        if (this.opts.mode === 'old') fail('unknown_command', 'Unknown command.');
        else {
          client.coalesce = Boolean((msg.features as Record<string, unknown> | undefined)?.coalesce_messages);
          ok(null);
        }
        break;
      case 'subscribe_events':
        client.subscriptions.set(id, typeof msg.event_type === 'string' ? msg.event_type : undefined);
        ok(null);
        break;
      case 'unsubscribe_events':
        if (client.subscriptions.delete(msg.subscription as number)) ok(null);
        else fail('not_found', 'Subscription not found.');
        break;
      case 'get_states':
        if (this.failGetStates) {
          fail('unknown_error', 'Out of range float values are not JSON compliant');
          break;
        }
        this.lastSnapshot = [...this.states.values()];
        for (const st of this.lastSnapshot) this.snapshotStates.set(`${st.entity_id}\u0000${st.last_updated}`, st);
        ok(this.lastSnapshot);
        break;
      case 'config/area_registry/list':
      case 'config/device_registry/list':
      case 'config/entity_registry/list': {
        if (this.opts.mode === 'old') {
          fail('unknown_command', 'Unknown command.');
          break;
        }
        if (!this.opts.admin) {
          fail('unauthorized', 'Unauthorized');
          break;
        }
        const reg = this.registries();
        ok(msg.type === 'config/area_registry/list' ? reg.areas : msg.type === 'config/device_registry/list' ? reg.devices : reg.entities);
        break;
      }
      case 'get_config':
        ok({
          latitude: 52.52,
          longitude: 13.405,
          elevation: 34,
          unit_system: { length: 'km', mass: 'g', temperature: '°C', volume: 'L', pressure: 'Pa', wind_speed: 'm/s' },
          location_name: 'Simulated home',
          time_zone: 'Europe/Berlin',
          // The loaded integrations: registries are answered only when `config` is among them.
          components:
            this.opts.mode === 'old'
              ? ['http', 'websocket_api', 'api', 'recorder', 'history']
              : ['http', 'websocket_api', 'api', 'recorder', 'history', 'config'],
          version: this.opts.haVersion,
          state: 'RUNNING',
        });
        break;
      case 'ping':
        if (this.answerPings) this.reply(client, { id, type: 'pong' });
        break;
      case 'history/history_during_period':
        // Added to HA in 2022.5; the "old" mode plays an older release.
        if (this.opts.mode === 'old') fail('unknown_command', 'Unknown command.');
        else if (!Array.isArray(msg.entity_ids) || msg.entity_ids.length === 0) fail('invalid_format', 'entity_ids is required');
        else if (this.historyDelayMs === 0) ok(this.historyDuring(msg));
        else {
          const answer = this.historyDuring(msg);
          setTimeout(() => ok(answer), this.historyDelayMs);
        }
        break;
      default:
        if (!this.statisticsCommand(String(msg.type), msg, ok, fail)) fail('unknown_command', 'Unknown command.');
    }
  }

  /**
   * recorder/list_statistic_ids and recorder/statistics_during_period (history/… when the
   * statistics play a release before 2022.11; none in "old" mode). False: not such a command.
   */
  private statisticsCommand(type: string, msg: Record<string, unknown>, ok: (r: unknown) => void, fail: (code: string, message: string) => void): boolean {
    const prefix = this.statistics.timeForm === 'iso' ? 'history/' : 'recorder/';
    if (this.opts.mode === 'old' || !type.startsWith(prefix)) return false;
    const command = type.slice(prefix.length);
    if (command !== 'list_statistic_ids' && command !== 'statistics_during_period') return false;
    const answer = command === 'list_statistic_ids' ? this.statistics.listIds() : this.statistics.during(msg, this.haNowMs());
    if (!Array.isArray(answer) && typeof answer.error === 'string') {
      fail(answer.error, 'Invalid request');
      return true;
    }
    const bytes = Buffer.byteLength(JSON.stringify(answer));
    this.statistics.requests++;
    this.statistics.bytes += bytes;
    this.statistics.largest = Math.max(this.statistics.largest, bytes);
    ok(answer);
    return true;
  }

  /**
   * Committed rows of `ids` with start < last_updated < end (seconds, HA's clock; both bounds
   * exclusive, as HA's recorder queries them: `last_updated_ts > start AND < end`). With
   * `significantOnly` (HA's default), as HA's recorder: only rows whose state changed
   * (last_changed = last_updated), except for the domains whose every row is significant.
   */
  private rowsBetween(ids: readonly string[], start: number, end: number, significantOnly = false): [string, HistoryRow[]][] {
    const out: [string, HistoryRow[]][] = [];
    const now = Date.now();
    for (const id of ids) {
      const all = significantOnly && !SIGNIFICANT_DOMAINS.has(id.slice(0, id.indexOf('.')));
      const recorded = (this.history.get(id) ?? []).filter((r) => r.committedAt <= now && r.us / 1e6 > start && r.us / 1e6 < end && (!all || r.lcUs === r.us));
      // Seeded rows are all older than the recorded ones, and each is a change (significant).
      const seeded = (this.seeded?.between(id, start, end) ?? []).map((r) => ({ ...r, committedAt: 0 }));
      const rows = seeded.length === 0 ? recorded : [...seeded, ...recorded];
      if (rows.length > 0) out.push([id, rows]);
    }
    return out;
  }

  /** The committed state of `id` just before `start` (seconds, HA's clock), null when none. */
  private stateAt(id: string, start: number): { s: string; a: Attributes } | null {
    const now = Date.now();
    let found: { s: string; a: Attributes } | null = null;
    for (const r of this.history.get(id) ?? []) if (r.committedAt <= now && r.us / 1e6 < start) found = r;
    if (found !== null) return found;
    const st = this.initial.get(id);
    if (st !== undefined && microsFromIso(st.last_updated) / 1e6 < start) return { s: st.state, a: st.attributes };
    return this.seeded?.before(id, start) ?? null;
  }

  /**
   * history/history_during_period's compressed answer: {"<id>":[{"s","a","lu","lc"}]}, with HA's
   * defaults: include_start_time_state and significant_changes_only true (a start-time row: the
   * entity's state then, "lu" at the window start), no_attributes false (true: no "a"); a
   * start_time after HA's now answers {}. (home-assistant/core
   * homeassistant/components/history/websocket_api.py at 07a8521e185cb6bd089395266de415f17c799747:
   * the command's schema defaults include_start_time_state=True, significant_changes_only=True,
   * minimal_response=False, no_attributes=False; `start_time > utcnow()` → `{}`. The start-time
   * state is the entity's newest row with last_updated before the start, recorder/history/
   * modern.py at 03d83305fdac5b196b046247498947a99522d2a8, _get_single_entity_start_time_stmt.)
   * minimal_response is not played: it only leaves out the attributes of middle rows, and the
   * ingestor asks with it only for "is anything recorded here" (no rows written).
   */
  private historyDuring(msg: Record<string, unknown>): Record<string, unknown[]> {
    const start = secondsFromRequest(String(msg.start_time));
    const end = msg.end_time === undefined ? Number.POSITIVE_INFINITY : secondsFromRequest(String(msg.end_time));
    const out: Record<string, unknown[]> = {};
    if (start * 1000 > this.haNowMs()) return out;
    const withAttributes = msg.no_attributes !== true;
    const rows = new Map(this.rowsBetween(msg.entity_ids as string[], start, end, msg.significant_changes_only !== false));
    for (const id of msg.entity_ids as string[]) {
      // As HA: "lc" only when it differs from "lu".
      const list: Record<string, unknown>[] = (rows.get(id) ?? []).map((r) =>
        r.lcUs === r.us ? { s: r.s, a: r.a, lu: r.us / 1e6 } : { s: r.s, a: r.a, lu: r.us / 1e6, lc: r.lcUs / 1e6 },
      );
      const first = msg.include_start_time_state === false ? null : this.stateAt(id, start);
      if (first !== null) {
        this.madeUpRows.push({ entityId: id, lastUpdated: isoFromMicros(Math.round(start * 1e6)) });
        list.unshift({ s: first.s, a: first.a, lu: start });
      }
      if (!withAttributes) for (const row of list) delete row.a;
      if (list.length > 0) out[id] = list;
    }
    return out;
  }

  /** GET /api/history/period/<start>?end_time=…&filter_entity_id=a,b (Bearer token): lists of full states. */
  private rest(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://sim');
    const path = url.pathname.startsWith(`${this.pathPrefix}/`) ? url.pathname.slice(this.pathPrefix.length) : '';
    const m = /^\/api\/history\/period\/(.+)$/.exec(path);
    if (req.method !== 'GET' || m === null) {
      res.writeHead(404).end('404: Not Found');
      return;
    }
    if (req.headers.authorization !== `Bearer ${this.opts.token}`) {
      res.writeHead(401).end('401: Unauthorized');
      return;
    }
    const ids = (url.searchParams.get('filter_entity_id') ?? '').split(',').filter(Boolean);
    if (ids.length === 0) {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"message":"filter_entity_id is missing"}');
      return;
    }
    const start = secondsFromRequest(decodeURIComponent(m[1] as string));
    const endText = url.searchParams.get('end_time');
    // As HA's HistoryPeriodView: without end_time, one day from the start.
    const end = endText === null ? start + 86_400 : secondsFromRequest(endText);
    // As HA: a start after its now answers nothing; significant_changes_only unless "0".
    if (start * 1000 > this.haNowMs()) {
      res.writeHead(200, { 'content-type': 'application/json' }).end('[]');
      return;
    }
    const rows = new Map(this.rowsBetween(ids, start, end, url.searchParams.get('significant_changes_only') !== '0'));
    const body: unknown[][] = [];
    for (const id of ids) {
      const list = (rows.get(id) ?? []).map((r) => ({
        entity_id: id,
        state: r.s,
        attributes: r.a,
        last_changed: isoFromMicros(r.lcUs),
        last_updated: isoFromMicros(r.us),
      }));
      const first = url.searchParams.has('skip_initial_state') ? null : this.stateAt(id, start);
      if (first !== null) {
        // HA's start-time state: the entity's state then, its times rewritten to the window start.
        const at = isoFromMicros(Math.round(start * 1e6));
        this.madeUpRows.push({ entityId: id, lastUpdated: at });
        list.unshift({ entity_id: id, state: first.s, attributes: first.a, last_changed: at, last_updated: at });
      }
      if (list.length > 0) body.push(list);
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }
}
