/**
 * Issue 10, items 2–5, against the built ingestor and a real InfluxDB 1.6.7: a proxy in front of
 * the database that answers for it for a while (200 with a page, a 400 page, 413 for everything,
 * a body that never ends), a real field type conflict replayed with --replay-dead-letters once
 * removed, and a full disk while the database is down. Each compares the database with everything
 * the simulator emitted, and checks the counters and /health.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, inject, it } from 'vitest';
import { startScenario, useCleanups } from '../helpers/cleanups.js';
import { Influxd } from '../helpers/influxd.js';
import { IngestorProcess } from '../helpers/ingestor.js';
import { influxQuery, rowsOf } from '../helpers/influxql.js';
import { freePort, until } from '../helpers/ports.js';
import { type Scenario, sleep } from '../helpers/scenario.js';
import { splitLines } from '../../workers/line-protocol.js';

const cleanups = useCleanups();
const QUIET = { SELF_METRICS_INTERVAL_S: '0', ENRICH_PRESENCE: 'false', ENRICH_WEATHER: 'false' };
const NGINX = (status: string) =>
  `<html>\r\n<head><title>${status}</title></head>\r\n<body>\r\n<center><h1>${status}</h1></center>\r\n<hr><center>nginx/1.25.3</center>\r\n</body>\r\n</html>\r\n`;

type Answer = 'forward' | ((req: IncomingMessage, res: ServerResponse) => void);

/**
 * A proxy in front of the database: each write goes to `answer()` (forward, or a reply of its
 * own); counts the lines the database acknowledged with 204 through it.
 */
class DatabaseProxy {
  acknowledgedLines = 0;
  answer: () => Answer = () => 'forward';
  private server: Server | null = null;
  constructor(private readonly target: string) {}

  async start(): Promise<string> {
    const port = await freePort();
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const a = req.method === 'POST' ? this.answer() : 'forward';
        if (a === 'forward') void this.forward(req, res, body);
        else a(req, res);
      });
    });
    await new Promise<void>((r) => this.server?.listen(port, '127.0.0.1', () => r()));
    cleanups.push(() => this.stop());
    return `http://127.0.0.1:${port}`;
  }

  private async forward(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    try {
      const r = await fetch(`${this.target}${req.url}`, {
        method: req.method,
        headers: req.headers as Record<string, string>,
        body: req.method === 'POST' ? body : undefined,
      });
      if (req.method === 'POST' && r.status === 204) {
        const text = req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body;
        this.acknowledgedLines += splitLines(text).length;
      }
      const headers = Object.fromEntries([...r.headers].filter(([k]) => k !== 'content-encoding' && k !== 'content-length'));
      res.writeHead(r.status, headers).end(Buffer.from(await r.arrayBuffer()));
    } catch {
      res.destroy();
    }
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

const page = (status: number, text: string) => (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(status, { 'content-type': 'text/html', server: 'nginx/1.25.3' }).end(NGINX(text));
};

/** A proxy that answers for the database until `bad` is cleared; the scenario writes through it. */
async function behindProxy(db: string, env: Record<string, string> = {}) {
  const proxy = new DatabaseProxy(inject('influxV1Url'));
  const url = await proxy.start();
  const sc = await startScenario(cleanups, { influxUrl: url, db, env: { ...QUIET, ...env } });
  // Read back from the database itself, not through the proxy.
  return { proxy, sc: Object.assign(sc, { influxUrl: inject('influxV1Url') }) as Scenario, ingestor: sc.ingestor as IngestorProcess };
}

/** /health sampled every 200 ms while `during` runs; the red answers' bodies. */
async function healthWhile(ingestor: IngestorProcess, during: Promise<unknown>): Promise<Record<string, unknown>[]> {
  const red: Record<string, unknown>[] = [];
  let done = false;
  void during.finally(() => (done = true));
  while (!done) {
    const h = await ingestor.health().catch(() => null);
    if (h !== null && h.status === 503) red.push(h.body);
    await sleep(200);
  }
  return red;
}

describe('answers that are not the database', () => {
  it('200 with an HTML page for 8 s: nothing counted as written that did not arrive, /health red with the reason, then everything arrives', async () => {
    const { proxy, sc, ingestor } = await behindProxy('h10_html200');
    const writtenBefore = await ingestor.metric('ha_ingestor_points_written_total');
    expect(writtenBefore).toBe(proxy.acknowledgedLines);
    proxy.answer = () => (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html><head><title>Welcome to nginx!</title></head></html>');
    const emitting = sc.sim.emit({ count: 6_000, rate: 500 });
    const red = healthWhile(
      ingestor,
      sleep(8_000).then(() => (proxy.answer = () => 'forward')),
    );
    await emitting;
    const reds = await red;
    await sc.expectDatabaseComplete(120_000);
    expect(reds.length).toBeGreaterThan(0);
    expect(reds.some((b) => JSON.stringify(b.databaseProblem).includes('not a database acknowledgement'))).toBe(true);
    await until('all acknowledged', async () => ((await ingestor.metric('ha_ingestor_writer_queue_lines')) === 0 ? true : undefined), 30_000, 200);
    expect(await ingestor.metric('ha_ingestor_points_written_total')).toBe(proxy.acknowledgedLines);
    expect(await ingestor.metric('ha_ingestor_dead_letter_points_total')).toBe(0);
    expect(await ingestor.metric('ha_ingestor_write_outages_total{cause="unacknowledged"}')).toBeGreaterThan(0);
  });

  it('an nginx 400 page for 8 s: nothing dead-lettered, few requests, /health red with the reason, everything arrives', async () => {
    const { proxy, sc, ingestor } = await behindProxy('h10_nginx400');
    let refused = 0;
    const bad = page(400, '400 Bad Request');
    proxy.answer = () => (req, res) => {
      refused++;
      bad(req, res);
    };
    const emitting = sc.sim.emit({ count: 6_000, rate: 500 });
    const red = healthWhile(
      ingestor,
      sleep(8_000).then(() => (proxy.answer = () => 'forward')),
    );
    await emitting;
    const reds = await red;
    await sc.expectDatabaseComplete(120_000);
    expect(await ingestor.metric('ha_ingestor_dead_letter_points_total')).toBe(0);
    expect(existsSync(join(sc.dataDir, 'dead-letter', 'dead-letter.jsonl'))).toBe(false);
    expect(refused).toBeLessThan(200); // the old writer bisected every batch down to single lines (~6,000 requests)
    expect(reds.some((b) => JSON.stringify(b.databaseProblem).includes('400 Bad Request'))).toBe(true);
    expect(await ingestor.metric('ha_ingestor_points_written_total')).toBe(proxy.acknowledgedLines);
  });

  it('413 for every request: nothing dead-lettered, everything kept in the spool, /health red; it all arrives once the proxy lets it through', async () => {
    const { proxy, sc, ingestor } = await behindProxy('h10_413');
    proxy.answer = () => page(413, '413 Request Entity Too Large');
    await sc.sim.emit({ count: 3_000, rate: 1_000 });
    await until('kept', async () => ((await ingestor.metric('ha_ingestor_spooled_points_total')) >= 3_000 ? true : undefined), 30_000, 200);
    await sleep(2_000); // the replay keeps probing: still nothing may be dead-lettered
    const health = await ingestor.health();
    expect(health.status).toBe(503);
    expect(health.body.databaseProblem).toMatchObject({ status: 413, message: expect.stringContaining('413 Request Entity Too Large') });
    expect(await ingestor.metric('ha_ingestor_dead_letter_points_total')).toBe(0);
    expect(existsSync(join(sc.dataDir, 'dead-letter', 'dead-letter.jsonl'))).toBe(false);
    proxy.answer = () => 'forward';
    await sc.expectDatabaseComplete(120_000);
    await ingestor.healthy(30_000);
  });

  it('a response body that never ends for 15 s: memory stays bounded, both write slots recover, /health red meanwhile, everything arrives', async () => {
    const { proxy, sc, ingestor } = await behindProxy('h10_endless');
    const chunk = Buffer.alloc(64 * 1024, '<p>endless</p>');
    proxy.answer = () => (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      // About 13 MB/s per connection, for as long as the client reads.
      const timer = setInterval(() => res.write(chunk), 5);
      res.on('close', () => clearInterval(timer));
    };
    const rss = (): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${ingestor.proc.pid}/status`, 'utf8'))?.[1]) * 1024;
    const startRss = rss();
    let peakRss = startRss;
    const emitting = sc.sim.emit({ count: 6_000, rate: 400 });
    const badPeriod = (async () => {
      const end = Date.now() + 15_000;
      while (Date.now() < end) {
        peakRss = Math.max(peakRss, rss());
        await sleep(250);
      }
      proxy.answer = () => 'forward';
    })();
    const reds = await healthWhile(ingestor, badPeriod);
    await emitting;
    await sc.expectDatabaseComplete(120_000);
    expect(reds.length).toBeGreaterThan(0);
    expect(peakRss - startRss).toBeLessThan(150 * 1024 * 1024);
    expect(await ingestor.metric('ha_ingestor_points_written_total')).toBe(proxy.acknowledgedLines);
    await ingestor.healthy(30_000);
  });
});

describe('--replay-dead-letters', () => {
  it('a real field type conflict is dead-lettered; once the conflict is removed the replay writes it, and a rerun writes nothing twice', async () => {
    const url = inject('influxV1Url');
    const db = 'h10_replay';
    const sc = await startScenario(cleanups, { influxUrl: url, db, env: QUIET });
    await fetch(`${url}/write?db=${db}&precision=ns`, { method: 'POST', body: `sensor,entity_id=sensor.planted poison_level="text" ${Date.now()}000000` });
    sc.sim.emitState('sensor.poisoned', '1', { poison_level: 5, friendly_name: 'Poisoned' });
    const ingestor = sc.ingestor as IngestorProcess;
    await until('dead-lettered', async () => ((await ingestor.metric('ha_ingestor_dead_letter_points_total')) === 1 ? true : undefined), 60_000, 200);
    expect(await ingestor.stop('SIGTERM')).toBe(0);
    // The cause removed: the measurement with the planted string field is dropped.
    await influxQuery(url, db, 'DROP MEASUREMENT sensor');
    const replay = () => IngestorProcess.runToExit(sc.ingestorEnv, 60_000, ['--replay-dead-letters']);
    const first = await replay();
    expect(first.code).toBe(0);
    expect(first.logs.find((l) => String(l.msg).startsWith('dead letters replayed'))).toMatchObject({ letters: 1, written: 1, refused: 0, kept: 0 });
    const rows = rowsOf(await influxQuery(url, db, `SELECT poison_level FROM sensor WHERE entity_id = 'sensor.poisoned'`));
    expect(rows).toHaveLength(1);
    expect(rows[0]?.poison_level).toBe(5);
    const second = await replay();
    expect(second.code).toBe(0);
    expect(second.logs.find((l) => String(l.msg).startsWith('dead letters replayed'))).toMatchObject({ letters: 0, written: 0, refused: 0, kept: 0 });
  });
});

/** A 2 MiB tmpfs as DATA_DIR and a database of the test's own, both undone after the test. */
async function tinyDiskAndOwnDatabase(): Promise<{ dataDir: string; influxd: Influxd; fill: () => void; free: () => void }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'h10-tinydisk-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dataDir]);
  cleanups.push(async () => {
    execFileSync('umount', ['-l', dataDir]);
    rmSync(dataDir, { recursive: true, force: true });
  });
  const influxDir = mkdtempSync(join(tmpdir(), 'influxd-h10-'));
  const influxd = await Influxd.create(influxDir);
  await influxd.start();
  cleanups.push(async () => {
    await influxd.stop();
    rmSync(influxDir, { recursive: true, force: true });
  });
  const filler = join(dataDir, 'filler');
  const fill = (): void => {
    mkdirSync(filler, { recursive: true });
    try {
      for (let i = 0; ; i++) writeFileSync(join(filler, `f${i}`), Buffer.alloc(64 * 1024));
    } catch {
      // ENOSPC: full
    }
  };
  return { dataDir, influxd, fill, free: () => rmSync(filler, { recursive: true, force: true }) };
}

describe('no disk and no database', () => {
  it('full disk, database down, the ingestor killed while points wait only in memory: after a restart the backfill brings every point', async () => {
    const { dataDir, influxd, fill, free } = await tinyDiskAndOwnDatabase();
    const sc = await startScenario(cleanups, { influxUrl: influxd.url, db: 'tinydisk_kill', env: { ...QUIET, DATA_DIR: dataDir } });
    const ingestor = sc.ingestor as IngestorProcess;
    // A watermark saved first: the gap after the restart starts there.
    await sc.sim.emit({ count: 500, rate: 1_000 });
    await until(
      'a saved watermark',
      () => (existsSync(join(dataDir, 'state.json')) && JSON.parse(readFileSync(join(dataDir, 'state.json'), 'utf8')).watermarkHaMs > 0 ? true : undefined),
      30_000,
      200,
    );
    await influxd.stop();
    fill();
    await sc.sim.emit({ count: 5_000, rate: 2_000 });
    await until('memory only', async () => ((await ingestor.metric('ha_ingestor_writer_memory_only_points')) > 0 ? true : undefined), 30_000, 200);
    expect(await ingestor.stop('SIGKILL')).toBeNull();
    free();
    await influxd.start();
    await sc.startIngestor();
    await sc.expectDatabaseComplete(120_000);
    expect(await sc.ingestor?.metric('ha_ingestor_backfill_points_total')).toBeGreaterThan(0);
  });

  it('DATA_DIR full (2 MiB tmpfs) while the database is down: points wait in memory, /health says so, nothing dropped; all of it arrives', async () => {
    const { dataDir, influxd, fill, free } = await tinyDiskAndOwnDatabase();
    const sc = await startScenario(cleanups, { influxUrl: influxd.url, db: 'tinydisk', env: { ...QUIET, DATA_DIR: dataDir } });
    const ingestor = sc.ingestor as IngestorProcess;
    await influxd.stop();
    fill(); // nothing more can be written to DATA_DIR
    await sc.sim.emit({ count: 20_000, rate: 2_000 });
    await until('all received', async () => ((await ingestor.metric('ha_ingestor_events_received_total')) >= 20_000 ? true : undefined), 30_000, 200);
    const memoryOnly = await until(
      'memory only',
      async () => {
        const h = await ingestor.health();
        return String(h.body.durability).startsWith('memory only') ? h : undefined;
      },
      30_000,
      200,
    );
    expect(memoryOnly.status).toBe(503);
    expect(memoryOnly.body.durability).toContain('ENOSPC');
    expect(await ingestor.metric('ha_ingestor_writer_memory_only_points')).toBeGreaterThan(0);
    expect(await ingestor.metric('ha_ingestor_writer_dropped_points_total{reason="no_disk_no_database"}')).toBe(0);
    expect(await ingestor.metric('ha_ingestor_writer_dropped_points_total{reason="spool_failed"}')).toBe(0);
    // The database comes back before the disk does: what waited in memory is written.
    await influxd.start();
    await sc.expectDatabaseComplete(120_000);
    expect(await ingestor.metric('ha_ingestor_writer_memory_only_points')).toBe(0);
    free();
    await until('durable again', async () => ((await ingestor.health()).body.durability === 'disk' ? true : undefined), 30_000, 200);
  });
});
