/**
 * The v2 start-up check with compose's write-only token (issue 12, item 8): a token that may not
 * read buckets is judged by an empty write. No InfluxDB 2 runs here, so a stand-in answers as
 * InfluxDB 2.7 does for such a token (an empty bucket list or 401 on the buckets API; the write
 * authorized or not).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { InfluxConfig } from '../../src/config.js';
import { checkDatabase } from '../../src/sinks/startup-check.js';

let server: Server | null = null;
afterEach(() => new Promise<void>((resolve) => (server === null ? resolve() : server.close(() => resolve()))));

interface Answer {
  status: number;
  body: string;
}

async function influx2(buckets: Answer, write: Answer): Promise<{ config: InfluxConfig; writes: string[] }> {
  const writes: string[] = [];
  server = createServer((req, res) => {
    const path = req.url ?? '';
    const answer = path.startsWith('/api/v2/buckets') ? buckets : path.startsWith('/api/v2/write') ? write : { status: 404, body: '{}' };
    if (path.startsWith('/api/v2/write')) writes.push(path);
    res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { config: { api: 'v2', url, token: 'write-only-token', org: 'home', bucket: 'ha' } as InfluxConfig, writes };
}

const EMPTY_LIST = { status: 200, body: '{"buckets":[]}' };
const UNAUTHORIZED = { status: 401, body: '{"code":"unauthorized","message":"unauthorized access"}' };
const WRITE_OK = { status: 204, body: '' };
const BUCKET_NOT_FOUND = { status: 404, body: '{"code":"not found","message":"bucket \\"ha\\" not found"}' };

describe('checkDatabase (v2) with a token that may not read buckets', () => {
  it.each([
    ['an empty bucket list', EMPTY_LIST],
    ['401 from the buckets API', UNAUTHORIZED],
  ])('%s, writes authorized: ok, named a write-only token', async (_what, buckets) => {
    const { config, writes } = await influx2(buckets, WRITE_OK);
    const v = await checkDatabase(config);
    expect(v).toEqual({
      ok: true,
      message: `InfluxDB at ${config.url} lets the token write to bucket ha (org home); it may not read the bucket list (a write-only token)`,
    });
    expect(writes).toEqual(['/api/v2/write?org=home&bucket=ha&precision=ns']);
  });

  it('an empty bucket list and the write refused: the bucket is not found, as before', async () => {
    const { config } = await influx2(EMPTY_LIST, BUCKET_NOT_FOUND);
    expect(await checkDatabase(config)).toEqual({ ok: false, message: `bucket ha not found in org home at ${config.url} (INFLUX_BUCKET/INFLUX_ORG)` });
  });

  it('401 everywhere: the token is rejected, as before', async () => {
    const { config } = await influx2(UNAUTHORIZED, UNAUTHORIZED);
    const v = await checkDatabase(config);
    expect(v.ok).toBe(false);
    expect(v.message).toMatch(/^InfluxDB at .* rejected INFLUX_TOKEN \(401\): /);
  });
});

describe('checkDatabase (v1): whether INFLUX_FLAVOR fits the database', () => {
  async function ping(headers: Record<string, string>): Promise<InfluxConfig> {
    server = createServer((_req, res) => res.writeHead(204, headers).end());
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    return { api: 'v1', url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, db: 'ha' } as InfluxConfig;
  }

  it('InfluxDB with influxdb: up, nothing more', async () => {
    const config = await ping({ 'X-Influxdb-Version': '1.6.7~rc0' });
    expect(await checkDatabase(config, 'influxdb')).toEqual({
      ok: true,
      message: `database at ${config.url} is up (version 1.6.7~rc0); writing to database ha`,
    });
  });

  it('no X-Influxdb-Version (VictoriaMetrics) with influxdb: says to set victoriametrics', async () => {
    const config = await ping({ 'X-Server-Hostname': 'vm' });
    expect(await checkDatabase(config, 'influxdb')).toEqual({
      ok: true,
      message: `database at ${config.url} is up (version unknown); writing to database ha; it sent no X-Influxdb-Version: if this is VictoriaMetrics, set INFLUX_FLAVOR=victoriametrics (a line feed in a string would split its line there)`,
    });
    expect((await checkDatabase(config, 'victoriametrics')).message).toBe(`database at ${config.url} is up (version unknown); writing to database ha`);
  });

  it('InfluxDB with victoriametrics: says influxdb reads strings exactly', async () => {
    const config = await ping({ 'X-Influxdb-Version': '1.8.10' });
    expect((await checkDatabase(config, 'victoriametrics')).message).toBe(
      `database at ${config.url} is up (version 1.8.10); writing to database ha; it is InfluxDB, which reads strings exactly with INFLUX_FLAVOR=influxdb (victoriametrics is set)`,
    );
  });
});
