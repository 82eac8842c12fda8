/**
 * Gap backfill: after a reconnect or a restart, the state changes HA recorded while we were not
 * listening are fetched from HA's history and written like live events: same encoder, same
 * timestamps (last_updated, exact to the µs), so overlap with live data rewrites identical points.
 *
 * The window [from, to] is cut into HOUR windows × ENTITIES_PER_REQUEST entity ids, fetched one
 * request at a time with `history/history_during_period` (significant_changes_only:false,
 * minimal_response:false, no_attributes:false). When HA does not know that command (releases
 * before 2022.6 or so), `GET /api/history/period/<start>` is used instead. Answers are parsed and
 * encoded by the workers (they arrive as frames), never on the main thread.
 *
 * An answer over MAX_FRAME_BYTES drops the connection (src/ha/socket.ts); the caller then asks
 * again with a higher `shrink`: windows and entity chunks are 2^shrink times smaller (down to one
 * entity per request and WINDOW_MS / 2^MAX_SHRINK ≈ 56 s), so a gap dense in history still comes
 * back in frames under the limit. At MAX_SHRINK the REST API is used: its answers are HTTP
 * bodies, not WebSocket frames, so no frame limit applies (one entity's history in 56 s over
 * 16 MiB: only frames that were themselves over the limit make that).
 *
 * Limits, reported with their exact bounds: a window longer than `maxWindowMs` is cut to its most
 * recent part; what HA's recorder does not have (purged, excluded entities) cannot come back.
 *
 * Every time here is HA's (ms since the epoch on HA's clock): the caller (src/ha/resync.ts)
 * takes the window's bounds from HA's own timestamps, never from our clock.
 *
 * REST: `skip_initial_state` is always sent. Without it HA returns, for each entity, its state at
 * the window start with last_updated rewritten to the window start: a point HA never recorded
 * (HA's history/__init__.py: `include_start_time_state = "skip_initial_state" not in request.query`).
 */
import type { Logger } from 'pino';
import { HaCommandError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { HaConnection, StatesEncoded } from './connection.js';
import { haHasCommand } from './version.js';
import { historyDuringPeriod, historyStart, historyStatesAt } from './messages.js';
import { MAX_FRAME_BYTES } from './socket.js';

export const WINDOW_MS = 60 * 60_000;
export const ENTITIES_PER_REQUEST = 100;
/** Most halvings of a request after answers over MAX_FRAME_BYTES: 1 h / 64 ≈ 56 s, 1 entity; then REST. */
export const MAX_SHRINK = 6;
/** REST history: entity ids per request, so the request line stays well under HA's ~24 KB. */
const REST_URL_BUDGET = 12_000;

export interface BackfillOptions {
  /** `haVersion`: the release HA announced; one older than history/history_during_period is asked over REST only. */
  readonly connection: Pick<HaConnection, 'request' | 'requestStates' | 'expectStates'> & { readonly haVersion?: string };
  /** Base URL of HA's HTTP API (http(s)://host:port). */
  readonly httpBase: string;
  readonly token: string;
  /** Hands a frame to the pipeline, as if it came from the socket. */
  readonly feedFrame: (frame: Buffer) => void;
  readonly maxWindowMs: number;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** Largest REST history answer read (default MAX_FRAME_BYTES); a larger one is asked for in halves. */
  readonly restMaxBytes?: number;
  /** Time per request before halvings (default WINDOW_MS); the history import tunes it (bench/import.ts). */
  readonly windowMs?: number;
  /** Entity ids per WebSocket request before halvings (default ENTITIES_PER_REQUEST). */
  readonly entitiesPerRequest?: number;
  /** Awaited before every request: the history import waits there while live traffic needs the queues. */
  readonly beforeRequest?: () => Promise<void>;
  /** Told the bytes of every REST answer read (the import's HA-side cost). */
  readonly restBytes?: (bytes: number) => void;
  /** 'import': the history import's own report and metrics, not the backfill's. */
  readonly purpose?: 'backfill' | 'import';
}

/**
 * A REST window is halved (ids, then time) down to this long for one entity; past it, that entity
 * and window alone are reported unfilled.
 */
const MIN_REST_WINDOW_MS = 60_000;
const TOO_BIG = Symbol('too big');

export interface BackfillReport {
  readonly from: number;
  readonly to: number;
  readonly entities: number;
  readonly points: number;
  readonly requests: number;
  readonly via: 'websocket' | 'rest' | 'none';
  /** What could not be filled, with its bounds; `lasting`: asking again cannot fill it. */
  readonly unfilled: Unfilled[];
}

export interface Unfilled {
  readonly from: number;
  readonly to: number;
  readonly why: string;
  readonly lasting?: true;
}

const iso = (ms: number): string => new Date(ms).toISOString();

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** REST takes ids as a comma list: an id with a comma in it (not a valid HA id) cannot be asked for. */
function restChunks(ids: readonly string[]): string[][] {
  const out: string[][] = [];
  let current: string[] = [];
  let length = 0;
  for (const id of ids) {
    if (id.includes(',')) continue;
    const cost = encodeURIComponent(id).length + 3;
    if (current.length > 0 && length + cost > REST_URL_BUDGET) {
      out.push(current);
      current = [];
      length = 0;
    }
    current.push(id);
    length += cost;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/**
 * HA's HTTP base from its WebSocket URL, to which `/api/…` paths are appended:
 * ws://ha:8123/api/websocket → http://ha:8123; the Supervisor's proxy (an add-on), which serves
 * the WebSocket at /core/websocket (and /core/api/websocket) and REST under /core/api/:
 * ws://supervisor/core/websocket → http://supervisor/core.
 */
export function haHttpBase(wsUrl: string): string {
  return wsUrl.replace(/^ws/, 'http').replace(/\/(api\/)?websocket$/, '');
}

/**
 * Fetches [fromMs, toMs) (HA time) for `entityIds`. With `openEnd`, the last window has no end:
 * HA answers up to its own now. Rejects with HaConnectionLostError when the connection closes:
 * the caller retries the gap on the next connection.
 */
export async function backfill(
  opts: BackfillOptions,
  fromMs: number,
  toMs: number,
  entityIds: readonly string[],
  openEnd = false,
  shrink = 0,
): Promise<BackfillReport> {
  const windowMs = Math.ceil((opts.windowMs ?? WINDOW_MS) / 2 ** Math.min(shrink, MAX_SHRINK));
  const perRequest = Math.max(1, (opts.entitiesPerRequest ?? ENTITIES_PER_REQUEST) >> Math.min(shrink, MAX_SHRINK));
  const { connection, log, metrics } = opts;
  const unfilled: Unfilled[] = [];
  let from = fromMs;
  if (toMs - from > opts.maxWindowMs) {
    unfilled.push({ from, to: toMs - opts.maxWindowMs, why: 'older than BACKFILL_MAX_WINDOW' });
    from = toMs - opts.maxWindowMs;
  }
  let points = 0;
  let requests = 0;
  const websocketHistory = hasWebSocketHistory(opts);
  let via: BackfillReport['via'] = shrink >= MAX_SHRINK || !websocketHistory ? 'rest' : 'websocket';
  if (shrink >= MAX_SHRINK) log.warn('history answers were over MAX_FRAME_BYTES even in the smallest requests: the backfill uses /api/history/period');
  else if (!websocketHistory && opts.purpose !== 'import') {
    // Not asked: HA logs every unknown command as an ERROR (src/ha/version.ts).
    log.info({ haVersion: connection.haVersion }, 'Home Assistant is older than history/history_during_period (2022.5): using /api/history/period');
  }
  if (shrink < MAX_SHRINK && !websocketHistory) {
    const unaskable = entityIds.filter((id) => id.includes(','));
    if (unaskable.length > 0)
      unfilled.push({ from, to: toMs, why: `entity ids with a comma cannot be asked for over REST: ${unaskable.join(' | ')}`, lasting: true });
  }
  const seen = new Set<string>();

  const account = (encoded: StatesEncoded): boolean => {
    points += encoded.points;
    for (const id of encoded.entityIds) seen.add(id);
    return true;
  };

  windows: for (let start = from; start < toMs || (openEnd && start === from); start += windowMs) {
    const end = openEnd && start + windowMs >= toMs ? null : Math.min(toMs, start + windowMs);
    const idChunks = via === 'rest' ? restChunks(entityIds) : chunks(entityIds, perRequest);
    for (const ids of idChunks) {
      await opts.beforeRequest?.();
      requests++;
      if (via === 'websocket') {
        let error: HaCommandError;
        try {
          account(await connection.requestStates(historyDuringPeriod(start, end, ids), 'history'));
          continue;
        } catch (err) {
          if (!(err instanceof HaCommandError)) throw err;
          error = err;
        }
        if (error.haCode === 'unknown_command') {
          log.info('Home Assistant has no history/history_during_period (older release): using /api/history/period');
          via = 'rest';
          const unaskable = entityIds.filter((id) => id.includes(','));
          if (unaskable.length > 0)
            unfilled.push({ from: start, to: toMs, why: `entity ids with a comma cannot be asked for over REST: ${unaskable.join(' | ')}`, lasting: true });
          start -= windowMs; // this window again, over REST
          continue windows;
        }
        unfilled.push({ from: start, to: toMs, why: `history request failed: ${error.haCode} ${error.message}` });
        break windows;
      }
      const failure = await restWindow({ opts, settle: account, unfilled, openEndAt: toMs }, start, end, ids);
      if (failure !== null) {
        unfilled.push({ from: start, to: toMs, why: failure });
        via = 'none';
        break windows;
      }
    }
  }

  const report: BackfillReport = { from, to: toMs, entities: seen.size, points, requests, via, unfilled };
  if (opts.purpose === 'import') return report; // the import reports per run (src/import/states.ts)
  metrics.backfills.inc(1, { result: unfilled.length === 0 ? 'complete' : 'partial' });
  metrics.backfillPoints.inc(points);
  log.info({ from: iso(from), to: iso(toMs), entities: seen.size, points, requests, via }, 'backfill from Home Assistant history done');
  for (const gap of unfilled) {
    metrics.backfillUnfilledSeconds.inc((gap.to - gap.from) / 1000);
    log.error(
      { from: iso(gap.from), to: iso(gap.to), why: gap.why },
      `a gap could not be filled from HA history: ${iso(gap.from)} to ${iso(gap.to)} (${gap.why})`,
    );
  }
  return report;
}

/** GET /api/history/period for [start, end) (end null: HA's default), never with made-up initial states. */
export function restHistoryUrl(httpBase: string, start: number, end: number | null, ids: readonly string[]): string {
  const query = new URLSearchParams({
    ...(end === null ? {} : { end_time: iso(end) }),
    filter_entity_id: ids.join(','),
    significant_changes_only: '0',
    skip_initial_state: '',
  });
  return `${httpBase}/api/history/period/${encodeURIComponent(historyStart(start))}?${query}`;
}

/** The body of a REST history request, or the reason it failed. */
async function restGet(opts: Pick<BackfillOptions, 'token' | 'restMaxBytes'>, url: string): Promise<Buffer | string | typeof TOO_BIG> {
  try {
    const { request } = await import('undici'); // only HA before 2022.6 needs it
    const res = await request(url, { headers: { authorization: `Bearer ${opts.token}` }, headersTimeout: 60_000, bodyTimeout: 120_000 });
    // Read up to the bound, never more: memory stays bounded whatever HA sends.
    const max = opts.restMaxBytes ?? MAX_FRAME_BYTES;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > max) {
        res.body.destroy();
        return res.statusCode === 200 ? TOO_BIG : `/api/history/period answered ${res.statusCode}`;
      }
      chunks.push(chunk);
    }
    const body = Buffer.concat(chunks, size);
    if (res.statusCode !== 200) return `/api/history/period answered ${res.statusCode}: ${body.toString('utf8').slice(0, 200)}`;
    return body;
  } catch (err) {
    return `/api/history/period failed: ${(err as Error).message}`;
  }
}

/** What the REST requests of one backfill share. */
interface RestContext {
  readonly opts: BackfillOptions;
  readonly settle: (encoded: StatesEncoded) => boolean;
  /** Where a window that cannot be read within the bound is reported; the others go on. */
  readonly unfilled: BackfillReport['unfilled'];
  /** The gap's end (HA ms): an open-ended window (end null) is split there first. */
  readonly openEndAt: number;
}

/**
 * An answer over the bound, asked again in halves: by entities, then by time. An open-ended
 * window is closed at the gap's known end (or a minute on, past it) and its open tail asked on
 * its own; HA's REST answers an open window up to a day from its start, so the tail ends.
 */
function restHalves(ctx: RestContext, start: number, end: number | null, ids: readonly string[]): [number, number | null, readonly string[]][] {
  if (ids.length > 1) {
    const half = Math.ceil(ids.length / 2);
    return [
      [start, end, ids.slice(0, half)],
      [start, end, ids.slice(half)],
    ];
  }
  if (end === null) {
    const at = Math.max(ctx.openEndAt, start + MIN_REST_WINDOW_MS);
    return [
      [start, at, ids],
      [at, null, ids],
    ];
  }
  if (end - start <= MIN_REST_WINDOW_MS) return [];
  const middle = start + Math.floor((end - start) / 2);
  return [
    [start, middle, ids],
    [middle, end, ids],
  ];
}

/**
 * One REST history request; its body goes to the workers as a synthetic result frame. Resolves
 * with why it failed (HA refused, the network), or null. One entity over the bound even in a
 * minute is reported unfilled with that minute's bounds, and the other entities and windows go
 * on: reading it with a larger bound would put more than the measured 16 MiB answer on the main
 * thread and in an encoder thread's heap (docs/reliability.md, Memory bounds).
 */
async function restWindow(ctx: RestContext, start: number, end: number | null, ids: readonly string[]): Promise<string | null> {
  const { opts } = ctx;
  const body = await restGet(opts, restHistoryUrl(opts.httpBase, start, end, ids));
  if (body === TOO_BIG) {
    const halves = restHalves(ctx, start, end, ids);
    if (halves.length === 0) {
      const to = end ?? start + MIN_REST_WINDOW_MS;
      ctx.unfilled.push({
        from: start,
        to,
        why: `the /api/history/period answer for ${ids[0]} from ${iso(start)} to ${iso(to)} is over ${opts.restMaxBytes ?? MAX_FRAME_BYTES} bytes (at most a minute: asked no smaller)`,
        lasting: true,
      });
      return null;
    }
    for (const [s, e, part] of halves) {
      const failure = await restWindow(ctx, s, e, part);
      if (failure !== null) return failure;
    }
    return null;
  }
  if (typeof body === 'string') return body;
  opts.restBytes?.(body.length);
  const { id, reply } = opts.connection.expectStates('rest');
  opts.feedFrame(Buffer.concat([Buffer.from(`{"id":${id},"type":"result","success":true,"result":`), body, Buffer.from('}')]));
  return ctx.settle(await reply) ? null : 'the REST history answer could not be read';
}

/** HA's ISO time (`…T12:34:56.123456+00:00`, fraction optional) → ms, floored. */
function isoMs(text: string): number {
  const fraction = /^\.(\d{1,3})/.exec(text.slice(19))?.[1] ?? '';
  return Date.parse(`${text.slice(0, 19)}Z`) + Number(fraction.padEnd(3, '0'));
}

export interface ProbeResult {
  /** Newest row of the entity in the window (HA ms), null when none. */
  readonly newestMs: number | null;
  /** Whether the answer came over REST (HA without history/history_during_period). */
  readonly rest: boolean;
}

/** Whether HA's announced release has history/history_during_period (an unknown one is asked). */
const hasWebSocketHistory = (opts: BackfillOptions): boolean => haHasCommand(opts.connection.haVersion ?? 'unknown', 'history/history_during_period');

/**
 * The newest recorded row of one entity in [fromMs, toMs) (HA time): a cheap question that tells
 * how far HA's recorder has committed (it commits in order). Raw answers, read here: a handful of
 * rows, never written as points.
 */
export async function probeRecorder(opts: BackfillOptions, entityId: string, fromMs: number, toMs: number, rest: boolean): Promise<ProbeResult> {
  if (!rest && hasWebSocketHistory(opts)) {
    try {
      const result = (await opts.connection.request(historyDuringPeriod(fromMs, toMs, [entityId], true))) as Record<string, { lu?: unknown }[]> | null;
      let newest: number | null = null;
      for (const row of result?.[entityId] ?? []) {
        if (typeof row.lu === 'number') newest = Math.max(newest ?? 0, Math.floor(row.lu * 1000 + 1e-3));
      }
      return { newestMs: newest, rest: false };
    } catch (err) {
      if (!(err instanceof HaCommandError) || err.haCode !== 'unknown_command') throw err;
    }
  }
  const body = await restGet(opts, restHistoryUrl(opts.httpBase, fromMs, toMs, [entityId]));
  // A failed probe proves nothing: the caller asks again until its bound.
  if (typeof body === 'string') return { newestMs: null, rest: true };
  let newest: number | null = null;
  for (const st of (JSON.parse(body.toString('utf8')) as { last_updated?: unknown }[][]).flat()) {
    if (typeof st?.last_updated === 'string') newest = Math.max(newest ?? 0, isoMs(st.last_updated));
  }
  return { newestMs: newest, rest: true };
}

/**
 * Whether HA's recorder holds a state of any of `entityIds` at or before `atMs` (HA time): one
 * small answer per call (at most one row per entity, no attributes), read here. Over REST the
 * same question is /api/history/period without skip_initial_state. Rejects when HA cannot answer.
 */
export async function recordedAt(opts: BackfillOptions, atMs: number, entityIds: readonly string[], rest: boolean): Promise<boolean> {
  if (!rest && hasWebSocketHistory(opts)) {
    try {
      const result = (await opts.connection.request(historyStatesAt(atMs, entityIds))) as Record<string, unknown[]> | null;
      return Object.values(result ?? {}).some((rows) => Array.isArray(rows) && rows.length > 0);
    } catch (err) {
      if (!(err instanceof HaCommandError) || err.haCode !== 'unknown_command') throw err;
    }
  }
  const query = new URLSearchParams({ end_time: iso(atMs + 1), filter_entity_id: entityIds.join(','), minimal_response: '', no_attributes: '' });
  const body = await restGet(opts, `${opts.httpBase}/api/history/period/${encodeURIComponent(historyStart(atMs))}?${query}`);
  if (typeof body === 'string') throw new HaCommandError('history', 'rest_failed', body);
  if (body === TOO_BIG) return true;
  return (JSON.parse(body.toString('utf8')) as unknown[][]).some((list) => Array.isArray(list) && list.length > 0);
}

/** Whether HA's announced release needs the REST history (for callers that ask before backfilling). */
export const restOnly = (opts: BackfillOptions): boolean => !hasWebSocketHistory(opts);
