/**
 * End to end with real parts: the simulator speaks HA's protocol on a socket, the built ingestor
 * runs as its own process, and the points land in real databases (InfluxDB 1.6.7 through /write,
 * VictoriaMetrics through /api/v2/write). The databases' contents are compared, point by point,
 * with what the simulator emitted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { HaSimulator } from '../../src/sim/server.js';
import { createInfluxV1Database, expectedPoints, expectSamePoints, expectSameSamples, readInfluxV1, readVm, vmExpected } from '../helpers/expected.js';
import { IngestorProcess } from '../helpers/ingestor.js';
import { until } from '../helpers/ports.js';
import { type RunningVm, startVictoriaMetrics } from '../helpers/victoria-metrics.js';

interface Sink {
  name: string;
  /** Prepares an empty target; returns the ingestor's database variables. */
  prepare(run: string): Promise<Record<string, string>>;
  /** Asserts that the database holds exactly what the simulator emitted. */
  verify(sim: HaSimulator, run: string): Promise<void>;
}

const sinks: Sink[] = [
  {
    name: 'InfluxDB 1.6.7 (v1 /write)',
    async prepare(run) {
      await createInfluxV1Database(inject('influxV1Url'), run);
      return { INFLUX_URL: inject('influxV1Url'), INFLUX_API: 'v1', INFLUX_DB: run };
    },
    async verify(sim, run) {
      expectSamePoints(await readInfluxV1(inject('influxV1Url'), run), expectedPoints(sim.lastSnapshot, sim.emitted));
    },
  },
  {
    // A VictoriaMetrics of its own for each run, not series deleted between runs: series written
    // again soon after a delete_series could stay invisible to export (seen once in CI: 214
    // snapshot samples of entities the run before had written).
    name: 'VictoriaMetrics (v2 /api/v2/write)',
    async prepare() {
      vm = await startVictoriaMetrics(mkdtempSync(join(tmpdir(), 'ha-ingestor-vm-')));
      return {
        INFLUX_URL: vm.url,
        INFLUX_API: 'v2',
        INFLUX_TOKEN: 'unused-by-vm',
        INFLUX_ORG: 'home',
        INFLUX_BUCKET: 'ha',
        INFLUX_FLAVOR: 'victoriametrics',
      };
    },
    async verify(sim) {
      expectSameSamples(await readVm((vm as RunningVm).url), vmExpected(expectedPoints(sim.lastSnapshot, sim.emitted)));
    },
  },
];

let sim: HaSimulator | null = null;
let vm: RunningVm | null = null;
let ingestor: IngestorProcess | null = null;
let dataDir = '';
afterEach(async () => {
  await ingestor?.stop('SIGKILL');
  await sim?.stop();
  await vm?.stop();
  if (vm !== null) rmSync(vm.dir, { recursive: true, force: true });
  vm = null;
  rmSync(dataDir, { recursive: true, force: true });
  sim = null;
  ingestor = null;
});

async function runScenario(sink: Sink, run: string, opts: { mode: 'modern' | 'old'; events: number; rate?: number; env?: Record<string, string> }) {
  sim = new HaSimulator({ token: 'test-token', mode: opts.mode, entities: 300, seed: run.length });
  await sim.start();
  const dbEnv = await sink.prepare(run);
  dataDir = mkdtempSync(join(tmpdir(), 'ha-ingestor-data-'));
  ingestor = await IngestorProcess.start({
    HA_URL: `http://127.0.0.1:${sim.port}`,
    HA_TOKEN: 'test-token',
    DATA_DIR: dataDir,
    SELF_METRICS_INTERVAL_S: '0',
    ENRICH_PRESENCE: 'false',
    ENRICH_WEATHER: 'false',
    ...dbEnv,
    ...opts.env,
  });
  await ingestor.healthy();
  await sim.emit({ count: opts.events, rate: opts.rate, newEntityEvery: 997, removeEvery: 1499 });

  const expected = sim.lastSnapshot.length + sim.emitted.length;
  await ingestor.written(expected, 120_000);
  // The invariant, seen from outside: idle, nothing is held, and the watermark (HA's time) has
  // reached the last event written.
  const lastUs = Math.max(...sim.emitted.map((e) => e.lastUpdatedUs));
  const settled = await until(
    'nothing held',
    async () => {
      const { body } = await (ingestor as IngestorProcess).health();
      return body.heldBatches === 0 && Date.parse(String(body.watermark)) >= Math.floor(lastUs / 1000) ? body : undefined;
    },
    10_000,
    50,
  );
  expect(settled.heldBatches).toBe(0);
  expect(await ingestor.stop('SIGTERM')).toBe(0);
  const m = (name: string) => ingestor?.logs.find((l) => l.msg === 'stopped')?.[name];
  expect(m('written')).toBe(expected);
  expect(m('spooledAtExit')).toBe(0);
  expect(sim.slowReaderDisconnects).toBe(0);
  expect(new Set(sim.emitted.map((e) => e.entityId)).size).toBeGreaterThanOrEqual(200);
  await sink.verify(sim, run);
  return { expected };
}

describe.each(sinks)('into $name', (sink) => {
  it("modern HA (coalesced frames) at the simulator's maximum rate: every event, exact, none extra", async () => {
    const events = sink.name.startsWith('InfluxDB') ? 50_000 : 12_000;
    const { expected } = await runScenario(sink, `modern_${events}`, { mode: 'modern', events });
    expect(expected).toBeGreaterThan(events);
  });

  it('older HA (no coalescing, no last_reported, 512-message slow-reader limit), POOL_SIZE=0', async () => {
    await runScenario(sink, 'old_ha', { mode: 'old', events: 3_000, env: { POOL_SIZE: '0' } });
  });
});
