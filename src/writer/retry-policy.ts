/**
 * What to do with a write's outcome, in one table (statuses per InfluxDB 1.x/2.x/3.x and
 * VictoriaMetrics):
 *
 *   2xx                                  success
 *   network error, timeout               retry (backoff with full jitter)
 *   429, 500, 502, 503, 504              retry, after Retry-After when the server gives one
 *   anything else (400, 401, 403, 404,   reject: sending the same bytes again cannot succeed
 *   413, 422, …)
 */

export type WriteDecision =
  | { readonly action: 'success' }
  | { readonly action: 'retry'; readonly afterMs: number | undefined }
  | { readonly action: 'reject' };

const RETRY_STATUSES = new Set([429, 500, 502, 503, 504]);
/** A Retry-After beyond this is read as a misconfiguration; we wait this long instead. */
export const MAX_RETRY_AFTER_MS = 5 * 60_000;

/** Retry-After is delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value === '') return undefined;
  const ms = /^\d+$/.test(value.trim()) ? Number(value) * 1000 : Date.parse(value) - now;
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

/** `status` undefined = no HTTP answer (connection refused, reset, timeout). */
export function decide(status: number | undefined, retryAfter?: string): WriteDecision {
  if (status === undefined) return { action: 'retry', afterMs: undefined };
  if (status >= 200 && status < 300) return { action: 'success' };
  if (RETRY_STATUSES.has(status)) return { action: 'retry', afterMs: parseRetryAfter(retryAfter) };
  return { action: 'reject' };
}
