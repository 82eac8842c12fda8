/**
 * The demo's ingestor: the built dist/src/main.js as its own process. Its output is passed on,
 * and its last error line kept, so a failed start can be told in one sentence. stop() ends it
 * whatever state it is in: SIGTERM (it writes what it holds), SIGKILL if it is still there
 * after `graceMs`; no demo path returns without it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export class IngestorChild {
  /** The `msg` of the last log line at level error or worse. */
  lastError = '';
  /** How it ended, in words: "exited with code 1", "was killed by SIGKILL". */
  ended = '';
  readonly exited: Promise<number | null>;
  private readonly proc: ChildProcess;

  constructor(env: NodeJS.ProcessEnv) {
    const main = fileURLToPath(new URL('../main.js', import.meta.url));
    this.proc = spawn(process.execPath, [main], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) =>
      this.proc.once('exit', (code, signal) => {
        this.ended = signal === null ? `exited with code ${code}` : `was killed by ${signal}`;
        resolve(code);
      }),
    );
    let partial = '';
    this.proc.stdout?.on('data', (chunk: Buffer) => {
      process.stdout.write(chunk);
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) this.remember(line);
    });
    this.proc.stderr?.on('data', (chunk: Buffer) => process.stderr.write(chunk));
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  private remember(line: string): void {
    try {
      const entry = JSON.parse(line) as { level?: number; msg?: string };
      if ((entry.level ?? 0) >= 50 && entry.msg) this.lastError = entry.msg;
    } catch {
      // not a log line
    }
  }

  /** Ends the process; resolves with its exit code. */
  async stop(graceMs: number): Promise<number | null> {
    if (this.running) this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}
