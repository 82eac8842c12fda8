/**
 * HA's long-term statistics kept in InfluxDB 1.6.7 by the built ingestor (STATISTICS=true, the
 * default), against the simulator's recorder statistics: a first start keeps only what HA compiles
 * from then on; after HA's clock moved on by days, the follower fetches the backlog in chunks; a
 * kill in the middle resumes from the cursor (one chunk asked for again at most); the database
 * then holds every row exactly, and a restart asks for nothing already written.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { influxQuery, rowsOf } from '../helpers/influxql.js';
import { until } from '../helpers/ports.js';
import { Scenario } from '../helpers/scenario.js';

const DAY = 86_400_000;
let sc: Scenario | null = null;
afterEach(async () => {
  await sc?.stop();
  sc = null;
});

interface FollowFile {
  sinceMs: { hour: number; '5minute': number } | null;
  periods: Record<'hour' | '5minute', Record<string, number>>;
}

async function followFile(s: Scenario): Promise<FollowFile | null> {
  try {
    return JSON.parse(await readFile(join(s.dataDir, 'statistics-follow.json'), 'utf8')) as FollowFile;
  } catch {
    return null;
  }
}

/** A connection on which the ingestor knows HA's clock (live events seen), so the follower runs. */
async function reconnectWithClock(s: Scenario): Promise<void> {
  await s.sim.emit({ count: 20 });
  await until('live events written', async () => ((await s.ingestor?.metric('ha_ingestor_events_received_total')) ?? 0) >= 20 || undefined, 20_000, 50);
  const before = s.sim.connectionsAccepted;
  s.sim.dropConnections();
  await until('reconnected', async () => s.sim.connectionsAccepted > before || undefined, 20_000, 50);
}

describe('long-term statistics (STATISTICS=true)', () => {
  it('first start: only new statistics; a backlog of days fetched in chunks, killed in the middle, resumed; every row exactly once', async () => {
    sc = await Scenario.start({
      influxUrl: inject('influxV1Url'),
      db: 'statistics',
      sim: { entities: 20, statistics: { sensors: 50, counters: 50, days: 30, shortTermDays: 10 }, clockOffsetMs: -6 * DAY },
      env: { SELF_METRICS_INTERVAL_S: '0' },
    });
    const s = sc;
    const stats = s.sim.statistics;
    await reconnectWithClock(s);
    const first = await until('the follower began', async () => (await followFile(s))?.sinceMs ?? undefined, 20_000, 50);
    expect(stats.asked).toEqual([]);

    // HA's clock moves on 4 days while the ingestor is stopped: 96 hours and 1,152 five-minute periods each.
    await s.ingestor?.stop();
    s.sim.clockOffsetMs += 4 * DAY;
    await s.startIngestor();
    await reconnectWithClock(s);
    await until('a few chunks asked', async () => stats.asked.length >= 3 || undefined, 30_000, 20);
    await s.ingestor?.stop('SIGKILL');
    const beforeKill = stats.asked.length;

    await s.startIngestor();
    await reconnectWithClock(s);
    const done = await until(
      'the backlog fetched',
      async () => {
        const f = await followFile(s);
        const ok = (period: 'hour' | '5minute') => {
          const cursors = Object.values(f?.periods[period] ?? {});
          return cursors.length === 100 && Math.min(...cursors) > first[period] + 3 * DAY;
        };
        return f !== null && ok('hour') && ok('5minute') ? f : undefined;
      },
      40_000,
      100,
    );
    // The chunk in flight at the kill is the only window asked for twice.
    const windows = stats.asked.map((a) => `${a.period} ${a.startMs} ${a.endMs}`);
    const twice = windows.filter((w, i) => windows.indexOf(w) !== i);
    expect(twice.length).toBeLessThanOrEqual(1);
    expect(beforeKill).toBeGreaterThanOrEqual(3);
    expect(stats.asked.length).toBeGreaterThan(beforeKill);

    // The database holds exactly HA's rows from the first start to each cursor, values exact.
    const haNow = s.sim.haNowMs();
    for (const period of ['hour', '5minute'] as const) {
      const to = Math.min(...Object.values(done.periods[period]));
      const want = stats.expected(period, first[period], to, haNow);
      const counts = rowsOf(await influxQuery(s.influxUrl, s.db, `SELECT count(*) FROM ha_statistics WHERE period = '${period}' AND time < ${to}ms`));
      const n = Math.max(Number(counts[0]?.count_mean ?? 0), 0) + Math.max(Number(counts[0]?.count_sum ?? 0), 0);
      expect(n).toBe(want.length);
      for (const id of ['sensor.temperature_1', 'sensor.energy_51']) {
        const rows = rowsOf(
          await influxQuery(s.influxUrl, s.db, `SELECT * FROM ha_statistics WHERE statistic_id = '${id}' AND period = '${period}' AND time < ${to}ms`, {
            epoch: 'ms',
          }),
        );
        const mine = want.filter((w) => w.id === id);
        expect(rows.map((r) => r.time)).toEqual(mine.map((w) => w.startMs));
        expect(rows.map((r) => [r.mean ?? null, r.min ?? null, r.max ?? null, r.sum ?? null, r.state ?? null, r.last_reset ?? null])).toEqual(
          mine.map((w) => [
            w.row.mean,
            w.row.min,
            w.row.max,
            w.row.sum,
            w.row.state,
            w.row.last_reset === null ? null : new Date(w.row.last_reset as number).toISOString(),
          ]),
        );
      }
    }

    // docs/schema.md's daily energy query: the last hourly `sum` of each local day minus the day before's.
    const to = Math.min(...Object.values(done.periods.hour));
    const id = 'sensor.energy_51';
    const q = `SELECT difference(last("sum")) AS "kWh" FROM "ha_statistics" WHERE "statistic_id" = '${id}' AND "period" = 'hour' AND time >= ${first.hour}ms AND time < ${to}ms GROUP BY time(1d) tz('Europe/Berlin')`;
    const daily = rowsOf(await influxQuery(s.influxUrl, s.db, q, { epoch: 'ms' }));
    const berlinDay = (ms: number) => new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Berlin' }).format(ms);
    const lastSum = new Map<string, number>();
    for (const w of stats.expected('hour', first.hour, to, haNow)) if (w.id === id) lastSum.set(berlinDay(w.startMs), w.row.sum as number);
    const days = [...lastSum];
    const want = days.slice(1).map(([day, sum], i) => [day, sum - (days[i] as [string, number])[1]]);
    expect(daily.map((r) => [berlinDay(r.time as number), r.kWh])).toEqual(want);

    // A restart asks for nothing it has written: every window starts at or after the cursors.
    const asked = stats.asked.length;
    await s.ingestor?.stop();
    await s.startIngestor();
    const lists = stats.requests;
    await reconnectWithClock(s);
    await until('the follower listed the statistic ids', async () => stats.requests > lists || undefined, 20_000, 20);
    for (const a of stats.asked.slice(asked))
      expect(a.startMs).toBeGreaterThanOrEqual(Math.min(...Object.values(done.periods[a.period as 'hour' | '5minute'])));
  }, 60_000);
});
