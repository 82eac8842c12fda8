/**
 * The import job: runs the importers (states, then statistics) inside the running ingestor, once
 * the first connection is subscribed, and again on the next connection when one closes under it.
 *
 * Rules:
 * 1. When it runs: `--import-history` was given; or IMPORT_HISTORY_ON_FIRST_START is set and this
 *    is a first start (no state.json in DATA_DIR when the ingestor started: it has never saved a
 *    watermark there); or an import begun earlier is not complete (its cursor says so): an import
 *    once begun is finished, whatever the flags of the restart.
 * 2. The boundary T (HA time), fixed once per process: the live stream of this run holds every
 *    change at or after the connection's first live state change, and every change up to the
 *    get_states snapshot's newest state is before the snapshot. So T = min(first live change,
 *    snapshot's newest) + 1 ms, with what is known when the import starts (no snapshot: the first
 *    live change is awaited). The import covers [from, T): nothing between it and the live stream
 *    is missing; written twice (identical points, one per entity and time) are only each entity's
 *    state in the snapshot and the changes HA fired between subscribe_events and get_states (or
 *    within T's millisecond).
 * 3. HA's recorder commits late but in order: the import begins only once the recorder shows the
 *    anchor's row (src/ha/backfill.ts probeRecorder, as src/ha/resync.ts proves a gap covered),
 *    so its last window is complete. Past RECORDER_WAIT_MS it begins anyway and says so.
 * 4. Live traffic first: before every request the import waits while the encoder queue, the writer
 *    queue or the frame overflow are above their marks, or the database is behind (spool not
 *    empty) — `busy()` says why. The gap backfill of the connection goes first (`ready()`).
 * 5. A connection lost: the importer's run rejects; the job waits for the next connection and runs
 *    the unfinished importers again (each resumes from its cursor). A step HA refused is asked
 *    again after RETRY_MS on the same connection. An error that cannot pass (an unreadable
 *    cursor) ends the job, visibly (/health `import.state: failed`); live ingestion goes on.
 */
import type { Logger } from 'pino';
import type { ImportRange } from '../config.js';
import { HaConnectionLostError } from '../errors.js';
import { probeRecorder, restOnly, type BackfillOptions } from '../ha/backfill.js';
import type { StatesEncoded } from '../ha/connection.js';
import type { LiveFirst } from '../ha/resync.js';
import { type ImportRequest, RequestFile } from './cursor.js';
import type { Importer, ImporterContext, ImportWindow } from './importer.js';
import type { ImportStatus, ProgressReporter } from './progress.js';

export const RECORDER_WAIT_MS = 120_000;
export const PROBE_INTERVAL_MS = 1_000;
export const ROOM_POLL_MS = 100;
export const RETRY_MS = 30_000;
/** A wait for room longer than this is logged (once per this long). */
const WAIT_TOLD_MS = 60_000;
/** stop() waits this long for a run to end. */
const STOP_WAIT_MS = 2_000;

export interface ImportJobOptions {
  readonly importers: readonly Importer[];
  /** What was asked for (flag or first start), or null: only an unfinished import is finished. */
  readonly range: ImportRange | null;
  /** The context's parts that do not depend on the connection. */
  readonly context: Omit<ImporterContext, 'room' | 'log' | 'metrics' | 'dataDir'>;
  readonly dataDir: string;
  /** How the recorder is asked (probeRecorder). */
  readonly backfill: BackfillOptions;
  /** Why live traffic needs the queues now, or null when there is room (rule 4). */
  readonly busy: () => string | null;
  /** Resolves when the connection's own gap backfill is done. */
  readonly ready?: () => Promise<void>;
  readonly progress: ProgressReporter;
  readonly log: Logger;
  readonly metrics: ImporterContext['metrics'];
  /** Called once every importer is done (the statistics follower begins where the import ended). */
  readonly finished?: () => void;
  readonly recorderWaitMs?: number;
  readonly probeIntervalMs?: number;
  readonly retryMs?: number;
}

/** One connection the job runs on. */
interface Run {
  readonly session: number;
  closed: boolean;
  liveFirst: LiveFirst | null;
  wake: (() => void) | null;
}

/** The connection closed or the ingestor stops: the run ends here, the next connection resumes. */
class Paused extends HaConnectionLostError {}

const iso = (ms: number): string => new Date(ms).toISOString();

export class ImportJob {
  private phase: 'idle' | 'pending' | 'running' | 'done' | 'failed' = 'pending';
  private run: Run | null = null;
  private boundaryMs: number | null = null;
  private readonly done = new Set<string>();
  /** What was asked for and which importers finished it (import-request.json), or null. */
  private request: ImportRequest | null = null;
  private stopped = false;
  private running: Promise<void> = Promise.resolve();
  /** The newest subscribed connection: a run that ends after it subscribed resumes on it. */
  private latest: { session: number; snapshot: StatesEncoded | null; closed: boolean } | null = null;
  /** The newest connection's first live state change, once seen. */
  private live: { session: number; first: LiveFirst } | null = null;

  constructor(private readonly opts: ImportJobOptions) {}

  /**
   * Whether the job has anything to do (rule 1). What is asked for is recorded first
   * (import-request.json); without a flag, a request not done yet, or an importer's own cursor
   * left unfinished, is carried out.
   */
  async prepare(): Promise<boolean> {
    const file = new RequestFile(this.opts.dataDir);
    const saved = await file.load().catch((err: Error) => {
      this.opts.log.error({ err, file: file.path }, `the import request cannot be read: ${err.message}`);
      return null;
    });
    if (this.opts.range !== null) {
      this.request = { range: this.opts.range, done: saved?.range === this.opts.range ? saved.done : [] };
      await file.save(this.request);
      return true;
    }
    if (saved !== null && this.opts.importers.some((i) => !saved.done.includes(i.name))) {
      this.request = saved;
      for (const name of saved.done) this.done.add(name);
      this.opts.log.info({ range: saved.range, done: saved.done }, 'an import asked for earlier is not done: it goes on');
      return true;
    }
    // Without a request file (one from an earlier version, or deleted): only the importers whose own
    // cursor says unfinished run, each in its own range. One whose cursor cannot be read runs too,
    // and fails visibly (/health import.state: failed) rather than the import being dropped.
    let any = false;
    for (const importer of this.opts.importers) {
      const unfinished = await importer.unfinished(this.opts.dataDir).catch((err: Error) => {
        this.opts.log.error({ err, importer: importer.name }, `the ${importer.name} import's cursor cannot be read: ${err.message}`);
        return true;
      });
      if (unfinished) {
        this.opts.log.info({ importer: importer.name }, 'an import begun earlier is not complete: it goes on');
        any = true;
      } else this.done.add(importer.name);
    }
    if (!any) this.phase = 'idle';
    return any;
  }

  /** The request file says `name` is done (kept as it was when there is none). */
  private async recordDone(name: string): Promise<void> {
    if (this.request === null) return;
    this.request = { range: this.request.range, done: [...new Set([...this.request.done, name])] };
    await new RequestFile(this.opts.dataDir).save(this.request);
  }

  /** Whether an import is asked for or under way and not done yet. */
  get importing(): boolean {
    return this.phase === 'pending' || this.phase === 'running';
  }

  /** Shown on /health: null when no import was asked for. */
  get status(): ImportStatus | null {
    return this.phase === 'idle' ? null : this.opts.progress.current;
  }

  /** Resolves when the current run (if any) ended. Tests. */
  idle(): Promise<void> {
    return this.running;
  }

  subscribed(session: number, snapshot: StatesEncoded | null): void {
    this.latest = { session, snapshot, closed: false };
    if (this.phase !== 'pending' || this.stopped) return;
    const run: Run = { session, closed: false, liveFirst: this.live?.session === session ? this.live.first : null, wake: null };
    this.run = run;
    this.phase = 'running';
    this.running = this.runOn(run, snapshot);
  }

  /** The first live state changes of a connection (they may come before its `subscribed`). */
  liveSeen(session: number, first: readonly LiveFirst[]): void {
    if (first[0] === undefined || this.live?.session === session) return;
    this.live = { session, first: first[0] };
    const run = this.run;
    if (run === null || run.session !== session || run.liveFirst !== null) return;
    run.liveFirst = first[0];
    run.wake?.();
  }

  closed(session: number): void {
    if (this.latest?.session === session) this.latest.closed = true;
    const run = this.run;
    if (run === null || run.session !== session) return;
    run.closed = true;
    run.wake?.();
  }

  /** Ends the run; waits a little for it (a step waiting for durability ends with the pipeline). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.run !== null) this.closed(this.run.session);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.running, new Promise<void>((resolve) => (timer = setTimeout(resolve, STOP_WAIT_MS)))]);
    clearTimeout(timer);
  }

  private async runOn(run: Run, snapshot: StatesEncoded | null): Promise<void> {
    const { log, progress } = this.opts;
    try {
      await this.opts.ready?.();
      this.boundaryMs ??= await this.boundary(run, snapshot);
      const range = this.request?.range ?? this.opts.range;
      const window: ImportWindow = { fromMs: typeof range === 'number' ? this.boundaryMs - range : null, toMs: this.boundaryMs };
      for (const importer of this.opts.importers) {
        if (this.done.has(importer.name)) continue;
        progress.begin(importer.name);
        const final = await this.withRetries(run, () => importer.run(this.context(run), window, (p) => progress.update(p)));
        progress.update(final, true);
        this.done.add(importer.name);
        await this.recordDone(importer.name);
      }
      this.phase = 'done';
      progress.finish('done');
      this.opts.finished?.();
    } catch (err) {
      if (err instanceof HaConnectionLostError || run.closed) {
        this.phase = this.stopped ? 'running' : 'pending';
        if (this.stopped) return;
        log.info('the connection closed during the history import: it resumes on the next connection');
        // The next connection may have subscribed while this run was still ending.
        const next = this.latest;
        if (next !== null && !next.closed && next.session !== run.session) this.subscribed(next.session, next.snapshot);
        return;
      }
      this.phase = 'failed';
      progress.finish('failed', (err as Error).message);
      log.error({ err }, `the history import stopped: ${(err as Error).message}`);
    }
  }

  /** Rule 5: a step HA refused for now is tried again on the same connection. */
  private async withRetries<T>(run: Run, attempt: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        return await attempt();
      } catch (err) {
        if (run.closed || err instanceof HaConnectionLostError || (err as { retryable?: unknown }).retryable !== true) throw err;
        const retryMs = this.opts.retryMs ?? RETRY_MS;
        this.opts.log.warn({ err, retryInMs: retryMs }, 'a step of the history import failed; asking again');
        await this.wait(run, () => false, retryMs);
      }
    }
  }

  private context(run: Run): ImporterContext {
    const { log, metrics, dataDir, context } = this.opts;
    return { ...context, log, metrics, dataDir, room: () => this.room(run) };
  }

  /** Rule 4: resolves when live traffic leaves room; rejects when the run ends. Says why it waits, once a minute. */
  private async room(run: Run): Promise<void> {
    let toldAt = Date.now();
    for (;;) {
      if (run.closed) throw new Paused('history import', 'the connection closed');
      const why = this.opts.busy();
      if (why === null) return;
      if (Date.now() - toldAt >= WAIT_TOLD_MS) {
        toldAt = Date.now();
        this.opts.log.info({ why }, `the history import waits: ${why}`);
      }
      await this.wait(run, () => false, ROOM_POLL_MS);
    }
  }

  /** Rule 2 and 3: T, once the recorder has what comes before it. */
  private async boundary(run: Run, snapshot: StatesEncoded | null): Promise<number> {
    let anchor: LiveFirst | null = snapshot?.newest ?? null;
    if (anchor === null) {
      this.opts.log.info('no get_states snapshot: the history import waits for the first live state change to place its end');
      await this.wait(run, () => run.liveFirst !== null, Number.POSITIVE_INFINITY);
    }
    const live = run.liveFirst;
    if (live !== null && (anchor === null || live.haMs <= anchor.haMs)) anchor = live;
    if (anchor === null) throw new Paused('history import', 'no anchor');
    await this.recorderReached(run, anchor);
    const toMs = anchor.haMs + 1;
    this.opts.log.info({ to: iso(toMs), anchor: anchor.entityId }, 'the history import ends where the live stream of this run begins');
    return toMs;
  }

  private async recorderReached(run: Run, anchor: LiveFirst): Promise<void> {
    const waitMs = this.opts.recorderWaitMs ?? RECORDER_WAIT_MS;
    const deadline = Date.now() + waitMs;
    const rest = restOnly(this.opts.backfill);
    for (;;) {
      if (run.closed) throw new Paused('history import', 'the connection closed');
      const probe = await probeRecorder(this.opts.backfill, anchor.entityId, anchor.haMs - 3_600_000, anchor.haMs + 3_600_000, rest);
      if (probe.newestMs !== null && probe.newestMs >= anchor.haMs) return;
      if (Date.now() >= deadline) {
        this.opts.log.error(
          { anchor: anchor.entityId, at: iso(anchor.haMs), waitedMs: waitMs },
          `HA's recorder did not show ${anchor.entityId} at ${iso(anchor.haMs)} in time: the import's last minutes may miss what it had not committed yet`,
        );
        return;
      }
      await this.wait(run, () => false, this.opts.probeIntervalMs ?? PROBE_INTERVAL_MS);
    }
  }

  /** Until `ready()`, `ms` passed or the run ended (then Paused). */
  private async wait(run: Run, ready: () => boolean, ms: number): Promise<void> {
    if (!ready() && !run.closed) {
      await new Promise<void>((resolve) => {
        const timer = Number.isFinite(ms) ? setTimeout(resolve, ms) : null;
        run.wake = () => {
          if (!ready() && !run.closed) return;
          if (timer !== null) clearTimeout(timer);
          resolve();
        };
      });
      run.wake = null;
    }
    if (run.closed) throw new Paused('history import', 'the connection closed');
  }
}
