/**
 * The durable watermark: a time such that every event that reached the ingestor before it has
 * been handed off durably (written to the database or to the spool). After a reconnect or a
 * restart, HA's history is fetched from there on, so a crash or a disconnect leaves no gap.
 *
 * Data is tracked by token = the wall-clock arrival time (ms) of its frame batch. Each part of
 * the pipeline that holds data of a token holds the token (counted); the watermark is the oldest
 * token still held, or "now" when nothing is held. Arrival time stands in for HA's timestamps,
 * which is why the backfill goes back a margin before it.
 */
export class Watermark {
  private readonly held = new Map<number, number>();

  constructor(private readonly now: () => number = Date.now) {}

  hold(token: number): void {
    this.held.set(token, (this.held.get(token) ?? 0) + 1);
  }

  release(token: number): void {
    const n = (this.held.get(token) ?? 0) - 1;
    if (n > 0) this.held.set(token, n);
    else this.held.delete(token);
  }

  /** ms since the epoch: everything that arrived before it is durable. */
  value(): number {
    let min = Number.POSITIVE_INFINITY;
    for (const t of this.held.keys()) if (t < min) min = t;
    return min === Number.POSITIVE_INFINITY ? this.now() : min;
  }

  /**
   * Resolves once no token older than `t` is held, not counting one hold of `except` (the
   * caller's own). Polls: it serves rare events (the end of a backfill).
   */
  async whenNothingHeldBefore(t: number, except: number): Promise<void> {
    for (;;) {
      let blocked = false;
      for (const [token, n] of this.held) if (token < t && (token !== except || n > 1)) blocked = true;
      if (!blocked) return;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
