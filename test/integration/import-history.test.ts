/**
 * `--import-history all` end to end: the built ingestor, the simulator holding two days of
 * recorded history (its recorder committing late, its clock hours behind ours: everything is
 * placed in HA's time), real InfluxDB 1.6.7. Every recorded state
 * is imported exactly once while a live stream runs, the import meets the live stream without a
 * gap, a rerun writes nothing, and a SIGKILL in the middle resumes to the same exact result.
 */
import { describe, expect, inject, it } from 'vitest';
import { startScenario, useCleanups } from '../helpers/cleanups.js';
import { expectSamePoints, readInfluxV1 } from '../helpers/expected.js';
import { expectedWithHistory, expectLog, importDone, importEnd, importHealth, importPoints, recordedBefore } from '../helpers/import-history.js';
import { influxQuery, rowsOf } from '../helpers/influxql.js';
import { until } from '../helpers/ports.js';
import type { Scenario } from '../helpers/scenario.js';

const cleanups = useCleanups();

const SIM = { entities: 60, historyDays: 2, historyIntervalS: 600, recorderLagMs: 1_500 };

/** Polls the database until it holds exactly every recorded, snapshot and emitted point. */
async function expectComplete(sc: Scenario, timeoutMs = 20_000): Promise<void> {
  const expected = expectedWithHistory(sc);
  let actual = await readInfluxV1(sc.influxUrl, sc.db);
  await until(
    'every point in the database',
    async () => ((actual = await readInfluxV1(sc.influxUrl, sc.db)).length >= expected.length ? true : undefined),
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
      env: { SELF_METRICS_INTERVAL_S: '0' },
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
