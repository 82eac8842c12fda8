/**
 * The states importer: every state HA's recorder holds in the import's range, written through the
 * same encoders and writer as live points (same schema, last_updated to the µs), so importing
 * twice rewrites identical points.
 *
 * Rules:
 * 1. Fetching is the gap backfill's (src/ha/backfill.ts): history/history_during_period in time
 *    windows × entity chunks, one request in flight, halved after answers over MAX_FRAME_BYTES,
 *    /api/history/period with skip_initial_state on HA before 2022.5. Answers are frames for the
 *    encoder workers; the main thread never parses them. No BACKFILL_MAX_WINDOW cap.
 * 2. The range is fixed once, in the cursor (src/import/cursor.ts): [from, to) in HA's time, `to`
 *    the job's boundary (src/import/job.ts), `from` the window's start or, for `all`, HA's oldest
 *    record (src/import/oldest.ts). A resumed import keeps the cursor's range.
 * 3. The range is walked in steps of one window, oldest first. A step is done when its answers
 *    are encoded AND durable (ctx.durable()); only then does the cursor move past it. A kill redoes
 *    at most the step it interrupted.
 * 4. Before every request the live stream is served first (ctx.room()).
 * 5. The entities asked for: every id known when the import starts (ctx.entityIds(): this
 *    connection's get_states and every id seen before). An entity deleted from HA before the
 *    ingestor ever saw it is not asked for: HA's API lists no recorded-only entity ids.
 * 6. Request sizes follow the answers: a step whose answers averaged over TARGET_ANSWER_BYTES
 *    makes the next step's requests half as long and half as wide (a quarter of the rows); one
 *    far under it, twice as long and wide again, up to the configured size. An answer over
 *    MAX_FRAME_BYTES still drops the connection, and the next run asks 4× smaller.
 */
import { HaConnectionLostError, IngestorError } from '../errors.js';
import { backfill, MAX_SHRINK, restOnly, type BackfillOptions, type BackfillReport } from '../ha/backfill.js';
import { advance, CursorFile, type ImportCursor } from './cursor.js';
import type { Importer, ImporterContext, ImportProgress, ImportWindow } from './importer.js';
import { findOldest, recordedAtAny } from './oldest.js';

/** Time per request and per cursor step (bench/import.ts chose it: docs/benchmarks.md). */
export const IMPORT_WINDOW_MS = 6 * 3_600_000;
/** Entity ids per request (bench/import.ts). */
export const IMPORT_ENTITIES_PER_REQUEST = 100;

export interface StatesTuning {
  readonly windowMs?: number;
  readonly entitiesPerRequest?: number;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** What one run has done so far: the progress it reports. */
interface Tally {
  points: number;
  requests: number;
  bytes: number;
}

export class StatesImporter implements Importer {
  readonly name = 'states' as const;
  /** Halvings of the requests, two more after each connection an answer over MAX_FRAME_BYTES dropped. */
  private shrink = 0;

  constructor(private readonly tuning: StatesTuning = {}) {}

  async unfinished(dataDir: string): Promise<boolean> {
    const cursor = await new CursorFile(dataDir).load();
    return cursor !== null && !cursor.complete;
  }

  async run(ctx: ImporterContext, window: ImportWindow, progress: (p: ImportProgress) => void): Promise<ImportProgress> {
    const file = new CursorFile(ctx.dataDir);
    const tally: Tally = { points: 0, requests: 0, bytes: 0 };
    const opts = this.backfillOptions(ctx, tally);
    const ids = [...ctx.entityIds()];
    let cursor = await file.load();
    if (cursor?.complete === true) {
      ctx.log.info(
        { file: file.path, from: iso(cursor.fromMs), to: iso(cursor.toMs) },
        `states import already complete: nothing to do (delete ${file.path} to import again)`,
      );
      return this.report(cursor, ids.length, tally);
    }
    if (cursor === null) cursor = await this.begin(ctx, file, opts, ids, window, tally);
    else ctx.log.info({ from: iso(cursor.doneUntilMs), to: iso(cursor.toMs) }, 'states import resumed where it stopped');
    const tooBigBefore = ctx.metrics.haFramesTooBig.get();
    try {
      return await this.walk(ctx, file, opts, ids, cursor, tally, progress);
    } catch (err) {
      // Answers over MAX_FRAME_BYTES drop the connection: the next run asks in smaller requests.
      if (err instanceof HaConnectionLostError && ctx.metrics.haFramesTooBig.get() > tooBigBefore && this.shrink < MAX_SHRINK) {
        this.shrink = Math.min(MAX_SHRINK, this.shrink + 2);
        ctx.log.warn(
          { shrink: this.shrink },
          `a history answer over MAX_FRAME_BYTES dropped the connection: the import's requests are ${2 ** this.shrink}× smaller now`,
        );
      }
      throw err;
    }
  }

  /** Fixes the range (rule 2) and saves it before anything is fetched. */
  private async begin(
    ctx: ImporterContext,
    file: CursorFile,
    opts: BackfillOptions,
    ids: readonly string[],
    window: ImportWindow,
    tally: Tally,
  ): Promise<ImportCursor> {
    let fromMs = window.fromMs;
    if (fromMs === null) {
      const recorded = recordedAtAny(opts, ids, restOnly(opts));
      fromMs = await findOldest(async (atMs) => {
        tally.requests++;
        return recorded(atMs);
      }, window.toMs);
      ctx.log.info({ oldest: iso(fromMs) }, "HA's recorder holds states from about here on");
    }
    fromMs = Math.min(fromMs, window.toMs);
    const cursor: ImportCursor = { fromMs, toMs: window.toMs, doneUntilMs: fromMs, complete: fromMs >= window.toMs, points: 0 };
    await file.save(cursor);
    ctx.log.info({ from: iso(fromMs), to: iso(window.toMs), entities: ids.length, file: file.path }, 'states import begins');
    return cursor;
  }

  /** Rule 3: one step at a time, the cursor saved after each durable step. */
  private async walk(
    ctx: ImporterContext,
    file: CursorFile,
    opts: BackfillOptions,
    ids: readonly string[],
    start: ImportCursor,
    tally: Tally,
    progress: (p: ImportProgress) => void,
  ): Promise<ImportProgress> {
    let cursor = start;
    const stepMs = this.tuning.windowMs ?? IMPORT_WINDOW_MS;
    while (!cursor.complete) {
      const from = cursor.doneUntilMs;
      const to = Math.min(cursor.toMs, from + stepMs);
      const bytesBefore = tally.bytes;
      const wsBytesBefore = ctx.metrics.haBytes.get();
      const report = await backfill(opts, from, to, ids, false, this.shrink);
      tally.bytes += ctx.metrics.haBytes.get() - wsBytesBefore;
      tally.requests += report.requests;
      this.resize(ctx, (tally.bytes - bytesBefore) / Math.max(1, report.requests));
      this.settleUnfilled(ctx, report);
      await ctx.durable();
      tally.points += report.points;
      cursor = advance(cursor, to, report.points);
      await file.save(cursor);
      progress(this.report(cursor, ids.length, tally));
    }
    ctx.log.info({ from: iso(cursor.fromMs), to: iso(cursor.toMs), points: cursor.points, requests: tally.requests }, 'states import complete');
    return this.report(cursor, ids.length, tally);
  }

  /** Rule 6: the next step's requests sized from this one's answers. */
  private resize(ctx: ImporterContext, bytesPerRequest: number): void {
    const next = nextShrink(this.shrink, bytesPerRequest);
    if (next > this.shrink) ctx.log.info({ bytesPerRequest: Math.round(bytesPerRequest), shrink: next }, "the import's answers are large: smaller requests");
    this.shrink = next;
  }

  /**
   * What a step could not fetch: a lasting reason (ids REST cannot name, one entity's minute over
   * the bound) is reported with its bounds and the import goes on; anything else (HA refused for
   * now) fails the step, which is asked again (src/import/job.ts).
   */
  private settleUnfilled(ctx: ImporterContext, report: BackfillReport): void {
    for (const gap of report.unfilled) {
      if (gap.lasting !== true) throw new ImportStepError(gap.why);
      ctx.log.error({ from: iso(gap.from), to: iso(gap.to), why: gap.why }, `the import cannot fetch ${iso(gap.from)} to ${iso(gap.to)}: ${gap.why}`);
    }
  }

  private backfillOptions(ctx: ImporterContext, tally: Tally): BackfillOptions {
    return {
      connection: ctx.connection,
      httpBase: ctx.httpBase,
      token: ctx.token,
      feedFrame: ctx.feedFrame,
      maxWindowMs: Number.POSITIVE_INFINITY,
      log: ctx.log,
      metrics: ctx.metrics,
      windowMs: this.tuning.windowMs ?? IMPORT_WINDOW_MS,
      entitiesPerRequest: this.tuning.entitiesPerRequest ?? IMPORT_ENTITIES_PER_REQUEST,
      beforeRequest: ctx.room,
      restBytes: (n) => {
        tally.bytes += n;
      },
      purpose: 'import',
    };
  }

  private report(cursor: ImportCursor, entities: number, tally: Tally): ImportProgress {
    const span = cursor.toMs - cursor.fromMs;
    return {
      importer: 'states',
      fraction: cursor.complete || span <= 0 ? 1 : (cursor.doneUntilMs - cursor.fromMs) / span,
      items: entities,
      points: tally.points,
      requests: tally.requests,
      bytes: tally.bytes,
    };
  }
}

/** HA could not answer a step for now (its database busy, an HTTP error): the step is asked again. */
export class ImportStepError extends IngestorError {
  constructor(why: string) {
    super('IMPORT_STEP_FAILED', `a step of the history import could not be fetched: ${why}`, true);
  }
}

/** An answer about this big is the aim: far under MAX_FRAME_BYTES (16 MiB), a few MB in an encoder at a time. */
export const TARGET_ANSWER_BYTES = 4 * 1024 * 1024;

/**
 * Halvings for the next requests, from the mean answer of the last step: one more above the
 * target, one fewer under a quarter of it (never below the configured size, never to the
 * REST-only MAX_SHRINK: only answers that dropped the connection go there).
 */
export function nextShrink(shrink: number, bytesPerRequest: number): number {
  if (shrink >= MAX_SHRINK) return shrink;
  if (bytesPerRequest > TARGET_ANSWER_BYTES) return Math.min(MAX_SHRINK - 1, shrink + 1);
  // Each halving quarters an answer: one under a quarter of the target grows back to under it.
  if (bytesPerRequest < TARGET_ANSWER_BYTES / 4 && shrink > 0) return shrink - 1;
  return shrink;
}

export const createStatesImporter = (tuning?: StatesTuning): StatesImporter => new StatesImporter(tuning);
