/**
 * Home Assistant's long-term statistics into ha_statistics (docs/schema.md): the import of what
 * HA has (`statisticsImporter`, an Importer run by the import job) and the sync both it and the
 * follower (statistics-follower.ts) are made of.
 *
 * Rules:
 * - Statistic ids come from recorder/list_statistic_ids; rows from recorder/statistics_during_period
 *   (history/… before HA 2022.11, src/ha/version.ts), hourly and 5-minute, chunked by ids × time
 *   (statistics-plan.ts), one request at a time, `room()` awaited before each: live traffic first.
 * - Answers go to the encoder workers as frames (kind statistics-hour / statistics-5minute,
 *   workers/encode/statistics.ts); this thread only sees their summaries.
 * - A cursor per period and statistic id (statistics-cursor.ts) moves only after the chunk's
 *   points are settled (`written()`): a kill redoes at most the chunk in flight, and what is
 *   written again is the same points (same tags, same timestamps).
 * - Hourly rows: from the first one HA has. One cheap probe per 50 ids (period "month", HA's
 *   reduction of the hourly rows: its first row starts at or before the first hour) finds where
 *   each id begins, so years without data cost no request.
 * - 5-minute rows: HA purges them with the states (recorder `purge_keep_days`, default 10 days),
 *   so the import asks for the last SHORT_TERM_KEEP_MS only.
 * - Only compiled periods are asked for (compiledUntil): a cursor never passes a period HA may
 *   still add rows to.
 */
import type { StatesEncoded } from '../ha/connection.js';
import { HaCommandError } from '../errors.js';
import { type Command, listStatisticIds, type StatisticsPeriod, statisticsDuringPeriod } from '../ha/messages.js';
import { type StatisticsPrefix, statisticsPrefix } from '../ha/version.js';
import { emptyCursor, PERIODS, type StatisticsCursor, StatisticsCursorFile } from './statistics-cursor.js';
import { compiledUntil, DEFAULT_PLAN_LIMITS, nextChunk, PERIOD_MS, type PlanLimits, type StatisticsChunk } from './statistics-plan.js';
import type { Importer, ImporterContext, ImportProgress, ImportWindow } from './importer.js';

/** A period is asked for this long after it ended (HA compiles at +10 s; a busy recorder takes longer). */
export const COMPILE_GRACE_MS = 5 * 60_000;
/** How far back 5-minute statistics are imported: HA's default purge_keep_days. */
export const SHORT_TERM_KEEP_MS = 10 * 86_400_000;
/** HA's long-term statistics began with release 2021.8 (August 2021): releases of that era hold nothing older. */
export const STATISTICS_BEGAN_MS = Date.UTC(2021, 6, 1);
/** Statistic ids per "month" probe: ids × months stays small (50 × 10 years = 6,000 rows). */
const PROBE_IDS = 50;

export type StatisticsContext = Pick<ImporterContext, 'haNow' | 'dataDir' | 'log' | 'metrics' | 'room' | 'durable'> & {
  /** Statistics are asked and answered only: no answer that comes without a request. */
  readonly connection: Pick<ImporterContext['connection'], 'request' | 'requestStates' | 'haVersion'>;
  /**
   * Whether haNow is HA's clock (measured from a live event) rather than ours: the follower waits
   * for it, since a clock ahead of HA's would move a cursor past periods HA has not compiled yet.
   */
  readonly clockKnown?: () => boolean;
};

const otherPrefix = (p: StatisticsPrefix): StatisticsPrefix => (p === 'recorder' ? 'history' : 'recorder');

/**
 * HA's statistics commands, one request at a time, with the prefix the release has. An
 * unknown_command switches to the other prefix once (the release table is read from HA's clients).
 */
export class StatisticsSource {
  requests = 0;
  bytes = 0;
  private prefix: StatisticsPrefix | null | undefined;
  private switched = false;

  constructor(private readonly ctx: StatisticsContext) {}

  /** Whether the release has statistics commands at all (HA 2021.9 and later). */
  get available(): boolean {
    this.prefix ??= statisticsPrefix(this.ctx.connection.haVersion ?? 'unknown');
    return this.prefix !== null;
  }

  /**
   * Every statistic id HA lists, sorted; null when HA knows neither name of the command (its
   * recorder is not loaded): nothing more is to be asked of this HA.
   */
  async ids(): Promise<string[] | null> {
    let list: { statistic_id?: unknown }[] | null;
    try {
      list = (await this.send(
        (p) => listStatisticIds(p),
        (c) => this.ctx.connection.request(c),
      )) as { statistic_id?: unknown }[] | null;
    } catch (err) {
      if (err instanceof HaCommandError && err.haCode === 'unknown_command') return null;
      throw err;
    }
    const ids = (Array.isArray(list) ? list : []).map((m) => m?.statistic_id).filter((id): id is string => typeof id === 'string' && id !== '');
    return [...new Set(ids)].sort();
  }

  /** A chunk's rows, written by the workers: resolves with their summary. */
  rows(chunk: StatisticsChunk, period: StatisticsPeriod): Promise<StatesEncoded> {
    const kind = period === 'hour' ? 'statistics-hour' : 'statistics-5minute';
    return this.send(
      (p) => statisticsDuringPeriod(p, chunk.startMs, chunk.endMs, chunk.ids, period),
      (c) => this.ctx.connection.requestStates(c, kind),
    );
  }

  /** Per id, the start of its first month in [startMs, endMs) (HA's reduction of the hourly rows). */
  async firstMonths(ids: readonly string[], startMs: number, endMs: number): Promise<Map<string, number>> {
    let answer: Record<string, { start?: unknown }[]> | null;
    try {
      answer = (await this.send(
        (p) => statisticsDuringPeriod(p, startMs, endMs, ids, 'month'),
        (c) => this.ctx.connection.request(c),
      )) as Record<string, { start?: unknown }[]> | null;
    } catch (err) {
      // Releases before 2022.2 or so know only hour and 5minute: every id then begins at the start.
      if (!(err instanceof HaCommandError) || err.haCode === 'unknown_command') throw err;
      // Those releases came after HA's first statistics (2021.8): nothing older is asked for.
      this.ctx.log.info({ haCode: err.haCode }, 'Home Assistant cannot reduce statistics to months: each id is asked for from its first possible hour');
      return new Map(ids.map((id) => [id, Math.max(startMs, STATISTICS_BEGAN_MS)]));
    }
    const first = new Map<string, number>();
    for (const [id, rows] of Object.entries(answer ?? {})) {
      const ms = Array.isArray(rows) && rows.length > 0 ? monthStartMs(rows[0]?.start) : null;
      if (ms !== null) first.set(id, ms);
    }
    return first;
  }

  private async send<T>(make: (p: StatisticsPrefix) => Command, call: (c: Command) => Promise<T>): Promise<T> {
    if (!this.available) throw new HaCommandError('statistics commands', 'unknown_command', `not in HA ${this.ctx.connection.haVersion}`);
    for (;;) {
      await this.ctx.room();
      const before = this.ctx.metrics.haBytes.get();
      this.requests++;
      try {
        return await call(make(this.prefix as StatisticsPrefix));
      } catch (err) {
        if (!(err instanceof HaCommandError) || err.haCode !== 'unknown_command' || this.switched) throw err;
        this.switched = true;
        this.prefix = otherPrefix(this.prefix as StatisticsPrefix);
        this.ctx.log.warn({ prefix: this.prefix }, 'Home Assistant does not know this statistics command: trying its other name');
      } finally {
        // The connection's bytes while the request ran: the answer, and any live events beside it.
        this.bytes += this.ctx.metrics.haBytes.get() - before;
      }
    }
  }
}

/** A "month" row's start (ms number or ISO string), or null. */
function monthStartMs(value: unknown): number | null {
  if (typeof value === 'number' && Number.isFinite(value)) return Math.floor(value);
  const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  return Number.isNaN(ms) ? null : ms;
}

/** What a sync has done so far; `expected` rows (ids × periods) give the fraction. */
export class StatisticsTally {
  points = 0;
  rows = 0;
  chunks = 0;
  private doneMs = 0;
  private totalMs = 0;

  /** Work ahead for `cursors` up to `toMs`, in rows (one id × one period each). */
  plan(cursors: ReadonlyMap<string, number>, toMs: number, period: StatisticsPeriod): void {
    for (const c of cursors.values()) if (c < toMs) this.totalMs += (toMs - c) / PERIOD_MS[period];
  }

  chunk(encoded: StatesEncoded, chunk: StatisticsChunk, cursorsBefore: readonly number[], period: StatisticsPeriod): void {
    this.points += encoded.points;
    this.rows += encoded.states;
    this.chunks++;
    for (const c of cursorsBefore) this.doneMs += (chunk.endMs - c) / PERIOD_MS[period];
  }

  get fraction(): number {
    return this.totalMs === 0 ? 1 : Math.min(1, this.doneMs / this.totalMs);
  }
}

/**
 * Every chunk of `period` before `toMs`, in order: request, wait until its points are settled,
 * move the cursors, save them. Rejects as the connection does (HaConnectionLostError).
 */
/** A period HA has not compiled this long after it ended never will be: cursors pass it. */
export const SETTLED_AFTER_MS = 24 * 3_600_000;

/**
 * Where a chunk's ids stand once its answer is written. HA compiles a period for every statistic
 * at once, so the newest row in the answer shows how far it had got; the periods after it may
 * still come (HA compiling late after a restart, or while its recorder is busy) and are asked
 * again next time, unless they ended SETTLED_AFTER_MS ago.
 */
export function settledUntil(chunk: StatisticsChunk, newestStartMs: number | null, period: StatisticsPeriod, haNowMs: number): number {
  const p = PERIOD_MS[period];
  const old = Math.min(chunk.endMs, Math.floor((haNowMs - SETTLED_AFTER_MS) / p) * p);
  const compiled = newestStartMs === null ? chunk.startMs : Math.min(chunk.endMs, newestStartMs + p);
  return Math.max(old, compiled);
}

export async function syncPeriod(
  ctx: StatisticsContext,
  source: StatisticsSource,
  period: StatisticsPeriod,
  cursors: Map<string, number>,
  toMs: number,
  step: { readonly limits: PlanLimits; save(): Promise<void>; done(encoded: StatesEncoded, chunk: StatisticsChunk, before: readonly number[]): void },
): Promise<void> {
  // Ids whose chunk ended short of what HA has compiled are done for this run (asked again next time).
  const planning = new Map(cursors);
  for (let chunk = nextChunk(planning, toMs, period, step.limits); chunk !== null; chunk = nextChunk(planning, toMs, period, step.limits)) {
    const encoded = await source.rows(chunk, period);
    await ctx.durable();
    const before = chunk.ids.map((id) => cursors.get(id) as number);
    const settled = settledUntil(chunk, encoded.newest?.haMs ?? null, period, ctx.haNow());
    for (const id of chunk.ids) {
      const next = Math.max(cursors.get(id) as number, settled);
      cursors.set(id, next);
      planning.set(id, settled < chunk.endMs ? toMs : next);
    }
    await step.save();
    step.done(encoded, chunk, before);
  }
}

/**
 * 5-minute rows older than HA's purge horizon are gone (purge_keep_days, default 10): cursors
 * behind it move up to it, so a follower that was stopped for weeks does not walk empty windows.
 */
export function skipPurged(cursors: Map<string, number>, toMs: number): void {
  const horizon = Math.floor((toMs - SHORT_TERM_KEEP_MS) / PERIOD_MS['5minute']) * PERIOD_MS['5minute'];
  for (const [id, c] of cursors) if (c < horizon) cursors.set(id, horizon);
}

/** Keeps the cursors of listed ids only; `start` gives where an id not seen before begins. */
export function alignCursors(cursors: Map<string, number>, ids: readonly string[], start: (id: string) => number): void {
  const listed = new Set(ids);
  for (const id of [...cursors.keys()]) if (!listed.has(id)) cursors.delete(id);
  for (const id of ids) if (!cursors.has(id)) cursors.set(id, start(id));
}

/** The import of every statistic HA has in the window (statistics-import.json). */
export class StatisticsImport {
  constructor(
    private readonly ctx: StatisticsContext,
    private readonly limits: PlanLimits = DEFAULT_PLAN_LIMITS,
  ) {}

  async run(window: ImportWindow, progress: (p: ImportProgress) => void): Promise<ImportProgress> {
    const ctx = this.ctx;
    const file = new StatisticsCursorFile(ctx.dataDir, 'statistics-import.json');
    const saved = await file.load();
    const source = new StatisticsSource(ctx);
    const tally = new StatisticsTally();
    const report = (items: number): ImportProgress => ({
      importer: 'statistics',
      fraction: tally.fraction,
      items,
      points: tally.points,
      requests: source.requests,
      bytes: source.bytes,
    });
    if (saved?.complete === true) {
      ctx.log.info({ file: file.path }, `statistics import already complete: nothing to do (delete ${file.path} to import again)`);
      return report(0);
    }
    // One begun earlier goes on in its own window, whatever this run asked for.
    const cursor = saved ?? emptyCursor(window.fromMs);
    if (saved !== null) ctx.log.info('statistics import resumed where it stopped');
    if (!source.available) {
      ctx.log.info({ haVersion: ctx.connection.haVersion }, 'this Home Assistant has no long-term statistics to import');
      return report(0);
    }
    const ids = await source.ids();
    if (ids === null) {
      ctx.log.warn({ haVersion: ctx.connection.haVersion }, 'Home Assistant answers no statistics command (is its recorder loaded?): no statistics to import');
      return report(0);
    }
    const ends = {
      hour: Math.min(window.toMs, compiledUntil(ctx.haNow(), 'hour', COMPILE_GRACE_MS)),
      '5minute': Math.min(window.toMs, compiledUntil(ctx.haNow(), '5minute', COMPILE_GRACE_MS)),
    };
    await this.placeNewIds(source, cursor, ids, cursor.fromMs, ends);
    await file.save(cursor);
    for (const period of PERIODS) tally.plan(cursor.periods[period], ends[period], period);
    for (const period of PERIODS) {
      await syncPeriod(ctx, source, period, cursor.periods[period], ends[period], {
        limits: this.limits,
        save: () => file.save(cursor),
        done: (encoded, chunk, before) => {
          tally.chunk(encoded, chunk, before, period);
          progress(report(ids.length));
        },
      });
    }
    cursor.complete = true;
    await file.save(cursor);
    const final = report(ids.length);
    ctx.log.info({ ids: ids.length, points: final.points, requests: final.requests, bytes: final.bytes }, 'long-term statistics imported');
    return final;
  }

  /** Cursors for ids the import has not seen: hourly at their first month, 5-minute at HA's purge horizon. */
  private async placeNewIds(
    source: StatisticsSource,
    cursor: StatisticsCursor,
    ids: readonly string[],
    fromMs: number | null,
    ends: Record<StatisticsPeriod, number>,
  ): Promise<void> {
    const from = fromMs ?? 0;
    const hourly = cursor.periods.hour;
    const fresh = ids.filter((id) => !hourly.has(id));
    const first = new Map<string, number>();
    for (let i = 0; i < fresh.length; i += PROBE_IDS) {
      for (const [id, ms] of await source.firstMonths(fresh.slice(i, i + PROBE_IDS), from, Math.max(from + 1, ends.hour))) first.set(id, ms);
    }
    // An id without a month has no hourly row in the window: nothing to ask for before its end.
    alignCursors(hourly, ids, (id) => Math.max(from, first.get(id) ?? ends.hour));
    alignCursors(cursor.periods['5minute'], ids, () => from);
    skipPurged(cursor.periods['5minute'], ends['5minute']);
  }
}

/** The Importer the import job runs after the states (src/import/importer.ts). */
export const statisticsImporter: Importer = {
  name: 'statistics',
  run: (ctx, window, progress) => new StatisticsImport(ctx).run(window, progress),
  unfinished: async (dataDir) => {
    const saved = await new StatisticsCursorFile(dataDir, 'statistics-import.json').load();
    return saved !== null && !saved.complete;
  },
};
