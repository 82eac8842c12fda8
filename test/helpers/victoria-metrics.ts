/** A VictoriaMetrics of its own (Debian's `victoria-metrics`), its data in `dir`, on a free loopback port. */
import { type ChildProcess, spawn } from 'node:child_process';
import { need, waitHttp } from './influxd.js';
import { freePort } from './ports.js';

export interface RunningVm {
  readonly url: string;
  /** Its data folder. */
  readonly dir: string;
  readonly proc: ChildProcess;
  stop(): Promise<void>;
}

export async function startVictoriaMetrics(dir: string): Promise<RunningVm> {
  const port = await freePort();
  const proc = spawn(
    need('victoria-metrics'),
    [
      `-storageDataPath=${dir}`,
      `-httpListenAddr=127.0.0.1:${port}`,
      '-retentionPeriod=100y',
      // Make a point queryable as soon as it is flushed, so tests poll less.
      '-search.latencyOffset=0s',
      '-search.disableCache',
      '-loggerLevel=ERROR',
    ],
    { stdio: 'ignore' },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitHttp(`${url}/health`, proc, 'VictoriaMetrics');
  const stop = async (): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    }
  };
  return { url, dir, proc, stop };
}
