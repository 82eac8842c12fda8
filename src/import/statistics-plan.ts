/**
 * How long-term statistics are asked for: which statistic ids and which time window go in the
 * next recorder/statistics_during_period request. Pure: it reads the cursors (per statistic id,
 * every row with a start before the cursor is written) and returns one chunk at a time.
 *
 * Rules:
 * - Windows lie on a fixed grid (multiples of `windowMs` since the epoch), so ids that started at
 *   different times (their first month) meet on the same windows after their first chunk and
 *   share requests from then on.
 * - A window holds `rowsPerRequest / ids` periods (at least one), ids at most `maxIds` a request:
 *   an answer holds at most `rowsPerRequest` rows (one per id and period), which keeps it well
 *   under the socket's frame limit (src/ha/socket.ts MAX_FRAME_BYTES, 16 MiB) whatever the ids.
 * - A chunk starts at the lowest cursor of its ids: the others' rows before their own cursor come
 *   again, and are written again as the same points (idempotent), only in a first window.
 */
import type { StatisticsPeriod } from '../ha/messages.js';

export const PERIOD_MS: Readonly<Record<StatisticsPeriod, number>> = { hour: 3_600_000, '5minute': 300_000 };

export interface PlanLimits {
  /** Most rows (ids × periods) one answer may hold. */
  readonly rowsPerRequest: number;
  /** Most statistic ids in one request. */
  readonly maxIds: number;
}

/**
 * The chosen chunk size (docs/benchmarks.md, "Long-term statistics import"): a row of current HA
 * is 110–190 bytes of JSON, so 20,000 rows are ≤ 4 MB, a quarter of the frame limit.
 */
export const DEFAULT_PLAN_LIMITS: PlanLimits = { rowsPerRequest: 20_000, maxIds: 100 };

export interface StatisticsChunk {
  readonly ids: readonly string[];
  readonly startMs: number;
  readonly endMs: number;
}

/** The grid's window for `idCount` ids of `period`. */
export function windowMs(period: StatisticsPeriod, idCount: number, limits: PlanLimits): number {
  const perWindow = Math.max(1, Math.floor(limits.rowsPerRequest / Math.max(1, Math.min(idCount, limits.maxIds))));
  return PERIOD_MS[period] * perWindow;
}

/** The next chunk before `toMs`, or null when every cursor has reached it. */
export function nextChunk(cursors: ReadonlyMap<string, number>, toMs: number, period: StatisticsPeriod, limits: PlanLimits): StatisticsChunk | null {
  let lowest = Number.POSITIVE_INFINITY;
  for (const c of cursors.values()) if (c < lowest) lowest = c;
  if (lowest >= toMs) return null;
  const w = windowMs(period, cursors.size, limits);
  const endMs = Math.min(toMs, Math.floor(lowest / w) * w + w);
  const ids = [...cursors]
    .filter(([, c]) => c < endMs)
    .map(([id]) => id)
    .sort()
    .slice(0, limits.maxIds);
  let startMs = endMs;
  for (const id of ids) startMs = Math.min(startMs, cursors.get(id) as number);
  return { ids, startMs, endMs };
}

/**
 * The end of the newest period HA has surely compiled by `haNowMs`: HA compiles statistics at
 * every 5th minute + 10 s UTC (homeassistant/components/recorder/core.py, `async_track_utc_time_change(
 * …, minute=range(0, 60, 5), second=10)`), the hourly ones in the run that ends an hour; a
 * period is asked for once `graceMs` have passed since it ended.
 */
export function compiledUntil(haNowMs: number, period: StatisticsPeriod, graceMs: number): number {
  const p = PERIOD_MS[period];
  return Math.floor((haNowMs - graceMs) / p) * p;
}
