#!/usr/bin/env node
/**
 * `npm run demo`: the whole pipeline with nothing else installed. Starts the HA simulator, runs
 * the real ingestor as its own process against it, writing gzip line-protocol files to
 * ./data/demo/out (or to InfluxDB when INFLUX_URL and friends are set), shows progress, and ends
 * with a summary that checks nothing was lost.
 *
 * DEMO_EVENTS (default 20000) and DEMO_RATE (events/s, default 2000) size the run.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { HaSimulator } from './sim/server.js';
import { splitLines } from '../workers/line-protocol.js';

const events = Number(process.env.DEMO_EVENTS ?? 20_000);
const rate = Number(process.env.DEMO_RATE ?? 2_000);
const dataDir = process.env.DATA_DIR ?? join('data', 'demo');
const httpPort = Number(process.env.HTTP_PORT ?? 18099);
const toFiles = !process.env.INFLUX_URL;
const outDir = join(dataDir, 'out');
const tty = process.stdout.isTTY === true;

async function metrics(): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line && !line.startsWith('#')) m.set(line.slice(0, line.lastIndexOf(' ')), Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return m;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

if (toFiles) rmSync(outDir, { recursive: true, force: true });
const sim = new HaSimulator({ token: 'demo-token', entities: 300, seed: 2024 });
await sim.start();
const main = fileURLToPath(new URL('./main.js', import.meta.url));
const child = spawn(process.execPath, [main], {
  env: {
    ...process.env,
    HA_URL: `http://127.0.0.1:${sim.port}`,
    HA_TOKEN: 'demo-token',
    DATA_DIR: dataDir,
    HTTP_PORT: String(httpPort),
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
  },
  stdio: ['ignore', 'inherit', 'inherit'],
});
const exited = new Promise<number | null>((r) => child.once('exit', r));
console.log(`HA simulator on port ${sim.port}; ingestor pid ${child.pid} writing to ${toFiles ? outDir : process.env.INFLUX_URL}; /metrics on :${httpPort}`);
await sim.waitForSubscribers(1, 30_000);

let last = { at: Date.now(), events: 0 };
const progress = setInterval(() => {
  void metrics()
    .then((m) => {
      const received = m.get('ha_ingestor_events_received_total') ?? 0;
      const now = Date.now();
      const perSecond = ((received - last.events) * 1000) / (now - last.at);
      last = { at: now, events: received };
      const line = `events ${received}/${events}  ${Math.round(perSecond)}/s  written ${m.get('ha_ingestor_points_written_total') ?? 0}  in flight ${m.get('ha_ingestor_encoder_batches_in_flight') ?? 0} batches, ${m.get('ha_ingestor_writer_queue_lines') ?? 0} points  spool ${m.get('ha_ingestor_spool_bytes') ?? 0} B`;
      process.stdout.write(tty ? `\r${line.padEnd(100)}` : `${line}\n`);
    })
    .catch(() => {});
}, 1000);

const started = Date.now();
await sim.emit({ count: events, rate });
const expected = sim.lastSnapshot.length + sim.emittedCount;
for (;;) {
  const m = await metrics();
  if ((m.get('ha_ingestor_points_written_total') ?? 0) >= expected) break;
  if (Date.now() - started > 120_000 + (events / rate) * 1000) break;
  await sleep(200);
}
clearInterval(progress);
child.kill('SIGTERM');
const code = await exited;
await sim.stop();

// Points of HA states, and the ones the ingestor derives (presence, weather, its own health).
const DERIVED = /^(home_presence|weather_observation|ha_ingestor)[ ,]/;
let lines = 0;
let derived = 0;
const files = toFiles ? readdirSync(outDir).filter((f) => f.startsWith('points-')) : [];
for (const f of files) {
  const raw = readFileSync(join(outDir, f));
  // splitLines: a state with a line feed keeps it raw inside its string field.
  for (const line of splitLines(f.endsWith('.gz') ? gunzipSync(raw) : raw)) {
    if (DERIVED.test(line)) derived++;
    else lines++;
  }
}
const seconds = (Date.now() - started) / 1000;
console.log(`${tty ? '\n' : ''}
summary
  state changes emitted   ${sim.emittedCount} (+ ${sim.lastSnapshot.length} snapshot states)
  ingestor exit code      ${code}
  run time                ${seconds.toFixed(1)} s${
    toFiles
      ? `
  files                   ${files.length} in ${outDir}
  points of HA states     ${lines}
  derived points          ${derived} (home_presence, weather_observation, ha_ingestor)
  zero loss               ${lines === expected ? 'yes' : `NO: expected ${expected}`}`
      : ''
  }
Try: zcat ${outDir}/points-*.lp.gz | head`);
process.exit(code === 0 && (!toFiles || lines === expected) ? 0 : 1);
