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
 * Limits, reported with their exact bounds: a window longer than `maxWindowMs` is cut to its most
 * recent part; what HA's recorder does not have (purged, excluded entities) cannot come back.
 */
import type { Logger } from 'pino';
import { request } from 'undici';
import type { Metrics } from '../metrics.js';
import type { HaConnection, Reply } from './connection.js';

export const WINDOW_MS = 60 * 60_000;
export const ENTITIES_PER_REQUEST = 100;
/** REST history: entity ids per request, so the request line stays well under HA's ~24 KB. */
const REST_URL_BUDGET = 12_000;

export interface BackfillOptions {
  readonly connection: HaConnection;
  /** Base URL of HA's HTTP API (http(s)://host:port). */
  readonly httpBase: string;
  readonly token: string;
  /** Hands a frame to the pipeline, as if it came from the socket. */
  readonly feedFrame: (frame: Buffer) => void;
  readonly maxWindowMs: number;
  readonly log: Logger;
  readonly metrics: Metrics;
}

export interface BackfillReport {
  readonly from: number;
  readonly to: number;
  readonly entities: number;
  readonly points: number;
  readonly requests: number;
  readonly via: 'websocket' | 'rest' | 'none';
  /** What could not be filled, with its bounds. */
  readonly unfilled: { readonly from: number; readonly to: number; readonly why: string }[];
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

/** HA's HTTP base from its WebSocket URL: ws://ha:8123/api/websocket → http://ha:8123. */
export function haHttpBase(wsUrl: string): string {
  return wsUrl.replace(/^ws/, 'http').replace(/\/api\/websocket$/, '');
}

export async function backfill(opts: BackfillOptions, fromMs: number, toMs: number, entityIds: readonly string[]): Promise<BackfillReport> {
  const { connection, log, metrics } = opts;
  const unfilled: { from: number; to: number; why: string }[] = [];
  let from = fromMs;
  if (toMs - from > opts.maxWindowMs) {
    unfilled.push({ from, to: toMs - opts.maxWindowMs, why: 'older than BACKFILL_MAX_WINDOW' });
    from = toMs - opts.maxWindowMs;
  }
  let points = 0;
  let requests = 0;
  let via: BackfillReport['via'] = 'websocket';
  const seen = new Set<string>();

  const account = (reply: Reply): boolean => {
    if (!('encoded' in reply)) return false;
    points += reply.encoded.points;
    return true;
  };

  windows: for (let start = from; start < toMs; start += WINDOW_MS) {
    const end = Math.min(toMs, start + WINDOW_MS);
    const idChunks = via === 'rest' ? restChunks(entityIds) : chunks(entityIds, ENTITIES_PER_REQUEST);
    for (const ids of idChunks) {
      requests++;
      if (via === 'websocket') {
        const reply = await connection.request(
          'history/history_during_period',
          (id) =>
            JSON.stringify({
              id,
              type: 'history/history_during_period',
              start_time: iso(start),
              end_time: iso(end),
              entity_ids: ids,
              include_start_time_state: false,
              significant_changes_only: false,
              minimal_response: false,
              no_attributes: false,
            }),
          'history',
        );
        if (account(reply)) {
          for (const id of 'encoded' in reply ? reply.encoded.entityIds : []) seen.add(id);
          continue;
        }
        const error = reply.type === 'result' && !reply.success ? reply.error : undefined;
        if (error?.code === 'unknown_command') {
          log.info('Home Assistant has no history/history_during_period (older release): using /api/history/period');
          via = 'rest';
          const unaskable = entityIds.filter((id) => id.includes(','));
          if (unaskable.length > 0) unfilled.push({ from: start, to: toMs, why: `entity ids with a comma cannot be asked for over REST: ${unaskable.join(' | ')}` });
          start -= WINDOW_MS; // this window again, over REST
          continue windows;
        }
        unfilled.push({ from: start, to: toMs, why: `history request failed: ${error?.code ?? 'unknown'} ${error?.message ?? ''}`.trim() });
        break windows;
      }
      const failure = await restWindow(opts, start, end, ids, (reply) => {
        if (!account(reply)) return false;
        for (const id of 'encoded' in reply ? reply.encoded.entityIds : []) seen.add(id);
        return true;
      });
      if (failure !== null) {
        unfilled.push({ from: start, to: toMs, why: failure });
        via = 'none';
        break windows;
      }
    }
  }

  const report: BackfillReport = { from, to: toMs, entities: seen.size, points, requests, via, unfilled };
  metrics.backfills.inc(1, { result: unfilled.length === 0 ? 'complete' : 'partial' });
  metrics.backfillPoints.inc(points);
  log.info({ from: iso(from), to: iso(toMs), entities: seen.size, points, requests, via }, 'backfill from Home Assistant history done');
  for (const gap of unfilled) {
    metrics.backfillUnfilledSeconds.inc((gap.to - gap.from) / 1000);
    log.error({ from: iso(gap.from), to: iso(gap.to), why: gap.why }, `a gap could not be filled from HA history: ${iso(gap.from)} to ${iso(gap.to)} (${gap.why})`);
  }
  return report;
}

/** One REST history request; its body goes to the workers as a synthetic result frame. */
async function restWindow(opts: BackfillOptions, start: number, end: number, ids: readonly string[], settle: (reply: Reply) => boolean): Promise<string | null> {
  const query = new URLSearchParams({ end_time: iso(end), filter_entity_id: ids.join(','), significant_changes_only: '0' });
  const url = `${opts.httpBase}/api/history/period/${encodeURIComponent(iso(start))}?${query}`;
  let body: Buffer;
  try {
    const res = await request(url, { headers: { authorization: `Bearer ${opts.token}` }, headersTimeout: 60_000, bodyTimeout: 120_000 });
    body = Buffer.from(await res.body.arrayBuffer());
    if (res.statusCode !== 200) return `/api/history/period answered ${res.statusCode}: ${body.toString('utf8').slice(0, 200)}`;
  } catch (err) {
    return `/api/history/period failed: ${(err as Error).message}`;
  }
  const { id, reply } = opts.connection.expectStates('rest');
  opts.feedFrame(Buffer.concat([Buffer.from(`{"id":${id},"type":"result","success":true,"result":`), body, Buffer.from('}')]));
  return settle(await reply) ? null : 'the REST history answer could not be read';
}
