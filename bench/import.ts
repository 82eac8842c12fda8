/**
 * `node dist/bench/import.js`: the history import's speed and HA-side cost. The simulator holds
 * 10 days × 300 entities of recorded history at one change per entity every 5 minutes (864,000
 * rows: a busy home's sensors; HA keeps 10 days by default), the ingestor (the built app, a
 * process of its own) imports it all (`--import-history all`) into the counting sink with 2–3
 * request sizes (time window × entity ids per request); with INFLUX_V1_URL, the default size once
 * more into that InfluxDB 1.x (database `bench_import`). Measured: points/s from the import's start to its
 * "done" (every point durable), requests and bytes read from HA (the ingestor's own import
 * metrics), the simulator's CPU answering them, the ingestor's peak RSS. Saves
 * bench/results/import.json and regenerates the `import` section of docs/benchmarks.md.
 *
 *   npm run bench:import [-- --quick] [-- --no-docs]      (INFLUX_V1_URL=…: the InfluxDB row too)
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { writeSection } from './benchmarks-doc.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nextMessage, stopChildren } from './e2e/harness.js';
import { IMPORT_ENTITIES_PER_REQUEST, IMPORT_WINDOW_MS } from '../src/import/states.js';
import { machine } from './machine.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const here = (name: string): string => fileURLToPath(new URL(name, import.meta.url));
const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
const ENTITIES = 300;
const DAYS = quick ? 1 : 10;
const INTERVAL_S = 300;
const SIZES: readonly [number, number][] = quick
  ? [[6, 100]]
  : [
      [1, 100],
      [6, 100],
      [24, 50],
    ];

export interface ImportResult {
  readonly windowHours: number;
  readonly entitiesPerRequest: number;
  readonly rows: number;
  readonly points: number;
  readonly seconds: number;
  readonly pointsPerSecond: number;
  readonly requests: number;
  readonly megabytes: number;
  readonly haCpuSeconds: number;
  readonly peakRssMb: number;
  readonly sink: string;
}

const cpuTicks = (pid: number): number => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return Number(f[11]) + Number(f[12]);
};
const peakRssMb = (pid: number): number => Math.round(Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024);

async function json(url: string): Promise<Record<string, unknown> | null> {
  return fetch(url)
    .then((r) => r.json() as Promise<Record<string, unknown>>)
    .catch(() => null);
}

async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function one(windowHours: number, entitiesPerRequest: number, influx?: string): Promise<ImportResult> {
  const children: ChildProcess[] = [];
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-import-'));
  try {
    const sim = fork(here('./e2e/import-sim-process.js'), [String(ENTITIES), String(DAYS), String(INTERVAL_S)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    children.push(sim);
    const ready = await nextMessage(sim, 'ready');
    let writeBase = influx ?? '';
    if (influx === undefined) {
      const sink = fork(here('./e2e/sink-process.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      children.push(sink);
      writeBase = `http://127.0.0.1:${(await nextMessage(sink, 'ready')).port as number}`;
    } else {
      await fetch(`${influx}/query`, { method: 'POST', body: new URLSearchParams({ q: 'DROP DATABASE bench_import; CREATE DATABASE bench_import' }) });
    }
    const httpPort = 20000 + Math.floor(Math.random() * 20000);
    const simCpu0 = cpuTicks(sim.pid as number);
    const started = Date.now();
    const ingestor = fork(here('./e2e/import-child.js'), [String(windowHours), String(entitiesPerRequest)], {
      env: {
        PATH: process.env.PATH ?? '',
        HA_URL: `http://127.0.0.1:${ready.port as number}`,
        HA_TOKEN: 'bench-token',
        INFLUX_URL: writeBase,
        INFLUX_API: 'v1',
        INFLUX_DB: 'bench_import',
        DATA_DIR: dataDir,
        HTTP_PORT: String(httpPort),
        LOG_LEVEL: 'warn',
        SELF_METRICS_INTERVAL_S: '0',
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    children.push(ingestor);
    let state = '';
    const deadline = Date.now() + (quick ? 120_000 : 600_000);
    while (state !== 'done' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      const health = await json(`http://127.0.0.1:${httpPort}/health`);
      state = String((health?.import as { state?: string } | undefined)?.state ?? '');
      if (state === 'failed') throw new Error(`import failed: ${JSON.stringify(health?.import)}`);
    }
    const seconds = (Date.now() - started) / 1000;
    const points = await metric(httpPort, 'ha_ingestor_import_points_total');
    return {
      windowHours,
      entitiesPerRequest,
      rows: ready.rows as number,
      points,
      seconds: Math.round(seconds * 10) / 10,
      pointsPerSecond: Math.round(points / seconds),
      requests: await metric(httpPort, 'ha_ingestor_import_requests_total'),
      megabytes: Math.round((await metric(httpPort, 'ha_ingestor_import_received_bytes_total')) / 1e5) / 10,
      haCpuSeconds: Math.round(((cpuTicks(sim.pid as number) - simCpu0) / 100) * 10) / 10,
      peakRssMb: peakRssMb(ingestor.pid as number),
      sink: influx === undefined ? 'counting sink' : 'InfluxDB 1.x',
    };
  } finally {
    await stopChildren(children);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function table(results: readonly ImportResult[]): string {
  const rows = results.map(
    (r) =>
      `| ${r.windowHours} h × ${r.entitiesPerRequest} | ${r.points.toLocaleString('en-US')} of ${r.rows.toLocaleString('en-US')} | ${r.seconds} | ${r.pointsPerSecond.toLocaleString('en-US')} | ${r.requests} | ${r.megabytes} | ${r.haCpuSeconds} | ${r.peakRssMb} | ${r.sink} |`,
  );
  return [
    `${machine()}. ${ENTITIES} entities × ${DAYS} days, one change per entity every ${INTERVAL_S / 60} minutes.`,
    '',
    '| request (window × entity ids) | points imported (of rows recorded) | seconds to done | points/s | requests to HA | MB read from HA | simulator CPU s | ingestor peak RSS MB | sink |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---|',
    ...rows,
  ].join('\n');
}

const results: ImportResult[] = [];
const runs: [number, number, string | undefined][] = SIZES.map(([h, n]) => [h, n, undefined]);
if (process.env.INFLUX_V1_URL !== undefined) runs.push([IMPORT_WINDOW_MS / 3_600_000, IMPORT_ENTITIES_PER_REQUEST, process.env.INFLUX_V1_URL]);
for (const [h, n, influx] of runs) {
  const r = await one(h, n, influx);
  process.stdout.write(`${JSON.stringify(r)}\n`);
  results.push(r);
}
const resultsDir = process.env.BENCH_RESULTS_DIR ?? `${root}bench/results`;
mkdirSync(resultsDir, { recursive: true });
writeFileSync(join(resultsDir, 'import.json'), `${JSON.stringify({ machine: machine(), results }, null, 2)}\n`);
if (!quick && !args.has('--no-docs')) {
  writeSection(`${root}docs/benchmarks.md`, 'import', table(results));
}
process.exit(0);
