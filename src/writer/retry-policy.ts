/**
 * What to do with a write's answer, in one table (statuses per InfluxDB 1.x/2.x/3.x and
 * VictoriaMetrics). The writer only executes the decision.
 *
 *   2xx                              success     counted as written
 *   no answer (refused, reset,       retry       backoff with full jitter, or after Retry-After
 *   timeout), 429, 500, 502, 503,                when the server gives one
 *   504
 *   413 (several lines)              split       cut in two at a line boundary, each half sent on its own
 *   400, 422 (several lines)         isolate     cut in two until the bad lines stand alone
 *   400, 413, 422 (one line)         deadLetter  the line can never be written: dead-letter file
 *   401, 403, 404                    keep        a configuration problem (credentials, bucket,
 *                                    (config)    database): the data waits in the spool, /health
 *                                                turns red until a write succeeds
 *   any other status (3xx, other     keep        sending the same bytes again now cannot succeed,
 *   4xx, other 5xx)                  (refused)   but the data is not given up: it waits in the spool
 */

export type KeepCause = 'config' | 'refused';

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

/**
 * `status` undefined = no HTTP answer (connection refused, reset, timeout); `lines` = lines in
 * the request body (one line cannot be split further).
 */
export function decide(status: number | undefined, retryAfter?: string, lines = 2): WriteDecision {
  if (status === undefined) return { action: 'retry', afterMs: undefined };
  if (status >= 200 && status < 300) return { action: 'success' };
  if (RETRY_STATUSES.has(status)) return { action: 'retry', afterMs: parseRetryAfter(retryAfter) };
  if (status === 413) return lines > 1 ? { action: 'split' } : { action: 'deadLetter' };
  if (BAD_LINE_STATUSES.has(status)) return lines > 1 ? { action: 'isolate' } : { action: 'deadLetter' };
  return { action: 'keep', cause: CONFIG_STATUSES.has(status) ? 'config' : 'refused' };
}
