/**
 * vitest global setup: starts the real databases the integration tests write to, InfluxDB 1.6.7
 * (`influxd`) and VictoriaMetrics (`victoria-metrics`), from Debian's packages, on free loopback
 * ports with their data in a temporary folder, and stops them afterwards.
 * INFLUX_V1_URL / VM_URL point the tests at databases started elsewhere instead.
 * A missing database is a failure, never a skip.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { freePort, until } from '../helpers/ports.js';

declare module 'vitest' {
  export interface ProvidedContext {
    influxV1Url: string;
    vmUrl: string;
  }
}

function need(binary: string): string {
  const found = spawnSync('sh', ['-c', `command -v ${binary}`], { encoding: 'utf8' }).stdout.trim();
  if (found === '') {
    throw new Error(
      `${binary} is not installed. The integration tests write to real databases: ` +
        'run `sudo apt-get install -y influxdb victoria-metrics` (Debian) or `bash scripts/test.sh`, ' +
        'or set INFLUX_V1_URL and VM_URL to running ones.',
    );
  }
  return found;
}

async function waitHttp(url: string, proc: ChildProcess, name: string): Promise<void> {
  await until(`${name} at ${url}`, async () => {
    if (proc.exitCode !== null) throw new Error(`${name} exited with code ${proc.exitCode}`);
    const res = await fetch(url);
    return res.ok ? true : undefined;
  }, 30_000, 100);
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started: ChildProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'ha-ingestor-db-'));
  let influxV1Url = process.env.INFLUX_V1_URL;
  let vmUrl = process.env.VM_URL;

  if (influxV1Url === undefined) {
    const influxd = need('influxd');
    const [http, rpc] = [await freePort(), await freePort()];
    const conf = join(dir, 'influxdb.conf');
    writeFileSync(
      conf,
      `reporting-enabled = false
bind-address = "127.0.0.1:${rpc}"
[meta]
  dir = "${dir}/influx/meta"
  logging-enabled = false
[data]
  dir = "${dir}/influx/data"
  wal-dir = "${dir}/influx/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:${http}"
  log-enabled = false
`,
    );
    const proc = spawn(influxd, ['-config', conf], { stdio: 'ignore' });
    started.push(proc);
    influxV1Url = `http://127.0.0.1:${http}`;
    await waitHttp(`${influxV1Url}/ping`, proc, 'InfluxDB');
  }
  if (vmUrl === undefined) {
    const vm = need('victoria-metrics');
    const port = await freePort();
    const proc = spawn(
      vm,
      [
        `-storageDataPath=${dir}/vm`,
        `-httpListenAddr=127.0.0.1:${port}`,
        '-retentionPeriod=100y',
        // Make a point queryable as soon as it is flushed, so tests poll less.
        '-search.latencyOffset=0s',
        '-search.disableCache',
        '-loggerLevel=ERROR',
      ],
      { stdio: 'ignore' },
    );
    started.push(proc);
    vmUrl = `http://127.0.0.1:${port}`;
    await waitHttp(`${vmUrl}/health`, proc, 'VictoriaMetrics');
  }

  project.provide('influxV1Url', influxV1Url);
  project.provide('vmUrl', vmUrl);

  return async () => {
    for (const p of started) p.kill('SIGTERM');
    await Promise.all(started.map((p) => (p.exitCode !== null ? null : new Promise((r) => p.once('exit', r)))));
    rmSync(dir, { recursive: true, force: true });
  };
}
