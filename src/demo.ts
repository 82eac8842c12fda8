#!/usr/bin/env node
/**
 * `npm run demo`: the whole pipeline with nothing else installed. Starts the HA simulator, runs
 * the real ingestor as its own process against it, writing gzip line-protocol files to
 * ./data/demo/out (or to InfluxDB when INFLUX_URL and friends are set), shows progress, and ends
 * with a summary that checks nothing was lost.
 *
 * DEMO_EVENTS (default 20000) and DEMO_RATE (events/s, default 2000) size the run. Every run
 * starts from an empty DATA_DIR (src/demo/folder.ts), so it gives the same verdict every time;
 * the ports are free ones; a failure or Ctrl-C stops the ingestor and exits non-zero with one
 * message (src/demo/run.ts). Exit codes: 0 zero loss, 1 a loss or a failure, 128+n a signal.
 */
import { DemoError } from './demo/errors.js';
import { demoOptions } from './demo/options.js';
import { DemoRun, type DemoResult } from './demo/run.js';

function summary(r: DemoResult, outDir: string): string {
  const c = r.counted;
  const files = c
    ? `
  files                   ${c.files} in ${outDir}
  points of HA states     ${c.states}
  derived points          ${c.derived} (home_presence, weather_observation, ha_ingestor)
  zero loss               ${c.states === r.expected ? 'yes' : `NO: expected ${r.expected}`}`
    : '';
  return `${process.stdout.isTTY ? '\n' : ''}
summary
  state changes emitted   ${r.emitted} (+ ${r.snapshot} snapshot states)
  ingestor exit code      ${r.exitCode}
  run time                ${r.seconds.toFixed(1)} s${files}
${c ? `Try: zcat ${outDir}/points-*.lp.gz | head` : ''}`;
}

const opts = demoOptions(process.env);
if ('problems' in opts) {
  process.stderr.write(`demo: invalid settings:\n  - ${opts.problems.join('\n  - ')}\n`);
  process.exit(2);
}
const run = new DemoRun(opts, (line) => console.log(line));
const SIGNALS = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as const;
for (const [name, n] of Object.entries(SIGNALS)) {
  process.once(name, () => run.interrupt(new DemoError('DEMO_INTERRUPTED', `interrupted by ${name}; the ingestor was stopped`, { exitCode: 128 + n })));
}
try {
  const r = await run.run();
  console.log(summary(r, `${opts.dataDir}/out`));
  process.exit(r.exitCode === 0 && (r.counted === null || r.counted.states === r.expected) ? 0 : 1);
} catch (err) {
  process.stderr.write(`${process.stdout.isTTY ? '\n' : ''}demo failed: ${(err as Error).message}\n`);
  process.exit(err instanceof DemoError ? err.exitCode : 1);
}
