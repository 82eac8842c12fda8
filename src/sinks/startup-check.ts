/**
 * Start-up check of the database: is it there, does it take our credentials, does the bucket
 * exist. v2 asks the buckets API through @influxdata/influxdb-client; a token that may not read
 * buckets (compose's write-only token) is then judged by a write of an empty body, which InfluxDB
 * authorizes (401/403/404) before it reads anything. v1 asks /ping. Both clients are imported
 * when the check runs, not at start-up. The verdict
 * is one line for the log; the ingestor keeps running whatever it says (the database may come up
 * later), and /health reports the first failing write.
 */
import type { Dispatcher } from 'undici';
import type { Flavor } from '../../workers/line-protocol.js';
import type { InfluxConfig } from '../config.js';
import { influxWriteTarget, tlsConnectOptions } from './influx.js';

export interface CheckVerdict {
  readonly ok: boolean;
  readonly message: string;
}

const TIMEOUT_MS = 5_000;

/**
 * Never rejects: a check that cannot run (a module that fails to load) is a verdict too. The
 * answer also tells whether INFLUX_FLAVOR fits the database: InfluxDB sends X-Influxdb-Version on
 * /ping and VictoriaMetrics does not. The setting is not changed from here (a database that is
 * down at start-up would otherwise decide how points are spelled); the verdict says what to set.
 */
export async function checkDatabase(influx: InfluxConfig, flavor: Flavor = 'influxdb'): Promise<CheckVerdict> {
  try {
    return await askDatabase(influx, flavor);
  } catch (err) {
    return { ok: false, message: `the database check could not run: ${(err as Error).message}` };
  }
}

const SEEMS_VM = ': if this is VictoriaMetrics, set INFLUX_FLAVOR=victoriametrics (a line feed in a string would split its line there)';

async function askDatabase(influx: InfluxConfig, flavor: Flavor): Promise<CheckVerdict> {
  if (influx.api === 'v2') {
    // Imported here: the client serves this one check and would cost its memory for the whole run.
    const { HttpError, InfluxDB } = await import('@influxdata/influxdb-client');
    // The same certificate checks as the writes (INFLUX_TLS_VERIFY, INFLUX_TLS_CA_FILE).
    const client = new InfluxDB({ url: influx.url, token: influx.token, timeout: TIMEOUT_MS, transportOptions: tlsConnectOptions(influx.tls) ?? {} });
    const q = new URLSearchParams({ name: influx.bucket, org: influx.org });
    try {
      const res = (await client.transport.request(`/api/v2/buckets?${q}`, null, { method: 'GET' })) as { buckets?: unknown[] };
      if (Array.isArray(res?.buckets) && res.buckets.length > 0) {
        return { ok: true, message: `InfluxDB at ${influx.url} accepts the token; bucket ${influx.bucket} exists in org ${influx.org}` };
      }
      return (
        (await writeOnly(influx)) ?? {
          ok: false,
          message: `bucket ${influx.bucket} not found in org ${influx.org} at ${influx.url} (INFLUX_BUCKET/INFLUX_ORG)`,
        }
      );
    } catch (err) {
      if (err instanceof HttpError) {
        if (err.statusCode === 401 || err.statusCode === 403) {
          return (await writeOnly(influx)) ?? { ok: false, message: `InfluxDB at ${influx.url} rejected INFLUX_TOKEN (${err.statusCode}): ${err.message}` };
        }
        if (err.statusCode === 404 && /org/i.test(err.body ?? '')) {
          return { ok: false, message: `organization ${influx.org} not found at ${influx.url} (INFLUX_ORG): ${err.message}` };
        }
        const hint = flavor === 'influxdb' ? `; not InfluxDB 2${SEEMS_VM}` : '';
        return {
          ok: true,
          message: `${influx.url} answered the buckets API with ${err.statusCode}: not InfluxDB 2 (VictoriaMetrics?); bucket not verified${hint}`,
        };
      }
      return { ok: false, message: `InfluxDB at ${influx.url} is unreachable: ${(err as Error).message}` };
    }
  }
  try {
    const res = await requestWithTls(influx, new URL('ping', influx.url.endsWith('/') ? influx.url : `${influx.url}/`), { method: 'GET' });
    await res.body.dump();
    const version = res.headers['x-influxdb-version'];
    if (res.statusCode >= 300) return { ok: false, message: `${influx.url}/ping answered ${res.statusCode}` };
    const up = `database at ${influx.url} is up (version ${String(version ?? 'unknown')}); writing to database ${influx.db}`;
    if (version === undefined && flavor === 'influxdb') return { ok: true, message: `${up}; it sent no X-Influxdb-Version${SEEMS_VM}` };
    if (version !== undefined && flavor === 'victoriametrics') {
      return { ok: true, message: `${up}; it is InfluxDB, which reads strings exactly with INFLUX_FLAVOR=influxdb (victoriametrics is set)` };
    }
    return { ok: true, message: up };
  } catch (err) {
    return { ok: false, message: `database at ${influx.url} is unreachable: ${(err as Error).message}` };
  }
}

/** Whether an empty body may be written: what the database says before it reads any line. */
export async function probeWrite(influx: InfluxConfig): Promise<{ status: number; text: string }> {
  const target = influxWriteTarget(influx);
  const res = await requestWithTls(influx, `${target.origin}${target.path}`, { method: 'POST', headers: target.headers, body: '' });
  return { status: res.statusCode, text: (await res.body.text()).trim().slice(0, 300) };
}

/** One request with the database's certificate checks (an Agent of its own when they differ from Node's). */
async function requestWithTls(
  influx: InfluxConfig,
  url: string | URL,
  opts: { method: 'GET' | 'POST'; headers?: Record<string, string>; body?: string },
): Promise<Dispatcher.ResponseData> {
  const { Agent, request } = await import('undici');
  const connect = tlsConnectOptions(influx.tls);
  const dispatcher = connect === undefined ? undefined : new Agent({ connect });
  try {
    const res = await request(url, { ...opts, headersTimeout: TIMEOUT_MS, bodyTimeout: TIMEOUT_MS, dispatcher });
    // The body is read by the caller; the Agent closes once it is (close waits for requests under way).
    if (dispatcher !== undefined) res.body.once('close', () => void dispatcher.close());
    return res;
  } catch (err) {
    await dispatcher?.destroy();
    throw err;
  }
}

/** An answer that authorized the write: 2xx, or a 400 about the (empty) content. */
export const writeAuthorized = (status: number, text: string): boolean => status < 300 || (status === 400 && !/not found|authoriz/i.test(text));

/** A verdict for a token that may write the bucket without reading it; null when it may not write either. */
async function writeOnly(influx: InfluxConfig & { api: 'v2' }): Promise<CheckVerdict | null> {
  try {
    const { status, text } = await probeWrite(influx);
    if (!writeAuthorized(status, text)) return null;
  } catch {
    return null;
  }
  return {
    ok: true,
    message: `InfluxDB at ${influx.url} lets the token write to bucket ${influx.bucket} (org ${influx.org}); it may not read the bucket list (a write-only token)`,
  };
}
