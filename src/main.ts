#!/usr/bin/env node
/**
 * Entry point: validates the configuration, builds every part and wires them in the order of the
 * data flow (HA connection → frame batcher → encoder pool → writer → database), serves /health and
 * /metrics, and shuts down in the same order on SIGTERM/SIGINT.
 *
 * Exit codes: 0 clean shutdown, 1 unexpected failure, 2 invalid configuration, 3 HA rejected the
 * token.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pino } from 'pino';
import { formatChecks, runChecks } from './check.js';
import { describeVariables, loadConfig, type Config } from './config.js';
import { ConfigError } from './errors.js';
import { mergeFilters, parseFilterFile } from './filter-file.js';
import { haHttpBase } from './ha/backfill.js';
import { ClockOffset } from './ha/clock-offset.js';
import { Resync } from './ha/resync.js';
import { contextFields, observationLine, presenceLine } from './enrich/context.js';
import { Presence } from './enrich/presence.js';
import { REGISTRY_EVENTS, Registries } from './enrich/registries.js';
import { Weather } from './enrich/weather.js';
import { HaConnection } from './ha/connection.js';
import { startHttpServer } from './http/server.js';
import { batchSpoolMetrics, createMetrics, frameSpoolMetrics, selfMetricsLine } from './metrics.js';
import { EncoderPool } from './pipeline/encoder-pool.js';
import { DEFAULT_FRAME_BATCH, FrameBatcher } from './pipeline/frame-batcher.js';
import { createFileWriteClient } from './sinks/file.js';
import { createHttpWriteClient, influxWriteTarget } from './sinks/influx.js';
import { checkDatabase } from './sinks/startup-check.js';
import { HeldBackLines } from './pipeline/held-back.js';
import { FrameOverflow } from './pipeline/overflow.js';
import { Watermark } from './pipeline/watermark.js';
import { SeenStatesFile, StateFile } from './state.js';
import { DeadLetters } from './writer/dead-letter.js';
import { Spool } from './writer/spool.js';
import { Writer } from './writer/writer.js';
import type { Observed } from '../workers/encode-batch.js';
import { createSharedRegistry } from '../workers/shared-registry.js';
import { createSeenStates, SeenStates } from '../workers/seen-states.js';

export const EXIT = { ok: 0, failure: 1, config: 2, authRejected: 3 } as const;

/** Gzipped bodies the writer keeps in memory while the database is away. */
const WRITER_MAX_QUEUE_BYTES = 64 * 1024 * 1024;
const WRITE_CONCURRENCY = 2;
/** Attempts of a live batch (backoff 0.5 s, 1 s, 2 s …) before it waits in the spool instead. */
const RETRIES_BEFORE_SPOOL = 3;
const STATE_SAVE_INTERVAL_MS = 2_000;
const WRITE_TIMEOUT_MS = 30_000;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function usage(): string {
  return `ha-influx-ingestor ${version()}: Home Assistant events → InfluxDB line protocol, nothing lost.

Usage: ha-influx-ingestor [--check | --help | --version]
  --check    validate the configuration, try Home Assistant's token and the database's
             write permission, print a verdict, exit 0 when everything is ready
Configuration comes from environment variables:

  VARIABLE             DEFAULT          MEANING
${describeVariables()}
`;
}

export async function run(config: Config): Promise<number> {
  const log = pino({ level: config.logLevel, base: undefined });
  const metrics = createMetrics();
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  metrics.eventLoopLag.collect(() => {
    const p99 = lag.percentile(99) / 1e9;
    lag.reset();
    return p99;
  });

  const target = config.influx === null ? null : influxWriteTarget(config.influx);
  const outDir = join(config.dataDir, 'out');
  const spool = new Spool(config.spoolDir, config.spoolMaxBytes, log, batchSpoolMetrics(metrics));
  await spool.open();
  const stateFile = new StateFile(config.dataDir);
  const saved = await stateFile.load().catch((err: Error) => {
    log.error({ file: stateFile.path, error: { message: err.message } }, 'cannot read the saved state; starting without it (no backfill of the downtime)');
    return null;
  });
  // Restart de-duplication: the last point per entity, shared with the encoders, saved with the watermark.
  const seenSab = config.restartDedup ? createSeenStates() : undefined;
  const seen = seenSab === undefined ? null : new SeenStates(seenSab);
  const seenFile = new SeenStatesFile(config.dataDir);
  // The table is as good as the watermark it was saved with: without one, start empty.
  if (seen !== null && saved !== null) {
    const restored = await seenFile.load(seen).catch((err: Error) => {
      log.error({ file: seenFile.path, error: { message: err.message } }, 'cannot read the last points per entity; re-announcements after an HA restart may be written once');
      return 0;
    });
    if (restored > 0) log.info({ entities: restored }, 'last point per entity restored (restart de-duplication)');
  }
  if (seen !== null) metrics.seenEntities.collect(() => seen.size);
  // 0 was saved when nothing was known yet.
  const watermark = new Watermark(saved?.watermarkMs ? saved.watermarkMs : null);
  const clockOffset = new ClockOffset();
  metrics.haClockOffset.collect(() => clockOffset.offsetSeconds ?? undefined);
  metrics.watermarkAge.collect(() => {
    const v = watermark.value();
    return v === null ? undefined : (Date.now() - v) / 1000;
  });
  const writer = new Writer({
    client:
      target === null
        ? createFileWriteClient(outDir)
        : createHttpWriteClient(target, { connections: WRITE_CONCURRENCY, timeoutMs: WRITE_TIMEOUT_MS }),
    spool,
    deadLetters: new DeadLetters(config.deadLetterDir),
    maxLines: config.batchMaxLines,
    maxBytes: config.batchMaxBytes,
    flushIntervalMs: config.flushIntervalMs,
    gzipLevel: config.gzipLevel,
    concurrency: WRITE_CONCURRENCY,
    maxQueueBytes: WRITER_MAX_QUEUE_BYTES,
    retryBaseMs: 500,
    retryMaxMs: 30_000,
    retriesBeforeSpool: RETRIES_BEFORE_SPOOL,
    log,
    metrics,
  });
  writer.start();
  const heldBack =
    seen === null
      ? null
      : new HeldBackLines({
          seen,
          write: (lp, n, hold) => writer.accept(lp, n, hold),
          onSkipped: (n) => metrics.reannouncementsSkipped.inc(n),
          log,
        });

  // Enrichment (typed schema): who is home, the weather outside, areas and devices.
  const enrich = config.schema.schema === 'typed';
  const registrySab = createSharedRegistry();
  const schema = config.schema.schema === 'typed' ? { ...config.schema, registry: registrySab } : config.schema;
  const internalEventTypes = enrich ? REGISTRY_EVENTS.filter((t) => config.ha.eventTypes !== 'all' && !config.ha.eventTypes.includes(t)) : [];
  const presence = enrich && config.enrich.presence ? new Presence() : null;
  const weather =
    enrich && config.enrich.weather
      ? new Weather(
          {
            apiKey: config.enrich.weatherApiKey,
            baseUrl: config.enrich.weatherUrl,
            intervalMs: config.enrich.weatherIntervalMs,
            log,
            metrics,
            onObservation: (o) => {
              const line = observationLine(o);
              if (line !== '') writer.accept(Buffer.from(line), 1);
            },
          },
          config.enrich.weatherEntity,
        )
      : null;
  if (weather !== null && config.enrich.weatherLocation !== undefined) {
    weather.setLocation(config.enrich.weatherLocation.lat, config.enrich.weatherLocation.lon);
    weather.start();
  }
  const observe = (observed: readonly Observed[]): void => {
    for (const o of observed) {
      if (o.id.startsWith('event:')) {
        registries?.changed();
      } else if (o.id.startsWith('weather.')) {
        weather?.fromHa(o.id, o.state, o.temperature ?? null, o.humidity ?? null, o.timeNs === '' ? Date.now() : Number(o.timeNs.slice(0, -6)));
      } else if (presence !== null && o.timeNs !== '') {
        const change = presence.update(o.id, o.state, o.timeNs);
        if (change !== null) {
          metrics.presenceChanges.inc();
          writer.accept(Buffer.from(presenceLine(change.peopleHome, change.timeNs)), 1);
        }
      }
    }
  };

  const pool = new EncoderPool({
    poolSize: config.poolSize,
    schema,
    seenStates: seenSab,
    maxQueueBytes: config.encoderQueueBytes,
    onResult: (r, hold) => {
      metrics.events.inc(r.events);
      metrics.eventsRemoved.inc(r.removed);
      metrics.eventsSkipped.inc(r.skipped);
      metrics.reannouncementsSkipped.inc(r.reannounced);
      metrics.eventsInvalid.inc(r.invalid);
      if (r.errors.length > 0) log.warn({ invalid: r.invalid, examples: r.errors }, 'events that could not be encoded were skipped');
      if (r.liveHaMaxMs >= 0) {
        hold.noteHaTime(r.liveHaMaxMs);
        clockOffset.sample(r.token, r.liveHaMaxMs);
      }
      resync.liveSeen(r.session, r.liveFirst);
      for (const id of r.newEntityIds) resync.knownEntity(id);
      if (r.heldBack.length > 0) heldBack?.add(r.session, r.heldBack, hold.share());
      writer.accept(r.lp, r.lines, hold);
      if (r.observed.length > 0) observe(r.observed);
      overflow.feed();
      if (r.control.length > 0) connection.receive(r.session, r.control);
    },
    onError: (err, { job, hold }) => {
      // A bug, not an input problem (those are counted per event): say so loudly, and let the
      // watermark move on. The frames are lost; HA's history still has their state changes.
      metrics.encodeErrors.inc();
      metrics.dispatchDropped.inc(job.ends.length);
      hold.release();
      log.error({ frames: job.ends.length, error: { message: err.message, stack: err.stack } }, 'an encoder batch failed as a whole; its frames are lost');
    },
  });
  metrics.dispatchQueueBytes.collect(() => pool.queuedBytes);
  metrics.batchesInFlight.collect(() => pool.inFlight);

  // Filled in below: the batcher tags each batch with the connection it came from.
  let connection!: HaConnection;
  const frameSpool = new Spool(join(config.spoolDir, 'frames'), config.spoolMaxBytes, log, frameSpoolMetrics(metrics));
  await frameSpool.open();
  const overflow = new FrameOverflow(
    frameSpool,
    pool,
    watermark,
    config.encoderQueueBytes,
    log,
  );
  const batcher = new FrameBatcher(DEFAULT_FRAME_BATCH, ({ bytes, ends, firstAt }) => {
    const context = enrich ? contextFields(weather?.current() ?? null, presence, Date.now()) : '';
    const hold = watermark.hold();
    const job = { bytes, ends, session: connection.session, token: firstAt, stateResults: [...connection.stateResults], context, internalEventTypes, haRestarted: connection.haRestarted, backfillPending: heldBack?.pendingFor(connection.session) ?? false };
    if (!overflow.active && pool.submit({ job, hold })) return;
    // The encoders are behind: the frames wait on disk, never on the floor. Their hold stays
    // held (released when the writer has their lines, like any batch).
    void overflow.put({ job, hold }).catch((err: Error) => {
      hold.release();
      metrics.dispatchDropped.inc(ends.length);
      log.error({ frames: ends.length, error: { message: err.message } }, 'encoders are behind and the frames cannot be put on disk: frames dropped');
    });
  });

  let exitCode: number = EXIT.ok;
  let stopRequested!: () => void;
  const stopped = new Promise<void>((resolve) => (stopRequested = resolve));

  connection = new HaConnection({
    url: config.ha.url,
    token: config.ha.token,
    eventTypes: config.ha.eventTypes,
    extraEventTypes: internalEventTypes,
    log,
    metrics,
    handlers: {
      frame: (data) => batcher.push(data),
      closed: (session) => {
        batcher.flush();
        resync.closed(session);
      },
      // Area and device tags are part of a point's identity: know them before the first point.
      beforeSubscribe: async (session) => {
        // The gap's start is held from now; the connection's possible re-announcements wait.
        resync.begin(session);
        await registries?.refresh();
      },
      subscribed: (session, snapshot) => {
        // A new connection: the gap is filled in HA's clock once its recorder has it (src/ha/resync.ts).
        if (weather !== null && config.enrich.weatherApiKey !== undefined && config.enrich.weatherLocation === undefined) {
          // No WEATHER_LAT/LON: HA's own location.
          void connection.request({ type: 'get_config' }).catch(() => null).then((result) => {
            const r = result as { latitude?: unknown; longitude?: unknown } | null;
            if (typeof r?.latitude === 'number' && typeof r.longitude === 'number') {
              weather.setLocation(r.latitude, r.longitude);
              weather.start();
            }
            else log.warn('HA did not tell its location; set WEATHER_LAT and WEATHER_LON for OpenWeatherMap');
          });
        }
        void resync.subscribed(session, snapshot);
      },
      fatal: (err) => {
        log.fatal({ error: { code: 'HA_AUTH_REJECTED', message: err.message } }, 'Home Assistant rejected the token (HA_TOKEN); not retrying');
        exitCode = EXIT.authRejected;
        stopRequested();
      },
    },
  });
  const registries = enrich ? new Registries(connection, registrySab, log) : null;
  const resync = new Resync({
    backfill: { connection, httpBase: haHttpBase(config.ha.url), token: config.ha.token, feedFrame: (frame) => batcher.push(frame), maxWindowMs: config.backfillMaxWindowMs, log, metrics },
    watermark,
    ...(heldBack === null ? {} : { gapListener: heldBack }),
    entityIds: saved?.entityIds ?? [],
    log,
    metrics,
  });
  const saveState = (): Promise<void> =>
    Promise.all([
      stateFile.save({ watermarkMs: watermark.value() ?? saved?.watermarkMs ?? 0, entityIds: resync.entityIds }).catch((err: Error) => {
        log.error({ file: stateFile.path, error: { message: err.message } }, 'cannot save the watermark');
      }),
      seen?.size
        ? seenFile.save(seen).catch((err: Error) => {
            log.error({ file: seenFile.path, error: { message: err.message } }, 'cannot save the last points per entity');
          })
        : undefined,
    ]).then(() => undefined);
  const stateTimer = setInterval(() => void saveState(), STATE_SAVE_INTERVAL_MS);
  // The ingestor's own health, written beside the data so that a dashboard needs no Prometheus.
  const selfTimer =
    config.selfMetricsIntervalS === 0
      ? undefined
      : setInterval(() => {
          const now = Date.now();
          writer.accept(Buffer.from(selfMetricsLine(metrics, hostname(), now)), 1);
        }, config.selfMetricsIntervalS * 1000);
  metrics.haLastEventSeconds.collect(() => (connection.lastFrameAt === 0 ? undefined : (Date.now() - connection.lastFrameAt) / 1000));

  const server =
    config.httpPort === 0
      ? null
      : await startHttpServer(config.httpPort, {
          metrics: () => metrics.registry.render(),
          health: () => {
            const last = writer.lastWrite;
            const haOk = connection.state === 'subscribed';
            return {
              healthy: haOk && writer.problem === null && (last === null || last.ok || last.at < Date.now() - 60_000),
              body: {
                ha: {
                  state: connection.state,
                  version: connection.haVersion,
                  coalescing: connection.coalescing,
                  secondsSinceLastFrame: connection.lastFrameAt === 0 ? null : (Date.now() - connection.lastFrameAt) / 1000,
                  // Display only: gaps are computed from HA's own times.
                  clockOffsetSeconds: clockOffset.offsetSeconds,
                },
                queues: {
                  dispatchBytes: pool.queuedBytes,
                  encoderBatchesInFlight: pool.inFlight,
                  writerLines: metrics.writerQueueLines.get(),
                },
                lastWrite: last,
                databaseProblem: writer.problem,
                spool: { bytes: spool.bytes, points: spool.lines, files: spool.files, oldestAgeSeconds: spool.oldestAgeSeconds },
                watermark: ((v) => (v === null ? null : new Date(v).toISOString()))(watermark.value()),
              },
            };
          },
        });

  log.info(
    {
      ha: config.ha.url,
      eventTypes: config.ha.eventTypes,
      sink: target === null ? `files in ${outDir}` : target.description,
      poolSize: config.poolSize,
      schema: config.schema.schema,
      batchMaxLines: config.batchMaxLines,
      flushIntervalMs: config.flushIntervalMs,
      gzipLevel: config.gzipLevel,
      httpPort: config.httpPort,
    },
    'starting',
  );
  if (config.influx !== null) void checkDatabase(config.influx).then((v) => (v.ok ? log.info(v.message) : log.error(v.message)));

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(EXIT.failure);
    }
    log.info({ signal }, 'shutting down');
    stopRequested();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  overflow.feed(); // frames an earlier run left on disk
  const connectionDone = connection.run();
  await stopped;

  // Shutdown follows the data: stop reading, encode what was read, write what was encoded.
  connection.stop();
  weather?.stop();
  registries?.stop();
  await connectionDone;
  batcher.flush();
  await overflow.stop();
  await pool.close();
  await frameSpool.close();
  clearInterval(selfTimer);
  heldBack?.writeAll();
  const spooledAtExit = await writer.close(config.shutdownTimeoutMs);
  clearInterval(stateTimer);
  await saveState();
  lag.disable();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  log.info({ written: metrics.pointsWritten.get(), spooledAtExit, spooled: spool.bytes > 0 }, 'stopped');
  return exitCode;
}

/** Reads CONFIG_FILE, when set, and merges its filters into those of the environment. */
async function withConfigFile(config: Config): Promise<Config> {
  if (config.configFile === undefined) return config;
  let text: string;
  try {
    text = await readFile(config.configFile, 'utf8');
  } catch (err) {
    throw new ConfigError([`CONFIG_FILE: cannot read ${config.configFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
  }
  const fromFile = parseFilterFile(text, config.configFile);
  return { ...config, schema: { ...config.schema, filters: mergeFilters(config.schema.filters ?? {}, fromFile) } };
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(usage());
    return EXIT.ok;
  }
  if (args.includes('--version')) {
    process.stdout.write(`${version()}\n`);
    return EXIT.ok;
  }
  let config: Config;
  try {
    config = await withConfigFile(loadConfig(process.env));
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n\nRun with --help for every variable and its default.\n`);
      return EXIT.config;
    }
    throw err;
  }
  if (args.includes('--check')) {
    const lines = await runChecks(config);
    process.stdout.write(formatChecks(lines));
    return lines.every((l) => l.ok) ? EXIT.ok : EXIT.failure;
  }
  return run(config);
}

main().then(
  // Everything was flushed and closed in order; exit even if a library left a handle open.
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`fatal: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = EXIT.failure;
  },
);
