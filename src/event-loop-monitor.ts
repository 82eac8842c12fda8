/**
 * The main thread's event-loop delay, measured without waking an idle loop 100 times a second.
 *
 * Node's monitorEventLoopDelay at 10 ms resolution costs 0.5 % of a core on an idle loop (100
 * timer wake-ups a second, measured: twice what the rest of an idle ingestor costs). So:
 * - Once a second (`sampleMs`), an unref'd timer records how late it fired: the delay a timer due
 *   at that moment suffered. A block of B ms is seen with probability B / sampleMs; one of a
 *   second or more, always.
 * - While the loop was busy for at least `busyShare` of the last sample period, Node's monitor runs
 *   too, at `fineMs` resolution, so every block of more than about `fineMs` is seen — where delay
 *   matters (bursts, full speed). It stops after the first quiet period.
 * - `lagSeconds()` (read by each /metrics scrape): the 99th percentile of the delays beyond each
 *   timer's due time since the last read (the fine monitor's when it ran, it saw more), in
 *   seconds; 0 with no sample. `utilization()`: the share of time the loop was busy since the
 *   last read (Node's eventLoopUtilization, which costs nothing between reads).
 */
import {
  createHistogram,
  monitorEventLoopDelay,
  performance,
  type EventLoopUtilization,
  type IntervalHistogram,
  type RecordableHistogram,
} from 'node:perf_hooks';

export interface EventLoopMonitorOptions {
  /** Period of the always-on sample timer. */
  readonly sampleMs: number;
  /** Resolution of the fine monitor. */
  readonly fineMs: number;
  /** Busy share of a sample period from which the fine monitor runs. */
  readonly busyShare: number;
}

export const DEFAULT_EVENT_LOOP_MONITOR: EventLoopMonitorOptions = { sampleMs: 1000, fineMs: 10, busyShare: 0.1 };

export class EventLoopMonitor {
  private readonly coarse: RecordableHistogram = createHistogram();
  private readonly fine: IntervalHistogram;
  private fineOn = false;
  private timer: NodeJS.Timeout | undefined;
  private dueAt = 0;
  /** Utilization marks: at the last sample (for the switch), at the last read (for the gauge). */
  private sampledElu: EventLoopUtilization;
  private readElu: EventLoopUtilization;

  constructor(private readonly opts: EventLoopMonitorOptions = DEFAULT_EVENT_LOOP_MONITOR) {
    this.fine = monitorEventLoopDelay({ resolution: opts.fineMs });
    this.sampledElu = this.readElu = performance.eventLoopUtilization();
  }

  /** Whether the fine monitor runs now (the loop was busy). */
  get fineRunning(): boolean {
    return this.fineOn;
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.sampledElu = performance.eventLoopUtilization();
    this.arm();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.setFine(false);
  }

  /** p99 of the delays since the last read, in seconds; resets. */
  lagSeconds(): number {
    let ns = 0;
    if (this.fine.count > 0) ns = Math.max(0, this.fine.percentile(99) - this.opts.fineMs * 1e6);
    else if (this.coarse.count > 0) ns = this.coarse.percentile(99);
    this.fine.reset();
    this.coarse.reset();
    return ns / 1e9;
  }

  /** Share of the time the loop was busy since the last read (0 to 1). */
  utilization(): number {
    const now = performance.eventLoopUtilization();
    const share = performance.eventLoopUtilization(now, this.readElu).utilization;
    this.readElu = now;
    return share;
  }

  private arm(): void {
    this.dueAt = performance.now() + this.opts.sampleMs;
    this.timer = setTimeout(() => this.sample(), this.opts.sampleMs);
    this.timer.unref();
  }

  private sample(): void {
    // A histogram takes integers ≥ 1 (ns): an on-time timer records 1 ns.
    this.coarse.record(Math.max(1, Math.round((performance.now() - this.dueAt) * 1e6)));
    const now = performance.eventLoopUtilization();
    this.setFine(performance.eventLoopUtilization(now, this.sampledElu).utilization >= this.opts.busyShare);
    this.sampledElu = now;
    this.arm();
  }

  private setFine(on: boolean): void {
    if (on === this.fineOn) return;
    this.fineOn = on;
    if (on) this.fine.enable();
    else this.fine.disable();
  }
}
