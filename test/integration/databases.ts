/**
 * vitest global setup: starts the real databases the integration tests write to, InfluxDB 1.6.7
 * (`influxd`) and VictoriaMetrics (`victoria-metrics`), from Debian's packages, on free loopback
 * ports with their data in a temporary folder, and stops them afterwards.
 * INFLUX_V1_URL / VM_URL point the tests at databases started elsewhere instead.
 * A missing database is a failure, never a skip.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { Influxd } from '../helpers/influxd.js';
import { startVictoriaMetrics } from '../helpers/victoria-metrics.js';

declare module 'vitest' {
  export interface ProvidedContext {
    influxV1Url: string;
    vmUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started: ChildProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'ha-ingestor-db-'));
  let influxV1Url = process.env.INFLUX_V1_URL;
  let vmUrl = process.env.VM_URL;

  let influxd: Influxd | null = null;
  if (influxV1Url === undefined) {
    influxd = await Influxd.create(join(dir, 'influx'));
    await influxd.start();
    influxV1Url = influxd.url;
  }
  if (vmUrl === undefined) {
    const vm = await startVictoriaMetrics(join(dir, 'vm'));
    started.push(vm.proc);
    vmUrl = vm.url;
  }

  project.provide('influxV1Url', influxV1Url);
  project.provide('vmUrl', vmUrl);

  return async () => {
    await influxd?.stop();
    for (const p of started) p.kill('SIGTERM');
    await Promise.all(started.map((p) => (p.exitCode !== null ? null : new Promise((r) => p.once('exit', r)))));
    rmSync(dir, { recursive: true, force: true });
  };
}
