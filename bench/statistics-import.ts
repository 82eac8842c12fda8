/**
 * Long-term statistics import: speed (points/s) and what it costs Home Assistant (requests, bytes
 * of answers) for 2 years of hourly statistics × 100 sensors (50 measurements, 50 counters:
 * 1.75 M hourly rows, with 10 days of 5-minute rows: 0.29 M more), at a few chunk sizes.
 *
 *   node dist/bench/statistics-import.js [--quick] [--no-docs]      (INFLUX_V1_URL=… for InfluxDB)
 *
 * Method: the simulator (this process, a real socket) computes the rows on demand; the ingestor
 * runs in-process (startIngestor, the same parts as the built one) into INFLUX_V1_URL (else the file
 * sink). Its DATA_DIR is seeded with a follower cursor whose start lies 731 days back, so the
 * statistics follower does the import's work: the same planner, chunks, requests and cursor saves
 * (the import adds its "month" probes: 2 requests of ~200 KB for 100 ids). Timed from the
 * connection on which HA's clock is known to the moment every cursor reached the end (a cursor
 * moves only once the chunk's points are written). CPU and RSS are the whole process's, the
 * simulator's JSON included. Results: bench/results/statistics.json and docs/benchmarks.md.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { writeSection } from './benchmarks-doc.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { startIngestor } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { PERIODS } from '../src/import/statistics-cursor.js';
import { compiledUntil } from '../src/import/statistics-plan.js';
import { COMPILE_GRACE_MS } from '../src/import/statistics.js';
import { HaSimulator } from '../src/sim/server.js';
import { cpus, totalmem } from 'node:os';

const root = fileURLToPath(new URL('../../', import.meta.url));
const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
const DAY = 86_400_000;
const DAYS = quick ? 30 : 730;
const CHUNKS = quick ? [5_000, 20_000] : [5_000, 20_000, 50_000];

function machine(): string {
  return `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`;
}

interface Row {
  rowsPerRequest: number;
  points: number;
  seconds: number;
  pointsPerSecond: number;
  requests: number;
  answerBytes: number;
  largestAnswerBytes: number;
  cpuSeconds: number;
  peakRssMb: number;
}

async function until<T>(check: () => T | undefined, timeoutMs: number, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('bench: timed out');
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

async function recreateDatabase(url: string, db: string): Promise<void> {
  const res = await fetch(`${url}/query`, { method: 'POST', body: new URLSearchParams({ q: `DROP DATABASE "${db}"; CREATE DATABASE "${db}"` }) });
  if (!res.ok) throw new Error(`CREATE DATABASE: ${res.status}`);
}

async function runOnce(rowsPerRequest: number): Promise<Row> {
  const sim = new HaSimulator({
    token: 'bench-token',
    entities: 10,
    seed: 5,
    record: false,
    statistics: { sensors: 50, counters: 50, days: DAYS, shortTermDays: 10 },
  });
  await sim.start();
  const dataDir = mkdtempSync(join(tmpdir(), 'stats-bench-'));
  const haNow = sim.haNowMs();
  const since = haNow - (DAYS + 1) * DAY;
  writeFileSync(
    join(dataDir, 'statistics-follow.json'),
    JSON.stringify({ version: 1, fromMs: null, sinceMs: { hour: since, '5minute': since }, periods: { hour: {}, '5minute': {} } }),
  );
  const influx = process.env.INFLUX_V1_URL;
  if (influx !== undefined) await recreateDatabase(influx, 'statistics_bench');
  const env: Record<string, string> = {
    HA_URL: `http://127.0.0.1:${sim.port}`,
    HA_TOKEN: 'bench-token',
    DATA_DIR: dataDir,
    HTTP_PORT: '0',
    SELF_METRICS_INTERVAL_S: '0',
    LOG_LEVEL: 'warn',
  };
  if (influx !== undefined) Object.assign(env, { INFLUX_URL: influx, INFLUX_API: 'v1', INFLUX_DB: 'statistics_bench' });
  const ingestor = await startIngestor(loadConfig(env), { log: pino({ level: 'warn' }), statistics: { limits: { rowsPerRequest, maxIds: 100 } } });
  await sim.waitForSubscribers(1, 30_000);
  // Live events first: the ingestor knows HA's clock from them; then a reconnection starts the follower.
  await sim.emit({ count: 20 });
  await new Promise((r) => setTimeout(r, 500));
  const ends = { hour: compiledUntil(sim.haNowMs(), 'hour', COMPILE_GRACE_MS), '5minute': compiledUntil(sim.haNowMs(), '5minute', COMPILE_GRACE_MS) };
  const points = PERIODS.reduce((n, p) => n + sim.statistics.count(p, since, ends[p], sim.haNowMs()), 0);
  let peakRss = 0;
  const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 200);
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  sim.dropConnections();
  await until(() => {
    const f = JSON.parse(readFileSync(join(dataDir, 'statistics-follow.json'), 'utf8')) as { periods: Record<string, Record<string, number>> };
    const done = PERIODS.every((p) => {
      const c = Object.values(f.periods[p] ?? {});
      return c.length === 100 && Math.min(...c) >= ends[p];
    });
    return done ? true : undefined;
  }, 600_000);
  const seconds = (performance.now() - t0) / 1000;
  const used = process.cpuUsage(cpu);
  clearInterval(rssTimer);
  const asked = sim.statistics;
  const row: Row = {
    rowsPerRequest,
    points,
    seconds: Math.round(seconds * 10) / 10,
    pointsPerSecond: Math.round(points / seconds),
    requests: asked.requests,
    answerBytes: asked.bytes,
    largestAnswerBytes: asked.largest,
    cpuSeconds: Math.round((used.user + used.system) / 1e5) / 10,
    peakRssMb: Math.round(peakRss / 2 ** 20),
  };
  await ingestor.stop();
  await sim.stop();
  rmSync(dataDir, { recursive: true, force: true });
  return row;
}

function markdown(rows: readonly Row[], sink: string): string {
  const mb = (b: number) => (b / 1e6).toFixed(1);
  return [
    `${machine()}; sink: ${sink}; ${DAYS} days of hourly rows × 100 statistics, plus 10 days of 5-minute rows.`,
    '',
    '| rows per request | points | seconds | points/s | HA requests | answer MB | largest answer MB | CPU s (process) | peak RSS MB (process) |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.rowsPerRequest.toLocaleString('en-US')} | ${r.points.toLocaleString('en-US')} | ${r.seconds} | ${r.pointsPerSecond.toLocaleString('en-US')} | ${r.requests} | ${mb(r.answerBytes)} | ${mb(r.largestAnswerBytes)} | ${r.cpuSeconds} | ${r.peakRssMb} |`,
    ),
  ].join('\n');
}

const rows: Row[] = [];
for (const size of CHUNKS) {
  rows.push(await runOnce(size));
  console.log(JSON.stringify(rows.at(-1)));
}
const sink = process.env.INFLUX_V1_URL === undefined ? 'file sink' : 'InfluxDB 1.6.7';
const table = markdown(rows, sink);
console.log(table);
if (!quick) {
  writeFileSync(`${root}bench/results/statistics.json`, `${JSON.stringify({ machine: machine(), sink, rows }, null, 2)}\n`);
  if (!args.has('--no-docs')) writeSection(`${root}docs/benchmarks.md`, 'statistics', table);
}
