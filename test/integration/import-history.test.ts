/**
 * `--import-history all` end to end: the built ingestor, the simulator holding two days of
 * recorded history (its recorder committing late, its clock hours behind ours: everything is
 * placed in HA's time), real InfluxDB 1.6.7. Every recorded state
 * is imported exactly once while a live stream runs, the import meets the live stream without a
 * gap, a rerun writes nothing, and a SIGKILL in the middle resumes to the same exact result.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { startScenario, useCleanups } from '../helpers/cleanups.js';
import { expectSamePoints, readInfluxV1 } from '../helpers/expected.js';
import { expectedWithHistory, expectLog, importDone, importEnd, importHealth, importPoints, recordedBefore } from '../helpers/import-history.js';
import { influxQuery, rowsOf } from '../helpers/influxql.js';
import { until } from '../helpers/ports.js';
import type { Scenario } from '../helpers/scenario.js';

const cleanups = useCleanups();

const SIM = { entities: 60, historyDays: 2, historyIntervalS: 600, recorderLagMs: 1_500 };

/** statistics-import.json / statistics-follow.json (src/import/statistics-cursor.ts). */
interface StatisticsFile {
  complete?: boolean;
  sinceMs: { hour: number; '5minute': number } | null;
  periods: Record<'hour' | '5minute', Record<string, number>>;
}

/** The state points in the database (long-term statistics are checked on their own). */
const readStatePoints = async (sc: Scenario) => (await readInfluxV1(sc.influxUrl, sc.db)).filter((p) => p.measurement !== 'ha_statistics');

/** Polls the database until it holds exactly every recorded, snapshot and emitted point. */
async function expectComplete(sc: Scenario, timeoutMs = 20_000): Promise<void> {
  const expected = expectedWithHistory(sc);
  let actual = await readStatePoints(sc);
  await until(
    'every point in the database',
    async () => ((actual = await readStatePoints(sc)).length >= expected.length ? true : undefined),
    timeoutMs,
    500,
  ).catch(() => {});
  expectSamePoints(actual, expected);
}

/** Every point of every measurement (derived ones too), as InfluxDB keeps them: one per series and time. */
async function readAllPoints(sc: Scenario): Promise<unknown[]> {
  const measurements = (await influxQuery(sc.influxUrl, sc.db, 'SHOW MEASUREMENTS')).flatMap((m) => m.values.map((v) => String(v[0])));
  const out: unknown[] = [];
  for (const m of measurements) out.push(...rowsOf(await influxQuery(sc.influxUrl, sc.db, `SELECT * FROM "${m}"`)));
  return out;
}

describe('--import-history all', () => {
  it('imports every recorded state exactly once beside a live stream; a rerun writes nothing new', async () => {
    const sc = await startScenario(cleanups, {
      influxUrl: inject('influxV1Url'),
      db: 'import_all',
      sim: { ...SIM, clockOffsetMs: -3 * 3_600_000 },
      // Only the states' lines: enrichment points (weather, presence) may repeat one at the same time.
      env: { SELF_METRICS_INTERVAL_S: '0', ENRICH_WEATHER: 'false', ENRICH_PRESENCE: 'false' },
      args: ['--import-history'],
    });
    const live = sc.sim.emit({ count: 1_500, rate: 300 });
    const ingestor = sc.ingestor as NonNullable<typeof sc.ingestor>;
    const done = await importDone(ingestor);
    await live;
    await sc.sim.recorderCaughtUp();
    const toMs = importEnd(ingestor) as number;
    // Exactly the recorded rows before the boundary, each once: none missed, none twice.
    expect(await importPoints(ingestor)).toBe(recordedBefore(sc, toMs));
    expect(done.points).toBe(recordedBefore(sc, toMs));
    expect(done.fraction).toBe(1);
    expect(await ingestor.metric('ha_ingestor_import_requests_total{importer="states"}')).toBeGreaterThan(0);
    expect(await ingestor.metric('ha_ingestor_import_received_bytes_total{importer="states"}')).toBeGreaterThan(0);
    // The end is on HA's clock (3 h behind ours), not ours.
    expect(Date.now() - toMs).toBeGreaterThan(2 * 3_600_000);
    await expectComplete(sc);
    // Lines written twice: only each entity's snapshot state (also a recorded row before the end)
    // and at most the first live change (in the end's millisecond).
    const written = await ingestor.metric('ha_ingestor_points_written_total');
    const distinct = (await readAllPoints(sc)).length;
    expect(written - distinct).toBeGreaterThanOrEqual(SIM.entities);
    expect(written - distinct).toBeLessThanOrEqual(SIM.entities + 1);

    // A rerun with the same flag: the cursor says done, nothing is imported again.
    await ingestor.stop();
    const again = await sc.startIngestor({}, true, ['--import-history', 'all']);
    await until(
      'the rerun saw the cursor',
      () => (again.logs.some((l) => String(l.msg).startsWith('states import already complete')) ? true : undefined),
      20_000,
    );
    await importDone(again);
    expect(await importPoints(again)).toBe(0);
    expectLog(again, 'states import begins', false);
    await sc.sim.emit({ count: 200, rate: 200 });
    await expectComplete(sc);
  });

  it('states and long-term statistics together beside a live stream: every row once, the follower takes over, a rerun imports nothing', async () => {
    const sc = await startScenario(cleanups, {
      influxUrl: inject('influxV1Url'),
      db: 'import_states_statistics',
      // 5-minute rows kept 9 days, inside the import's 10-day reach, so every one is HA's to give.
      sim: { ...SIM, statistics: { sensors: 4, counters: 4, days: 40, shortTermDays: 9 } },
      env: { SELF_METRICS_INTERVAL_S: '0' },
      args: ['--import-history', 'all'],
    });
    const live = sc.sim.emit({ count: 600, rate: 200 });
    const ingestor = sc.ingestor as NonNullable<typeof sc.ingestor>;
    await importDone(ingestor, 60_000);
    await live;
    await sc.sim.recorderCaughtUp();
    await expectComplete(sc);

    const cursor = JSON.parse(readFileSync(join(sc.dataDir, 'statistics-import.json'), 'utf8')) as StatisticsFile;
    expect(cursor.complete).toBe(true);
    const stats = sc.sim.statistics;
    const haNow = sc.sim.haNowMs();
    for (const period of ['hour', '5minute'] as const) {
      // Every row HA has before the import's end, each once in the database, values exact.
      const end = Math.min(...Object.values(cursor.periods[period]));
      const want = stats.expected(period, 0, end, haNow);
      expect(want.length).toBeGreaterThan(period === 'hour' ? 7_000 : 20_000);
      const rows = rowsOf(
        await influxQuery(sc.influxUrl, sc.db, `SELECT * FROM ha_statistics WHERE period = '${period}' AND time < ${end}ms`, { epoch: 'ms' }),
      );
      const key = (id: unknown, ms: unknown) => `${String(id)} ${String(ms)}`;
      expect(rows.map((r) => key(r.statistic_id, r.time)).sort()).toEqual(want.map((w) => key(w.id, w.startMs)).sort());
      const byKey = new Map(rows.map((r) => [key(r.statistic_id, r.time), r]));
      for (const w of want) {
        const r = byKey.get(key(w.id, w.startMs));
        // Numbers as numbers: a -0 HA computed reads back as 0 (line protocol has one zero).
        const values = (o: Record<string, unknown> | undefined) =>
          ['mean', 'min', 'max', 'sum', 'state'].map((f) => (o?.[f] === null || o?.[f] === undefined ? null : Number(o[f]) + 0));
        expect(values(r)).toEqual(values(w.row));
      }
    }
    // The follower (STATISTICS=true) began no later than where the import ended: no hour between.
    const followPath = join(sc.dataDir, 'statistics-follow.json');
    await until('the follower began after the import', () => existsSync(followPath) || undefined, 20_000, 50);
    const follow = JSON.parse(readFileSync(followPath, 'utf8')) as StatisticsFile;
    expect(Math.min(...Object.values(cursor.periods.hour))).toBeGreaterThanOrEqual(follow.sinceMs?.hour ?? Number.POSITIVE_INFINITY);

    await ingestor.stop();
    const again = await sc.startIngestor({}, true, ['--import-history', 'all']);
    await importDone(again);
    expectLog(again, 'states import already complete');
    expectLog(again, 'statistics import already complete');
    expect(await again.metric('ha_ingestor_import_points_total{importer="states"}')).toBe(0);
    expect(await again.metric('ha_ingestor_import_points_total{importer="statistics"}')).toBe(0);
  });

  it('a SIGKILL in the middle, then a restart with the same flag: resumes, and the result is exact', async () => {
    const sc = await startScenario(cleanups, { influxUrl: inject('influxV1Url'), db: 'import_kill', sim: SIM, args: ['--import-history', 'all'] });
    // Slow answers (a busy recorder): the import takes seconds, so it can be killed in the middle.
    sc.sim.historyDelayMs = 150;
    const first = sc.ingestor as NonNullable<typeof sc.ingestor>;
    const live = sc.sim.emit({ count: 1_000, rate: 200 });
    await until('import under way', async () => ((await importHealth(first))?.fraction ?? 0) >= 0.3 || undefined, 30_000, 50);
    expect(await first.stop('SIGKILL')).toBeNull();
    const firstPoints = recordedBefore(sc, importEnd(first) as number);
    sc.sim.historyDelayMs = 0;
    const second = await sc.startIngestor({}, true, ['--import-history', 'all']);
    await importDone(second);
    await live;
    await sc.sim.recorderCaughtUp();
    expectLog(second, 'states import resumed where it stopped');
    expectLog(second, 'states import begins', false);
    // Resumed: less than the whole range again (at most one step redone).
    const resumed = await importPoints(second);
    expect(resumed).toBeGreaterThan(0);
    expect(resumed).toBeLessThan(firstPoints);
    await expectComplete(sc);
  });
});
