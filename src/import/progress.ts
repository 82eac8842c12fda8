/**
 * The import's progress, shown three ways: a one-line bar on a terminal (stderr, redrawn at most
 * every BAR_INTERVAL_MS), a log line every LOG_INTERVAL_MS otherwise, and /health's `import`
 * section and the import metrics always. ETA: the time so far over the share done, for the
 * importer running (each importer's share is its own: states by time range, statistics by ids).
 */
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import type { ImportProgress } from './importer.js';

export const BAR_INTERVAL_MS = 500;
export const LOG_INTERVAL_MS = 10_000;
const BAR_WIDTH = 24;

export type ImportState = 'waiting' | 'running' | 'done' | 'failed';

export interface ImportStatus {
  readonly state: ImportState;
  readonly importer: ImportProgress['importer'] | null;
  readonly fraction: number;
  readonly items: number;
  readonly points: number;
  readonly requests: number;
  readonly bytes: number;
  readonly etaSeconds: number | null;
  readonly problem?: string;
}

/** Where a bar goes: a terminal's stream (stderr), or null (not a terminal: log lines instead). */
export interface BarStream {
  write(text: string): void;
}

/** "1h 02m", "3m 05s", "12s". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s >= 3600) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

/** The bar's one line (no line feed): `states [#####·····]  42% 300 entities 123,456 points ETA 1m 05s`. */
export function barLine(s: ImportStatus): string {
  const done = Math.round(Math.min(1, Math.max(0, s.fraction)) * BAR_WIDTH);
  const bar = `${'#'.repeat(done)}${'·'.repeat(BAR_WIDTH - done)}`;
  const what = s.importer === 'statistics' ? 'statistic ids' : 'entities';
  const eta = s.etaSeconds === null ? '' : ` ETA ${formatDuration(s.etaSeconds)}`;
  return `import ${s.importer ?? ''} [${bar}] ${String(Math.floor(s.fraction * 100)).padStart(3)}% ${s.items} ${what} ${s.points.toLocaleString('en-US')} points${eta}`;
}

export class ProgressReporter {
  private status: ImportStatus = { state: 'waiting', importer: null, fraction: 0, items: 0, points: 0, requests: 0, bytes: 0, etaSeconds: null };
  private startedAt = 0;
  private lastShown = 0;
  /** Totals of the runs before this one (an importer's points, requests, bytes are per run). */
  private base = { points: 0, requests: 0, bytes: 0 };
  private counted = { points: 0, requests: 0, bytes: 0 };

  constructor(
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly bar: BarStream | null,
    private readonly now: () => number = Date.now,
  ) {
    metrics.importFraction.collect(() => this.status.fraction);
  }

  get current(): ImportStatus {
    return this.status;
  }

  /**
   * An importer begins, or resumes after a reconnect: its run counts from zero again, on top of
   * what the runs before it counted.
   */
  begin(importer: ImportProgress['importer']): void {
    this.base = { points: this.status.points, requests: this.status.requests, bytes: this.status.bytes };
    this.counted = { ...this.base };
    const resumed = this.status.importer === importer;
    if (!resumed) this.startedAt = this.now();
    this.status = { ...this.status, state: 'running', importer, fraction: resumed ? this.status.fraction : 0 };
    this.show(true);
  }

  update(p: ImportProgress, force = false): void {
    const elapsed = (this.now() - this.startedAt) / 1000;
    const etaSeconds = p.fraction > 0 && p.fraction < 1 ? (elapsed / p.fraction) * (1 - p.fraction) : p.fraction >= 1 ? 0 : null;
    const points = this.base.points + p.points;
    const requests = this.base.requests + p.requests;
    const bytes = this.base.bytes + p.bytes;
    const labels = { importer: p.importer };
    this.metrics.importPoints.inc(Math.max(0, points - this.counted.points), labels);
    this.metrics.importRequests.inc(Math.max(0, requests - this.counted.requests), labels);
    this.metrics.importBytes.inc(Math.max(0, bytes - this.counted.bytes), labels);
    this.counted = { points, requests, bytes };
    this.status = { state: 'running', importer: p.importer, fraction: p.fraction, items: p.items, points, requests, bytes, etaSeconds };
    this.show(force);
  }

  /** Every importer is done, or one failed for good. */
  finish(state: 'done' | 'failed', problem?: string): void {
    this.status = { ...this.status, state, etaSeconds: state === 'done' ? 0 : null, ...(problem === undefined ? {} : { problem }) };
    if (this.bar !== null) this.bar.write(`\r${barLine(this.status)}\n`);
    const { points, requests, bytes } = this.status;
    if (state === 'done') this.log.info({ points, requests, bytes }, 'history import done');
  }

  private show(force: boolean): void {
    const t = this.now();
    const interval = this.bar === null ? LOG_INTERVAL_MS : BAR_INTERVAL_MS;
    if (!force && t - this.lastShown < interval) return;
    this.lastShown = t;
    if (this.bar !== null) {
      this.bar.write(`\r${barLine(this.status)}\u001b[K`);
      return;
    }
    const s = this.status;
    this.log.info(
      {
        importer: s.importer,
        percent: Math.floor(s.fraction * 100),
        items: s.items,
        points: s.points,
        etaSeconds: s.etaSeconds === null ? null : Math.round(s.etaSeconds),
      },
      'history import progress',
    );
  }
}
