/**
 * The history import's pieces on their own: the cursor file (format, durability of "done", every
 * message for a file it cannot use), the search for HA's oldest record, the progress bar, the
 * --import-history argument, and how request sizes follow the answers.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { parseFlags } from '../../src/cli.js';
import { advance, CURSOR_FILE, CursorError, CursorFile, parseCursor, serializeCursor, type ImportCursor } from '../../src/import/cursor.js';
import { DAY_MS, findOldest, PRECISION_MS } from '../../src/import/oldest.js';
import { barLine, formatDuration, LOG_INTERVAL_MS, ProgressReporter } from '../../src/import/progress.js';
import { nextShrink } from '../../src/import/states.js';
import { MAX_SHRINK } from '../../src/ha/backfill.js';
import { createMetrics } from '../../src/metrics.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'import-cursor-'));
  dirs.push(d);
  return d;
};

const C: ImportCursor = { fromMs: 1_000, toMs: 10_000, doneUntilMs: 1_000, complete: false, points: 0 };

describe('import cursor', () => {
  it('round-trips through its file, written atomically', async () => {
    const dir = tempDir();
    const file = new CursorFile(dir);
    expect(await file.load()).toBeNull();
    const c = advance(C, 4_000, 12);
    await file.save(c);
    expect(await file.load()).toEqual(c);
    expect(readFileSync(join(dir, CURSOR_FILE), 'utf8')).toBe('{"version":1,"fromMs":1000,"toMs":10000,"doneUntilMs":4000,"complete":false,"points":12}\n');
  });

  it('moves only forward, never past its end, and is complete at the end', () => {
    const c = advance(advance(C, 6_000, 5), 3_000, 1);
    expect(c).toEqual({ ...C, doneUntilMs: 6_000, points: 6 });
    expect(advance(c, 99_000, 2)).toEqual({ ...C, doneUntilMs: 10_000, complete: true, points: 8 });
  });

  it.each([
    ['not json', 'is not JSON: delete it to import again from the start'],
    ['{"version":2}', 'is not an import cursor this version understands: delete it to import again from the start'],
    [serializeCursor({ ...C, points: Number.NaN }), 'is not an import cursor this version understands'],
    [serializeCursor({ ...C, doneUntilMs: 20_000 }), 'holds an impossible range (from 1000, done until 20000, to 10000): delete it to import again'],
    [serializeCursor({ ...C, fromMs: 11_000, doneUntilMs: 11_000 }), 'holds an impossible range'],
  ])('refuses %s with a message naming the file', (text, message) => {
    expect(() => parseCursor(text, '/data/import-states.json')).toThrow(CursorError);
    expect(() => parseCursor(text, '/data/import-states.json')).toThrow(`/data/import-states.json ${message}`);
  });

  it('an unreadable file is an error with a stable code, not a fresh start', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, CURSOR_FILE), '{');
    await expect(new CursorFile(dir).load()).rejects.toMatchObject({ code: 'IMPORT_CURSOR_UNREADABLE', retryable: false });
  });
});

describe("search for HA's oldest record", () => {
  const END = 1_000 * DAY_MS;
  const recorder = (oldest: number) => {
    const asked: number[] = [];
    const recorded = async (t: number): Promise<boolean> => {
      asked.push(t);
      return t >= oldest;
    };
    return { asked, recorded };
  };

  it.each([
    ['10 days (HA default)', END - 10 * DAY_MS + 5 * 3_600_000],
    ['3 hours', END - 3 * 3_600_000],
    ['two years', END - 730 * DAY_MS],
  ])('finds a start at most PRECISION_MS before the oldest record, with nothing before it: %s', async (_, oldest) => {
    const r = recorder(oldest);
    const start = await findOldest(r.recorded, END);
    expect(start).toBeLessThan(oldest);
    expect(oldest - start).toBeLessThanOrEqual(PRECISION_MS);
    // Exponential then halving: a handful of questions, not one per day.
    expect(r.asked.length).toBeLessThan(30);
  });

  it('an empty recorder: a start within a day before the end', async () => {
    const start = await findOldest(async () => false, END);
    expect(END - start).toBeLessThanOrEqual(DAY_MS);
  });
});

describe('import progress', () => {
  it('draws one line with entities, points, percent and ETA', () => {
    const line = barLine({ state: 'running', importer: 'states', fraction: 0.5, items: 300, points: 123_456, requests: 9, bytes: 1, etaSeconds: 65 });
    expect(line).toBe('import states [############············]  50% 300 entities 123,456 points ETA 1m 05s');
    expect(formatDuration(3_725)).toBe('1h 02m');
    expect(formatDuration(12)).toBe('12s');
  });

  it('redraws a terminal bar at most twice a second; without a terminal logs every 10 s', () => {
    let t = 0;
    const written: string[] = [];
    const bar = new ProgressReporter(pino({ level: 'silent' }), createMetrics(), { write: (s) => written.push(s) }, () => t);
    bar.begin('states');
    for (let i = 1; i <= 20; i++) {
      t += 100;
      bar.update({ importer: 'states', fraction: i / 20, items: 3, points: i, requests: i, bytes: i });
    }
    // 2 s of updates every 100 ms: the first draw, then one per 500 ms.
    expect(written.length).toBe(1 + 4);
    const lines: unknown[] = [];
    const log = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s)) });
    const plain = new ProgressReporter(log, createMetrics(), null, () => t);
    plain.begin('states');
    for (let i = 1; i <= 30; i++) {
      t += 1_000;
      plain.update({ importer: 'states', fraction: i / 30, items: 3, points: i, requests: i, bytes: i });
    }
    expect(lines.length).toBe(1 + Math.floor(30_000 / LOG_INTERVAL_MS));
  });

  it('counts points, requests and bytes into /metrics once, across resumed runs', () => {
    const metrics = createMetrics();
    const p = new ProgressReporter(pino({ level: 'silent' }), metrics, null, () => 0);
    p.begin('states');
    p.update({ importer: 'states', fraction: 0.2, items: 1, points: 10, requests: 2, bytes: 100 });
    p.update({ importer: 'states', fraction: 0.4, items: 1, points: 25, requests: 3, bytes: 150 });
    // The connection closed; the next run counts from zero again.
    p.begin('states');
    p.update({ importer: 'states', fraction: 0.6, items: 1, points: 5, requests: 1, bytes: 50 });
    expect(metrics.importPoints.get({ importer: 'states' })).toBe(30);
    expect(metrics.importRequests.get({ importer: 'states' })).toBe(4);
    expect(metrics.importBytes.get({ importer: 'states' })).toBe(200);
    expect(p.current).toMatchObject({ points: 30, fraction: 0.6, state: 'running' });
  });
});

describe('--import-history', () => {
  it.each([
    [['--import-history'], 'all'],
    [['--import-history', '--check'], 'all'],
    [['--import-history', 'all'], 'all'],
    [['--import-history', '10d'], 10 * DAY_MS],
    [['--import-history=36h'], 36 * 3_600_000],
    [[], null],
  ])('%j → %s', (args, range) => {
    expect(parseFlags(args)).toMatchObject({ importHistory: range });
  });

  it.each([
    ['--import-history', 'yesterday'],
    ['--import-history', '0d'],
    ['--import-history', '10'],
  ])('%s %s is refused with one clear message', (...args) => {
    expect(parseFlags(args)).toEqual({ error: `--import-history: "${args[1]}" is neither "all" nor a duration such as 10d, 36h or 90m` });
  });
});

describe('import request sizes', () => {
  const MB = 1024 * 1024;
  it.each([
    [0, 1 * MB, 0, 'small answers at the configured size: unchanged'],
    [0, 6 * MB, 1, 'over the 4 MiB aim: a quarter of the rows next'],
    [2, 6 * MB, 3, 'still over: smaller again'],
    [MAX_SHRINK - 1, 9 * MB, MAX_SHRINK - 1, 'never to REST-only by size alone'],
    [3, 0.5 * MB, 2, 'far under (a quarter): back up'],
    [3, 2 * MB, 3, 'between: unchanged (4× would pass the aim)'],
    [MAX_SHRINK, 0, MAX_SHRINK, 'REST after dropped connections stays REST'],
  ])('%i halvings, %d bytes per answer → %i (%s)', (shrink, bytes, next) => {
    expect(nextShrink(shrink, bytes)).toBe(next);
  });
});
