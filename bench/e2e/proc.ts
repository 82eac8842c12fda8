/**
 * What Linux says about a process, read from /proc: pure parsers of the text (tested in
 * test/unit/proc-parsers.test.ts) and a reader that samples one process.
 *
 * - /proc/<pid>/stat: fields after the `(comm)` (which may hold spaces and parentheses, hence
 *   the last `) `); utime and stime are fields 14 and 15, in clock ticks, all threads, exited
 *   threads included.
 * - /proc/<pid>/status: `VmRSS:` and `VmHWM:` in kB; `voluntary_ctxt_switches:` per task
 *   (/proc/<pid>/task/<tid>/status): a thread that blocks and is woken again counts one, so
 *   their sum is a proxy for wake-ups.
 * - /proc/<pid>/io: `write_bytes:` bytes the process sent (or caused to be sent) to storage.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** utime + stime in clock ticks, from the text of /proc/<pid>/stat. */
export function parseStatTicks(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  // fields[0] is field 3 (state): utime (14) and stime (15) are fields[11] and fields[12].
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`not a /proc/<pid>/stat line: ${stat.slice(0, 80)}`);
  return utime + stime;
}

/** A `Name:   value` field of /proc/<pid>/status or /proc/<pid>/io, as a number (kB stay kB). */
export function parseField(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text);
  return m === null ? undefined : Number(m[1]);
}

/** One sample of /metrics (Prometheus text): the value of an unlabelled series, or undefined. */
export function parseMetric(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m === null ? undefined : Number(m[1]);
}

/** Clock ticks per second (`getconf CLK_TCK`; 100 where getconf is missing). */
export function clockTicksPerSecond(): number {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isInteger(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
}

export interface ProcSample {
  readonly at: number;
  readonly cpuTicks: number;
  readonly rssKb: number;
  readonly hwmKb: number;
  readonly writeBytes: number;
  /** voluntary context switches per thread id, for the threads alive now. */
  readonly switches: ReadonlyMap<string, number>;
}

/** Reads one sample of `pid` (which must be alive). */
export function sampleProcess(pid: number): ProcSample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const switches = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const n = parseField(readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'), 'voluntary_ctxt_switches');
      if (n !== undefined) switches.set(tid, n);
    } catch {
      // the thread exited between readdir and read
    }
  }
  return {
    at: performance.now(),
    cpuTicks: parseStatTicks(readFileSync(`/proc/${pid}/stat`, 'utf8')),
    rssKb: parseField(status, 'VmRSS') ?? 0,
    hwmKb: parseField(status, 'VmHWM') ?? 0,
    writeBytes: parseField(readFileSync(`/proc/${pid}/io`, 'utf8'), 'write_bytes') ?? 0,
    switches,
  };
}

/**
 * Voluntary context switches over a series of samples, summed per thread: a thread's count is
 * its last value minus its first (0 for a thread born after the first sample), so threads that
 * come and go (a pool's idle workers) are counted up to their last sample.
 */
export function switchesOver(samples: readonly ProcSample[]): number {
  const first = new Map<string, number>();
  const last = new Map<string, number>();
  samples.forEach((s, i) => {
    for (const [tid, n] of s.switches) {
      if (!first.has(tid)) first.set(tid, i === 0 ? n : 0);
      last.set(tid, n);
    }
  });
  let total = 0;
  for (const [tid, n] of last) total += n - (first.get(tid) ?? 0);
  return total;
}
