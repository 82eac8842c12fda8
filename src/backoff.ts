/** Retry delays, shared by the HA connection and the writer. */

/** Full jitter: a random delay between 0 and min(max, base × 2^attempt). */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  return Math.round(random() * Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30)));
}
