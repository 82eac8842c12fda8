/**
 * End-to-end runs: the simulator, the system under test (the built ingestor, or the bare
 * baseline) and the sink each in a process of their own, on this machine's cores. A run ends
 * when the sink has every point, or at its deadline (then it reports the loss).
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = (name: string): string => fileURLToPath(new URL(name, import.meta.url));
const MAIN = fileURLToPath(new URL('../../src/main.js', import.meta.url));
const SNAPSHOT = 300; // the simulator's entities: the ingestor writes their states first

export interface RunSpec {
  readonly name: string;
  readonly system: 'ingestor' | 'bare';
  readonly events: number;
  /** events/s; null = as fast as the system takes them (the simulator keeps `window` in flight). */
  readonly rate: number | null;
  readonly env?: Readonly<Record<string, string>>;
  /** Extra node options for the ingestor (e.g. --cpu-prof to profile it). */
  readonly nodeArgs?: readonly string[];
  /** Write to this InfluxDB 1.x (database `bench`) instead of the counting sink. */
  readonly influxUrl?: string;
  /** The database's process, to count its CPU per point too (INFLUXD_PID). */
  readonly dbPid?: number;
  readonly deadlineMs: number;
}

export interface RunResult {
  readonly name: string;
  readonly system: 'ingestor' | 'bare';
  readonly events: number;
  readonly rate: number | null;
  readonly env: Readonly<Record<string, string>>;
  readonly sink: 'counting sink' | 'InfluxDB';
  readonly received: number;
  readonly expected: number;
  readonly lost: number;
  /** Steady state: points between 10 % and 90 % of the run, over the time they took. */
  readonly eventsPerSecond: number;
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly max: number } | null;
  /** All threads of the system under test, per event (= CPU seconds per million events). */
  readonly cpuMicrosPerEvent: number;
  /** The database's CPU over the same window, per event (with `dbPid`). */
  readonly dbCpuMicrosPerEvent: number | null;
  readonly peakRssMb: number;
  readonly eventLoopLagP99Ms: number | null;
}

export type Msg = { type: string; [k: string]: unknown };

/** SIGTERM first (a profiler writes its file on a clean exit), SIGKILL what is left after 5 s. */
export async function stopChildren(children: readonly ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          const timer = setTimeout(() => c.kill('SIGKILL'), 5_000);
          c.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          c.kill('SIGTERM');
        }),
    ),
  );
}

/** The child's next IPC message of this type. */
export function nextMessage(child: ChildProcess, type: string, timeoutMs = 60_000): Promise<Msg> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${type} message within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (m: Msg): void => {
      if (m.type !== type) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(m);
    };
    child.on('message', onMessage);
  });
}

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return Number(fields[11]) + Number(fields[12]); // utime + stime, all threads
}

function peakRssKb(pid: number): number {
  return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
}

async function scrape(port: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = new Map<string, number>();
  for (const line of text.split('\n'))
    if (line && !line.startsWith('#')) m.set(line.slice(0, line.lastIndexOf(' ')), Number(line.slice(line.lastIndexOf(' ') + 1)));
  return m;
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? 0 : (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number);
}

function steadyRate(marks: readonly { at: number; lines: number }[], total: number): number {
  const at = (fraction: number) => marks.find((m) => m.lines >= total * fraction)?.at;
  const t10 = at(0.1);
  const t90 = at(0.9);
  if (t10 === undefined || t90 === undefined || t90 <= t10) return 0;
  return (0.8 * total) / ((t90 - t10) / 1000);
}

const TICKS_PER_SECOND = 100;

export async function run(spec: RunSpec): Promise<RunResult> {
  const children: ChildProcess[] = [];
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-'));
  try {
    const sim = fork(here('./sim-process.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.push(sim);
    const simPort = (await nextMessage(sim, 'ready')).port as number;

    let sink: ChildProcess | null = null;
    let writeBase = spec.influxUrl ?? '';
    if (spec.influxUrl === undefined) {
      sink = fork(here('./sink-process.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      children.push(sink);
      writeBase = `http://127.0.0.1:${(await nextMessage(sink, 'ready')).port as number}`;
    } else {
      await fetch(`${spec.influxUrl}/query`, { method: 'POST', body: new URLSearchParams({ q: 'DROP DATABASE bench; CREATE DATABASE bench' }) });
    }

    const httpPort = 20000 + Math.floor(Math.random() * 20000);
    const system =
      spec.system === 'ingestor'
        ? spawn(process.execPath, [...(spec.nodeArgs ?? []), MAIN], {
            env: {
              PATH: process.env.PATH ?? '',
              HA_URL: `http://127.0.0.1:${simPort}`,
              HA_TOKEN: 'bench-token',
              INFLUX_URL: writeBase,
              INFLUX_API: 'v1',
              INFLUX_DB: 'bench',
              DATA_DIR: dataDir,
              HTTP_PORT: String(httpPort),
              LOG_LEVEL: 'warn',
              SELF_METRICS_INTERVAL_S: '0',
              ...spec.env,
            },
            stdio: ['ignore', 'inherit', 'inherit'],
          })
        : fork(here('./bare-pipeline.js'), [`ws://127.0.0.1:${simPort}/api/websocket`, 'bench-token', `${writeBase}/write?db=bench&precision=ns`], {
            stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
          });
    children.push(system);
    const pid = system.pid as number;
    system.once('exit', (code, signal) => {
      if (code !== 0 && signal !== 'SIGKILL') process.stderr.write(`${spec.system} exited early (code ${code}, signal ${signal})\n`);
    });
    const snapshot = spec.system === 'ingestor' ? SNAPSHOT : 0;
    const expected = spec.events + snapshot;

    // Progress: the counting sink tells; with InfluxDB, the ingestor's own metrics do, and the
    // bare pipeline counts what the database acknowledged.
    let received = 0;
    const marks: { at: number; lines: number }[] = [];
    const onCount = (lines: number): void => {
      received = lines;
      marks.push({ at: Date.now(), lines });
      sim.send({ type: 'credit', received: Math.max(0, lines - snapshot) });
    };
    sink?.on('message', (m: Msg) => m.type === 'count' && onCount(m.lines as number));
    if (sink === null && spec.system === 'bare') system.on('message', (m: Msg) => m.type === 'count' && onCount(m.lines as number));
    const poll =
      sink === null && spec.system === 'ingestor'
        ? setInterval(() => {
            void scrape(httpPort)
              .then((m) => onCount(m.get('ha_ingestor_points_written_total') ?? 0))
              .catch(() => {});
          }, 50)
        : undefined;

    sim.send({ type: 'start', events: spec.events, rate: spec.rate, window: 20_000 });
    await nextMessage(sim, 'subscribed');
    const cpu0 = cpuTicks(pid);
    const db0 = spec.dbPid === undefined ? 0 : cpuTicks(spec.dbPid);
    if (spec.system === 'ingestor') await scrape(httpPort).catch(() => null); // resets the lag window
    const deadline = Date.now() + spec.deadlineMs;
    while (received < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const cpu1 = cpuTicks(pid);
    const db1 = spec.dbPid === undefined ? 0 : cpuTicks(spec.dbPid);
    const peak = peakRssKb(pid);
    const lag = spec.system === 'ingestor' ? ((await scrape(httpPort).catch(() => null))?.get('ha_ingestor_event_loop_lag_seconds') ?? null) : null;
    clearInterval(poll);

    let latencyMs: RunResult['latencyMs'] = null;
    let finalMarks = marks;
    if (sink !== null) {
      sink.send({ type: 'report' });
      const report = await nextMessage(sink, 'report');
      received = report.lines as number;
      finalMarks = report.marks as { at: number; lines: number }[];
      if (spec.rate !== null) {
        const l = (report.latencies as number[]).slice(snapshot).sort((a, b) => a - b);
        latencyMs = { p50: percentile(l, 50), p99: percentile(l, 99), max: l[l.length - 1] ?? 0 };
      }
    }
    const cpuSeconds = (cpu1 - cpu0) / TICKS_PER_SECOND;
    return {
      name: spec.name,
      system: spec.system,
      events: spec.events,
      rate: spec.rate,
      env: spec.env ?? {},
      sink: sink === null ? 'InfluxDB' : 'counting sink',
      received,
      expected,
      lost: Math.max(0, expected - received),
      eventsPerSecond: Math.round(steadyRate(finalMarks, expected)),
      latencyMs,
      cpuMicrosPerEvent: Math.round((cpuSeconds / spec.events) * 1e6 * 10) / 10,
      dbCpuMicrosPerEvent: spec.dbPid === undefined ? null : Math.round(((db1 - db0) / TICKS_PER_SECOND / spec.events) * 1e6 * 10) / 10,
      peakRssMb: Math.round(peak / 1024),
      eventLoopLagP99Ms: lag === null ? null : Math.round(lag * 1000 * 10) / 10,
    };
  } finally {
    await stopChildren(children);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The bulk loader's rate into an InfluxDB (points/s), and with `dbPid` the database's CPU per point. */
export async function bulkLoad(
  influxUrl: string,
  points: number,
  dbPid?: number,
): Promise<{ points: number; seconds: number; dbCpuMicrosPerPoint: number | null }> {
  const db0 = dbPid === undefined ? 0 : cpuTicks(dbPid);
  const r = await bulkLoadRun(influxUrl, points);
  const db = dbPid === undefined ? null : Math.round(((cpuTicks(dbPid) - db0) / TICKS_PER_SECOND / points) * 1e6 * 10) / 10;
  return { ...r, dbCpuMicrosPerPoint: db };
}

function bulkLoadRun(influxUrl: string, points: number): Promise<{ points: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    void fetch(`${influxUrl}/query`, { method: 'POST', body: new URLSearchParams({ q: 'DROP DATABASE bulk; CREATE DATABASE bulk' }) }).then(() => {
      const child = spawn(process.execPath, [here('./bulk-loader.js'), `${influxUrl}/write?db=bulk&precision=ns`, String(points)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.once('exit', (code) =>
        code === 0 ? resolve(JSON.parse(out) as { points: number; seconds: number }) : reject(new Error(`bulk loader exited ${code}`)),
      );
    }, reject);
  });
}
