/**
 * One demo run, built in data-flow order with a disposer for each part: the demo's fresh folder,
 * the HA simulator (a system-chosen port), the ingestor process (a free HTTP port). Every wait
 * is raced against the ingestor exiting early and against interrupt(): a failure or a signal
 * ends the wait at once, and dispose() (always run) stops the ingestor and then the simulator.
 */
import { HaSimulator } from '../sim/server.js';
import { IngestorChild } from './child.js';
import { countPoints, type Counted } from './count.js';
import { DemoError } from './errors.js';
import { freshDemoFolder } from './folder.js';
import type { DemoOptions } from './options.js';
import { httpPortFor } from './ports.js';
import { Progress, readMetrics } from './progress.js';

/** What the summary reports. */
export interface DemoResult {
  readonly emitted: number;
  readonly snapshot: number;
  readonly expected: number;
  readonly exitCode: number | null;
  readonly seconds: number;
  /** null when the points went to a database. */
  readonly counted: Counted | null;
}

/** SIGTERM to SIGKILL: the ingestor's own SHUTDOWN_TIMEOUT_MS (10 s) and some. */
const STOP_GRACE_MS = 15_000;

export class DemoRun {
  private readonly disposers: (() => Promise<void>)[] = [];
  private readonly interrupted: Promise<never>;
  private interruptWith: (err: DemoError) => void = () => {};
  private child: IngestorChild | null = null;
  /** Set once the demo itself stops the ingestor: its exit is then expected. */
  private stopping = false;

  constructor(
    private readonly opts: DemoOptions,
    private readonly log: (line: string) => void,
  ) {
    this.interrupted = new Promise<never>((_, reject) => (this.interruptWith = reject));
    this.interrupted.catch(() => {});
  }

  /** Ends the run as soon as possible (a signal): run() rejects with `err` after cleaning up. */
  interrupt(err: DemoError): void {
    this.interruptWith(err);
  }

  async run(): Promise<DemoResult> {
    try {
      return await this.steps();
    } finally {
      await this.dispose();
    }
  }

  private async steps(): Promise<DemoResult> {
    const { opts } = this;
    await this.guard(freshDemoFolder(opts.dataDir, opts.defaultDataDir));
    const httpPort = await this.guard(httpPortFor(opts.httpPort));
    const sim = new HaSimulator({ token: 'demo-token', entities: 300, seed: 2024 });
    await this.guard(sim.start());
    this.disposers.push(() => sim.stop());
    const child = this.startIngestor(sim.port, httpPort);
    const target = opts.toFiles ? `${opts.dataDir}/out` : withoutCredentials(process.env.INFLUX_URL ?? '');
    this.log(`HA simulator on port ${sim.port}; ingestor pid ${child.pid} writing to ${target}; /metrics on :${httpPort}`);
    await this.guard(sim.waitForSubscribers(1, 30_000));

    const progress = new Progress(httpPort, opts.events);
    this.disposers.push(async () => progress.stop());
    const started = Date.now();
    await this.guard(sim.emit({ count: opts.events, rate: opts.rate }));
    const expected = sim.lastSnapshot.length + sim.emittedCount;
    await this.guard(this.written(httpPort, expected, started));
    progress.stop();
    this.stopping = true;
    const exitCode = await child.stop(STOP_GRACE_MS);
    const seconds = (Date.now() - started) / 1000;
    const counted = opts.toFiles ? await countPoints(`${opts.dataDir}/out`) : null;
    return { emitted: sim.emittedCount, snapshot: sim.lastSnapshot.length, expected, exitCode, seconds, counted };
  }

  private startIngestor(haPort: number, httpPort: number): IngestorChild {
    const dir = this.opts.dataDir;
    const child = new IngestorChild({
      ...process.env,
      HA_URL: `http://127.0.0.1:${haPort}`,
      HA_TOKEN: 'demo-token',
      // All of its state in the demo's fresh folder, whatever the shell has set.
      DATA_DIR: dir,
      SPOOL_DIR: `${dir}/spool`,
      DEAD_LETTER_DIR: `${dir}/dead-letter`,
      HTTP_PORT: String(httpPort),
      HTTP_HOST: '127.0.0.1',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    });
    this.child = child;
    this.disposers.push(async () => {
      this.stopping = true;
      await child.stop(STOP_GRACE_MS);
    });
    return child;
  }

  /** Until the ingestor has written `expected` points (or a deadline from the run's size passes). */
  private async written(httpPort: number, expected: number, started: number): Promise<void> {
    const deadline = started + 120_000 + (this.opts.events / this.opts.rate) * 1000;
    while (Date.now() < deadline) {
      const m = await readMetrics(httpPort).catch(() => new Map<string, number>());
      if ((m.get('ha_ingestor_points_written_total') ?? 0) >= expected) return;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** `step`, unless the ingestor exits or the run is interrupted first. */
  private guard<T>(step: Promise<T>): Promise<T> {
    const races: Promise<T>[] = [step, this.interrupted];
    const child = this.child;
    if (child !== null) {
      races.push(
        child.exited.then(() => {
          if (this.stopping) return new Promise<never>(() => {});
          const why = child.lastError === '' ? 'its output above says why' : child.lastError;
          throw new DemoError('DEMO_INGESTOR_EXITED', `the ingestor (pid ${child.pid}) ${child.ended} before the demo was done: ${why}`);
        }),
      );
    }
    return Promise.race(races);
  }

  /** Newest part first; every disposer runs even if one fails. */
  private async dispose(): Promise<void> {
    for (const d of this.disposers.splice(0).reverse()) await d().catch(() => {});
  }
}

/** A database URL as it may be shown: no user, password or query (a token may ride there). */
function withoutCredentials(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(INFLUX_URL)';
  }
}
