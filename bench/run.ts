/**
 * `npm run bench`: micro-benchmarks, the wire bytes of each HA subscription (wire-bytes.ts), then
 * the end-to-end runs (bare baseline, POOL_SIZE and batch-size sweeps, latency at fixed rates, and
 * with INFLUX_V1_URL set, the bare pipeline, the ingestor and a bulk loader of pre-encoded lines
 * (the database's ceiling) into that InfluxDB), then the footprint rows. Saves JSON under
 * bench/results/ and regenerates the marked parts of docs/benchmarks.md and its charts.
 * Figures in the docs come from here only.
 *
 *   npm run bench                  everything (about 3 minutes on 2 cores, then 7 for the footprint)
 *   npm run bench -- --quick       a short run of each kind (the smoke test uses it)
 *   npm run bench -- --no-docs     leave docs/ alone
 *   npm run bench -- --footprint-only   only the footprint rows (about 7 minutes; bench/e2e/footprint.ts)
 *   npm run bench -- --no-footprint     everything but the footprint rows
 *   INFLUX_V1_URL=… [INFLUXD_PID=…]  the InfluxDB rows too (with the pid: the database's CPU per point)
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type FullSpeedPeak, footprintChart, footprintMarkdown, runFootprint } from './e2e/footprint.js';
import { bulkLoad, run, type RunResult, type RunSpec } from './e2e/harness.js';
import { barChart } from './e2e/svg.js';
import { machine } from './machine.js';
import { replaceSection } from './benchmarks-doc.js';
import { runMicro, type MicroResult } from './micro.js';
import { measureWireBytes, wireBytesMarkdown } from './wire-bytes.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const args = new Set(process.argv.slice(2));
const quick = args.has('--quick');
const writeDocs = !args.has('--no-docs') && !quick;
const footprintOnly = args.has('--footprint-only');
const withFootprint = !args.has('--no-footprint');
const resultsDir = process.env.BENCH_RESULTS_DIR ?? `${root}bench/results`;
/** 10,000 events a day, the stated need. */
const NEED_PER_SECOND = 10_000 / 86_400;

function microTable(results: MicroResult[]): string {
  const rows = results.map(
    (r) => `| ${r.group} | ${r.name} | ${r.nsPerEvent < 10 ? r.nsPerEvent.toFixed(2) : Math.round(r.nsPerEvent).toLocaleString('en-US')} |`,
  );
  return ['| where | step | ns per event |', '|---|---|---:|', ...rows].join('\n');
}

function e2eSpecs(): RunSpec[] {
  const n = quick ? 20_000 : 150_000;
  const deadlineMs = quick ? 60_000 : 120_000;
  const specs: RunSpec[] = [
    { name: 'bare single-thread pipeline', system: 'bare', events: n, rate: null, deadlineMs },
    { name: 'ingestor POOL_SIZE=1 (default here)', system: 'ingestor', events: n, rate: null, env: { POOL_SIZE: '1' }, deadlineMs },
  ];
  if (!quick) {
    specs.push(
      { name: 'ingestor POOL_SIZE=0', system: 'ingestor', events: n, rate: null, env: { POOL_SIZE: '0' }, deadlineMs },
      { name: 'ingestor POOL_SIZE=2', system: 'ingestor', events: n, rate: null, env: { POOL_SIZE: '2' }, deadlineMs },
      { name: 'ingestor POOL_SIZE=4', system: 'ingestor', events: n, rate: null, env: { POOL_SIZE: '4' }, deadlineMs },
      { name: 'ingestor BATCH_MAX_LINES=1000', system: 'ingestor', events: n, rate: null, env: { BATCH_MAX_LINES: '1000' }, deadlineMs },
      { name: 'ingestor BATCH_MAX_LINES=20000', system: 'ingestor', events: n, rate: null, env: { BATCH_MAX_LINES: '20000' }, deadlineMs },
      { name: 'bare single-thread pipeline (again)', system: 'bare', events: n, rate: null, deadlineMs },
    );
  }
  specs.push(
    { name: 'ingestor at 1,000 events/s', system: 'ingestor', events: quick ? 2_000 : 5_000, rate: 1_000, deadlineMs },
    { name: 'ingestor at 10,000 events/s', system: 'ingestor', events: quick ? 20_000 : 50_000, rate: 10_000, deadlineMs },
  );
  const influxUrl = process.env.INFLUX_V1_URL;
  // With the database's pid, its CPU per point is measured too (what limits the ingestor there).
  const dbPid = process.env.INFLUXD_PID === undefined ? undefined : Number(process.env.INFLUXD_PID);
  // Into the real database: the bare pipeline (same batching as the ingestor's defaults) on each
  // side of the ingestor, so that the ratio is taken in the same run.
  if (influxUrl !== undefined)
    specs.push(
      { name: 'bare pipeline into InfluxDB 1.x', system: 'bare', events: n, rate: null, influxUrl, dbPid, deadlineMs: deadlineMs * 2 },
      { name: 'ingestor into InfluxDB 1.x', system: 'ingestor', events: n, rate: null, influxUrl, dbPid, deadlineMs: deadlineMs * 2 },
      ...(quick
        ? []
        : [{ name: 'bare pipeline into InfluxDB 1.x (again)', system: 'bare' as const, events: n, rate: null, influxUrl, dbPid, deadlineMs: deadlineMs * 2 }]),
    );
  return specs;
}

function e2eTable(results: readonly RunResult[]): string {
  const rows = results.map((r) =>
    [
      r.name,
      r.sink,
      r.rate === null ? 'max' : r.rate.toLocaleString('en-US'),
      r.eventsPerSecond.toLocaleString('en-US'),
      r.latencyMs ? `${r.latencyMs.p50} / ${r.latencyMs.p99}` : '—',
      r.cpuMicrosPerEvent,
      r.peakRssMb,
      r.eventLoopLagP99Ms ?? '—',
      `${r.received.toLocaleString('en-US')} / ${r.expected.toLocaleString('en-US')}${r.lost === 0 ? '' : ` (**${r.lost} lost**)`}`,
    ].join(' | '),
  );
  return [
    '| run | sink | offered | events/s | latency p50 / p99 (ms) | CPU µs per event (= s per 1 M) | peak RSS (MB) | event-loop lag p99 (ms) | points received / expected |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r} |`),
  ].join('\n');
}

async function speed(): Promise<void> {
  const at = machine();
  mkdirSync(resultsDir, { recursive: true });
  const micro = await runMicro(quick ? 100 : 400);
  writeFileSync(`${resultsDir}/micro.json`, `${JSON.stringify({ machine: at, results: micro }, null, 2)}\n`);
  console.log(`micro-benchmarks on ${at}`);
  console.table(micro.map((r) => ({ where: r.group, step: r.name, 'ns/event': Math.round(r.nsPerEvent * 100) / 100 })));
  const wireBytes = measureWireBytes();
  writeFileSync(`${resultsDir}/wire-bytes.json`, `${JSON.stringify({ machine: at, ...wireBytes }, null, 2)}\n`);
  const wireBytesDoc = wireBytesMarkdown(wireBytes, at);
  console.log(wireBytesDoc);

  const results: RunResult[] = [];
  for (const spec of e2eSpecs()) {
    const r = await run(spec);
    results.push(r);
    console.log(
      `${r.name}: ${r.eventsPerSecond} events/s, ${r.cpuMicrosPerEvent} CPU-µs/event, peak RSS ${r.peakRssMb} MB, ${r.received}/${r.expected} points${r.latencyMs ? `, latency p50 ${r.latencyMs.p50} ms p99 ${r.latencyMs.p99} ms` : ''}`,
    );
  }
  const bare = results.filter((r) => r.system === 'bare' && r.sink === 'counting sink');
  const bareRate = bare.reduce((a, r) => a + r.eventsPerSecond, 0) / Math.max(1, bare.length);
  const best = results
    .filter((r) => r.system === 'ingestor' && r.rate === null && r.sink === 'counting sink')
    .sort((a, b) => b.eventsPerSecond - a.eventsPerSecond)[0];
  const defaultRun = results.find((r) => r.name.startsWith('ingestor POOL_SIZE=1'));
  let bulk: { points: number; seconds: number; dbCpuMicrosPerPoint: number | null } | null = null;
  const influxRun = results.find((r) => r.sink === 'InfluxDB' && r.system === 'ingestor');
  const bareInflux = results.filter((r) => r.sink === 'InfluxDB' && r.system === 'bare');
  const bareInfluxRate = bareInflux.reduce((a, r) => a + r.eventsPerSecond, 0) / Math.max(1, bareInflux.length);
  if (process.env.INFLUX_V1_URL !== undefined)
    bulk = await bulkLoad(
      process.env.INFLUX_V1_URL,
      quick ? 20_000 : 150_000,
      process.env.INFLUXD_PID === undefined ? undefined : Number(process.env.INFLUXD_PID),
    );
  const summary = {
    machine: at,
    bareEventsPerSecond: Math.round(bareRate),
    defaultEventsPerSecond: defaultRun?.eventsPerSecond ?? 0,
    ratioDefaultToBare: defaultRun ? Math.round((defaultRun.eventsPerSecond / bareRate) * 100) / 100 : 0,
    best: best ? { name: best.name, eventsPerSecond: best.eventsPerSecond, ratioToBare: Math.round((best.eventsPerSecond / bareRate) * 100) / 100 } : null,
    headroomOrdersOfMagnitude: defaultRun ? Math.round(Math.log10(defaultRun.eventsPerSecond / NEED_PER_SECOND) * 10) / 10 : 0,
    influx:
      influxRun && bulk
        ? {
            ingestorPointsPerSecond: influxRun.eventsPerSecond,
            barePointsPerSecond: Math.round(bareInfluxRate),
            ratioToBare: bareInfluxRate > 0 ? Math.round((influxRun.eventsPerSecond / bareInfluxRate) * 100) / 100 : 0,
            dbCpuMicrosPerPoint: {
              ingestor: influxRun.dbCpuMicrosPerEvent,
              bare: bareInflux[0]?.dbCpuMicrosPerEvent ?? null,
              bulkLoader: bulk.dbCpuMicrosPerPoint,
            },
            bulkLoaderPointsPerSecond: Math.round(bulk.points / bulk.seconds),
            ratio: Math.round((influxRun.eventsPerSecond / (bulk.points / bulk.seconds)) * 100) / 100,
          }
        : null,
    zeroLoss: results.every((r) => r.lost === 0),
  };
  writeFileSync(`${resultsDir}/e2e.json`, `${JSON.stringify({ summary, results }, null, 2)}\n`);
  console.log(JSON.stringify(summary, null, 2));

  if (!writeDocs) return;
  const docPath = `${root}docs/benchmarks.md`;
  let doc = readFileSync(docPath, 'utf8');
  doc = replaceSection(doc, 'micro', `Measured on ${at}.\n\n${microTable(micro)}`);
  doc = replaceSection(doc, 'wire-bytes', wireBytesDoc);
  const lines = [
    `Measured on ${at}; the simulator, the system under test and the counting sink each in their own process on the same 2 cores.`,
    '',
    `- Ingestor (POOL_SIZE=1, the default on 2 cores) ÷ bare single-thread pipeline, same run: **${summary.ratioDefaultToBare}** (${summary.defaultEventsPerSecond.toLocaleString('en-US')} vs ${summary.bareEventsPerSecond.toLocaleString('en-US')} events/s); best configuration: ${summary.best ? `${summary.best.name}, ${summary.best.eventsPerSecond.toLocaleString('en-US')} events/s (${summary.best.ratioToBare}×)` : '—'}.`,
    `- Headroom over 10,000 events/day (0.12 events/s): **10^${summary.headroomOrdersOfMagnitude}**, i.e. ${summary.headroomOrdersOfMagnitude} orders of magnitude.`,
    summary.influx
      ? `- Into InfluxDB 1.x, same run: ingestor ÷ bare pipeline **${summary.influx.ratioToBare}** (${summary.influx.ingestorPointsPerSecond.toLocaleString('en-US')} vs ${summary.influx.barePointsPerSecond.toLocaleString('en-US')} points/s); the database's own ceiling, a bulk loader of pre-encoded lines: ${summary.influx.bulkLoaderPointsPerSecond.toLocaleString('en-US')} points/s (ingestor ÷ bulk loader ${summary.influx.ratio}).`
      : '- Into InfluxDB: not measured in this run (set INFLUX_V1_URL to a running InfluxDB 1.x).',
    ...(summary.influx?.dbCpuMicrosPerPoint.ingestor != null
      ? [
          `- InfluxDB's own CPU per point written, same run: ${summary.influx.dbCpuMicrosPerPoint.ingestor} µs for the ingestor's points (every attribute a field), ${summary.influx.dbCpuMicrosPerPoint.bare} µs for the bare pipeline's (one field, one tag), ${summary.influx.dbCpuMicrosPerPoint.bulkLoader} µs for the bulk loader's (the ingestor's lines).`,
        ]
      : []),
    `- Zero loss in every run: **${summary.zeroLoss ? 'yes' : 'NO'}**.`,
    '',
    e2eTable(results),
    '',
    '![events per second by configuration](bench-throughput.svg)',
    '',
    '![latency from HA timestamp to the sink, at fixed rates](bench-latency.svg)',
  ];
  doc = replaceSection(doc, 'e2e', lines.join('\n'));
  writeFileSync(docPath, doc);
  const chartRows = results
    .filter((r) => r.rate === null)
    .map((r) => ({
      label: r.name.replace('ingestor ', '').replace(' single-thread pipeline', ''),
      value: r.eventsPerSecond,
      highlight: r.system === 'ingestor',
    }));
  writeFileSync(`${root}docs/bench-throughput.svg`, barChart('End-to-end events per second (same machine, same run)', 'ev/s', chartRows));
  const latencyRows = results
    .filter((r) => r.latencyMs !== null)
    .flatMap((r) => [
      { label: `${(r.rate as number).toLocaleString('en-US')} ev/s p50`, value: r.latencyMs?.p50 ?? 0 },
      { label: `${(r.rate as number).toLocaleString('en-US')} ev/s p99`, value: r.latencyMs?.p99 ?? 0, highlight: true },
      { label: `${(r.rate as number).toLocaleString('en-US')} ev/s max`, value: r.latencyMs?.max ?? 0 },
    ]);
  writeFileSync(`${root}docs/bench-latency.svg`, barChart('Latency, HA timestamp → sink (FLUSH_INTERVAL_MS=1000)', 'ms', latencyRows));
  console.log('docs/benchmarks.md, docs/bench-throughput.svg and docs/bench-latency.svg regenerated');
}

/** The peak RSS of the default full-speed run, from e2e.json (this run's, unless --footprint-only). */
function fullSpeedPeak(): FullSpeedPeak | null {
  try {
    const e2e = JSON.parse(readFileSync(`${resultsDir}/e2e.json`, 'utf8')) as { summary: { machine: string }; results: RunResult[] };
    const r = e2e.results.find((x) => x.name.startsWith('ingestor POOL_SIZE=1'));
    return r === undefined ? null : { name: r.name, peakRssMb: r.peakRssMb, machine: e2e.summary.machine };
  } catch {
    return null;
  }
}

/** The footprint rows (idle, home rates, the floor): JSON, then their section of the docs. */
async function footprint(): Promise<void> {
  mkdirSync(resultsDir, { recursive: true });
  const result = await runFootprint(machine(), quick);
  writeFileSync(`${resultsDir}/footprint.json`, `${JSON.stringify(result, null, 2)}\n`);
  if (!writeDocs) return;
  const docPath = `${root}docs/benchmarks.md`;
  writeFileSync(docPath, replaceSection(readFileSync(docPath, 'utf8'), 'footprint', footprintMarkdown(result, fullSpeedPeak())));
  writeFileSync(`${root}docs/bench-footprint.svg`, footprintChart(result));
  console.log('the footprint section of docs/benchmarks.md and docs/bench-footprint.svg regenerated');
}

if (!footprintOnly) await speed();
if (withFootprint || footprintOnly) await footprint();
