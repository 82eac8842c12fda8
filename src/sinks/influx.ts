/**
 * Where and how a write request goes: InfluxDB v2 (`/api/v2/write`, Token auth) or v1 (`/write`,
 * Basic auth), and VictoriaMetrics through either. Sends over one keep-alive undici Pool.
 * Always `precision=ns`: InfluxDB 1.6 reads `precision=us` as ns, and our timestamps are ns.
 *
 * Rules for what comes back (a proxy, a captive portal or a broken server may answer instead of
 * the database):
 * - Only 204 is an acknowledgement: InfluxDB 1.x/2.x/3.x and VictoriaMetrics answer a write with
 *   204 No Content. A 200 with a page, or a redirect, means the lines went nowhere we know of.
 * - Lines are refused *as lines* only when the body is the database's error JSON naming a line
 *   problem (v1 `{"error":"partial write: … dropped=N"}` / `unable to parse …`; v2
 *   `{"code":"invalid","message":"… unable to parse …"}`, field type conflicts). Anything else
 *   (an HTML page, plain text from a proxy) says nothing about the lines.
 * - A response body is read up to MAX_BODY_BYTES, the rest is discarded (the connection is
 *   closed), and the whole request has a deadline: a body that never ends cannot grow memory or
 *   hold a request slot.
 * - https: the certificate is verified (INFLUX_TLS_VERIFY=false turns that off, HA's
 *   `verify_ssl: false`), against Node's CAs, or only those of INFLUX_TLS_CA_FILE when set (HA's
 *   `ssl_ca_cert`). The file is read when the client is built; unreadable, the start fails.
 */
import { readFileSync } from 'node:fs';
import { type Dispatcher, Pool } from 'undici';
import type { InfluxConfig, InfluxTls } from '../config.js';
import { StartError } from '../errors.js';

export interface WriteTarget {
  readonly origin: string;
  /** Path and query of the write endpoint. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  /** For logs: where we write, without secrets. */
  readonly description: string;
  readonly tls?: InfluxTls;
}

/** undici's `connect` options for the target's certificate checks (undefined: Node's defaults). */
export function tlsConnectOptions(tls: InfluxTls | undefined): { rejectUnauthorized: boolean; ca?: string[] } | undefined {
  if (tls === undefined || (tls.verify && tls.caFile === undefined)) return undefined;
  if (tls.caFile === undefined || !tls.verify) return { rejectUnauthorized: tls.verify };
  let extra: string;
  try {
    extra = readFileSync(tls.caFile, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new StartError('INFLUX_TLS_CA_UNREADABLE', `INFLUX_TLS_CA_FILE=${tls.caFile}: cannot read it: ${why}`, { cause: err, exitCode: 2 });
  }
  // Only the file's CAs, as HA's clients do with ssl_ca_cert (requests' `verify=<file>`, urllib3's
  // `ca_certs`): a private CA pins the database. NODE_EXTRA_CA_CERTS adds to Node's list instead.
  return { rejectUnauthorized: true, ca: [extra] };
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
      tls: influx.tls,
    };
  }
  const q = new URLSearchParams({ db: influx.db, precision: 'ns' });
  if (influx.rp !== undefined) q.set('rp', influx.rp);
  if (influx.username !== undefined && influx.password !== undefined) {
    headers.authorization = `Basic ${Buffer.from(`${influx.username}:${influx.password}`).toString('base64')}`;
  }
  return { origin: url.origin, path: `${base}/write?${q}`, headers, description: `${url.origin}${base} (v1, database ${influx.db})`, tls: influx.tls };
}

export interface WriteResponse {
  /** undefined when no HTTP answer came (refused, reset, timeout). */
  readonly status: number | undefined;
  /** The server's message for answers other than 204, or the network error. */
  readonly message: string;
  readonly retryAfter: string | undefined;
  /**
   * What the answer says about the lines: `ack` the database took them all (204); `lines` the
   * database refused some of them as lines (its error JSON names a parse error or a type
   * conflict); `other` nothing about the lines (no answer, a page from a proxy, a redirect …).
   * Absent: judged by the status alone (204 ack, 400/422 lines), for clients without a body.
   */
  readonly verdict?: AnswerVerdict;
}

export type AnswerVerdict = 'ack' | 'lines' | 'other';

/** Kept of a response body; the rest is discarded. Errors of InfluxDB are a few hundred bytes. */
export const MAX_BODY_BYTES = 64 * 1024;

/** What the database's error messages say when lines (not the request) are at fault. */
const LINE_PROBLEM =
  /unable to parse|field type conflict|partial write|parsing failed|invalid field format|missing fields?|missing tag key|bad timestamp|invalid (number|boolean)|max-values-per-tag|points? beyond retention/i;

/**
 * The verdict on an answer (see the module's rules). The body decides, not the database's headers
 * (X-Influxdb-Version/-Build): InfluxDB Cloud, 3.x and VictoriaMetrics do not all send them, and a
 * proxy's page never names a parse error in the database's JSON.
 */
export function answerVerdict(status: number, contentType: string, body: string): AnswerVerdict {
  if (status === 204) return 'ack';
  if (status < 400 || status >= 500) return 'other';
  if (!/json/i.test(contentType) && !body.trimStart().startsWith('{')) return 'other';
  const message = jsonMessage(body);
  return message !== undefined && LINE_PROBLEM.test(message) ? 'lines' : 'other';
}

function jsonMessage(text: string): string | undefined {
  try {
    const j = JSON.parse(text) as { message?: unknown; error?: unknown };
    const m = j.message ?? j.error;
    return typeof m === 'string' ? m : undefined;
  } catch {
    return undefined;
  }
}

export interface WriteClient {
  write(body: Buffer, gzipped: boolean): Promise<WriteResponse>;
  /** Waits for requests under way, then closes. */
  close(): Promise<void>;
  /** Ends requests under way at once (they answer as network errors). */
  destroy(): Promise<void>;
}

/** The server's error text, shortened: v2 sends {"code","message"}, v1 {"error"}; proxies pages. */
function serverMessage(status: number, contentType: string, text: string, location: string | undefined): string {
  const m = jsonMessage(text);
  if (m !== undefined) return m.slice(0, 1000);
  const what = status >= 200 && status < 400 ? 'not a database acknowledgement (only 204 is): ' : '';
  // A URL's user:password part is never repeated (it may be someone's credentials).
  if (location !== undefined) return `${what}a redirect to ${location.replace(/\/\/[^/@]*@/, '//').slice(0, 200)}`;
  if (/html/i.test(contentType) || /^\s*</.test(text)) {
    const title = /<title[^>]*>([^<]*)</i.exec(text)?.[1]?.trim();
    return `${what}an HTML page${title ? ` ("${title.slice(0, 200)}")` : ''}, not the database's answer (a proxy?)`;
  }
  const plain = text.trim().slice(0, 1000);
  return `${what}${plain === '' ? 'an empty body' : plain}`;
}

/**
 * Reads at most `max` bytes of a body and stops reading: a body that is huge or never ends is cut
 * (the connection is closed, so the slot is free again).
 */
async function readBounded(body: Dispatcher.ResponseData['body'], max: number): Promise<string> {
  const kept: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    kept.push(chunk.subarray(0, max - size));
    size += Math.min(chunk.length, max - size);
    if (size >= max) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(kept).toString('utf8');
}

const header = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);

export function createHttpWriteClient(target: WriteTarget, opts: { connections: number; timeoutMs: number }): WriteClient {
  const pool = new Pool(target.origin, {
    connections: opts.connections,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    headersTimeout: opts.timeoutMs,
    bodyTimeout: opts.timeoutMs,
    connectTimeout: Math.min(opts.timeoutMs, 10_000),
    connect: tlsConnectOptions(target.tls),
  });
  const plainHeaders = target.headers;
  const gzipHeaders = { ...target.headers, 'content-encoding': 'gzip' };
  return {
    async write(body, gzipped) {
      // One deadline for the whole request, body included (bodyTimeout only bounds the gap
      // between two chunks: a trickle would reset it forever).
      const signal = AbortSignal.timeout(opts.timeoutMs);
      try {
        const res = await pool.request({ method: 'POST', path: target.path, headers: gzipped ? gzipHeaders : plainHeaders, body, signal });
        const text = await readBounded(res.body, MAX_BODY_BYTES);
        const contentType = header(res.headers['content-type']) ?? '';
        return {
          status: res.statusCode,
          message: res.statusCode === 204 ? '' : serverMessage(res.statusCode, contentType, text, header(res.headers.location)),
          retryAfter: header(res.headers['retry-after']),
          verdict: answerVerdict(res.statusCode, contentType, text),
        };
      } catch (err) {
        const e = err as Error & { code?: string };
        const message = signal.aborted ? `no complete answer within ${opts.timeoutMs} ms` : `${e.code ?? e.name}: ${e.message}`;
        return { status: undefined, message, retryAfter: undefined };
      }
    },
    close: () => pool.close(),
    destroy: () => pool.destroy(),
  };
}
