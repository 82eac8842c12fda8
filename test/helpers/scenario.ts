/**
 * One end-to-end scenario: the HA simulator, the built ingestor as a child process with its own
 * data folder, and an InfluxDB 1.x database, with what the database must end up holding.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HaSimulator, type SimulatorOptions } from '../../src/sim/server.js';
import { createInfluxV1Database, expectedPoints, expectSamePoints, readInfluxV1, type ExpectedPoint } from './expected.js';
import { IngestorProcess } from './ingestor.js';

export class Scenario {
  ingestor: IngestorProcess | null = null;
  readonly dataDir = mkdtempSync(join(tmpdir(), 'ha-ingestor-data-'));

  private constructor(
    readonly sim: HaSimulator,
    readonly influxUrl: string,
    readonly db: string,
    private readonly env: Record<string, string>,
    private readonly auth: { user: string; password: string } | undefined,
  ) {}

  static async start(opts: {
    influxUrl: string;
    db: string;
    sim?: Partial<SimulatorOptions>;
    env?: Record<string, string>;
    /** Credentials to read the database back with (it exists already). */
    readAuth?: { user: string; password: string };
    waitHealthy?: boolean;
    /** Command-line arguments of the first start (e.g. --import-history). */
    args?: readonly string[];
  }): Promise<Scenario> {
    const sim = new HaSimulator({ token: 'test-token', entities: 250, seed: 11, ...opts.sim });
    await sim.start();
    if (opts.readAuth === undefined) await createInfluxV1Database(opts.influxUrl, opts.db);
    const sc = new Scenario(sim, opts.influxUrl, opts.db, opts.env ?? {}, opts.readAuth);
    await sc.startIngestor({}, opts.waitHealthy ?? true, opts.args);
    return sc;
  }

  get ingestorEnv(): Record<string, string> {
    return {
      HA_URL: `http://127.0.0.1:${this.sim.port}`,
      HA_TOKEN: 'test-token',
      INFLUX_URL: this.influxUrl,
      INFLUX_API: 'v1',
      INFLUX_DB: this.db,
      DATA_DIR: this.dataDir,
      ...this.env,
    };
  }

  async startIngestor(extra: Record<string, string> = {}, waitHealthy = true, args: readonly string[] = []): Promise<IngestorProcess> {
    this.ingestor = await IngestorProcess.start({ ...this.ingestorEnv, ...extra }, args);
    if (waitHealthy) await this.ingestor.healthy(30_000);
    else await this.sim.waitForSubscribers(1, 30_000);
    return this.ingestor;
  }

  /** Every snapshot state and every emitted state change (delivered live or not). */
  expected(): ExpectedPoint[] {
    return expectedPoints([...this.sim.snapshotStates.values()], this.sim.emitted);
  }

  /**
   * Polls the database until it holds exactly the expected points; then asserts it in detail.
   * `leaveOut`: points of entities a test cannot hold the ingestor to, on both sides.
   */
  async expectDatabaseComplete(timeoutMs = 120_000, leaveOut: (entityId: string) => boolean = () => false): Promise<void> {
    const expected = this.expected().filter((p) => !leaveOut(p.entityId));
    const deadline = Date.now() + timeoutMs;
    let actual: ExpectedPoint[] = [];
    const key = (p: ExpectedPoint) => `${p.entityId}\u0000${p.time}\u0000${p.value}\u0000${p.state}`;
    const want = new Set(expected.map(key));
    while (Date.now() < deadline) {
      actual = (await readInfluxV1(this.influxUrl, this.db, this.auth)).filter((p) => !leaveOut(p.entityId));
      if (actual.length === expected.length && actual.every((p) => want.has(key(p)))) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    expectSamePoints(actual, expected);
  }

  async stop(): Promise<void> {
    await this.ingestor?.stop('SIGKILL');
    await this.sim.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
