/**
 * Restart de-duplication against real parts: the simulator restarts like HA does (every entity
 * announced again, old_state null, state and attributes unchanged, new timestamps; most before
 * its API is up, the rest live), the built ingestor writes into InfluxDB 1.6.7, and the database
 * is compared point by point with what must be there.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { expectedPoints, expectSamePoints, readInfluxV1, type ExpectedPoint } from '../helpers/expected.js';
import type { IngestorProcess } from '../helpers/ingestor.js';
import { until } from '../helpers/ports.js';
import { Scenario } from '../helpers/scenario.js';

let sc: Scenario | null = null;
afterEach(async () => {
  await sc?.stop();
  sc = null;
});

/** Every point the simulator made, less the re-announcements when they are to be left out. */
function expected(s: Scenario, dedup: boolean): ExpectedPoint[] {
  const all = expectedPoints([...s.sim.snapshotStates.values()], [...s.sim.emitted, ...s.sim.reannounced]);
  if (!dedup) return all;
  const reannounced = new Set(s.sim.reannounced.map((r) => `${r.entityId}\u0000${BigInt(r.lastUpdatedUs) * 1000n}`));
  return all.filter((p) => !reannounced.has(`${p.entityId}\u0000${p.time}`));
}

async function expectDatabase(s: Scenario, want: ExpectedPoint[]): Promise<void> {
  const key = (p: ExpectedPoint) => `${p.entityId}\u0000${p.time}\u0000${p.value}\u0000${p.state}`;
  const keys = new Set(want.map(key));
  let have: ExpectedPoint[] = [];
  await until(
    'the database holds exactly the expected points',
    async () => {
      have = await readInfluxV1(s.influxUrl, s.db);
      return have.length === want.length && have.every((p) => keys.has(key(p))) ? true : undefined;
    },
    60_000,
    500,
  ).catch(() => {});
  expectSamePoints(have, want);
}

describe('restart de-duplication', () => {
  // POOL_SIZE=2: batches finish out of order on two threads; verdicts still follow event order.
  it.each([
    ['the default pool', 'dedup', {}],
    ['POOL_SIZE=2', 'dedup_pool2', { POOL_SIZE: '2' }],
  ])('HA restarts under a running ingestor, then while it is stopped: no re-announced duplicate is written, every change is (%s)', async (_name, db, env) => {
    sc = await Scenario.start({ influxUrl: inject('influxV1Url'), db, sim: { entities: 200 }, env: { SELF_METRICS_INTERVAL_S: '0', ...env } });
    const sim = sc.sim;
    await sim.emit({ count: 2_000 });
    await expectDatabase(sc, expected(sc, true));

    // 1. HA restarts while we are connected: 150 entities re-announced before its API is up,
    //    one of them changed right after; the other 50 load later (absent from get_states) and
    //    are re-announced live once we are back.
    const ids = sim.entityIds;
    await sim.restart(500, () => {
      sim.reannounce(ids.slice(0, 150));
      sim.unload(ids.slice(150));
      sim.emitState(ids[100] as string, '12345', { friendly_name: 'changed at start-up' });
    });
    await sim.waitForSubscribers(1, 30_000);
    const ingestor = sc.ingestor as IngestorProcess;
    await until(
      'the snapshot after the restart',
      async () =>
        (await ingestor.metric('ha_ingestor_ha_reconnects_total')) >= 1 && (await ingestor.metric('ha_ingestor_backfills_total{result="complete"}')) >= 1
          ? true
          : undefined,
      30_000,
      100,
    );
    sim.reannounce(ids.slice(150));
    await sim.emit({ count: 500 });
    expect(sim.reannounced).toHaveLength(200);
    await expectDatabase(sc, expected(sc, true));
    expect(await ingestor.metric('ha_ingestor_reannouncements_skipped_total')).toBe(200);

    // 2. The ingestor stopped. Before HA restarts, one entity changes, another changes and comes
    //    back, a door goes unavailable. HA restarts; five entities change after it; the door's
    //    integration loads late: it comes back closed, live, while our backfill is still
    //    running (a slow recorder). The ingestor starts again with its saved table: only the
    //    re-announcements are left out.
    await ingestor.stop('SIGTERM');
    const [x, y, door] = [ids[120] as string, ids[121] as string, ids[122] as string];
    const [yBefore, doorBefore] = [sim.stateOf(y), sim.stateOf(door)];
    sim.emitState(x, 'changed before the restart', {});
    sim.emitState(y, 'away and back', {});
    sim.emitState(y, yBefore?.state as string, yBefore?.attributes ?? {});
    sim.emitState(door, 'unavailable', {});
    await sim.restart(200, () => {
      sim.unload([door]);
      sim.reannounce();
    });
    for (const id of ids.slice(0, 5)) sim.emitState(id, '-1', { friendly_name: 'changed while we were away' });
    sim.historyDelayMs = 2_000;
    const again = await sc.startIngestor({}, false);
    sim.emitState(door, doorBefore?.state as string, doorBefore?.attributes ?? {});
    expect(sim.reannounced).toHaveLength(399);
    await expectDatabase(sc, expected(sc, true));
    expect(await again.metric('ha_ingestor_reannouncements_skipped_total')).toBe(199);
  });

  it('RESTART_DEDUP=false writes every re-announcement', async () => {
    sc = await Scenario.start({
      influxUrl: inject('influxV1Url'),
      db: 'nodedup',
      sim: { entities: 100 },
      env: { SELF_METRICS_INTERVAL_S: '0', RESTART_DEDUP: 'false' },
    });
    const sim = sc.sim;
    const ids = sim.entityIds;
    await sim.emit({ count: 500 });
    await sim.restart(200, () => {
      sim.reannounce(sim.entityIds.slice(0, 60));
      sim.unload(sim.entityIds.slice(60));
    });
    await sim.waitForSubscribers(1, 30_000);
    sim.reannounce(ids.slice(60));
    await sim.emit({ count: 100 });
    await expectDatabase(sc, expected(sc, false));
    expect(expected(sc, false).length - expected(sc, true).length).toBe(100);
    expect(await (sc.ingestor as IngestorProcess).metric('ha_ingestor_reannouncements_skipped_total')).toBe(0);
  });
});
