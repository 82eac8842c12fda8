/**
 * What to do with a write's answer, in one table (statuses per InfluxDB 1.x/2.x/3.x and
 * VictoriaMetrics). The writer only executes the decision. The verdict is the sink's reading of
 * the answer's body (src/sinks/influx.ts): `ack` only for 204, `lines` only for the database's
 * error JSON naming a line problem.
 *
 *   204                              success     counted as written
 *   no answer (refused, reset,       retry       backoff with full jitter, or after Retry-After
 *   timeout, cut body), 429, 500,                when the server gives one
 *   502, 503, 504
 *   413 (several lines)              split       cut in two at a line boundary, each half sent on its own
 *   400, 422 with verdict `lines`    isolate     cut in two until the bad lines stand alone
 *   (several lines)
 *   400, 422 with verdict `lines`    deadLetter  the database can never take this line as it is
 *   (one line)
 *   401, 403, 404                    keep        a configuration problem (credentials, bucket,
 *                                    (config)    database): the data waits in the spool, /health
 *                                                turns red until a write succeeds
 *   other 2xx (200 with a page),     keep        not a database acknowledgement: the lines went
 *   3xx (a redirect)                 (unacknowledged)  nowhere we know of; an outage
 *   400, 422 without `lines`,        keep        a proxy or a broken server refused the request, not
 *   413 of a single line             (not-database)    the lines: an outage, never a dead letter
 *   any other status (other 4xx,     keep        sending the same bytes again now cannot succeed,
 *   other 5xx)                       (refused)   but the data is not given up: it waits in the spool
 */

import type { AnswerVerdict } from '../sinks/influx.js';

export type KeepCause = 'config' | 'refused' | 'unacknowledged' | 'not-database';

export type WriteDecision =
  | { readonly action: 'success' }
  | { readonly action: 'retry'; readonly afterMs: number | undefined }
  | { readonly action: 'split' }
  | { readonly action: 'isolate' }
  | { readonly action: 'deadLetter' }
  | { readonly action: 'keep'; readonly cause: KeepCause };

const RETRY_STATUSES = new Set([429, 500, 502, 503, 504]);
const BAD_LINE_STATUSES = new Set([400, 422]);
const CONFIG_STATUSES = new Set([401, 403, 404]);
/** A Retry-After beyond this is read as a misconfiguration; we wait this long instead. */
export const MAX_RETRY_AFTER_MS = 5 * 60_000;

/** Retry-After is delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value === '') return undefined;
  const ms = /^\d+$/.test(value.trim()) ? Number(value) * 1000 : Date.parse(value) - now;
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

/** A client that reads no body (the file sink, test doubles): judged by the status alone. */
function verdictOfStatus(status: number): AnswerVerdict {
  if (status === 204) return 'ack';
  return BAD_LINE_STATUSES.has(status) ? 'lines' : 'other';
}

/**
 * `status` undefined = no HTTP answer (connection refused, reset, timeout); `lines` = lines in
 * the request body (one line cannot be split further); `verdict` = the sink's reading of the body.
 */
export function decide(status: number | undefined, retryAfter?: string, lines = 2, verdict?: AnswerVerdict): WriteDecision {
  if (status === undefined) return { action: 'retry', afterMs: undefined };
  const v = verdict ?? verdictOfStatus(status);
  if (v === 'ack') return { action: 'success' };
  if (status < 400) return { action: 'keep', cause: 'unacknowledged' };
  if (RETRY_STATUSES.has(status)) return { action: 'retry', afterMs: parseRetryAfter(retryAfter) };
  if (status === 413) return lines > 1 ? { action: 'split' } : { action: 'keep', cause: 'not-database' };
  if (BAD_LINE_STATUSES.has(status)) {
    if (v !== 'lines') return { action: 'keep', cause: 'not-database' };
    return lines > 1 ? { action: 'isolate' } : { action: 'deadLetter' };
  }
  return { action: 'keep', cause: CONFIG_STATUSES.has(status) ? 'config' : 'refused' };
}

/** v1 answers a partial write with 400 and "… dropped=N": the other lines were written. */
export function droppedInPartialWrite(message: string): number | undefined {
  const m = /partial write.*dropped=(\d+)/s.exec(message);
  return m ? Number(m[1]) : undefined;
}
