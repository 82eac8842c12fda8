/**
 * The ingestor as an object: `startIngestor(config)` builds the parts, each with its disposer,
 * from the database back to Home Assistant (every part's consumer exists before it), then starts
 * them. A failed start undoes what was built — nothing is saved, no loop is left running — and
 * rejects. HA rejecting the token does not stop it: the connection ends for good, /health says
 * why, and the rest (the spool's replay) goes on; a token rejected before is not even sent
 * (src/ha/rejected-token.ts). `stop()` disposes in reverse: stop reading HA, seal the
 * frame batch, drain the encoders, write what was encoded (spool the rest at the deadline), save
 * the watermark, close /health. Importing this module has no side effects.
 */
import { hostname } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { join } from 'node:path';
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import type { Config, ImportRange } from './config.js';
import { checkDataFolders } from './data-dir.js';
import { StartError } from './errors.js';
import { Enrichment } from './enrich/index.js';
import { EventLoopMonitor } from './event-loop-monitor.js';
import { haHttpBase } from './ha/backfill.js';
import { ClockOffset } from './ha/clock-offset.js';
import { Resync } from './ha/resync.js';
import { HaConnection } from './ha/connection.js';
import type { StatisticsContext } from './import/statistics.js';
import { type FollowerOptions, StatisticsFollower } from './import/statistics-follower.js';
import { RejectedTokenFile, TokenGuard } from './ha/rejected-token.js';
import { getConfig } from './ha/messages.js';
import { ImportJob, type ImportJobOptions } from './import/job.js';
import { ProgressReporter, type BarStream } from './import/progress.js';
import { createStatesImporter, type StatesTuning } from './import/states.js';
import { statisticsImporter } from './import/statistics.js';
import { healthReport } from './http/health.js';
import { startHttpServer } from './http/server.js';
import { Lifecycle } from './lifecycle.js';
import type { Redact } from './redact.js';
import { batchSpoolMetrics, createMetrics, frameSpoolMetrics, selfMetricsLine, type Metrics } from './metrics.js';
import { Dispatcher } from './pipeline/dispatcher.js';
import { EncoderPool } from './pipeline/encoder-pool.js';
import { DEFAULT_FRAME_BATCH, FrameBatcher } from './pipeline/frame-batcher.js';
import { FrameOverflow } from './pipeline/overflow.js';
import { ResultRouter } from './pipeline/result-router.js';
import { RestartDedup } from './pipeline/restart-dedup/index.js';
import { Watermark } from './pipeline/watermark.js';
import { createFileWriteClient } from './sinks/file.js';
import { checkDatabase } from './sinks/startup-check.js';
import { SeenStatesFile, StateFile, type SavedState } from './state/files.js';
import { StateSaver, type StatePart } from './state/saver.js';
import { DeadLetters } from './writer/dead-letter.js';
import { Spool } from './writer/spool.js';
import { Writer } from './writer/writer.js';

const WRITE_CONCURRENCY = 2;
/** Attempts of a live batch (backoff 0.5 s, 1 s, 2 s …) before it waits in the spool instead. */
const RETRIES_BEFORE_SPOOL = 3;
/** A first start (no state.json yet) checks this often until its watermark is saved. */
const FIRST_SAVE_MS = 2_000;
const WRITE_TIMEOUT_MS = 30_000;

export type StopReason = 'stopped' | 'auth-rejected';

export interface Ingestor {
  /** Resolves once everything is disposed, with why it stopped. */
  readonly done: Promise<StopReason>;
  /** Stops in data-flow order; resolves like `done`. */
  stop(): Promise<StopReason>;
}

export interface StartOptions {
  readonly log: Logger;
  /** Applied to /health and /metrics (src/redact.ts); the log stream has its own hook. */
  readonly redact?: Redact;
  /** --import-history: import what HA's recorder holds from that far back (src/import/job.ts). */
  readonly importHistory?: ImportRange;
  /** Where the import's progress bar goes (a terminal), or null: log lines. */
  readonly progressBar?: BarStream | null;
  /** Request sizes of the states import (bench/import.ts); defaults from src/import/states.ts. */
  readonly importTuning?: StatesTuning;
  /** The statistics follower's chunk size (bench/statistics-import.ts compares some). */
  readonly statistics?: FollowerOptions;
}

export async function startIngestor(config: Config, { log, redact = (t) => t, ...imports }: StartOptions): Promise<Ingestor> {
  const app = new App(config, log, redact, imports);
  try {
    await app.build();
  } catch (err) {
    await app.lifecycle.disposeAll();
    throw err;
  }
  app.start();
  return app;
}

/** The parts, built in order by `build()`; fields are set once, in that order. */
class App implements Ingestor {
  readonly lifecycle: Lifecycle;
  readonly metrics: Metrics = createMetrics();
  readonly done: Promise<StopReason>;
  private reason: StopReason = 'stopped';
  private stopping: Promise<StopReason> | null = null;
  private resolveDone!: (reason: StopReason) => void;
  private parts: Parts | null = null;
  private started = false;
  private spooledAtExit = 0;
  private sinkDescription = '';

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
    private readonly redact: Redact,
    private readonly imports: Pick<StartOptions, 'importHistory' | 'progressBar' | 'importTuning' | 'statistics'> = {},
  ) {
    this.lifecycle = new Lifecycle(log);
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  stop(): Promise<StopReason> {
    // Stopped while HA_TOKEN stands rejected: the exit code says so (3), for a person or a script.
    if (this.parts?.guard.status === 'rejected') this.reason = 'auth-rejected';
    this.stopping ??= this.lifecycle.disposeAll().then(() => {
      const spooled = (this.parts?.spool.bytes ?? 0) > 0;
      this.log.info({ written: this.metrics.pointsWritten.get(), spooledAtExit: this.spooledAtExit, spooled }, 'stopped');
      this.resolveDone(this.reason);
      return this.reason;
    });
    return this.stopping;
  }

  /** Builds every part; throws (after nothing was saved) when one cannot be built. */
  async build(): Promise<void> {
    const { config, log, metrics, lifecycle } = this;
    watchEventLoop(metrics, lifecycle);
    // First: the one part that most often cannot start (a port in use) fails before anything else.
    const server = await this.startHttp();
    await checkDataFolders(config);
    const guard = new TokenGuard(new RejectedTokenFile(config.dataDir), config.ha.token, log, metrics);
    const tokenRejectedBefore = await guard.load();
    const saved = await loadSavedState(config, log);
    const watermark = new Watermark(saved.state?.watermarkHaMs ?? null);
    const knownIds = new Set(saved.state?.entityIds ?? []);
    // The de-duplication table is restored before the saver is built (what was loaded counts as
    // saved). The saver is registered before the writer, so disposed after it: the last save
    // follows the last write; a failed start saves nothing.
    const dedup = this.buildDedup(saved);
    const saver = lifecycle.add('state saves', this.buildSaver(saved, watermark, knownIds, dedup), (s) => (this.started ? s.stop() : s.cancel()));
    const { writer, spool } = await this.buildWriter();
    // Registered after the writer, so disposed before it: what waits is written at shutdown.
    if (dedup !== null) lifecycle.add('restart de-duplication', dedup, (d) => d.gap.writeAll());
    const enrichment = lifecycle.add('enrichment', new Enrichment({ config, log, metrics, writeDerived: (line) => writer.accept(Buffer.from(line), 1) }), (e) =>
      e.stop(),
    );
    const clockOffset = new ClockOffset();
    metrics.haClockOffset.collect(() => clockOffset.offsetSeconds ?? undefined);
    this.parts = { server, guard, tokenRejectedBefore, saved, watermark, knownIds, clockOffset, saver, writer, spool, dedup, enrichment } as Parts;
    await this.buildPipeline(this.parts);
    this.buildConnection(this.parts);
    await this.buildImport(this.parts);
    // In HA's clock: our now minus the measured offset (unknown before the first live event).
    metrics.watermarkAge.collect(() => {
      const v = watermark.value();
      const offset = clockOffset.offsetMs;
      return v === null || offset === null ? undefined : (Date.now() - offset - v) / 1000;
    });
  }

  /** Starts what runs on its own: replay, weather, timers, the HA connection. */
  start(): void {
    const p = this.parts as Parts;
    this.started = true;
    p.writer.start();
    p.enrichment.start();
    p.overflow.feed(); // frames an earlier run left on disk
    this.startTimers(p);
    // A token HA rejected before is not sent again (each try is a failed login there): no connection.
    if (!p.tokenRejectedBefore) {
      const connectionDone = p.connection.run();
      this.lifecycle.add('HA connection', p.connection, async (c) => {
        c.stop();
        await connectionDone;
      });
      if (this.config.statistics) this.startStatistics(p);
    }
    const { influx } = this.config;
    if (influx !== null) void checkDatabase(influx, this.config.schema.flavor).then((v) => (v.ok ? this.log.info(v.message) : this.log.error(v.message)));
    this.logStart(p);
  }

  /** STATISTICS: HA's long-term statistics kept up to date (src/import/statistics-follower.ts). */
  private startStatistics(p: Parts): void {
    const follower = new StatisticsFollower(this.followerContext(p), {
      ...this.imports.statistics,
      importing: () => p.importJob?.importing ?? false,
    });
    p.statistics = follower;
    follower.start();
    // Added after the connection, so stopped before it (and before the writer).
    this.lifecycle.add('statistics follower', follower, (f) => f.stop());
  }

  /**
   * What an import (src/import/importer.ts) and the statistics follower need of the running parts,
   * apart from what the import job adds per run (room, log, metrics, dataDir).
   */
  private importParts(p: Parts): ImportJobOptions['context'] & Pick<StatisticsContext, 'clockKnown'> {
    return {
      connection: p.connection,
      httpBase: p.resync.backfillOptions.httpBase,
      token: this.config.ha.token,
      // HA's clock: ours minus the offset measured from live events (ours until one arrived).
      haNow: () => Date.now() - (p.clockOffset.offsetMs ?? 0),
      clockKnown: () => p.clockOffset.offsetMs !== null,
      feedFrame: (frame) => p.batcher.push(frame),
      // An answer's lines are all in the writer when it resolves: sealed now, not a flush interval later.
      durable: () => {
        p.writer.flush();
        return p.watermark.drained(p.watermark.mark());
      },
      entityIds: () => p.resync.entityIds,
    };
  }

  /** The statistics follower's context: live traffic first, by the import's own marks. */
  private followerContext(p: Parts): StatisticsContext {
    // Statistics are not urgent: while the database is behind, one look a second is enough.
    const ROOM_POLL_MS = 1_000;
    return {
      ...this.importParts(p),
      dataDir: this.config.dataDir,
      log: this.log,
      metrics: this.metrics,
      room: async () => {
        while (importBusy(p, this.config) !== null) await delay(ROOM_POLL_MS);
      },
    };
  }

  private async startHttp(): Promise<Server | null> {
    if (this.config.httpPort === 0) return null;
    const server = await startHttpServer(this.config.httpPort, this.config.httpHost, {
      redact: this.redact,
      metrics: () => this.metrics.registry.render(),
      health: () =>
        this.parts?.connection === undefined
          ? { healthy: false, body: { ha: { state: 'starting' } } }
          : healthReport({ ...this.parts, metrics: this.metrics, importStatus: this.parts.importJob?.status ?? null }),
    });
    return this.lifecycle.add('HTTP server', server, (s) => new Promise<void>((resolve) => s.close(() => resolve())));
  }

  private async buildWriter(): Promise<{ writer: Writer; spool: Spool }> {
    const { config, log, metrics } = this;
    // Loaded only for a database: its HTTP client (undici) costs some 8 MB of RSS (docs/reliability.md, Memory).
    const influx = config.influx === null ? null : await import('./sinks/influx.js');
    const target = config.influx === null || influx === null ? null : influx.influxWriteTarget(config.influx);
    this.sinkDescription = target === null ? `files in ${join(config.dataDir, 'out')}` : target.description;
    const spool = new Spool(config.spoolDir, config.spoolMaxBytes, log, batchSpoolMetrics(metrics));
    await spool.open();
    const writer = new Writer({
      client:
        target === null || influx === null
          ? createFileWriteClient(join(config.dataDir, 'out'))
          : influx.createHttpWriteClient(target, { connections: WRITE_CONCURRENCY, timeoutMs: WRITE_TIMEOUT_MS }),
      spool,
      deadLetters: new DeadLetters(config.deadLetterDir),
      maxLines: config.batchMaxLines,
      maxBytes: config.batchMaxBytes,
      flushIntervalMs: config.flushIntervalMs,
      gzipLevel: config.gzipLevel,
      concurrency: WRITE_CONCURRENCY,
      // Gzipped bodies kept in memory while the database is away (MEMORY_LIMIT_MB/8; 64 MiB without it).
      maxQueueBytes: config.writerQueueBytes,
      retryBaseMs: 500,
      retryMaxMs: 30_000,
      retriesBeforeSpool: RETRIES_BEFORE_SPOOL,
      log,
      metrics,
    });
    this.lifecycle.add('writer', writer, async (w) => {
      this.spooledAtExit = await w.close(config.shutdownTimeoutMs);
    });
    return { writer, spool };
  }

  /**
   * Restart de-duplication (RESTART_DEDUP), its table restored from the file saved with the
   * watermark. Lines that waited for a backfill go to the writer (built next; they are written
   * only once the pipeline runs).
   */
  private buildDedup(saved: Saved): RestartDedup | null {
    if (!this.config.restartDedup) return null;
    const dedup = new RestartDedup({
      log: this.log,
      metrics: this.metrics,
      write: (lp, n, hold) => (this.parts as Parts).writer.accept(lp, n, hold),
      waitingRoomBytes: this.config.waitingRoomBytes,
    });
    if (saved.seenBytes === null) return dedup;
    try {
      const restored = dedup.persist.restore(saved.seenBytes);
      if (restored > 0) this.log.info({ entities: restored }, 'last point per entity restored (restart de-duplication)');
    } catch (err) {
      this.log.error({ file: saved.seenFile.path, err }, 'cannot read the last points per entity; re-announcements after an HA restart may be written once');
    }
    return dedup;
  }

  private async buildPipeline(p: Parts): Promise<void> {
    const { config, log, metrics, lifecycle } = this;
    const router = new ResultRouter({
      writer: p.writer,
      dedup: p.dedup,
      replies: (session, replies) => p.connection.receive(session, replies),
      resync: {
        liveSeen: (session, first) => {
          p.resync.liveSeen(session, first);
          p.importJob?.liveSeen(session, first);
        },
        knownEntity: (id) => p.resync.knownEntity(id),
        dataLost: (reason, lost) => p.resync.dataLost(reason, lost),
      },
      clockOffset: p.clockOffset,
      observe: (observed) => p.enrichment.observe(observed),
      encoderFree: () => p.overflow.feed(),
      metrics,
      log,
    });
    const schema = config.schema.schema === 'typed' ? { ...config.schema, registry: p.enrichment.registryTable } : config.schema;
    p.pool = lifecycle.add(
      'encoder pool',
      new EncoderPool({
        poolSize: config.poolSize,
        schema,
        dedup: p.dedup !== null,
        maxQueueBytes: config.encoderQueueBytes,
        ...(config.workerOldGenerationMb === undefined ? {} : { workerOldGenerationMb: config.workerOldGenerationMb }),
        onResult: (r, hold) => router.onResult(r, hold),
        onError: (err, held) => router.onError(err, held),
      }),
      (pool) => pool.close(),
    );
    metrics.dispatchQueueBytes.collect(() => p.pool.queuedBytes);
    metrics.batchesInFlight.collect(() => p.pool.inFlight);
    const frameSpool = new Spool(join(config.spoolDir, 'frames'), config.spoolMaxBytes, log, frameSpoolMetrics(metrics));
    await frameSpool.open();
    lifecycle.add('frame spool', frameSpool, (s) => s.close());
    p.overflow = lifecycle.add('frame overflow', new FrameOverflow(frameSpool, p.pool, p.watermark, config.encoderQueueBytes, log), (o) => o.stop());
    // Registry updates are observed whatever is subscribed; only those subscribed for our own use are not written.
    const observeEventTypes = [...p.enrichment.observedEventTypes];
    const silentEventTypes = observeEventTypes.filter((t) => config.ha.eventTypes !== 'all' && !config.ha.eventTypes.includes(t));
    const dispatcher = new Dispatcher({
      pool: p.pool,
      overflow: p.overflow,
      watermark: p.watermark,
      fields: () => this.jobFields(p, observeEventTypes, silentEventTypes),
      onLost: (reason) => p.resync.dataLost(reason),
      metrics,
      log,
    });
    // At home rates frames wait up to sparseDelayMs to share a pool task: at most a quarter of the
    // writer's FLUSH_INTERVAL_MS, and never while a command waits for its answer.
    const batching = {
      ...DEFAULT_FRAME_BATCH,
      sparseDelayMs: Math.max(DEFAULT_FRAME_BATCH.maxDelayMs, Math.min(DEFAULT_FRAME_BATCH.sparseDelayMs, Math.floor(config.flushIntervalMs / 4))),
      urgent: () => p.connection?.awaitingReplies === true,
    };
    p.batcher = lifecycle.add('frame batcher', new FrameBatcher(batching, (batch) => dispatcher.dispatch(batch)), (b) => b.flush());
  }

  private jobFields(p: Parts, observeEventTypes: readonly string[], silentEventTypes: readonly string[]) {
    const c = p.connection;
    return {
      session: c.session,
      stateResults: [...c.stateResults],
      context: p.enrichment.context(Date.now()),
      observeEventTypes,
      silentEventTypes,
    };
  }

  private buildConnection(p: Parts): void {
    const { config, log, metrics } = this;
    const internal = p.enrichment.observedEventTypes.filter((t) => config.ha.eventTypes !== 'all' && !config.ha.eventTypes.includes(t));
    p.connection = new HaConnection({
      url: config.ha.url,
      token: config.ha.token,
      eventTypes: config.ha.eventTypes,
      extraEventTypes: internal,
      log,
      metrics,
      handlers: {
        frame: (data) => p.batcher.push(data),
        closed: (session) => {
          p.batcher.flush();
          p.resync.closed(session);
          p.importJob?.closed(session);
        },
        beforeSubscribe: async (session) => {
          // The gap's start is held from now; the connection's possible re-announcements wait.
          p.resync.begin(session);
          // Area and device tags are part of a point's identity: known before the first point.
          await p.enrichment.beforeSubscribe();
        },
        subscribed: (session, snapshot) => {
          void p.enrichment.subscribed(() => p.connection.request(getConfig()));
          // The gap is filled in HA's clock once its recorder has it (src/ha/resync.ts).
          void p.resync.subscribed(session, snapshot);
          p.importJob?.subscribed(session, snapshot);
          p.statistics?.connected();
        },
        authenticated: () => void p.guard.accepted(),
        // Logged and recorded by the guard; the ingestor stays up, visibly unhealthy.
        rejected: (err) => void p.guard.rejected(err.haMessage),
      },
    });
    p.enrichment.attach(p.connection);
    p.resync = new Resync({
      backfill: {
        connection: p.connection,
        httpBase: haHttpBase(config.ha.url),
        token: config.ha.token,
        feedFrame: (frame) => p.batcher.push(frame),
        maxWindowMs: config.backfillMaxWindowMs,
        log,
        metrics,
      },
      watermark: p.watermark,
      ...(p.dedup === null ? {} : { gapListener: p.dedup.gap }),
      entityIds: p.knownIds,
      // The restart's gap is held from here, before frames an earlier run left on disk are fed.
      restoredHaMs: p.saved.state?.watermarkHaMs ?? null,
      reconnect: (reason) => p.connection.reconnect(reason),
      log,
      metrics,
    });
    metrics.haLastEventSeconds.collect(() => (p.connection.lastFrameAt === 0 ? undefined : (Date.now() - p.connection.lastFrameAt) / 1000));
  }

  /**
   * The history import (src/import/job.ts), when --import-history was given, or on a first start
   * (no state.json) with IMPORT_HISTORY_ON_FIRST_START, or when an import begun earlier is not
   * complete. Registered after the pipeline, so stopped before it.
   */
  private async buildImport(p: Parts): Promise<void> {
    const { config, log, metrics } = this;
    const firstStart = p.saved.state === null;
    const range = this.imports.importHistory ?? (firstStart ? config.importOnFirstStart : null);
    const backfill = p.resync.backfillOptions;
    const job = new ImportJob({
      // STATISTICS=false: no long-term statistics at all, imported or kept.
      importers: [createStatesImporter(this.imports.importTuning), ...(config.statistics ? [statisticsImporter] : [])],
      range,
      context: this.importParts(p),
      dataDir: config.dataDir,
      backfill,
      busy: () => importBusy(p, config),
      ready: () => p.resync.idle(),
      progress: new ProgressReporter(log, metrics, this.imports.progressBar ?? null),
      // The follower waited for the import: it begins now, where the statistics import ended.
      finished: () => void p.statistics?.runOnce(),
      log,
      metrics,
    });
    if (!(await job.prepare())) return;
    if (range !== null && firstStart && this.imports.importHistory === undefined)
      log.info('first start with IMPORT_HISTORY_ON_FIRST_START: importing what HA already recorded');
    p.importJob = this.lifecycle.add('history import', job, (j) => j.stop());
  }

  /**
   * Restart de-duplication's table and state.json (watermark, entity ids), saved when they change,
   * at most STATE_SAVE_INTERVAL_MS after (docs/reliability.md). The table is listed first: the
   * saver writes parts in order, from one moment, and stops at a failure, so the table on disk
   * always holds every point up to the watermark on disk. A table older than its watermark could
   * take a change the next backfill does not bring again for a re-announcement and leave it out;
   * a table newer than its watermark only judges again points the backfill brings again (same
   * verdict). A first start (no state.json) saves its watermark within FIRST_SAVE_MS.
   */
  private buildSaver(saved: Saved, watermark: Watermark, knownIds: ReadonlySet<string>, dedup: RestartDedup | null): StateSaver {
    const parts: StatePart[] = [];
    if (dedup !== null)
      parts.push({
        path: saved.seenFile.path,
        version: () => dedup.persist.version(),
        serialize: () => (dedup.entities > 0 ? dedup.persist.serialize() : null),
      });
    parts.push({ ...saved.stateFile.part({ watermarkHaMs: () => watermark.value(), entityIds: () => knownIds }), onDisk: saved.state !== null });
    return new StateSaver({ parts, intervalMs: this.config.stateSaveIntervalMs, firstSaveMs: FIRST_SAVE_MS, log: this.log });
  }

  private startTimers(p: Parts): void {
    const { config, metrics, lifecycle } = this;
    p.saver.start();
    if (config.selfMetricsIntervalS > 0) {
      // The ingestor's own health, written beside the data so that a dashboard needs no Prometheus.
      const selfTimer = setInterval(() => writerAccept(p, selfMetricsLine(metrics, hostname(), Date.now())), config.selfMetricsIntervalS * 1000);
      lifecycle.add('self metrics', selfTimer, (t) => clearInterval(t));
    }
  }

  private logStart(p: Parts): void {
    const { config } = this;
    this.log.info(
      {
        ha: config.ha.url,
        eventTypes: config.ha.eventTypes,
        sink: this.sinkDescription,
        poolSize: config.poolSize,
        threads: p.pool.threads,
        memoryLimitMb: config.memoryLimitMb,
        schema: config.schema.schema,
        batchMaxLines: config.batchMaxLines,
        flushIntervalMs: config.flushIntervalMs,
        gzipLevel: config.gzipLevel,
        httpPort: config.httpPort,
      },
      'starting',
    );
  }
}

interface Saved {
  readonly state: SavedState | null;
  /** Restart de-duplication's table as saved (only with a saved watermark), or null. */
  readonly seenBytes: Uint8Array | null;
  readonly stateFile: StateFile;
  readonly seenFile: SeenStatesFile;
}

interface Parts {
  readonly server: Server | null;
  /** HA_TOKEN's standing with HA: rejected before (and not sent), accepted, rejected now. */
  readonly guard: TokenGuard;
  readonly tokenRejectedBefore: boolean;
  readonly saved: Saved;
  readonly watermark: Watermark;
  /** Every entity id seen (snapshots, and saved by earlier runs): the backfill's candidates. */
  readonly knownIds: Set<string>;
  /** Our clock minus HA's, measured from live events: shown, never used for a gap. */
  readonly clockOffset: ClockOffset;
  readonly saver: StateSaver;
  readonly writer: Writer;
  readonly dedup: RestartDedup | null;
  readonly enrichment: Enrichment;
  readonly spool: Spool;
  pool: EncoderPool;
  overflow: FrameOverflow;
  batcher: FrameBatcher;
  connection: HaConnection;
  resync: Resync;
  /** The history import, when one was asked for or is unfinished. */
  importJob?: ImportJob;
  /** STATISTICS=true: the long-term statistics follower. */
  statistics?: StatisticsFollower;
}

/** Why live traffic needs the queues now (the import waits), or null. Marks: a quarter of each bound. */
function importBusy(p: Parts, config: Config): string | null {
  if (p.pool.queuedBytes > config.encoderQueueBytes / 4) return 'the encoder queue is busy';
  if (p.writer.queueBytes > config.writerQueueBytes / 4) return 'the writer queue is busy';
  if (p.overflow.active) return 'frames wait on disk for the encoders';
  if (p.spool.bytes > 0) return 'the database is behind (the spool is not empty)';
  return null;
}

function writerAccept(p: Parts, line: string): void {
  p.writer.accept(Buffer.from(line), 1);
}

/** Event-loop delay and utilization for /metrics, cheap when idle (src/event-loop-monitor.ts). */
function watchEventLoop(metrics: Metrics, lifecycle: Lifecycle): void {
  const monitor = new EventLoopMonitor();
  monitor.start();
  metrics.eventLoopLag.collect(() => monitor.lagSeconds());
  metrics.eventLoopUtilization.collect(() => monitor.utilization());
  lifecycle.add('event-loop monitor', monitor, (m) => m.stop());
}

async function loadSavedState(config: Config, log: Logger): Promise<Saved> {
  const stateFile = new StateFile(config.dataDir);
  const seenFile = new SeenStatesFile(config.dataDir);
  // An unreadable watermark is never replaced silently: starting without it would overwrite it,
  // and the downtime would never be fetched. The user decides (move it away, or fix the disk).
  const state = await stateFile.load().catch((err: Error) => {
    const why = (err as NodeJS.ErrnoException).code ?? err.message;
    throw new StartError(
      'STATE_UNREADABLE',
      `DATA_DIR: ${stateFile.path} cannot be read (${why}); move it away to start without it (the downtime will then not be fetched from HA's history)`,
      { cause: err, exitCode: 2 },
    );
  });
  // Restart de-duplication's table is as good as the watermark it was saved with: without one, start empty.
  const seenBytes =
    config.restartDedup && state !== null
      ? await seenFile.load().catch((err: Error) => {
          log.error({ file: seenFile.path, err }, 'cannot read the last points per entity; re-announcements after an HA restart may be written once');
          return null;
        })
      : null;
  return { state, seenBytes, stateFile, seenFile };
}
