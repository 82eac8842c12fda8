/**
 * Keeps ha_statistics up to date (STATISTICS=true): after HA compiles new statistics, fetches them
 * from the follower's cursor (statistics-follow.json) to the newest compiled period.
 *
 * When: a timer aligned to HA's compile schedule, in HA's clock. HA compiles at every 5th minute
 * + 10 s UTC (homeassistant/components/recorder/core.py, `async_track_utc_time_change(…,
 * minute=range(0, 60, 5), second=10)`), the hourly statistics in the run that ends an hour; the
 * follower wakes at every 5th minute + TICK_OFFSET_MS and asks for what ended COMPILE_GRACE_MS
 * before. HA also fires `recorder_5min_statistics_generated` / `recorder_hourly_statistics_generated`
 * (homeassistant/components/recorder/const.py), but a timer needs no subscription of its own, works
 * on every release that has statistics, and costs the same: one wake-up per 5 minutes.
 * On each (re)connection it catches up at once.
 *
 * Cost at home: one request per 5 minutes (the 5-minute rows), one more after each hour (the
 * hourly rows), list_statistic_ids once an hour; one cursor save per chunk.
 *
 * Without an import it begins at its first start (`sinceMs`, only new statistics); ids that
 * appear later begin there too. 5-minute cursors never lie behind HA's purge horizon (skipPurged).
 */
import { HaConnectionLostError } from '../errors.js';
import { PERIODS, type StatisticsCursor, StatisticsCursorFile, emptyCursor } from './statistics-cursor.js';
import { DEFAULT_PLAN_LIMITS, compiledUntil, type PlanLimits } from './statistics-plan.js';
import { COMPILE_GRACE_MS, type StatisticsContext, StatisticsSource, alignCursors, skipPurged, syncPeriod } from './statistics.js';

export const FOLLOW_INTERVAL_MS = 5 * 60_000;
/** Past each 5th minute (HA's clock): HA starts compiling at +10 s. */
export const TICK_OFFSET_MS = 40_000;
const IDS_REFRESH_MS = 3_600_000;
const MISSING_RETRY_MS = 86_400_000;

export interface FollowerOptions {
  readonly limits?: PlanLimits;
  readonly graceMs?: number;
  /**
   * Whether a history import runs in this process: a follower that has not begun yet waits for it
   * and then begins where the import's statistics ended, so that no period falls between the two.
   */
  readonly importing?: () => boolean;
}

/** ms from `haNowMs` to the next tick (every FOLLOW_INTERVAL_MS, TICK_OFFSET_MS past), in HA's clock. */
export function msUntilTick(haNowMs: number): number {
  const next = Math.floor((haNowMs - TICK_OFFSET_MS) / FOLLOW_INTERVAL_MS) * FOLLOW_INTERVAL_MS + FOLLOW_INTERVAL_MS + TICK_OFFSET_MS;
  return next - haNowMs;
}

/** How far back external statistics are asked again, once an hour. */
export const EXTERNAL_LOOKBACK_MS = 7 * 86_400_000;

/**
 * External statistics (`domain:name`: a utility's or an energy provider's, imported by their
 * integration) are written into HA hours or days after their period, so no cursor can pass them
 * for good: once an hour their hourly cursors move back to EXTERNAL_LOOKBACK_MS before the end
 * (never before the follower's start), and what came since is fetched (the rest rewritten, the
 * same points). Recorder statistics (`sensor.x`) are compiled on time and keep their cursors.
 */
export function lookBackExternal(cursors: Map<string, number>, toMs: number, sinceMs: number): void {
  const back = Math.max(sinceMs, toMs - EXTERNAL_LOOKBACK_MS);
  for (const [id, c] of cursors) if (id.includes(':') && c > back) cursors.set(id, back);
}

export class StatisticsFollower {
  private readonly file: StatisticsCursorFile;
  private cursor: StatisticsCursor | null = null;
  private ids: string[] | null = null;
  private idsAtMs = 0;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  /** The release that answered neither name of the statistics commands, and when (asked again a day later). */
  private missing: { readonly version: string; readonly atMs: number } | null = null;
  /** The hourly end up to which external statistics were last asked again (lookBackExternal). */
  private lookedBackAt = 0;
  /** A connection came while a run was in progress: run once more after it. */
  private again = false;
  /** Points written and requests sent since start (for tests and the log). */
  points = 0;
  requests = 0;

  constructor(
    private readonly ctx: StatisticsContext,
    private readonly options: FollowerOptions = {},
  ) {
    this.file = new StatisticsCursorFile(ctx.dataDir, 'statistics-follow.json');
  }

  start(): void {
    this.schedule();
  }

  /**
   * A new connection to HA: the statistic ids are listed again and what was missed is fetched now
   * (after the run in progress, which the old connection's end has most likely cut short).
   */
  connected(): void {
    this.ids = null;
    if (this.running !== null) this.again = true;
    else void this.runOnce();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    await this.running;
  }

  /** One catch-up (or the one already running). */
  runOnce(): Promise<void> {
    this.running ??= this.follow()
      .catch((err: Error) => {
        if (err instanceof HaConnectionLostError) this.ctx.log.debug({ err }, 'statistics follower: connection lost, next time');
        else this.ctx.log.warn({ err }, 'statistics follower: fetching new statistics failed, next time');
      })
      .finally(() => {
        this.running = null;
        if (this.again && !this.stopped) {
          this.again = false;
          void this.runOnce();
        }
      });
    return this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.runOnce();
      this.schedule();
    }, msUntilTick(this.ctx.haNow()));
    this.timer.unref();
  }

  private async follow(): Promise<void> {
    const { ctx } = this;
    if (ctx.clockKnown?.() === false) return;
    const grace = this.options.graceMs ?? COMPILE_GRACE_MS;
    const cursor = await this.loadCursor(grace);
    if (cursor === null) return;
    const source = new StatisticsSource(ctx);
    if (!source.available || this.stopped || this.knownMissing()) return;
    try {
      await this.followWith(source, cursor, grace);
    } finally {
      this.requests += source.requests;
    }
  }

  private async followWith(source: StatisticsSource, cursor: StatisticsCursor, grace: number): Promise<void> {
    const { ctx } = this;
    // A local: connected() may clear the list while this run waits for HA.
    let ids = this.ids;
    if (ids === null || ctx.haNow() - this.idsAtMs >= IDS_REFRESH_MS) {
      ids = await source.ids();
      if (ids === null) {
        // Asked again only when another release answers (each unknown command is an ERROR in HA's log).
        this.missing = { version: ctx.connection.haVersion ?? 'unknown', atMs: ctx.haNow() };
        ctx.log.warn({ haVersion: this.missing.version }, 'Home Assistant answers no statistics command (is its recorder loaded?): asked again in a day');
        return;
      }
      this.ids = ids;
      this.idsAtMs = ctx.haNow();
    }
    const since = cursor.sinceMs as Record<'hour' | '5minute', number>;
    for (const period of PERIODS) {
      if (this.stopped) break;
      const cursors = cursor.periods[period];
      alignCursors(cursors, ids, () => since[period]);
      const toMs = compiledUntil(ctx.haNow(), period, grace);
      if (period === '5minute') skipPurged(cursors, toMs);
      else if (toMs > this.lookedBackAt) {
        lookBackExternal(cursors, toMs, since.hour);
        this.lookedBackAt = toMs;
      }
      await syncPeriod(ctx, source, period, cursors, toMs, {
        limits: this.options.limits ?? DEFAULT_PLAN_LIMITS,
        save: () => this.file.save(cursor),
        done: (encoded) => (this.points += encoded.points),
      });
    }
  }

  /** The release answered no statistics command less than a day ago (each is an ERROR in its log). */
  private knownMissing(): boolean {
    const m = this.missing;
    return m !== null && m.version === (this.ctx.connection.haVersion ?? 'unknown') && this.ctx.haNow() - m.atMs < MISSING_RETRY_MS;
  }

  /**
   * The saved cursor; on the very first start, one that begins where a completed import of the
   * statistics ended, or else now. Null while an import runs and nothing is saved yet.
   */
  private async loadCursor(grace: number): Promise<StatisticsCursor | null> {
    if (this.cursor !== null) return this.cursor;
    const saved = await this.file.load();
    if (saved === null && this.options.importing?.() === true) return null;
    const cursor = saved ?? emptyCursor();
    if (cursor.sinceMs === null) {
      const now = this.ctx.haNow();
      const importFile = new StatisticsCursorFile(this.ctx.dataDir, 'statistics-import.json');
      const imported = await importFile.load().catch((err: Error) => {
        this.ctx.log.error({ err, file: importFile.path }, `the statistics import's cursor cannot be read: the follower begins now (${err.message})`);
        return null;
      });
      const since = (period: 'hour' | '5minute'): number => {
        const ends = imported?.complete === true ? [...imported.periods[period].values()] : [];
        return ends.length > 0 ? Math.min(...ends) : compiledUntil(now, period, grace);
      };
      cursor.sinceMs = { hour: since('hour'), '5minute': since('5minute') };
      await this.file.save(cursor);
      this.ctx.log.info(
        { since: new Date(cursor.sinceMs.hour).toISOString() },
        imported?.complete === true
          ? 'statistics follower: first start, going on where the import ended'
          : 'statistics follower: first start, keeping statistics from now on',
      );
    }
    this.cursor = cursor;
    return cursor;
  }
}
