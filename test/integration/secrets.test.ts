/**
 * Secrets seen from outside the built ingestor: credentials in URLs are used where they mean
 * something and refused where they do not, and never printed, whatever the path.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FakeInflux } from '../helpers/fake-influx.js';
import { Influxd } from '../helpers/influxd.js';
import { IngestorProcess } from '../helpers/ingestor.js';
import { until } from '../helpers/ports.js';
import { Scenario } from '../helpers/scenario.js';
import { HaSimulator } from '../../src/sim/server.js';
import { useCleanups } from '../helpers/cleanups.js';

const cleanups = useCleanups();

describe('credentials in URLs', () => {
  it('v1: user:password@ in INFLUX_URL authenticates every write, and appears in no log, /health or /metrics', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'influxd-secrets-'));
    const influxd = await Influxd.create(dir, { auth: true });
    await influxd.start();
    cleanups.push(async () => {
      await influxd.stop();
      rmSync(dir, { recursive: true, force: true });
    });
    await influxd.query("CREATE USER writer WITH PASSWORD 'url-pass-7731' WITH ALL PRIVILEGES");
    await influxd.query('CREATE DATABASE guarded', { user: 'writer', password: 'url-pass-7731' });
    const withCredentials = influxd.url.replace('http://', 'http://writer:url-pass-7731@');
    const sc = await Scenario.start({
      influxUrl: influxd.url,
      db: 'guarded',
      readAuth: { user: 'writer', password: 'url-pass-7731' },
      env: { INFLUX_URL: withCredentials },
    });
    cleanups.push(() => sc.stop());
    await sc.sim.emit({ count: 2_000 });
    await sc.expectDatabaseComplete(60_000);
    const ingestor = sc.ingestor as IngestorProcess;
    const seen = JSON.stringify([ingestor.logs, (await ingestor.health()).body, [...(await ingestor.metrics()).keys()]]) + ingestor.stderr;
    expect(seen).not.toContain('url-pass-7731');
  });

  it('HA_URL with user:password@ exits 2 naming HA_URL, without printing them', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ha-ingestor-secrets-'));
    cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
    const { code, stderr, logs } = await IngestorProcess.runToExit({ HA_URL: 'http://me:ha-pass-9913@127.0.0.1:1', HA_TOKEN: 't', DATA_DIR: dataDir });
    expect(code).toBe(2);
    expect(stderr).toContain('HA_URL: has user:password@ in it');
    expect(stderr + JSON.stringify(logs)).not.toContain('ha-pass-9913');
  });
});

describe('a server that echoes our request headers', () => {
  const echo = () =>
    new FakeInflux([], (r) => ({
      status: 401,
      body: JSON.stringify({ code: 'unauthorized', message: `denied: authorization ${String(r.headers.authorization)}` }),
    }));

  it.each([
    ['v2 token', { INFLUX_API: 'v2', INFLUX_TOKEN: 'influx-tok-5521', INFLUX_ORG: 'o', INFLUX_BUCKET: 'b' }, ['influx-tok-5521']],
    [
      'v1 password',
      { INFLUX_API: 'v1', INFLUX_DB: 'd', INFLUX_USERNAME: 'admin', INFLUX_PASSWORD: 'pw-8812' },
      ['pw-8812', Buffer.from('admin:pw-8812').toString('base64')],
    ],
  ])('%s: the echoed credentials reach no log, /health or --check', async (_what, influxEnv, secrets) => {
    const fake = echo();
    const url = await fake.start();
    cleanups.push(() => fake.stop());
    const sim = new HaSimulator({ token: 'ha-tok-3390', entities: 20 });
    await sim.start();
    cleanups.push(() => sim.stop());
    const dataDir = mkdtempSync(join(tmpdir(), 'ha-ingestor-echo-'));
    cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
    const env = { HA_URL: `http://127.0.0.1:${sim.port}`, HA_TOKEN: 'ha-tok-3390', INFLUX_URL: url, DATA_DIR: dataDir, ...influxEnv };
    const check = await IngestorProcess.runToExit(env, 20_000, ['--check']);
    const ingestor = await IngestorProcess.start(env);
    cleanups.push(async () => void (await ingestor.stop('SIGKILL')));
    await sim.waitForSubscribers(1);
    await sim.emit({ count: 50 });
    const health = await until(
      'the database problem in /health',
      async () => {
        const h = await ingestor.health();
        return h.body.databaseProblem ? h : undefined;
      },
      30_000,
      100,
    );
    expect(JSON.stringify(health.body)).toContain('denied: authorization');
    const seen = JSON.stringify([
      check,
      ingestor.logs,
      health.body,
      await (await fetch(`http://127.0.0.1:${ingestor.httpPort}/metrics`)).text(),
      ingestor.stderr,
    ]);
    for (const secret of [...secrets, 'ha-tok-3390']) expect(seen).not.toContain(secret);
    expect(seen).toContain('[redacted]');
  });
});
