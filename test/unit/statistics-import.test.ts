import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { HaCommandError, HaConnectionLostError } from '../../src/errors.js';
import { createMetrics } from '../../src/metrics.js';
import { emptyCursor, StatisticsCursorFile } from '../../src/import/statistics-cursor.js';
import { lookBackExternal, msUntilTick, StatisticsFollower } from '../../src/import/statistics-follower.js';
import { compiledUntil, nextChunk, type PlanLimits } from '../../src/import/statistics-plan.js';
import { type StatisticsContext, StatisticsImport } from '../../src/import/statistics.js';
import type { ImportProgress } from '../../src/import/importer.js';
import { StatisticsHa } from '../helpers/statistics-ha.js';
import type { StatesEncoded } from '../../src/ha/connection.js';
import type { Command } from '../../src/ha/messages.js';
import type { StateResultKind } from '../../workers/encode-batch.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** HA's now in these tests: 2026-11-30 10:07:30 UTC. */
const NOW = Date.UTC(2026, 10, 30, 10, 7, 30);

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});
async function dataDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'stats-'));
  dirs.push(d);
  return d;
}

function context(ha: StatisticsHa, dir: string, written: () => Promise<void> = async () => {}): StatisticsContext {
  return {
    connection: ha,
    haNow: () => ha.nowMs,
    dataDir: dir,
    log: pino({ level: 'silent' }),
    metrics: createMetrics(),
    room: async () => {},
    durable: written,
  };
}

/** Every row HA has, as `<series> <ns>` → fields, written independently of the encoder. */
function expectedPoints(ha: StatisticsHa, period: 'hour' | '5minute', fromMs: number, toMs: number): Map<string, string> {
  const out = new Map<string, string>();
  for (const { id, startMs, row } of ha.sim.expected(period, fromMs, toMs, ha.nowMs)) {
    const fields: string[] = [];
    if (row.last_reset !== null) fields.push(`last_reset="${new Date(row.last_reset as number).toISOString()}"`);
    for (const k of ['max', 'mean', 'min', 'state', 'sum']) if (row[k] !== null) fields.push(`${k}=${row[k]}`);
    out.set(`ha_statistics,period=${period},statistic_id=${id} ${startMs}000000`, fields.join(','));
  }
  return out;
}

function pointsOf(ha: StatisticsHa, period: string): Map<string, string> {
  return new Map([...ha.points].filter(([k]) => k.includes(`period=${period},`)).map(([k, v]) => [k, v.fields]));
}

describe('statistics chunk plan (src/import/statistics-plan.ts)', () => {
  const limits: PlanLimits = { rowsPerRequest: 100, maxIds: 4 };

  it('windows on a fixed grid: ids that began at different times share requests after their first', () => {
    const cursors = new Map([
      ['a', 0],
      ['b', 30 * HOUR],
      ['c', 10 * HOUR],
    ]);
    // 3 ids → 33 hours a window; the lowest cursor's window is [0, 33 h).
    expect(nextChunk(cursors, 100 * HOUR, 'hour', limits)).toEqual({ ids: ['a', 'b', 'c'], startMs: 0, endMs: 33 * HOUR });
    for (const id of cursors.keys()) cursors.set(id, 33 * HOUR);
    expect(nextChunk(cursors, 100 * HOUR, 'hour', limits)).toEqual({ ids: ['a', 'b', 'c'], startMs: 33 * HOUR, endMs: 66 * HOUR });
    for (const id of cursors.keys()) cursors.set(id, 99 * HOUR);
    expect(nextChunk(cursors, 100 * HOUR, 'hour', limits)).toEqual({ ids: ['a', 'b', 'c'], startMs: 99 * HOUR, endMs: 100 * HOUR });
    for (const id of cursors.keys()) cursors.set(id, 100 * HOUR);
    expect(nextChunk(cursors, 100 * HOUR, 'hour', limits)).toBeNull();
  });

  it('never more than rowsPerRequest rows nor maxIds ids in one request', () => {
    const cursors = new Map(Array.from({ length: 10 }, (_, i) => [`s${i}`, 0] as [string, number]));
    const seen: string[][] = [];
    for (let c = nextChunk(cursors, 200 * HOUR, 'hour', limits); c !== null; c = nextChunk(cursors, 200 * HOUR, 'hour', limits)) {
      expect(c.ids.length).toBeLessThanOrEqual(4);
      expect((c.ids.length * (c.endMs - c.startMs)) / HOUR).toBeLessThanOrEqual(100);
      seen.push([...c.ids]);
      for (const id of c.ids) cursors.set(id, c.endMs);
    }
    // 25-hour windows × 3 groups (4, 4, 2 ids) × 8 windows.
    expect(seen.length).toBe(24);
  });

  it('asks only for compiled periods: HA compiles at every 5th minute + 10 s; the follower wakes 30 s after', () => {
    expect(new Date(compiledUntil(NOW, 'hour', 5 * 60_000)).toISOString()).toBe('2026-11-30T10:00:00.000Z');
    expect(new Date(compiledUntil(NOW, '5minute', 5 * 60_000)).toISOString()).toBe('2026-11-30T10:00:00.000Z');
    expect(new Date(compiledUntil(NOW - 3 * 60_000, 'hour', 5 * 60_000)).toISOString()).toBe('2026-11-30T09:00:00.000Z');
    expect(msUntilTick(Date.UTC(2026, 10, 30, 10, 5, 0))).toBe(40_000);
    expect(msUntilTick(Date.UTC(2026, 10, 30, 10, 5, 40))).toBe(300_000);
    expect(msUntilTick(Date.UTC(2026, 10, 30, 10, 5, 41))).toBe(299_000);
  });
});

describe('statistics cursor file', () => {
  it('round-trips, and refuses a file of another format', async () => {
    const dir = await dataDir();
    const file = new StatisticsCursorFile(dir, 'statistics-import.json');
    expect(await file.load()).toBeNull();
    const c = emptyCursor(5);
    c.sinceMs = { hour: 1, '5minute': 2 };
    c.periods.hour.set('sensor.a', 3600000);
    c.periods['5minute'].set('sensor.b', 300000);
    await file.save(c);
    expect(await file.load()).toEqual(c);
    await new StatisticsCursorFile(dir, 'statistics-follow.json').save(c);
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(dir, 'statistics-follow.json'), '{"version":9}');
    await expect(new StatisticsCursorFile(dir, 'statistics-follow.json').load()).rejects.toThrow('not a statistics cursor');
  });
});

describe('statistics import (src/import/statistics.ts) against the simulated recorder', () => {
  const small = { sensors: 3, counters: 3, days: 40, shortTermDays: 2 };
  const limits: PlanLimits = { rowsPerRequest: 500, maxIds: 4 };

  it('imports every hourly and 5-minute row exactly once, values and timestamps exact', async () => {
    const ha = new StatisticsHa(small, NOW);
    const progress: ImportProgress[] = [];
    const final = await new StatisticsImport(context(ha, await dataDir()), limits).run({ fromMs: null, toMs: NOW }, (p) => progress.push(p));
    const hourEnd = compiledUntil(NOW, 'hour', 5 * 60_000);
    const shortEnd = compiledUntil(NOW, '5minute', 5 * 60_000);
    expect(pointsOf(ha, 'hour')).toEqual(expectedPoints(ha, 'hour', 0, hourEnd));
    expect(pointsOf(ha, '5minute')).toEqual(expectedPoints(ha, '5minute', shortEnd - 10 * DAY, shortEnd));
    expect(pointsOf(ha, 'hour').size).toBeGreaterThan(3000);
    // Rows of ids asked for before their own cursor come twice at most (their first window only).
    const again = [...ha.points.values()].filter((p) => p.writes > 1).length;
    expect(again).toBeLessThan(ha.points.size / 20);
    expect(final).toMatchObject({ importer: 'statistics', fraction: 1, items: 6, points: [...ha.points.values()].reduce((n, p) => n + p.writes, 0) });
    expect(progress.at(-1)?.fraction).toBe(1);
    expect(progress.map((p) => p.fraction)).toEqual([...progress.map((p) => p.fraction)].sort((a, b) => a - b));
  });

  it('waits for the points to be written before its cursor moves, and a rerun asks for nothing new', async () => {
    const ha = new StatisticsHa(small, NOW);
    const dir = await dataDir();
    const file = join(dir, 'statistics-import.json');
    let checks = 0;
    const written = async () => {
      checks++;
      // The cursor on disk does not cover the chunk whose points are being written.
      const saved = JSON.parse(await readFile(file, 'utf8')) as { periods: { hour: Record<string, number> } };
      const last = ha.commands.at(-1) as unknown as { start_time: string; period: string };
      if (last.period === 'hour') expect(Math.min(...Object.values(saved.periods.hour))).toBeLessThanOrEqual(Date.parse(last.start_time));
    };
    await new StatisticsImport(context(ha, dir, written), limits).run({ fromMs: null, toMs: NOW }, () => {});
    expect(checks).toBeGreaterThan(5);
    const before = ha.commands.length;
    const rerun = await new StatisticsImport(context(ha, dir), limits).run({ fromMs: null, toMs: NOW }, () => {});
    // Nothing at all: the import is complete (what HA compiles later is the follower's).
    expect(ha.commands.slice(before)).toEqual([]);
    expect(rerun.points).toBe(0);
  });

  it('a kill in the middle resumes where it stopped: at most one chunk is asked for again', async () => {
    const ha = new StatisticsHa(small, NOW);
    const dir = await dataDir();
    ha.loseAt = 12;
    await expect(new StatisticsImport(context(ha, dir), limits).run({ fromMs: null, toMs: NOW }, () => {})).rejects.toThrow(HaConnectionLostError);
    const chunksBefore = ha.commands.filter((c) => c.period === 'hour' || c.period === '5minute').map((c) => JSON.stringify(c));
    ha.loseAt = 0;
    const fresh = new StatisticsHa(small, NOW);
    await new StatisticsImport(context(fresh, await dataDir()), limits).run({ fromMs: null, toMs: NOW }, () => {});
    await new StatisticsImport(context(ha, dir), limits).run({ fromMs: null, toMs: NOW }, () => {});
    const chunksAfter = ha.commands.filter((c) => c.period === 'hour' || c.period === '5minute').map((c) => JSON.stringify(c));
    // The lost request is the only one sent twice; together the runs wrote what one run writes.
    const twice = chunksAfter.filter((c, i) => chunksAfter.indexOf(c) !== i);
    expect(twice).toEqual([chunksBefore.at(-1)]);
    expect(new Map([...ha.points].map(([k, v]) => [k, v.fields]))).toEqual(new Map([...fresh.points].map(([k, v]) => [k, v.fields])));
  });

  it('a window start imports from there; another start begins again', async () => {
    const ha = new StatisticsHa(small, NOW);
    const from = NOW - 3 * DAY;
    await new StatisticsImport(context(ha, await dataDir()), limits).run({ fromMs: from, toMs: NOW }, () => {});
    const hourEnd = compiledUntil(NOW, 'hour', 5 * 60_000);
    expect(pointsOf(ha, 'hour')).toEqual(expectedPoints(ha, 'hour', Math.ceil(from / HOUR) * HOUR, hourEnd));
  });

  it('HA before 2022.11: history/ commands and ISO times, the same points', async () => {
    const ha = new StatisticsHa({ ...small, timeForm: 'iso' }, NOW);
    ha.haVersion = '2022.6.7';
    const modern = new StatisticsHa(small, NOW);
    await new StatisticsImport(context(ha, await dataDir()), limits).run({ fromMs: null, toMs: NOW }, () => {});
    await new StatisticsImport(context(modern, await dataDir()), limits).run({ fromMs: null, toMs: NOW }, () => {});
    expect(new Set(ha.commands.map((c) => c.type.split('/')[0]))).toEqual(new Set(['history']));
    expect(pointsOf(ha, 'hour')).toEqual(pointsOf(modern, 'hour'));
    expect(pointsOf(ha, '5minute')).toEqual(pointsOf(modern, '5minute'));
  });

  it('a release that answers unknown_command to the first name gets the other, once', async () => {
    const ha = new StatisticsHa({ ...small, timeForm: 'iso' }, NOW);
    ha.haVersion = '2022.11.0';
    const final = await new StatisticsImport(context(ha, await dataDir()), limits).run({ fromMs: null, toMs: NOW }, () => {});
    expect(ha.commands.map((c) => c.type).slice(0, 2)).toEqual(['recorder/list_statistic_ids', 'history/list_statistic_ids']);
    expect(ha.commands.filter((c) => c.type.startsWith('recorder/')).length).toBe(1);
    expect(final.points).toBeGreaterThan(3000);
  });

  it('HA without statistics (0.96) is sent no statistics command', async () => {
    const ha = new StatisticsHa(small, NOW);
    ha.haVersion = '0.96.5';
    const final = await new StatisticsImport(context(ha, await dataDir()), limits).run({ fromMs: null, toMs: NOW }, () => {});
    expect(ha.commands).toEqual([]);
    expect(final).toMatchObject({ fraction: 1, points: 0, requests: 0 });
  });
});

describe('statistics follower (src/import/statistics-follower.ts)', () => {
  it('on a first start keeps statistics from then on; picks up each new hour and 5 minutes, cheaply', async () => {
    const ha = new StatisticsHa({ sensors: 2, counters: 2, days: 5, shortTermDays: 2 }, NOW);
    const dir = await dataDir();
    const follower = new StatisticsFollower(context(ha, dir));
    await follower.runOnce();
    // First start: nothing before it (only list_statistic_ids was asked).
    expect(ha.points.size).toBe(0);
    expect(ha.commands.map((c) => c.type)).toEqual(['recorder/list_statistic_ids']);
    // An hour later (12 ticks): every row of that hour, each once.
    const start = compiledUntil(NOW, 'hour', 5 * 60_000);
    for (let i = 1; i <= 12; i++) {
      ha.nowMs = NOW + i * 5 * 60_000;
      await follower.runOnce();
    }
    const end = compiledUntil(ha.nowMs, 'hour', 5 * 60_000);
    expect(end - start).toBe(HOUR);
    expect(pointsOf(ha, 'hour')).toEqual(expectedPoints(ha, 'hour', start, end));
    expect(pointsOf(ha, '5minute')).toEqual(expectedPoints(ha, '5minute', start, compiledUntil(ha.nowMs, '5minute', 5 * 60_000)));
    expect([...ha.points.values()].every((p) => p.writes === 1)).toBe(true);
    // 12 ticks: 12 five-minute requests, 1 hourly, the list at the start and an hour later.
    expect(ha.commands.map((c) => (c.type.endsWith('list_statistic_ids') ? 'list' : c.period))).toEqual([
      'list',
      ...Array(11).fill('5minute'),
      'list',
      'hour',
      '5minute',
    ]);
    // A restart continues from its cursor.
    const again = new StatisticsFollower(context(ha, dir));
    ha.nowMs += HOUR;
    await again.runOnce();
    expect(pointsOf(ha, 'hour').size).toBe(8);
    expect([...ha.points.values()].every((p) => p.writes === 1)).toBe(true);
  });

  it('a first start during an import waits for it, then begins where it ended: no hour between the two', async () => {
    const ha = new StatisticsHa({ sensors: 2, counters: 2, days: 5, shortTermDays: 2 }, NOW);
    const dir = await dataDir();
    let importing = true;
    const follower = new StatisticsFollower(context(ha, dir), { importing: () => importing });
    // The import runs (and its end is fixed) at NOW; the follower, ticking meanwhile, waits for it.
    await follower.runOnce();
    expect(ha.commands).toEqual([]);
    expect(existsSync(join(dir, 'statistics-follow.json'))).toBe(false);
    await new StatisticsImport(context(ha, dir), { rowsPerRequest: 500, maxIds: 4 }).run({ fromMs: null, toMs: NOW }, () => {});
    const importedHours = pointsOf(ha, 'hour').size;
    // Its first run comes an hour later: it begins where the import ended, not at that hour.
    ha.nowMs = NOW + HOUR;
    importing = false;
    await follower.runOnce();
    // Every hour HA compiled up to the follower's tick, each once: the hour after the import's end too.
    const end = compiledUntil(ha.nowMs, 'hour', 5 * 60_000);
    expect(pointsOf(ha, 'hour')).toEqual(expectedPoints(ha, 'hour', 0, end));
    expect(pointsOf(ha, 'hour').size).toBeGreaterThan(importedHours);
  });

  it("back after 30 days: the hourly backlog in full, 5-minute rows only from HA's purge horizon on (no empty windows walked)", async () => {
    const ha = new StatisticsHa({ sensors: 2, counters: 2, days: 60, shortTermDays: 10 }, NOW);
    const dir = await dataDir();
    const since = NOW - 30 * DAY;
    const c = emptyCursor();
    c.sinceMs = { hour: since, '5minute': since };
    await new StatisticsCursorFile(dir, 'statistics-follow.json').save(c);
    await new StatisticsFollower(context(ha, dir), { limits: { rowsPerRequest: 2_000, maxIds: 100 } }).runOnce();
    const hourEnd = compiledUntil(NOW, 'hour', 5 * 60_000);
    const shortEnd = compiledUntil(NOW, '5minute', 5 * 60_000);
    expect(pointsOf(ha, 'hour')).toEqual(expectedPoints(ha, 'hour', since, hourEnd));
    expect(pointsOf(ha, '5minute')).toEqual(expectedPoints(ha, '5minute', shortEnd - 10 * DAY, shortEnd));
    const fiveMinute = ha.commands.filter((m) => m.period === '5minute');
    expect(Math.min(...fiveMinute.map((m) => Date.parse(String(m.start_time))))).toBe(shortEnd - 10 * DAY);
  });

  it('a connection that comes while a run is cut short by the old one runs it again at once', async () => {
    const ha = new StatisticsHa({ sensors: 2, counters: 2, days: 5, shortTermDays: 2 }, NOW);
    const follower = new StatisticsFollower(context(ha, await dataDir()));
    await follower.runOnce();
    ha.nowMs += 2 * HOUR;
    ha.loseAt = ha.commands.length + 2;
    const cut = follower.runOnce();
    follower.connected();
    await cut;
    // No tick, no call: the run that follows the connection fetches the two hours by itself.
    await vi.waitFor(() => expect(pointsOf(ha, 'hour').size).toBe(8), { timeout: 5_000 });
    const start = compiledUntil(NOW, 'hour', 5 * 60_000);
    expect(pointsOf(ha, 'hour')).toEqual(expectedPoints(ha, 'hour', start, compiledUntil(ha.nowMs, 'hour', 5 * 60_000)));
    expect(pointsOf(ha, 'hour').size).toBe(8);
  });

  it('an HA without its recorder: both names tried once, then nothing more asked of that release', async () => {
    const ha = new StatisticsHa({ sensors: 1, counters: 1, days: 2 }, NOW);
    ha.noRecorder = true;
    const follower = new StatisticsFollower(context(ha, await dataDir()));
    await follower.runOnce();
    ha.nowMs += HOUR;
    follower.connected();
    await follower.runOnce();
    expect(ha.commands.map((c) => c.type)).toEqual(['recorder/list_statistic_ids', 'history/list_statistic_ids']);
    // A day later (its recorder may have been loaded since): asked again.
    ha.nowMs += 24 * HOUR;
    await follower.runOnce();
    expect(ha.commands.length).toBe(4);
    const final = await new StatisticsImport(context(ha, await dataDir())).run({ fromMs: null, toMs: NOW }, () => {});
    expect(final).toMatchObject({ fraction: 1, points: 0 });
  });

  it("waits for HA's clock before asking", async () => {
    const ha = new StatisticsHa({ sensors: 1, counters: 1, days: 2 }, NOW);
    const follower = new StatisticsFollower({ ...context(ha, await dataDir()), clockKnown: () => false });
    await follower.runOnce();
    expect(ha.commands).toEqual([]);
  });
});

/** HA whose recorder compiles `lagMs` late (busy after a restart, a purge, a migration): it answers as of that much earlier. */
class LateHa extends StatisticsHa {
  lagMs = 0;
  override async requestStates(m: Command, kind: StateResultKind): Promise<StatesEncoded> {
    const now = this.nowMs;
    this.nowMs = now - this.lagMs;
    try {
      return await super.requestStates(m, kind);
    } finally {
      this.nowMs = now;
    }
  }
}

const hourKeys = (ha: StatisticsHa) => new Set([...ha.points.keys()].filter((k) => k.includes('period=hour,')));
const wantHours = (ha: StatisticsHa, fromMs: number, toMs: number) =>
  ha.sim.expected('hour', fromMs, toMs, ha.nowMs).map(({ id, startMs }) => `ha_statistics,period=hour,statistic_id=${id} ${startMs}000000`);

describe('a recorder compiling late (review of issue 13)', () => {
  it('the follower asks again for an hour HA had not compiled yet, instead of passing it', async () => {
    const ha = new LateHa({ sensors: 2, counters: 2, days: 5, shortTermDays: 2 }, NOW);
    const follower = new StatisticsFollower(context(ha, await dataDir()));
    await follower.runOnce();
    const start = compiledUntil(NOW, 'hour', 5 * 60_000);
    // HA restarted at 10:58; at 11:06 its recorder is still compiling what it missed, 10 minutes behind.
    ha.nowMs = Date.UTC(2026, 10, 30, 11, 6, 0);
    ha.lagMs = 10 * 60_000;
    follower.connected();
    await follower.runOnce();
    ha.lagMs = 0;
    for (let i = 1; i <= 24; i++) {
      ha.nowMs += 5 * 60_000;
      await follower.runOnce();
    }
    const end = compiledUntil(ha.nowMs, 'hour', 5 * 60_000);
    expect([...hourKeys(ha)].sort()).toEqual(wantHours(ha, start, end).sort());
  });

  it("the import's last hour, not compiled when asked, is the follower's to fetch", async () => {
    const at = Date.UTC(2026, 10, 30, 11, 6, 0);
    const ha = new LateHa({ sensors: 2, counters: 2, days: 3, shortTermDays: 2 }, at);
    const dir = await dataDir();
    ha.lagMs = 10 * 60_000;
    await new StatisticsImport(context(ha, dir)).run({ fromMs: null, toMs: at }, () => {});
    ha.lagMs = 0;
    const follower = new StatisticsFollower(context(ha, dir));
    for (let i = 1; i <= 24; i++) {
      ha.nowMs += 5 * 60_000;
      await follower.runOnce();
    }
    const got = hourKeys(ha);
    expect(wantHours(ha, 0, compiledUntil(ha.nowMs, 'hour', 5 * 60_000)).filter((k) => !got.has(k))).toEqual([]);
  });

  it('periods with no row a day after they ended are passed, not asked for on every run', async () => {
    const dir = await dataDir();
    const c = emptyCursor();
    c.sinceMs = { hour: NOW - 3 * DAY, '5minute': NOW - HOUR };
    await new StatisticsCursorFile(dir, 'statistics-follow.json').save(c);
    // HA's recorder has compiled nothing for 30 hours (its statistics stopped).
    const ha = new LateHa({ sensors: 2, counters: 2, days: 5, shortTermDays: 2 }, NOW);
    ha.lagMs = 30 * HOUR;
    await new StatisticsFollower(context(ha, dir)).runOnce();
    const saved = await new StatisticsCursorFile(dir, 'statistics-follow.json').load();
    // Every hourly cursor stands a day back: what HA has not compiled by then is given up.
    expect(new Set(saved?.periods.hour.values())).toEqual(new Set([Math.floor((NOW - DAY) / HOUR) * HOUR]));
  });
});

describe('a release that cannot reduce statistics to months (2021.9 to about 2022.2)', () => {
  it('asks every id from the start instead, and imports every hourly row', async () => {
    class NoMonthHa extends StatisticsHa {
      override async request(m: Command): Promise<unknown> {
        if (m.period === 'month') throw new HaCommandError(String(m.type), 'invalid_format', 'value must be one of 5minute, hour');
        return super.request(m);
      }
    }
    const ha = new NoMonthHa({ sensors: 2, counters: 2, days: 5, shortTermDays: 2 }, NOW);
    await new StatisticsImport(context(ha, await dataDir())).run({ fromMs: null, toMs: NOW }, () => {});
    const end = compiledUntil(NOW, 'hour', 5 * 60_000);
    expect(pointsOf(ha, 'hour')).toEqual(expectedPoints(ha, 'hour', 0, end));
    // From August 2021 (HA's first statistics), not from 1970: a few requests, not thousands.
    expect(ha.commands.filter((c) => c.period === 'hour').length).toBeLessThan(20);
  });
});

describe('review of the late fixes (issue 13)', () => {
  it("imports hourly rows older than HA's own statistics (July 2021): imported and external statistics have them", async () => {
    const ha = new StatisticsHa({ sensors: 0, counters: 1, days: 2375, shortTermDays: 1 }, NOW);
    await new StatisticsImport(context(ha, await dataDir())).run({ fromMs: null, toMs: NOW }, () => {});
    const end = compiledUntil(NOW, 'hour', 5 * 60_000);
    const want = expectedPoints(ha, 'hour', 0, end);
    expect(Math.min(...ha.sim.expected('hour', 0, end, NOW).map((r) => r.startMs))).toBeLessThan(Date.UTC(2021, 6, 1));
    expect(pointsOf(ha, 'hour').size).toBe(want.size);
  }, 60_000);

  it('external statistics (domain:name) are asked again for the last week once an hour; recorder ones keep their cursors', () => {
    const cursors = new Map([
      ['tibber:energy', NOW],
      ['sensor.grid', NOW],
      ['opower:gas', NOW - 30 * DAY],
    ]);
    lookBackExternal(cursors, NOW, NOW - 3 * DAY);
    expect(Object.fromEntries(cursors)).toEqual({ 'tibber:energy': NOW - 3 * DAY, 'sensor.grid': NOW, 'opower:gas': NOW - 30 * DAY });
    // With a follower older than a week: a week back, and never forward.
    cursors.set('tibber:energy', NOW);
    lookBackExternal(cursors, NOW, NOW - 30 * DAY);
    expect(cursors.get('tibber:energy')).toBe(NOW - 7 * DAY);
    expect(cursors.get('opower:gas')).toBe(NOW - 30 * DAY);
  });

  it('a damaged import cursor does not stop the follower: it begins now, and says why', async () => {
    const ha = new StatisticsHa({ sensors: 2, counters: 2, days: 5, shortTermDays: 2 }, NOW);
    const dir = await dataDir();
    await writeFile(join(dir, 'statistics-import.json'), '{"version":9}');
    await new StatisticsFollower(context(ha, dir)).runOnce();
    expect(existsSync(join(dir, 'statistics-follow.json'))).toBe(true);
  });
});
