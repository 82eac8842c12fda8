/**
 * The durable watermark, in Home Assistant's clock: a time T such that every live event HA fired
 * before T has been handed off durably (written to the database, put in the spool, or
 * dead-lettered). After a reconnect or a restart the gap is fetched from HA's history from T on,
 * so the ingestor's own clock never decides where a gap starts (HA's and ours may differ by hours).
 *
 * The invariant, stated once (docs/architecture.md):
 *   value() never passes the HA time of a live event that is not durable, and never passes the
 *   start of a gap that is being filled (a ceiling hold). When the pipeline is idle, nothing is
 *   held.
 *
 * How: every piece of data in flight carries a Hold, taken in arrival order (`seq`). When its
 * frames are encoded, the hold learns the newest HA time of the live events it covers
 * (`noteHaTime`). The watermark is the newest HA time among released holds that arrived before
 * every hold still held: data that arrived earlier is durable, data that arrived later may not
 * be. A ceiling hold (`holdAt`) caps the value while a gap is filled. Releasing is exactly once
 * per handle: a second release is a bug and throws.
 */
import { IngestorError } from '../errors.js';

/** A handle on data that is not durable yet. Travels with its data; released exactly once. */
export interface Hold {
  /** Arrival order. */
  readonly seq: number;
  /** When the hold was taken (the ingestor's clock): for the clock-offset display only, never for a gap. */
  readonly arrivedAtMs: number;
  /** The newest HA time (ms since the epoch, HA's clock) of the live events this data holds. */
  noteHaTime(ms: number): void;
  /** Another handle on the same data (part of it goes one way, part another): each is released once. */
  share(): Hold;
  /** The data is durable (or settled otherwise). A second call throws WatermarkError. */
  release(): void;
}

export class WatermarkError extends IngestorError {
  constructor(message: string) {
    super('WATERMARK_HOLD_RELEASED_TWICE', message, false);
  }
}

/** One piece of data in flight: alive while any of its handles is. */
interface Claim {
  readonly seq: number;
  readonly arrivedAtMs: number;
  handles: number;
  haMs: number;
  /** For a ceiling hold: the value cannot pass this while the claim lives. */
  readonly ceilingMs: number | null;
}

class Handle implements Hold {
  private released = false;

  constructor(
    private readonly claim: Claim,
    private readonly owner: Watermark,
  ) {}

  get seq(): number {
    return this.claim.seq;
  }

  get arrivedAtMs(): number {
    return this.claim.arrivedAtMs;
  }

  noteHaTime(ms: number): void {
    if (ms > this.claim.haMs) this.claim.haMs = ms;
    this.owner.noted(ms);
  }

  share(): Hold {
    if (this.released) throw new WatermarkError(`hold ${this.claim.seq} shared after its release`);
    this.claim.handles++;
    return new Handle(this.claim, this.owner);
  }

  release(): void {
    if (this.released) throw new WatermarkError(`hold ${this.claim.seq} released twice`);
    this.released = true;
    if (--this.claim.handles === 0) this.owner.ended(this.claim);
  }
}

export class Watermark {
  private nextSeq = 1;
  /** Live arrival claims by seq (Map keeps insertion order = arrival order). */
  private readonly arrivals = new Map<number, Claim>();
  private readonly ceilings = new Set<Claim>();
  /** Released arrival claims that arrived after a claim still held: seq → HA ms. */
  private readonly releasedAhead = new Map<number, number>();
  /** Newest HA time of the released prefix (every earlier arrival released), or null. */
  private prefixHaMs: number | null;
  private newest: number | null = null;
  private readonly listeners: (() => void)[] = [];
  private drainWaiters: { mark: number; resolve: () => void }[] = [];

  /** `restoredHaMs`: the value saved by an earlier run, the floor until newer data is durable. */
  constructor(restoredHaMs: number | null = null) {
    this.prefixHaMs = restoredHaMs;
  }

  /** A hold for data that arrived at `arrivedAtMs` (default now). */
  hold(arrivedAtMs = Date.now()): Hold {
    const claim: Claim = { seq: this.nextSeq++, arrivedAtMs, handles: 1, haMs: Number.NEGATIVE_INFINITY, ceilingMs: null };
    this.arrivals.set(claim.seq, claim);
    return new Handle(claim, this);
  }

  /** The value stays at or below `haMs` while this hold is held (a gap being filled). */
  holdAt(haMs: number): Hold {
    const claim: Claim = { seq: this.nextSeq++, arrivedAtMs: Date.now(), handles: 1, haMs: Number.NEGATIVE_INFINITY, ceilingMs: haMs };
    this.ceilings.add(claim);
    this.changed();
    return new Handle(claim, this);
  }

  /**
   * HA ms: every live event HA fired before it is durable. null while nothing is known.
   * Capped by the HA time noted on any arrival still held: HA times mostly rise with arrival,
   * but not always (HA's clock set back, a batch of an earlier run fed from disk), and data that
   * is not durable must never lie before the value.
   */
  value(): number | null {
    let v = this.prefixHaMs;
    if (v === null) return null;
    for (const c of this.ceilings) if ((c.ceilingMs as number) < v) v = c.ceilingMs as number;
    for (const c of this.arrivals.values()) if (c.haMs > Number.NEGATIVE_INFINITY && c.haMs < v) v = c.haMs;
    return v;
  }

  /** The newest HA time noted on any hold, durable or not (where the live stream has reached). */
  get newestHaMs(): number | null {
    return this.newest;
  }

  /** Arrival holds not yet released. */
  get held(): number {
    return this.arrivals.size;
  }

  /** The arrival order reached so far: `drained(mark())` waits for everything that arrived until now. */
  mark(): number {
    return this.nextSeq - 1;
  }

  /** Resolves once no arrival hold with seq ≤ mark is held. */
  drained(mark: number): Promise<void> {
    if (this.oldestHeldSeq() > mark) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push({ mark, resolve }));
  }

  /**
   * HA's clock stepped back (it restarted with an earlier time): the times known so far are on
   * its old clock and would stand ahead of everything it gives now. From `haMs` (its new clock)
   * on, the value and the newest time follow the new clock again.
   */
  rebase(haMs: number): void {
    if (this.prefixHaMs !== null && this.prefixHaMs > haMs) this.prefixHaMs = haMs;
    if (this.newest !== null && this.newest > haMs) this.newest = haMs;
    for (const [seq, ms] of this.releasedAhead) if (ms > haMs) this.releasedAhead.set(seq, haMs);
    for (const c of this.arrivals.values()) if (c.haMs > haMs) c.haMs = haMs;
    this.changed();
  }

  /** `listener` runs whenever value() may have changed. */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** @internal A handle noted an HA time. */
  noted(ms: number): void {
    if (this.newest === null || ms > this.newest) this.newest = ms;
    // Data older than the value and not durable: the value drops to it while it is held.
    if (this.prefixHaMs !== null && ms < this.prefixHaMs) this.changed();
  }

  /** @internal The last handle of a claim was released. */
  ended(claim: Claim): void {
    if (claim.ceilingMs !== null) {
      this.ceilings.delete(claim);
      this.changed();
      return;
    }
    const wasOldest = this.arrivals.keys().next().value === claim.seq;
    this.arrivals.delete(claim.seq);
    if (!wasOldest) {
      if (claim.haMs > Number.NEGATIVE_INFINITY) this.releasedAhead.set(claim.seq, claim.haMs);
      // It may have capped the value (it lay before it): the cap is gone.
      if (this.prefixHaMs !== null && claim.haMs < this.prefixHaMs) this.changed();
      return;
    }
    this.advance(claim.haMs);
  }

  private oldestHeldSeq(): number {
    const first = this.arrivals.keys().next();
    return first.done === true ? Number.POSITIVE_INFINITY : first.value;
  }

  /** The oldest hold was released: fold in what was released ahead of it, up to the next held one. */
  private advance(haMs: number): void {
    let newest = haMs;
    const oldest = this.oldestHeldSeq();
    for (const [seq, ms] of this.releasedAhead) {
      if (seq > oldest) continue;
      if (ms > newest) newest = ms;
      this.releasedAhead.delete(seq);
    }
    if (newest > Number.NEGATIVE_INFINITY && (this.prefixHaMs === null || newest > this.prefixHaMs)) {
      this.prefixHaMs = newest;
      this.changed();
    }
    if (this.drainWaiters.length > 0) {
      const ready = this.drainWaiters.filter((w) => w.mark < oldest);
      this.drainWaiters = this.drainWaiters.filter((w) => w.mark >= oldest);
      for (const w of ready) w.resolve();
    }
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }
}
