/**
 * The README's first command, `npm run demo`, ends with a zero-loss summary (here with fewer
 * events), and gives the same verdict every time (issue 12, item 9): a second run from the same
 * folder, a run after an interrupted one, a run while its old fixed port (18099) is taken. No
 * path leaves the ingestor process behind: each test checks its pid once the demo has exited.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { useCleanups } from '../helpers/cleanups.js';
import { freePort } from '../helpers/ports.js';

const DEMO = fileURLToPath(new URL('../../dist/src/demo.js', import.meta.url));
/** The port every demo used before it picked free ones. */
const OLD_FIXED_PORT = 18099;
const cleanups = useCleanups();

interface DemoExit {
  code: number | null;
  out: string;
  /** The ingestor's pid, from the demo's first line. */
  pid: number | null;
  ms: number;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A folder for one test, removed after it; its ingestor (if one is left) is killed too. */
function folder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'demo-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs the built demo to its exit; `whenPid` is called once the ingestor's pid is printed. */
function runDemo(cwd: string, env: Record<string, string>, whenPid?: (demo: number, ingestor: number) => void): Promise<DemoExit> {
  const started = Date.now();
  const child = spawn(process.execPath, [DEMO], { cwd, env: { PATH: process.env.PATH ?? '', ...env } });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  let out = '';
  let pid: number | null = null;
  const seen = (c: Buffer) => {
    out += c.toString();
    const m = pid === null ? /ingestor pid (\d+)/.exec(out) : null;
    if (m) {
      pid = Number(m[1]);
      const leftover = pid;
      cleanups.push(async () => void (alive(leftover) && process.kill(leftover, 'SIGKILL')));
      whenPid?.(child.pid as number, pid);
    }
  };
  child.stdout.on('data', seen);
  child.stderr.on('data', seen);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out, pid, ms: Date.now() - started });
    }),
  );
}

const statesCounted = (out: string) => Number(/points of HA states {5}(\d+)/.exec(out)?.[1]);

async function occupy(port: number): Promise<void> {
  const srv: Server = createServer();
  await new Promise<void>((resolve) => {
    // Taken already by someone else: just as good.
    srv.once('error', () => resolve());
    srv.listen(port, '127.0.0.1', () => resolve());
  });
  cleanups.push(() => new Promise<void>((r) => (srv.listening ? srv.close(() => r()) : r())));
}

const SMALL = { DEMO_EVENTS: '1000', DEMO_RATE: '5000' };

describe('npm run demo', () => {
  it('runs the simulator and the ingestor with nothing else installed and finds every point in the files', async () => {
    const dir = folder();
    const r = await runDemo(dir, { DEMO_EVENTS: '3000', DEMO_RATE: '3000', DATA_DIR: join(dir, 'data'), HTTP_PORT: String(await freePort()) });
    expect(r.out).toMatch(/state changes emitted {3}3000 \(\+ \d+ snapshot states\)/);
    expect(r.out).toMatch(/points of HA states {5}\d+/);
    expect(r.out).toMatch(/zero loss {15}yes/);
    expect(r.code).toBe(0);
  });

  it('says zero loss with the same count when run twice in a row from the same folder', async () => {
    const dir = folder();
    const first = await runDemo(dir, SMALL);
    const second = await runDemo(dir, SMALL);
    for (const r of [first, second]) {
      expect(r.out).toMatch(/zero loss {15}yes/);
      expect(r.code).toBe(0);
      expect(alive(r.pid as number)).toBe(false);
    }
    expect(statesCounted(second.out)).toBe(statesCounted(first.out));
    // No trace of the first run in the second: before, its ingestor found the first run's
    // watermark, warned that HA had restarted and fetched a day of history (a warning, an error).
    expect(second.out).not.toMatch(/"level":(40|50|60)/);
    expect(first.out).toContain('files                   ');
  });

  it('stops the ingestor on Ctrl-C, exits non-zero with one message, and the next run says zero loss', async () => {
    const dir = folder();
    let ingestor = 0;
    const interrupted = await runDemo(dir, { DEMO_EVENTS: '20000', DEMO_RATE: '2000' }, (demo, pid) => {
      ingestor = pid;
      setTimeout(() => process.kill(demo, 'SIGINT'), 1500);
    });
    expect(interrupted.code).toBe(130);
    expect(interrupted.out).toMatch(/demo failed: interrupted by SIGINT; the ingestor was stopped\n$/);
    expect(alive(ingestor)).toBe(false);
    const next = await runDemo(dir, SMALL);
    expect(next.out).toMatch(/zero loss {15}yes/);
    expect(next.code).toBe(0);
  });

  it('picks a free port when the old fixed one (18099) is taken', async () => {
    await occupy(OLD_FIXED_PORT);
    const r = await runDemo(folder(), SMALL);
    expect(r.out).not.toContain(`/metrics on :${OLD_FIXED_PORT}`);
    expect(r.out).toMatch(/zero loss {15}yes/);
    expect(r.code).toBe(0);
    expect(alive(r.pid as number)).toBe(false);
  });

  it('fails at once, starting nothing, when HTTP_PORT is set to a port in use', async () => {
    const port = await freePort();
    await occupy(port);
    const r = await runDemo(folder(), { ...SMALL, HTTP_PORT: String(port) });
    expect(r.out).toBe(`demo failed: HTTP_PORT=${port} is in use by another program; leave HTTP_PORT unset and the demo picks a free port\n`);
    expect(r.code).toBe(1);
    expect(r.pid).toBeNull();
    expect(r.ms).toBeLessThan(5_000);
  });

  it('ends at once, non-zero, when the ingestor dies mid-run', async () => {
    let ingestor = 0;
    const r = await runDemo(folder(), { DEMO_EVENTS: '20000', DEMO_RATE: '2000' }, (_, pid) => {
      ingestor = pid;
      setTimeout(() => process.kill(pid, 'SIGKILL'), 1500);
    });
    expect(r.out).toContain(`demo failed: the ingestor (pid ${ingestor}) was killed by SIGKILL before the demo was done`);
    expect(r.code).toBe(1);
    expect(r.ms).toBeLessThan(8_000);
  });

  it('refuses a DATA_DIR that holds files no demo made, and leaves them', async () => {
    const dir = folder();
    mkdirSync(join(dir, 'spool'));
    const r = await runDemo(dir, { ...SMALL, DATA_DIR: dir });
    expect(r.out).toContain(`demo failed: DATA_DIR=${dir} holds files no demo run made`);
    expect(r.code).toBe(1);
    expect(r.pid).toBeNull();
  });
});
