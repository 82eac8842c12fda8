/**
 * Footprint at a home's rate: what the built ingestor costs, at its defaults, when HA sends few
 * events (0, 0.12, 2, 100 per second). The simulator (bench/e2e/sim-process.ts, fixed rate), the
 * ingestor (dist/src/main.js, its own process) and the counting HTTP sink
 * (bench/e2e/sink-process.ts) each run in a process of their own, so the disk writes measured
 * are the ingestor's own (state, spool, dead letters), not its output. Rows run one after
 * another: they measure CPU. A reference row measures an empty Node process with one idle
 * worker thread the same way: the floor.
 *
 * Per row, over the window after a warm-up, from /proc (bench/e2e/proc.ts): CPU of all threads
 * (utime + stime), RSS (mean of 1 s samples, and VmHWM: the process's peak since it started),
 * write_bytes, voluntary context switches of all threads (a proxy for wake-ups); from the
 * ingestor's /metrics: events received and fsyncs (ha_ingestor_disk_syncs_total).
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nextMessage, stopChildren } from './harness.js';
import { clockTicksPerSecond, parseMetric, type ProcSample, sampleProcess, switchesOver } from './proc.js';
import { barPanels } from './svg.js';

const here = (name: string): string => fileURLToPath(new URL(name, import.meta.url));
const MAIN = fileURLToPath(new URL('../../src/main.js', import.meta.url));
/** An empty Node process with one idle worker thread: what any Node service with a pool costs. */
const FLOOR_SCRIPT = "const { Worker } = require('node:worker_threads'); new Worker('setInterval(() => {}, 1e9)', { eval: true }); setInterval(() => {}, 1e9);";

/** Targets from issue 11, at defaults on this machine. */
export const TARGETS = { cpuPercentIdleAnd2: 0.1, rssSteadyMbAt2: 64, rssPeakMbFullSpeed: 200, fsyncsPerMinuteIdle: 1 };
const MIN_EVENTS_FOR_MARGINAL = 100;
/** HA's own InfluxDB integration, CPU per event in its writer thread (HA 0.96, issue 11). */
export const HA_INFLUX_MICROS_PER_EVENT = 139;

export interface FootprintRow {
  readonly name: string;
  /** events/s offered; null for the floor. */
  readonly rate: number | null;
  readonly seconds: number;
  readonly events: number;
  readonly cpuPercent: number;
  /** All CPU in the window ÷ events (the fixed cost included); null without events. */
  readonly cpuMicrosPerEvent: number | null;
  /** (CPU − the idle row's CPU) ÷ events: what one more event costs. */
  readonly marginalMicrosPerEvent: number | null;
  readonly rssSteadyMb: number;
  readonly rssPeakMb: number;
  readonly rssMaxSampleMb: number;
  readonly writeKbPerMinute: number;
  /** null for the floor (no /metrics). */
  readonly fsyncsPerMinute: number | null;
  /** voluntary context switches per second, all threads: a proxy for wake-ups. */
  readonly wakeupsPerSecond: number;
  readonly threads: number;
}

export interface FootprintResult {
  readonly machine: string;
  readonly warmupSeconds: number;
  readonly windowSeconds: number;
  readonly rows: FootprintRow[];
}

interface Timing {
  readonly warmupS: number;
  readonly windowS: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const round = (x: number, digits: number): number => Math.round(x * 10 ** digits) / 10 ** digits;

async function metricsText(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

/** Samples `pid` every second for `seconds`; the first sample is taken at once. */
async function sampleWindow(pid: number, seconds: number): Promise<ProcSample[]> {
  const samples = [sampleProcess(pid)];
  const t0 = samples[0]?.at ?? performance.now();
  for (let i = 1; i <= seconds; i++) {
    await sleep(Math.max(0, t0 + i * 1000 - performance.now()));
    samples.push(sampleProcess(pid));
  }
  return samples;
}

interface Counted {
  readonly events: number;
  readonly fsyncs: number | null;
}

/** The figures of one window, from its /proc samples and what the ingestor counted. */
export function summarise(name: string, rate: number | null, samples: readonly ProcSample[], counted: Counted, ticksPerSecond: number): FootprintRow {
  const first = samples[0];
  const last = samples[samples.length - 1];
  if (first === undefined || last === undefined || samples.length < 2) throw new Error(`${name}: fewer than two samples`);
  const seconds = (last.at - first.at) / 1000;
  const cpuSeconds = (last.cpuTicks - first.cpuTicks) / ticksPerSecond;
  const rss = samples.map((s) => s.rssKb);
  return {
    name,
    rate,
    seconds: round(seconds, 1),
    events: counted.events,
    cpuPercent: round((cpuSeconds / seconds) * 100, 3),
    cpuMicrosPerEvent: counted.events > 0 ? Math.round((cpuSeconds / counted.events) * 1e6) : null,
    marginalMicrosPerEvent: null,
    rssSteadyMb: round(rss.reduce((a, b) => a + b, 0) / rss.length / 1024, 1),
    rssPeakMb: round(last.hwmKb / 1024, 1),
    rssMaxSampleMb: round(Math.max(...rss) / 1024, 1),
    writeKbPerMinute: round((last.writeBytes - first.writeBytes) / 1024 / (seconds / 60), 1),
    fsyncsPerMinute: counted.fsyncs === null ? null : round(counted.fsyncs / (seconds / 60), 1),
    wakeupsPerSecond: Math.round(switchesOver(samples) / seconds),
    threads: last.switches.size,
  };
}

/** One row: a fresh simulator, sink, data folder and ingestor, measured after the warm-up. */
async function ingestorRow(rate: number, t: Timing, ticks: number): Promise<FootprintRow> {
  const children: ChildProcess[] = [];
  const dataDir = mkdtempSync(join(tmpdir(), 'footprint-'));
  try {
    const sim = fork(here('./sim-process.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.push(sim);
    const sink = fork(here('./sink-process.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.push(sink);
    const simPort = (await nextMessage(sim, 'ready')).port as number;
    const sinkPort = (await nextMessage(sink, 'ready')).port as number;
    const httpPort = 20000 + Math.floor(Math.random() * 20000);
    // Defaults: only what has no default (where HA and the database are) and where to listen.
    const ingestor = spawn(process.execPath, [MAIN], {
      env: {
        PATH: process.env.PATH ?? '',
        HA_URL: `http://127.0.0.1:${simPort}`,
        HA_TOKEN: 'bench-token',
        INFLUX_URL: `http://127.0.0.1:${sinkPort}`,
        INFLUX_API: 'v1',
        INFLUX_DB: 'bench',
        DATA_DIR: dataDir,
        HTTP_PORT: String(httpPort),
        LOG_LEVEL: 'warn',
        // As the image runs it (Dockerfile): two malloc arenas instead of one per thread.
        MALLOC_ARENA_MAX: '2',
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    children.push(ingestor);
    const events = Math.ceil(rate * (t.warmupS + t.windowS + 30));
    sim.send({ type: 'start', events, rate: rate === 0 ? 1 : rate, window: 20_000 });
    await nextMessage(sim, 'subscribed');
    await sleep(t.warmupS * 1000);
    const pid = ingestor.pid as number;
    const m0 = await metricsText(httpPort);
    const samples = await sampleWindow(pid, t.windowS);
    const m1 = await metricsText(httpPort);
    if (ingestor.exitCode !== null) throw new Error(`the ingestor exited during the ${rate} events/s row (code ${ingestor.exitCode})`);
    const delta = (name: string): number | null => {
      const a = parseMetric(m0, name);
      const b = parseMetric(m1, name);
      return a === undefined || b === undefined ? null : b - a;
    };
    const counted = { events: delta('ha_ingestor_events_received_total') ?? 0, fsyncs: delta('ha_ingestor_disk_syncs_total') };
    const name = rate === 0 ? 'connected, idle' : `${rate.toLocaleString('en-US')} events/s${rate === 0.12 ? ' (10,000 a day)' : ''}`;
    return summarise(name, rate, samples, counted, ticks);
  } finally {
    // The ingestor first, while the sink still takes its last batch and HA is still there.
    for (const c of children.reverse()) await stopChildren([c]);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The floor: an empty Node process with one idle worker thread, measured the same way. */
async function floorRow(t: Timing, ticks: number): Promise<FootprintRow> {
  const child = spawn(process.execPath, ['-e', FLOOR_SCRIPT], { stdio: 'ignore' });
  try {
    await sleep(t.warmupS * 1000);
    const samples = await sampleWindow(child.pid as number, t.windowS);
    return summarise('floor: empty Node + 1 idle worker thread', null, samples, { events: 0, fsyncs: null }, ticks);
  } finally {
    await stopChildren([child]);
  }
}

/**
 * Every row, one after another. Full: idle, 0.12, 2, 100 events/s and the floor, 20 s warm-up +
 * 60 s each (about 7 minutes). Quick: idle and 2 events/s, 3 s + 5 s.
 */
export async function runFootprint(machine: string, quick: boolean, log: (line: string) => void = console.log): Promise<FootprintResult> {
  const t: Timing = quick ? { warmupS: 3, windowS: 5 } : { warmupS: 20, windowS: 60 };
  const rates = quick ? [0, 2] : [0, 0.12, 2, 100];
  const ticks = clockTicksPerSecond();
  const rows: FootprintRow[] = [];
  for (const rate of rates) {
    const row = await ingestorRow(rate, t, ticks);
    rows.push(row);
    log(describe(row));
  }
  const floor = await floorRow(t, ticks);
  rows.push(floor);
  log(describe(floor));
  const idle = rows.find((r) => r.rate === 0);
  // Above idle only with enough events: at 0.12/s (7 events) run-to-run noise in the fixed cost
  // (a few ticks) is larger than what the events cost.
  const withMarginal = rows.map((r) =>
    idle !== undefined && r.events >= MIN_EVENTS_FOR_MARGINAL && r !== idle
      ? { ...r, marginalMicrosPerEvent: Math.round((((r.cpuPercent - idle.cpuPercent) / 100) * r.seconds * 1e6) / r.events) }
      : r,
  );
  return { machine, warmupSeconds: t.warmupS, windowSeconds: t.windowS, rows: withMarginal };
}

function describe(r: FootprintRow): string {
  return `footprint ${r.name}: ${r.cpuPercent} % of a core, RSS ${r.rssSteadyMb} MB (peak ${r.rssPeakMb}), ${r.writeKbPerMinute} KB/min written, ${r.fsyncsPerMinute ?? '—'} fsyncs/min, ${r.wakeupsPerSecond} wake-ups/s, ${r.events} events${r.cpuMicrosPerEvent === null ? '' : `, ${r.cpuMicrosPerEvent} CPU-µs/event`}`;
}

const fmt = (x: number | null, digits = 0): string => (x === null ? '—' : x.toLocaleString('en-US', { maximumFractionDigits: digits }));
const verdict = (ok: boolean): string => (ok ? 'met' : '**missed**');

/** What the issue asks of a row, and whether it is met. */
function targetsFor(r: FootprintRow): string {
  const out: string[] = [];
  if (r.rate === 0 || r.rate === 2) out.push(`CPU ≤ ${TARGETS.cpuPercentIdleAnd2} %: ${verdict(r.cpuPercent <= TARGETS.cpuPercentIdleAnd2)}`);
  if (r.rate === 2) out.push(`RSS steady ≤ ${TARGETS.rssSteadyMbAt2} MB: ${verdict(r.rssSteadyMb <= TARGETS.rssSteadyMbAt2)}`);
  if (r.rate === 0 && r.fsyncsPerMinute !== null)
    out.push(`≤ ${TARGETS.fsyncsPerMinuteIdle} fsync/min: ${verdict(r.fsyncsPerMinute <= TARGETS.fsyncsPerMinuteIdle)}`);
  return out.join('; ') || '—';
}

/** The end-to-end run at full speed and defaults whose peak RSS the issue's target is about. */
export interface FullSpeedPeak {
  readonly name: string;
  readonly peakRssMb: number;
  readonly machine: string;
}

/** The markdown between the footprint markers of docs/benchmarks.md. */
export function footprintMarkdown(f: FootprintResult, fullSpeed: FullSpeedPeak | null): string {
  const rows = f.rows.map((r) =>
    [
      r.name,
      r.rate === null ? '—' : fmt(r.rate, 2),
      fmt(r.events),
      fmt(r.cpuPercent, 3),
      fmt(r.cpuMicrosPerEvent),
      fmt(r.marginalMicrosPerEvent),
      fmt(r.rssSteadyMb, 1),
      fmt(r.rssPeakMb, 1),
      fmt(r.writeKbPerMinute, 1),
      fmt(r.fsyncsPerMinute, 1),
      fmt(r.wakeupsPerSecond),
      targetsFor(r),
    ].join(' | '),
  );
  return [
    `Measured on ${f.machine}: the built ingestor at its defaults (typed schema, enrichment and restart de-duplication on, default POOL_SIZE), fed at a fixed rate by the simulator and writing to the counting HTTP sink, each in its own process; every row a fresh ingestor, measured for ${f.windowSeconds} s after ${f.warmupSeconds} s of warm-up, one row at a time.`,
    '',
    '| row | events/s | events in window | CPU % of one core | CPU µs per event (all) | CPU µs per event (above idle) | RSS steady (MB) | RSS peak (MB) | disk writes (KB/min) | fsyncs/min | wake-ups/s (proxy) | targets (issue 11) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    ...rows.map((r) => `| ${r} |`),
    '',
    fullSpeed === null
      ? `- Peak RSS at full speed (target ≤ ${TARGETS.rssPeakMbFullSpeed} MB): no end-to-end result to read it from.`
      : `- Peak RSS at full speed (target ≤ ${TARGETS.rssPeakMbFullSpeed} MB), from the end-to-end run "${fullSpeed.name}" (${fullSpeed.machine}): **${fullSpeed.peakRssMb} MB**, ${verdict(fullSpeed.peakRssMb <= TARGETS.rssPeakMbFullSpeed)}.`,
    `- CPU µs per event *above idle* is shown from ${MIN_EVENTS_FOR_MARGINAL} events in the window up: below that, the run-to-run spread of the fixed cost is larger than what the events cost.`,
    `- For comparison, Home Assistant's own InfluxDB integration spent **${HA_INFLUX_MICROS_PER_EVENT} µs of CPU per event** in its writer thread (measured on HA 0.96, an external figure from issue 11, not measured by this bench).`,
    '',
    '![CPU and RSS against event rate](bench-footprint.svg)',
  ].join('\n');
}

/** The chart: CPU % of a core and steady RSS, per row. */
export function footprintChart(f: FootprintResult): string {
  const label = (r: FootprintRow): string => (r.rate === null ? 'floor (empty Node + worker)' : r.rate === 0 ? 'idle' : `${fmt(r.rate, 2)} ev/s`);
  return barPanels('Footprint at defaults against event rate (all threads)', [
    { title: 'CPU, % of one core', unit: '%', digits: 2, rows: f.rows.map((r) => ({ label: label(r), value: r.cpuPercent, highlight: r.rate !== null })) },
    { title: 'RSS, steady (MB)', unit: 'MB', digits: 0, rows: f.rows.map((r) => ({ label: label(r), value: r.rssSteadyMb, highlight: r.rate !== null })) },
  ]);
}
