/**
 * Where and how a write request goes: InfluxDB v2 (`/api/v2/write`, Token auth) or v1 (`/write`,
 * Basic auth), and VictoriaMetrics through either. Sends over one keep-alive undici Pool.
 * Always `precision=ns`: InfluxDB 1.6 reads `precision=us` as ns, and our timestamps are ns.
 */
import { Pool } from 'undici';
import type { InfluxConfig } from '../config.js';

export interface WriteTarget {
  readonly origin: string;
  /** Path and query of the write endpoint. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  /** For logs: where we write, without secrets. */
  readonly description: string;
}

export function influxWriteTarget(influx: InfluxConfig): WriteTarget {
  const url = new URL(influx.url);
  const base = url.pathname.replace(/\/+$/, '');
  const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8' };
  if (influx.api === 'v2') {
    const q = new URLSearchParams({ org: influx.org, bucket: influx.bucket, precision: 'ns' });
    headers.authorization = `Token ${influx.token}`;
    return {
      origin: url.origin,
      path: `${base}/api/v2/write?${q}`,
      headers,
      description: `${url.origin}${base} (v2, org ${influx.org}, bucket ${influx.bucket})`,
    };
  }
  const q = new URLSearchParams({ db: influx.db, precision: 'ns' });
  if (influx.rp !== undefined) q.set('rp', influx.rp);
  if (influx.username !== undefined && influx.password !== undefined) {
    headers.authorization = `Basic ${Buffer.from(`${influx.username}:${influx.password}`).toString('base64')}`;
  }
  return { origin: url.origin, path: `${base}/write?${q}`, headers, description: `${url.origin}${base} (v1, database ${influx.db})` };
}

export interface WriteResponse {
  /** undefined when no HTTP answer came (refused, reset, timeout). */
  readonly status: number | undefined;
  /** The server's message for non-2xx answers, or the network error. */
  readonly message: string;
  readonly retryAfter: string | undefined;
}

export interface WriteClient {
  write(body: Buffer, gzipped: boolean): Promise<WriteResponse>;
  /** Waits for requests under way, then closes. */
  close(): Promise<void>;
  /** Ends requests under way at once (they answer as network errors). */
  destroy(): Promise<void>;
}

/** The server's error text, shortened: v2 sends {"code","message"}, v1 {"error"}. */
function serverMessage(text: string): string {
  try {
    const j = JSON.parse(text) as { message?: unknown; error?: unknown };
    const m = j.message ?? j.error;
    if (typeof m === 'string') return m.slice(0, 1000);
  } catch {
    // not JSON: plain text (VictoriaMetrics, proxies)
  }
  return text.trim().slice(0, 1000);
}

export function createHttpWriteClient(target: WriteTarget, opts: { connections: number; timeoutMs: number }): WriteClient {
  const pool = new Pool(target.origin, {
    connections: opts.connections,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    headersTimeout: opts.timeoutMs,
    bodyTimeout: opts.timeoutMs,
    connectTimeout: Math.min(opts.timeoutMs, 10_000),
  });
  const plainHeaders = target.headers;
  const gzipHeaders = { ...target.headers, 'content-encoding': 'gzip' };
  return {
    async write(body, gzipped) {
      try {
        const res = await pool.request({ method: 'POST', path: target.path, headers: gzipped ? gzipHeaders : plainHeaders, body });
        const text = await res.body.text();
        const retryAfter = res.headers['retry-after'];
        return {
          status: res.statusCode,
          message: res.statusCode < 300 ? '' : serverMessage(text),
          retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
        };
      } catch (err) {
        const e = err as Error & { code?: string };
        return { status: undefined, message: `${e.code ?? e.name}: ${e.message}`, retryAfter: undefined };
      }
    },
    close: () => pool.close(),
    destroy: () => pool.destroy(),
  };
}

/** v1 answers a partial write with 400 and "… dropped=N": the other lines were written. */
export function droppedInPartialWrite(message: string): number | undefined {
  const m = /partial write.*dropped=(\d+)/s.exec(message);
  return m ? Number(m[1]) : undefined;
}
