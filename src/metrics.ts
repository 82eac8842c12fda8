/**
 * A small Prometheus registry: counters and gauges with optional labels, rendered in the text
 * exposition format. Names follow `ha_ingestor_<thing>_<unit>`, `_total` for counters. Updating a
 * metric is a Map lookup and an addition; nothing is formatted until /metrics is read.
 */
import { diskSyncs } from './state/durable-write.js';

type Labels = Readonly<Record<string, string>>;

function labelKey(labels: Labels | undefined): string {
  if (labels === undefined) return '';
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}="${String(labels[k]).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

abstract class Metric {
  protected readonly values = new Map<string, number>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge',
  ) {}

  get(labels?: Labels): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }

  render(): string {
    let out = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} ${this.type}\n`;
    if (this.values.size === 0 && this.type === 'counter') out += `${this.name} 0\n`;
    for (const [key, value] of this.values) out += `${this.name}${key} ${value}\n`;
    return out;
  }
}

export class Counter extends Metric {
  private source: (() => number) | null = null;

  constructor(name: string, help: string) {
    super(name, help, 'counter');
  }

  /** The sum over every label set. */
  total(): number {
    this.refresh();
    let n = 0;
    for (const v of this.values.values()) n += v;
    return n;
  }

  inc(by = 1, labels?: Labels): void {
    if (by === 0) return;
    const key = labelKey(labels);
    this.values.set(key, (this.values.get(key) ?? 0) + by);
  }

  /** A count kept elsewhere (a tally in a module that has no metrics object), read on /metrics. */
  follow(read: () => number): this {
    this.source = read;
    return this;
  }

  override get(labels?: Labels): number {
    this.refresh();
    return super.get(labels);
  }

  override render(): string {
    this.refresh();
    return super.render();
  }

  private refresh(): void {
    if (this.source !== null) this.values.set('', this.source());
  }
}

export class Gauge extends Metric {
  private readonly collectors: (() => void)[] = [];

  constructor(name: string, help: string) {
    super(name, help, 'gauge');
  }

  set(value: number, labels?: Labels): void {
    this.values.set(labelKey(labels), value);
  }

  /** Computes the value when /metrics is read rather than on every change. */
  collect(fn: () => number | undefined, labels?: Labels): this {
    this.collectors.push(() => {
      const v = fn();
      if (typeof v === 'number') this.set(v, labels);
    });
    return this;
  }

  override render(): string {
    for (const c of this.collectors) c();
    return super.render();
  }
}

export class Registry {
  private readonly metrics: Metric[] = [];

  constructor(readonly namespace: string) {}

  counter(thing: string, help: string): Counter {
    return this.add(new Counter(`${this.namespace}_${thing}`, help));
  }

  gauge(thing: string, help: string): Gauge {
    return this.add(new Gauge(`${this.namespace}_${thing}`, help));
  }

  render(): string {
    return this.metrics.map((m) => m.render()).join('');
  }

  private add<M extends Metric>(metric: M): M {
    if (this.metrics.some((m) => m.name === metric.name)) throw new Error(`metric ${metric.name} registered twice`);
    this.metrics.push(metric);
    return metric;
  }
}

/** Every metric of the ingestor, created once in main.ts and passed to the parts that update them. */
export function createMetrics(registry = new Registry('ha_ingestor')) {
  return {
    registry,
    haConnected: registry.gauge('ha_connected', '1 while the HA WebSocket is authenticated and subscribed'),
    haAuthRejected: registry.gauge('ha_auth_rejected', '1 while HA_TOKEN is a token Home Assistant rejected (it is not sent again until it changes)'),
    haReconnects: registry.counter('ha_reconnects_total', 'HA connections lost and attempted again'),
    haFrames: registry.counter('ha_frames_received_total', 'WebSocket frames received from HA'),
    haBytes: registry.counter('ha_received_bytes_total', 'bytes of WebSocket frames received from HA'),
    haFramesTooBig: registry.counter(
      'ha_frames_too_big_total',
      'frames from HA over MAX_FRAME_BYTES: the connection was dropped, the backfill fetches what they carried',
    ),
    watermarkClamped: registry.counter(
      'watermark_clamped_total',
      "gap starts found in HA's future (a restored state.json): clamped to HA's now minus BACKFILL_MAX_WINDOW",
    ),
    haLastEventSeconds: registry.gauge('ha_last_event_age_seconds', 'seconds since the last frame from HA'),
    haClockOffset: registry.gauge('ha_clock_offset_seconds', "our clock minus HA's, estimated from live events (display only: gaps use HA's own times)"),
    events: registry.counter('events_received_total', 'HA event messages decoded by the encoders'),
    eventsRemoved: registry.counter('events_entity_removed_total', 'state_changed events with new_state null (nothing to write)'),
    eventsSkipped: registry.counter('events_skipped_total', 'states the schema leaves out (SCHEMA=ha: unknown, unavailable, empty)'),
    reannouncementsSkipped: registry.counter('reannouncements_skipped_total', 'unchanged states HA re-announced at its start, left out (RESTART_DEDUP)'),
    seenEntities: registry.gauge('seen_entities', 'entities whose last point restart de-duplication keeps'),
    eventsInvalid: registry.counter('events_invalid_total', 'events or frames that could not be decoded or encoded'),
    snapshotStates: registry.counter('snapshot_states_total', 'states received from get_states snapshots'),
    dispatchDropped: registry.counter('dispatch_dropped_frames_total', 'frames not accepted because the encoder queue was full'),
    dispatchQueueBytes: registry.gauge('dispatch_queue_bytes', 'raw frame bytes waiting for or inside the encoder pool'),
    batchesInFlight: registry.gauge('encoder_batches_in_flight', 'frame batches submitted to the encoder pool, not yet done'),
    encodeErrors: registry.counter('encoder_failures_total', 'encoder batches that failed as a whole'),
    writerQueueLines: registry.gauge('writer_queue_lines', 'points buffered in the writer, not yet acknowledged'),
    writerQueueBytes: registry.gauge('writer_queue_bytes', 'line protocol bytes buffered in the writer, not yet acknowledged'),
    writerDroppedPoints: registry.counter('writer_dropped_points_total', 'points given up by the writer (see the error log for why)'),
    writerMemoryOnlyPoints: registry.gauge('writer_memory_only_points', 'points neither the database nor the spool would take, waiting in memory'),
    writeOutages: registry.counter('write_outages_total', 'answers that kept a batch (not written, not bad lines), by cause'),
    writeRequests: registry.counter('write_requests_total', 'write requests to the database, by HTTP status (or "error")'),
    writeRetries: registry.counter('write_retries_total', 'write requests sent again after a retryable failure'),
    pointsWritten: registry.counter('points_written_total', 'points acknowledged by the database'),
    pointsRejected: registry.counter('points_rejected_total', 'points the database refused (4xx), by status'),
    writeBytes: registry.counter('write_body_bytes_total', 'bytes of request bodies sent (after gzip)'),
    writeDuration: registry.gauge('write_last_duration_seconds', 'duration of the last write request'),
    eventLoopLag: registry.gauge('event_loop_lag_seconds', 'main-thread event loop delay, p99 since the last scrape (src/event-loop-monitor.ts)'),
    eventLoopUtilization: registry.gauge('event_loop_utilization_ratio', 'share of time the main-thread event loop was busy since the last scrape'),
    spoolBytes: registry.gauge('spool_bytes', 'bytes of batches in the disk spool'),
    spoolFiles: registry.gauge('spool_files', 'segment files in the disk spool'),
    spoolLines: registry.gauge('spool_points', 'points in the disk spool (known once read)'),
    spoolOldestAge: registry.gauge('spool_oldest_age_seconds', 'age of the oldest spool file'),
    spooledPoints: registry.counter('spooled_points_total', 'points written to the disk spool'),
    spoolReplayedPoints: registry.counter('spool_replayed_points_total', 'spooled points settled (written or rejected) on replay'),
    spoolDroppedPoints: registry.counter('spool_dropped_points_total', 'spooled points dropped because the spool was full'),
    spoolCorruptBytes: registry.counter('spool_corrupt_bytes_total', 'bytes of spool files skipped on replay (cause: damaged or cut_short)'),
    frameSpoolBytes: registry.gauge('frame_spool_bytes', 'bytes of raw frames waiting on disk for the encoders'),
    frameSpoolFiles: registry.gauge('frame_spool_files', 'segment files of raw frames waiting for the encoders'),
    frameSpoolFrames: registry.gauge('frame_spool_frames', 'raw frames waiting on disk for the encoders (known once read)'),
    frameSpoolOldestAge: registry.gauge('frame_spool_oldest_age_seconds', 'age of the oldest frame spool file'),
    frameSpooled: registry.counter('frame_spooled_frames_total', 'frames the encoders could not take at once, put on disk'),
    frameSpoolReplayed: registry.counter('frame_spool_replayed_frames_total', 'frames fed back from disk to the encoders'),
    frameSpoolDropped: registry.counter('frame_spool_dropped_frames_total', 'frames dropped because the frame spool was full'),
    frameSpoolCorruptBytes: registry.counter('frame_spool_corrupt_bytes_total', 'bytes of frame spool files skipped on replay (cause: damaged or cut_short)'),
    deadLetterPoints: registry.counter('dead_letter_points_total', 'points the database refused one by one, kept in the dead-letter file'),
    backfills: registry.counter('backfills_total', 'backfills from HA history, by result (complete, partial)'),
    backfillPoints: registry.counter('backfill_points_total', 'points written from HA history'),
    backfillUnfilledSeconds: registry.counter('backfill_unfilled_seconds_total', 'seconds of gaps that could not be filled from HA history'),
    importPoints: registry.counter('import_points_total', 'points imported from what HA already recorded (--import-history), by importer'),
    importRequests: registry.counter('import_requests_total', 'requests to HA made by the history import, by importer'),
    importBytes: registry.counter(
      'import_received_bytes_total',
      'bytes of answers read by the history import, by importer (WebSocket: every frame received meanwhile)',
    ),
    importFraction: registry.gauge('import_progress_ratio', "share of the running importer's work done (0 to 1)"),
    watermarkAge: registry.gauge('watermark_age_seconds', "how far the durable watermark trails HA's clock (our clock minus the measured offset)"),
    weatherRequests: registry.counter('weather_requests_total', 'OpenWeatherMap requests, by result (ok, error)'),
    weatherBreakerOpen: registry.gauge('weather_breaker_state', 'weather circuit breaker: 0 closed, 0.5 half-open, 1 open'),
    weatherBreakerTransitions: registry.counter('weather_breaker_transitions_total', 'weather circuit breaker transitions, by new state'),
    presenceChanges: registry.counter('presence_changes_total', 'changes of people_home written as home_presence points'),
    diskSyncs: registry
      .counter('disk_syncs_total', 'fsyncs and fdatasyncs issued (state files, spool, dead letters, file sink): each one is a flash-card write')
      .follow(() => diskSyncs.syncs),
    diskWriteBytes: registry
      .counter('disk_write_bytes_total', 'bytes written to files that are then fsynced (state files, spool, dead letters, file sink)')
      .follow(() => diskSyncs.bytes),
    splitBatches: registry.counter('write_split_batches_total', 'batches split in two (413 too large, or 400/422 to isolate bad lines)'),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** The batch spool's metrics, as the Spool takes them. */
export function batchSpoolMetrics(m: Metrics) {
  return {
    bytes: m.spoolBytes,
    files: m.spoolFiles,
    items: m.spoolLines,
    oldestAge: m.spoolOldestAge,
    appended: m.spooledPoints,
    replayed: m.spoolReplayedPoints,
    dropped: m.spoolDroppedPoints,
    corruptBytes: m.spoolCorruptBytes,
  };
}

/** The frame overflow's metrics (frames the encoders could not take yet, waiting on disk). */
export function frameSpoolMetrics(m: Metrics) {
  return {
    bytes: m.frameSpoolBytes,
    files: m.frameSpoolFiles,
    items: m.frameSpoolFrames,
    oldestAge: m.frameSpoolOldestAge,
    appended: m.frameSpooled,
    replayed: m.frameSpoolReplayed,
    dropped: m.frameSpoolDropped,
    corruptBytes: m.frameSpoolCorruptBytes,
  };
}

/**
 * The ingestor's own health as one line of line protocol (measurement `ha_ingestor`, all fields
 * float), written every SELF_METRICS_INTERVAL_S (default 60 s) beside the data.
 */
export function selfMetricsLine(m: Metrics, instance: string, nowMs: number): string {
  const sum = (c: Counter): number => c.total();
  const fields = [
    `events_received=${sum(m.events)}`,
    `points_written=${sum(m.pointsWritten)}`,
    `points_rejected=${sum(m.pointsRejected)}`,
    `write_duration_seconds=${m.writeDuration.get()}`,
    `spool_bytes=${m.spoolBytes.get()}`,
    `spooled_points=${sum(m.spooledPoints)}`,
    `ha_reconnects=${sum(m.haReconnects)}`,
    `ha_connected=${m.haConnected.get()}`,
    `backfill_points=${sum(m.backfillPoints)}`,
    `dead_letter_points=${sum(m.deadLetterPoints)}`,
  ];
  const tag = instance.replace(/[,= \\\n]/g, '_') || 'ingestor';
  return `ha_ingestor,instance=${tag} ${fields.join(',')} ${nowMs}000000\n`;
}
