/**
 * Fault injection against real parts: the database (InfluxDB 1.6.7) stopped, slowed, refusing
 * our credentials or one poisoned point; Home Assistant dropping the connection; the ingestor
 * killed. Each test compares the database with everything the simulator emitted, point by point.
 */
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { Influxd } from '../helpers/influxd.js';
import type { IngestorProcess } from '../helpers/ingestor.js';
import { freePort, until } from '../helpers/ports.js';
import { type Scenario, sleep } from '../helpers/scenario.js';
import { startScenario, useCleanups } from '../helpers/cleanups.js';

const cleanups = useCleanups();

const scenario = (opts: Parameters<typeof startScenario>[1]): Promise<Scenario> => startScenario(cleanups, opts);

async function dedicatedInfluxd(opts: { auth?: boolean } = {}): Promise<Influxd> {
  const dir = mkdtempSync(join(tmpdir(), 'influxd-fault-'));
  const influxd = await Influxd.create(dir, opts);
  await influxd.start();
  cleanups.push(async () => {
    await influxd.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return influxd;
}

describe('Home Assistant faults', () => {
  it('the connection dropped five times mid-stream: every state change arrives (the gaps from HA history)', async () => {
    const sc = await scenario({ influxUrl: inject('influxV1Url'), db: 'drops' });
    const emitting = sc.sim.emit({ count: 12_000, rate: 1_500 });
    for (let i = 0; i < 5; i++) {
      await sleep(900);
      sc.sim.dropConnections();
      await sleep(300); // events keep coming while the ingestor is away
      await sc.sim.waitForSubscribers(1, 60_000);
    }
    await emitting;
    expect(sc.sim.emitted.some((e) => !e.delivered)).toBe(true);
    await sc.expectDatabaseComplete();
    const ingestor = sc.ingestor as IngestorProcess;
    expect(await ingestor.metric('ha_ingestor_ha_reconnects_total')).toBe(5);
    // Every gap filled, none reported partial. A drop that lands while a gap is being filled hands
    // that gap on to the next connection, which fills both at once: 3 to 5 fills for 5 drops.
    expect(await ingestor.metric('ha_ingestor_backfills_total{result="complete"}')).toBeGreaterThanOrEqual(3);
    expect(await ingestor.metric('ha_ingestor_backfills_total{result="partial"}')).toBe(0);
  });

  it('the ingestor SIGKILLed mid-stream and started again: nothing lost', async () => {
    const sc = await scenario({ influxUrl: inject('influxV1Url'), db: 'sigkill' });
    const emitting = sc.sim.emit({ count: 10_000, rate: 1_500 });
    await sleep(3_000);
    expect(await sc.ingestor?.stop('SIGKILL')).toBeNull();
    await sleep(1_000);
    await sc.startIngestor();
    await emitting;
    await sc.expectDatabaseComplete();
    expect(await sc.ingestor?.metric('ha_ingestor_backfill_points_total')).toBeGreaterThan(0);
  });

  it('an older HA (0.96: no history command, no registries): the gap is filled through /api/history/period, no unknown command sent', async () => {
    const sc = await scenario({ influxUrl: inject('influxV1Url'), db: 'old_rest', sim: { mode: 'old' } });
    const emitting = sc.sim.emit({ count: 4_000, rate: 1_000 });
    await sleep(1_500);
    sc.sim.dropConnections();
    await emitting;
    // REST takes ids as a comma list: the simulator's one id with a comma (invalid in HA) cannot
    // be asked for; the ingestor says so, and its missed events are left out of the expectation.
    const missed = sc.sim.emitted.filter((e) => !e.delivered && e.entityId.includes(','));
    for (const e of missed) sc.sim.emitted.splice(sc.sim.emitted.indexOf(e), 1);
    await sc.expectDatabaseComplete();
    const logs = sc.ingestor?.logs ?? [];
    expect(logs.some((l) => String(l.msg).includes('using /api/history/period'))).toBe(true);
    if (missed.length > 0) expect(logs.some((l) => String(l.why).includes('sensor.odd id, with=signs'))).toBe(true);
    // Two connections and a backfill, and not one command the old HA does not know: each would be
    // an ERROR line in its log (issue 12, item 10: supported_features, the registries, history).
    expect(sc.sim.unknownCommands).toBe(0);
  });
});

describe('encoders behind', () => {
  it('frames beyond ENCODER_QUEUE_BYTES wait on disk: at full speed nothing is dropped, nothing lost', async () => {
    const sc = await scenario({ influxUrl: inject('influxV1Url'), db: 'overflow', env: { ENCODER_QUEUE_BYTES: '1048576' } });
    await sc.sim.emit({ count: 30_000, pregenerate: true });
    await sc.expectDatabaseComplete();
    const ingestor = sc.ingestor as IngestorProcess;
    expect(await ingestor.metric('ha_ingestor_frame_spooled_frames_total')).toBeGreaterThan(0);
    expect(await ingestor.metric('ha_ingestor_frame_spool_replayed_frames_total')).toBe(await ingestor.metric('ha_ingestor_frame_spooled_frames_total'));
    expect(await ingestor.metric('ha_ingestor_dispatch_dropped_frames_total')).toBe(0);
    expect(sc.sim.slowReaderDisconnects).toBe(0);
  });
});

describe('database faults', () => {
  it('the database stopped for 60 s mid-stream and started again: everything arrives', async () => {
    const influxd = await dedicatedInfluxd();
    const sc = await scenario({ influxUrl: influxd.url, db: 'outage' });
    const ingestor = sc.ingestor as IngestorProcess;
    const emitting = sc.sim.emit({ count: 70_000, rate: 1_000 });
    await sleep(5_000);
    await influxd.stop();
    await until('spooling', async () => ((await ingestor.metric('ha_ingestor_spooled_points_total')) > 0 ? true : undefined), 30_000, 500);
    const down = await ingestor.health();
    expect(down.status).toBe(503);
    await sleep(55_000);
    await influxd.start();
    await emitting;
    await sc.expectDatabaseComplete(180_000);
    expect(await ingestor.metric('ha_ingestor_spool_replayed_points_total')).toBeGreaterThan(0);
    expect(await ingestor.metric('ha_ingestor_dispatch_dropped_frames_total')).toBe(0);
    expect(sc.sim.slowReaderDisconnects).toBe(0);
  });

  it('SIGTERM while the database is down: exit 0 by the deadline with everything spooled; all of it arrives after a restart', async () => {
    const influxd = await dedicatedInfluxd();
    const sc = await scenario({ influxUrl: influxd.url, db: 'shutdown', env: { SHUTDOWN_TIMEOUT_MS: '2000' } });
    await influxd.stop();
    await sc.sim.emit({ count: 3_000, rate: 3_000 });
    const ingestor = sc.ingestor as IngestorProcess;
    await until('all received', async () => ((await ingestor.metric('ha_ingestor_events_received_total')) === 3_000 ? true : undefined), 20_000, 100);
    const stoppedAt = Date.now();
    expect(await ingestor.stop('SIGTERM')).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(15_000);
    expect(ingestor.logs.find((l) => l.msg === 'stopped')).toMatchObject({ spooled: true });
    await influxd.start();
    await sc.startIngestor();
    await sc.expectDatabaseComplete();
  });

  it('a full spool (SPOOL_MAX_BYTES) drops its oldest batches with an error and a metric, never silently', async () => {
    const influxd = await dedicatedInfluxd();
    const sc = await scenario({ influxUrl: influxd.url, db: 'full', env: { SPOOL_MAX_BYTES: '1048576', BATCH_MAX_LINES: '1000' } });
    await influxd.stop();
    await sc.sim.emit({ count: 60_000, pregenerate: true });
    const ingestor = sc.ingestor as IngestorProcess;
    await until('a dropped batch', async () => ((await ingestor.metric('ha_ingestor_spool_dropped_points_total')) > 0 ? true : undefined), 60_000, 200);
    const error = ingestor.logs.find((l) => String(l.msg).startsWith('spool is full'));
    expect(error).toMatchObject({ level: 50, maxBytes: 1048576 });
    expect(await ingestor.metric('ha_ingestor_spool_bytes')).toBeLessThanOrEqual(1048576);
  });

  it('a slow database (3 s per write) at 5,000 events/s: no HA disconnect, memory bounded, nothing lost', async () => {
    const target = inject('influxV1Url');
    const proxyPort = await freePort();
    const proxy: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        setTimeout(
          () => {
            void fetch(`${target}${req.url}`, {
              method: req.method,
              headers: req.headers as Record<string, string>,
              body: req.method === 'POST' ? Buffer.concat(chunks) : undefined,
            })
              .then(async (r) => {
                // fetch has decoded the body: pass it on without its encoding headers.
                const headers = Object.fromEntries([...r.headers].filter(([k]) => k !== 'content-encoding' && k !== 'content-length'));
                res.writeHead(r.status, headers).end(Buffer.from(await r.arrayBuffer()));
              })
              .catch(() => res.destroy());
          },
          req.method === 'POST' ? 3_000 : 0,
        );
      });
    });
    await new Promise<void>((r) => proxy.listen(proxyPort, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise((r) => proxy.close(() => r())));
    const sc = await scenario({ influxUrl: `http://127.0.0.1:${proxyPort}`, db: 'slow' });
    await sc.sim.emit({ count: 100_000, rate: 5_000 });
    await sc.expectDatabaseComplete(180_000);
    const ingestor = sc.ingestor as IngestorProcess;
    expect(sc.sim.slowReaderDisconnects).toBe(0);
    expect(await ingestor.metric('ha_ingestor_ha_reconnects_total')).toBe(0);
    const status = readFileSync(`/proc/${ingestor.proc.pid}/status`, 'utf8');
    const peakKb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]);
    expect(peakKb).toBeLessThan(256 * 1024);
  });

  it('one poisoned point in a batch of 5,000: 4,999 written, 1 in the dead-letter file with the reason', async () => {
    const url = inject('influxV1Url');
    const sc = await scenario({
      influxUrl: url,
      db: 'poison',
      env: { FLUSH_INTERVAL_MS: '10000', BATCH_MAX_LINES: '5000', SELF_METRICS_INTERVAL_S: '0', ENRICH_PRESENCE: 'false', ENRICH_WEATHER: 'false' },
    });
    // A field type planted beforehand: poison_level is a string in this shard from now on.
    await fetch(`${url}/write?db=poison&precision=ns`, { method: 'POST', body: `sensor,entity_id=sensor.planted poison_level="text" ${Date.now()}000000` });
    const snapshot = sc.sim.lastSnapshot.length;
    await sc.sim.emit({ count: 2_000 });
    sc.sim.emitState('sensor.poisoned', '1', { poison_level: 5, friendly_name: 'Poisoned' });
    await sc.sim.emit({ count: 5_000 - snapshot - 2_001 });
    const ingestor = sc.ingestor as IngestorProcess;
    // The bisection sends the halves beside the bad line after it: wait for the writer to settle.
    await until(
      'the bisection to end',
      async () =>
        (await ingestor.metric('ha_ingestor_writer_queue_lines')) === 0 && (await ingestor.metric('ha_ingestor_dead_letter_points_total')) === 1
          ? true
          : undefined,
      60_000,
      200,
    );
    await until('4,999 written', async () => ((await ingestor.metric('ha_ingestor_points_written_total')) >= 4_999 ? true : undefined), 30_000, 200);
    expect(await ingestor.metric('ha_ingestor_points_written_total')).toBe(4_999);
    expect(await ingestor.metric('ha_ingestor_dead_letter_points_total')).toBe(1);
    const letters = readFileSync(join(sc.dataDir, 'dead-letter', 'dead-letter.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({
      status: 400,
      error: expect.stringContaining('field type conflict'),
      line: expect.stringMatching(/^sensor,entity_id=sensor\.poisoned value=1,poison_level=5,friendly_name_str="Poisoned" \d+$/),
    });
    // Everything but the poisoned point is in the database.
    const poisoned = sc.sim.emitted.findIndex((e) => e.entityId === 'sensor.poisoned');
    sc.sim.emitted.splice(poisoned, 1);
    for (const [k, st] of sc.sim.snapshotStates) if (st.entity_id === 'sensor.poisoned') sc.sim.snapshotStates.delete(k);
    await sc.expectDatabaseComplete(30_000);
  });

  it('a rejected password (401): the data is kept, /health is red with the reason; with the right password it all arrives', async () => {
    const influxd = await dedicatedInfluxd({ auth: true });
    await influxd.query("CREATE USER admin WITH PASSWORD 'right' WITH ALL PRIVILEGES");
    await influxd.query('CREATE DATABASE guarded', { user: 'admin', password: 'right' });
    const sc = await scenario({
      influxUrl: influxd.url,
      db: 'guarded',
      env: { INFLUX_USERNAME: 'admin', INFLUX_PASSWORD: 'wrong' },
      readAuth: { user: 'admin', password: 'right' },
      waitHealthy: false,
    });
    await sc.sim.emit({ count: 3_000 });
    const ingestor = sc.ingestor as IngestorProcess;
    await until('spooled', async () => ((await ingestor.metric('ha_ingestor_spooled_points_total')) >= 3_000 ? true : undefined), 30_000, 200);
    const health = await ingestor.health();
    expect(health.status).toBe(503);
    expect(health.body.databaseProblem).toMatchObject({ status: 401, message: expect.stringContaining('authorization failed') });
    expect(JSON.stringify(ingestor.logs)).not.toContain('"wrong"');
    expect(await ingestor.stop('SIGTERM')).toBe(0);
    await sc.startIngestor({ INFLUX_PASSWORD: 'right' });
    await sc.expectDatabaseComplete(60_000);
    expect(await sc.ingestor?.metric('ha_ingestor_spool_replayed_points_total')).toBeGreaterThanOrEqual(3_000);
  });
});
