/**
 * Secrets seen from outside the built ingestor: credentials in URLs are used where they mean
 * something and refused where they do not, and never printed, whatever the path.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Influxd } from '../helpers/influxd.js';
import { IngestorProcess } from '../helpers/ingestor.js';
import { Scenario } from '../helpers/scenario.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

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
    const sc = await Scenario.start({ influxUrl: influxd.url, db: 'guarded', readAuth: { user: 'writer', password: 'url-pass-7731' }, env: { INFLUX_URL: withCredentials } });
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
