/** A real InfluxDB 1.6.7 (`influxd` from Debian's package) that a test can stop and start. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, until } from './ports.js';

export function need(binary: string): string {
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

export async function waitHttp(url: string, proc: ChildProcess, name: string, timeoutMs = 30_000): Promise<void> {
  await until(
    `${name} at ${url}`,
    async () => {
      if (proc.exitCode !== null) throw new Error(`${name} exited with code ${proc.exitCode}`);
      const res = await fetch(url);
      return res.status < 500 ? true : undefined;
    },
    timeoutMs,
    100,
  );
}

export class Influxd {
  private proc: ChildProcess | null = null;

  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly conf: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Writes a configuration for a folder and free ports; `auth` turns on HTTP authentication. */
  static async create(dir: string, opts: { auth?: boolean } = {}): Promise<Influxd> {
    mkdirSync(dir, { recursive: true });
    const [http, rpc] = [await freePort(), await freePort()];
    const conf = join(dir, 'influxdb.conf');
    writeFileSync(
      conf,
      `reporting-enabled = false
bind-address = "127.0.0.1:${rpc}"
[meta]
  dir = "${dir}/meta"
  logging-enabled = false
[data]
  dir = "${dir}/data"
  wal-dir = "${dir}/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:${http}"
  log-enabled = false
  auth-enabled = ${opts.auth === true}
`,
    );
    return new Influxd(dir, http, conf);
  }

  async start(): Promise<void> {
    this.proc = spawn(need('influxd'), ['-config', this.conf], { stdio: 'ignore' });
    await waitHttp(`${this.url}/ping`, this.proc, 'InfluxDB');
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (p === null || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await exited;
    this.proc = null;
  }

  /** Runs InfluxQL; throws on an error answer. */
  async query(q: string, auth?: { user: string; password: string }): Promise<unknown> {
    const credentials = auth ? `?${new URLSearchParams({ u: auth.user, p: auth.password })}` : '';
    const res = await fetch(`${this.url}/query${credentials}`, { method: 'POST', body: new URLSearchParams({ q }) });
    const body = (await res.json()) as { results?: { error?: string }[]; error?: string };
    const error = body.error ?? body.results?.[0]?.error;
    if (error) throw new Error(error);
    return body;
  }
}
