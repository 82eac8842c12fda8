/** The real built ingestor (dist/src/main.js) as a child process, as users run it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort, until } from './ports.js';

export const MAIN = fileURLToPath(new URL('../../dist/src/main.js', import.meta.url));

export class IngestorProcess {
  readonly logs: Record<string, unknown>[] = [];
  stderr = '';
  private exited: Promise<number | null>;

  private constructor(
    readonly proc: ChildProcess,
    readonly httpPort: number,
  ) {
    let buffered = '';
    proc.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const l of lines) {
        if (!l) continue;
        try {
          this.logs.push(JSON.parse(l));
        } catch {
          this.logs.push({ msg: l, raw: true });
        }
      }
    });
    proc.stderr?.on('data', (c: Buffer) => (this.stderr += c.toString()));
    this.exited = new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
  }

  /** Starts the ingestor with `env` (plus HTTP_PORT, unless given, and LOG_LEVEL=info). */
  static async start(env: Record<string, string>, args: readonly string[] = []): Promise<IngestorProcess> {
    const httpPort = env.HTTP_PORT ? Number(env.HTTP_PORT) : await freePort();
    const proc = spawn(process.execPath, [MAIN, ...args], {
      env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', HTTP_PORT: String(httpPort), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new IngestorProcess(proc, httpPort);
  }

  /** Runs the ingestor to its exit; resolves with the exit code. */
  static async runToExit(
    env: Record<string, string>,
    timeoutMs = 20_000,
    args: readonly string[] = [],
  ): Promise<{ code: number | null; stderr: string; logs: Record<string, unknown>[] }> {
    const p = await IngestorProcess.start(env, args);
    const timer = setTimeout(() => p.proc.kill('SIGKILL'), timeoutMs);
    const code = await p.exited;
    clearTimeout(timer);
    return { code, stderr: p.stderr, logs: p.logs };
  }

  get exitCode(): Promise<number | null> {
    return this.exited;
  }

  async metrics(): Promise<Map<string, number>> {
    const text = await (await fetch(`http://127.0.0.1:${this.httpPort}/metrics`)).text();
    const out = new Map<string, number>();
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      const i = line.lastIndexOf(' ');
      out.set(line.slice(0, i), Number(line.slice(i + 1)));
    }
    return out;
  }

  async metric(name: string): Promise<number> {
    return (await this.metrics()).get(name) ?? 0;
  }

  async health(): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`http://127.0.0.1:${this.httpPort}/health`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  /** Waits until /health answers 200 (HA subscribed, writes fine). */
  async healthy(timeoutMs = 20_000): Promise<void> {
    await until(
      'ingestor healthy',
      async () => {
        if (this.proc.exitCode !== null) throw new Error(`ingestor exited ${this.proc.exitCode}: ${this.stderr}`);
        return (await this.health()).status === 200 ? true : undefined;
      },
      timeoutMs,
      50,
    );
  }

  /** Waits until points_written_total reaches `n`. */
  async written(n: number, timeoutMs = 60_000): Promise<void> {
    await until(
      `${n} points written`,
      async () => {
        if (this.proc.exitCode !== null) throw new Error(`ingestor exited ${this.proc.exitCode}: ${this.stderr}`);
        return (await this.metric('ha_ingestor_points_written_total')) >= n ? true : undefined;
      },
      timeoutMs,
      100,
    );
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.proc.exitCode === null) this.proc.kill(signal);
    return this.exited;
  }
}
