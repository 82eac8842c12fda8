/**
 * The history import without the flag, against an old HA, and cut by dropped connections:
 * IMPORT_HISTORY_ON_FIRST_START imports on a first start (no state.json in DATA_DIR) and not on
 * the next one; a dropped connection resumes the import on the next one; HA before 2022.5
 * (simulator mode 'old', no history/history_during_period) is imported over REST
 * /api/history/period (the exact comparison shows no made-up initial-state row was written). Built ingestor, real InfluxDB 1.6.7.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { startScenario, useCleanups } from '../helpers/cleanups.js';
import { expectSamePoints, readInfluxV1 } from '../helpers/expected.js';
import { expectedWithHistory, expectLog, importDone, importEnd, importHealth, importPoints, recordedBefore } from '../helpers/import-history.js';
import { until } from '../helpers/ports.js';
import type { Scenario } from '../helpers/scenario.js';

const cleanups = useCleanups();

async function expectComplete(sc: Scenario, leaveOut: (id: string) => boolean = () => false): Promise<void> {
  const expected = expectedWithHistory(sc, leaveOut);
  const read = async () => (await readInfluxV1(sc.influxUrl, sc.db)).filter((p) => !leaveOut(p.entityId));
  let actual = await read();
  await until('every point in the database', async () => ((actual = await read()).length >= expected.length ? true : undefined), 20_000, 500).catch(() => {});
  expectSamePoints(actual, expected);
}

describe('IMPORT_HISTORY_ON_FIRST_START', () => {
  it('imports on a first start against an empty DATA_DIR, and not on the second start', async () => {
    const sc = await startScenario(cleanups, {
      influxUrl: inject('influxV1Url'),
      db: 'import_first_start',
      sim: { entities: 40, historyDays: 1, historyIntervalS: 600 },
      env: { IMPORT_HISTORY_ON_FIRST_START: '12h' },
    });
    const first = sc.ingestor as NonNullable<typeof sc.ingestor>;
    await importDone(first);
    expectLog(first, 'first start with IMPORT_HISTORY_ON_FIRST_START');
    const toMs = importEnd(first) as number;
    // 12 h back from the boundary: the rows of those 12 hours, each once.
    let inRange = 0;
    for (const r of sc.sim.recordedRows()) if (r.us >= (toMs - 12 * 3_600_000) * 1000 && r.us < toMs * 1000) inRange++;
    expect(await importPoints(first)).toBe(inRange);
    expect(inRange).toBeLessThan(recordedBefore(sc, toMs));

    // Once a live event is durable, state.json is saved: the next start is not a first start.
    await sc.sim.emit({ count: 50, rate: 200 });
    await until('state.json saved', () => (existsSync(join(sc.dataDir, 'state.json')) ? true : undefined), 10_000);
    await first.stop();
    const second = await sc.startIngestor();
    await sc.sim.emit({ count: 100, rate: 200 });
    await second.written(1);
    expect(await importHealth(second)).toBeUndefined();
    expect(await importPoints(second)).toBe(0);
    expectLog(second, 'states import', false);
  });
});

describe('old HA (before history/history_during_period)', () => {
  it('imports over REST /api/history/period, with a live stream, exactly', async () => {
    const sc = await startScenario(cleanups, {
      influxUrl: inject('influxV1Url'),
      db: 'import_old_ha',
      sim: { mode: 'old', entities: 40, historyDays: 1, historyIntervalS: 600, recorderLagMs: 1_000 },
      args: ['--import-history', 'all'],
    });
    const ingestor = sc.ingestor as NonNullable<typeof sc.ingestor>;
    const live = sc.sim.emit({ count: 600, rate: 200 });
    await importDone(ingestor);
    await live;
    await sc.sim.recorderCaughtUp();
    // REST takes ids as a comma list: the simulator's one id with a comma (invalid in HA) cannot be asked for.
    const comma = (id: string) => id.includes(',');
    expect(await importPoints(ingestor)).toBe(recordedBefore(sc, importEnd(ingestor) as number, comma));
    expect(sc.sim.unknownCommands).toBe(0);
    expectLog(ingestor, 'the import cannot fetch');
    await expectComplete(sc, comma);
  });
});

describe('a connection lost during the import', () => {
  it('resumes on the next connection, in the same process, and the result is exact', async () => {
    const sc = await startScenario(cleanups, {
      influxUrl: inject('influxV1Url'),
      db: 'import_drops',
      sim: { entities: 40, historyDays: 2, historyIntervalS: 600 },
      args: ['--import-history', 'all'],
    });
    sc.sim.historyDelayMs = 100; // a busy recorder: the import lasts long enough to be cut
    const ingestor = sc.ingestor as NonNullable<typeof sc.ingestor>;
    const live = sc.sim.emit({ count: 600, rate: 150 });
    for (const at of [0.2, 0.6]) {
      await until(`import at ${at}`, async () => ((await importHealth(ingestor))?.fraction ?? 0) >= at || undefined, 30_000, 50);
      sc.sim.dropConnections();
      await sc.sim.waitForSubscribers(1, 30_000);
    }
    await importDone(ingestor);
    await live;
    await sc.sim.recorderCaughtUp();
    expectLog(ingestor, 'the connection closed during the history import: it resumes on the next connection');
    expect(await importPoints(ingestor)).toBeGreaterThanOrEqual(recordedBefore(sc, importEnd(ingestor) as number));
    await expectComplete(sc);
  });
});
