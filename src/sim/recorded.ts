/**
 * Days of recorded history for the simulator, seeded before it starts (the history import's test
 * and bench data), kept compact: no object per row. Row k of entity e is a pure function of
 * (seed, e, k), so 10 days × 300 entities at one change every 5 minutes (864,000 rows) costs
 * nothing until a window is asked for, and only that window's rows are made.
 *
 *   time(e, k) = fromUs + k·intervalUs + jitter(e, k),  0 ≤ jitter < intervalUs   (so in order)
 *   state(e, k) = the entity's own generator, from an RNG seeded with (seed, e, k)
 *
 * Every row is a state change (last_changed = last_updated). Rows end before `toUs`.
 */
import { createRng, type Attributes, type SimEntity } from './home.js';

export interface RecordedRow {
  readonly s: string;
  readonly a: Attributes;
  readonly us: number;
  readonly lcUs: number;
}

/** A few rows have no µs fraction (HA then omits it): the parsers must read both forms. */
const WHOLE_SECOND_EVERY = 7;

function mix(seed: number, e: number, k: number): number {
  let h = (seed ^ Math.imul(e + 1, 0x9e3779b1) ^ Math.imul(k + 1, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  return Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
}

export class SeededHistory {
  readonly fromUs: number;
  readonly intervalUs: number;
  /** Rows per entity. */
  readonly perEntity: number;
  private readonly index = new Map<string, number>();

  constructor(
    private readonly home: readonly SimEntity[],
    private readonly seed: number,
    days: number,
    intervalS: number,
    readonly toUs: number,
  ) {
    this.intervalUs = Math.round(intervalS * 1e6);
    this.fromUs = toUs - Math.round(days * 86_400e6);
    this.perEntity = Math.max(0, Math.floor((toUs - this.fromUs) / this.intervalUs));
    for (const [i, entity] of home.entries()) this.index.set(entity.entityId, i);
  }

  get rows(): number {
    return this.perEntity * this.home.length;
  }

  /** Row k of entity e. */
  row(e: number, k: number): RecordedRow {
    const h = mix(this.seed, e, k);
    const slot = this.fromUs + k * this.intervalUs;
    let us = slot + (h % this.intervalUs);
    if (k % WHOLE_SECOND_EVERY === 0 && us - (us % 1_000_000) >= slot) us -= us % 1_000_000;
    const entity = this.home[e] as SimEntity;
    const { state, attributes } = entity.next(createRng(h), null);
    return { s: state, a: attributes, us, lcUs: us };
  }

  /** Rows of `entityId` with start < time < end (seconds, both exclusive, as HA's recorder). */
  between(entityId: string, startS: number, endS: number): RecordedRow[] {
    const e = this.index.get(entityId);
    if (e === undefined || this.perEntity === 0) return [];
    const first = Math.max(0, Math.floor((startS * 1e6 - this.fromUs) / this.intervalUs) - 1);
    const last = Math.min(this.perEntity - 1, Math.ceil((endS * 1e6 - this.fromUs) / this.intervalUs) + 1);
    const out: RecordedRow[] = [];
    for (let k = first; k <= last; k++) {
      const r = this.row(e, k);
      if (r.us / 1e6 > startS && r.us / 1e6 < endS) out.push(r);
    }
    return out;
  }

  /** The newest row of `entityId` before `startS` (seconds), or null. */
  before(entityId: string, startS: number): RecordedRow | null {
    const e = this.index.get(entityId);
    if (e === undefined || this.perEntity === 0) return null;
    for (let k = Math.min(this.perEntity - 1, Math.ceil((startS * 1e6 - this.fromUs) / this.intervalUs) + 1); k >= 0; k--) {
      const r = this.row(e, k);
      if (r.us / 1e6 < startS) return r;
    }
    return null;
  }

  /** Every row, entity by entity (tests compare a database against it). */
  *all(): Generator<{ entityId: string } & RecordedRow> {
    for (let e = 0; e < this.home.length; e++) {
      const entityId = (this.home[e] as SimEntity).entityId;
      for (let k = 0; k < this.perEntity; k++) yield { entityId, ...this.row(e, k) };
    }
  }
}
