/**
 * Restart de-duplication on the main thread (docs/reliability.md): the workers describe each
 * state line they encode (workers/encode/records.ts); `filter` judges them in job order, so the
 * verdicts follow event order whatever POOL_SIZE is. Parts: the table (table.ts), the verdicts
 * (policy.ts), restart detection from a snapshot (restart-detection.ts), and the waiting room
 * for points that can only be judged after the connection's backfill (held-back.ts).
 *
 * Rules:
 * - `filter` is called once per encoder result, in submit order (EncoderPool guarantees it),
 *   before the result's control messages reach the connection: it fills in the snapshot and
 *   history summaries (haRestarted, reannounced, deferred, points).
 * - It returns what to write now: the same lp when nothing is left out or held back, else a copy
 *   without those lines. Lines that wait keep `hold.share()`; the caller keeps `hold` itself.
 * - A snapshot that shows an HA restart marks its connection: that connection's history rows
 *   created anew may be re-announcements too.
 */
import type { Logger } from 'pino';
import {
  ARRIVAL,
  ARRIVAL_MASK,
  CREATED_ANEW,
  REC,
  RECORD_INTS,
  type DedupRecords,
  type EncodeResult,
  type StatesSummary,
} from '../../../workers/encode/result.js';
import type { Hold } from '../watermark.js';
import { WaitingRoom, type HeldLine } from './held-back.js';
import { compare, note, type Arrival, type Point } from './policy.js';
import { snapshotShowsRestart, type SnapshotState } from './restart-detection.js';
import { DEFAULT_SLOTS, SeenTable } from './table.js';

interface Counter {
  inc(n?: number): void;
}
interface Gauge {
  collect(fn: () => number | undefined): void;
}

export interface RestartDedupOptions {
  readonly log: Logger;
  readonly metrics: { readonly reannouncementsSkipped: Counter; readonly seenEntities: Gauge };
  /** Lines that waited, now to be written; the writer owns `hold` from then on. */
  readonly write: (lp: Uint8Array, lines: number, hold: Hold) => void;
  /** Table size (a power of two); entities beyond 3/4 of it are not de-duplicated. */
  readonly slots?: number;
  /** Bytes of lines that may wait for a backfill (held-back.ts); default DEFAULT_WAITING_ROOM_BYTES. */
  readonly waitingRoomBytes?: number;
}

/** What a result's lines come to: [start, end) byte ranges of lp not to write now. */
interface Removal {
  readonly start: number;
  readonly end: number;
}

export class RestartDedup {
  private readonly table: SeenTable;
  private readonly room: WaitingRoom;
  /** Connections whose snapshot showed an HA restart. */
  private readonly restarted = new Set<number>();
  /** Reused for every record: the judge's input. */
  private readonly point: Point = { keyHi: 0, keyLo: 0, hashHi: 0, hashLo: 0, timeUs: 0 };

  constructor(private readonly opts: RestartDedupOptions) {
    this.table = new SeenTable(opts.slots ?? DEFAULT_SLOTS);
    this.room = new WaitingRoom({
      note: (p, arrival, session) => note(this.table, p, arrival, session),
      write: opts.write,
      onSkipped: (n) => opts.metrics.reannouncementsSkipped.inc(n),
      log: opts.log,
      ...(opts.waitingRoomBytes === undefined ? {} : { maxBytes: opts.waitingRoomBytes }),
    });
    opts.metrics.seenEntities.collect(() => this.table.size);
  }

  /** Called by the resync module / app as connections come and go. */
  readonly gap = {
    /** A connection starts: its possible re-announcements wait until `settle`. */
    begin: (session: number): void => this.room.begin(session),
    /** Its backfill ended (`complete`: every window answered), or there was none. */
    settle: (session: number, complete: boolean): void => this.room.settle(session, complete),
    /** It closed: what waits is written. */
    closed: (session: number): void => this.room.closed(session),
    /** Shutdown: everything that waits is written. */
    writeAll: (): void => this.room.writeAll(),
  };

  /** Saved beside the watermark (DATA_DIR/seen-states.bin). */
  readonly persist = {
    /** Changes only when the table changed: an idle ingestor saves nothing. */
    version: (): number => this.table.version,
    serialize: (): Uint8Array => this.table.serialize(),
    /** Entities restored; throws SeenTableFileError for bytes it does not understand. */
    restore: (bytes: Uint8Array): number => this.table.restore(bytes),
  };

  /** Entities in the table. */
  get entities(): number {
    return this.table.size;
  }

  /** Points waiting for their connection's backfill. */
  get waiting(): number {
    return this.room.size;
  }

  /** Judges a result's state lines (in job order) and returns what to write now. */
  filter(result: EncodeResult, hold: Hold): { lp: Uint8Array; lines: number } {
    const d = result.dedup;
    if (d === undefined || d.count === 0) return { lp: result.lp, lines: result.lines };
    const summaries = summariesById(result);
    const removals: Removal[] = [];
    const held: HeldLine[] = [];
    let skipped = 0;
    let detected: number | null = null;
    for (let i = 0; i < d.count; i++) {
      const id = d.ints[i * RECORD_INTS + REC.resultId] as number;
      if (id !== 0 && id !== detected) {
        // A snapshot's first state: whether HA restarted decides how its states (and the
        // connection's history rows) are judged.
        detected = id;
        this.detectRestart(d, summaries?.get(id), result.session);
      }
      const verdict = this.judge(d, i, result.session, result.lp, held);
      if (verdict === 'write') continue;
      const at = i * RECORD_INTS;
      removals.push({ start: d.ints[at + REC.start] as number, end: d.ints[at + REC.end] as number });
      const summary = summaries?.get(d.ints[at + REC.resultId] as number);
      if (summary !== undefined) summary.encoded.points--;
      if (verdict === 'reannounced') {
        skipped++;
        if (summary !== undefined) summary.encoded.reannounced++;
      } else if (verdict === 'held' && summary !== undefined) summary.encoded.deferred++;
    }
    if (skipped > 0) this.opts.metrics.reannouncementsSkipped.inc(skipped);
    if (held.length > 0) this.room.add(result.session, held, hold.share());
    if (removals.length === 0) return { lp: result.lp, lines: result.lines };
    return { lp: without(result.lp, removals), lines: result.lines - removals.length };
  }

  private detectRestart(d: DedupRecords, summary: StatesSummary | undefined, session: number): void {
    if (summary?.encoded.kind !== 'snapshot') return;
    const restarted = snapshotShowsRestart(this.table, this.snapshotStates(d, summary.id), session);
    summary.encoded.haRestarted = restarted;
    if (restarted) this.restarted.add(session);
    else this.restarted.delete(session);
  }

  private *snapshotStates(d: DedupRecords, id: number): Generator<SnapshotState> {
    for (let i = 0; i < d.count; i++) {
      const at = i * RECORD_INTS;
      if (d.ints[at + REC.resultId] !== id || ((d.ints[at + REC.flags] as number) & ARRIVAL_MASK) !== ARRIVAL.snapshot) continue;
      yield { point: this.load(d, i), createdAnew: ((d.ints[at + REC.flags] as number) & CREATED_ANEW) !== 0 };
    }
  }

  /** One record's verdict: written, left out as a re-announcement (or a skipped repeat), or held. */
  private judge(d: DedupRecords, i: number, session: number, lp: Uint8Array, held: HeldLine[]): 'write' | 'reannounced' | 'skipped' | 'held' {
    const flags = d.ints[i * RECORD_INTS + REC.flags] as number;
    const anew = (flags & CREATED_ANEW) !== 0;
    const p = this.load(d, i);
    let arrival: Arrival = 'change';
    switch (flags & ARRIVAL_MASK) {
      case ARRIVAL.liveAnnounce: {
        const kind = this.room.pendingFor(session) ? compare(this.table, p) : 'none';
        // Appeared while the gap is not filled yet: judged after the backfill.
        if (kind !== 'none' && kind !== 'new') return this.hold(d, i, lp, 'announce', held);
        arrival = 'announce';
        break;
      }
      case ARRIVAL.snapshot: {
        if (!this.restarted.has(session)) break;
        const kind = compare(this.table, p, session);
        if (kind === 'same' || kind === 'older') break;
        // A re-announcement, a return to the last point's state, or a change that HA then
        // re-announced: only the gap's points, in time order, tell. Judged after the backfill.
        if (anew) return this.hold(d, i, lp, 'recorded', held);
        // Not created anew (an attribute change): never a re-announcement. Written, not
        // recorded: the backfill records the gap's points in time order.
        return 'write';
      }
      case ARRIVAL.history:
        if (anew && this.restarted.has(session)) arrival = 'recorded';
        break;
      default:
        break;
    }
    const verdict = note(this.table, p, arrival, session);
    if (!verdict.skip) return 'write';
    // Counted once: the same point skipped again (in the snapshot, then the backfill) is not new.
    return verdict.kind === 'renewed' ? 'reannounced' : 'skipped';
  }

  private hold(d: DedupRecords, i: number, lp: Uint8Array, arrival: Arrival, held: HeldLine[]): 'held' {
    const at = i * RECORD_INTS;
    held.push({ point: { ...this.load(d, i) }, arrival, bytes: lp.slice(d.ints[at + REC.start] as number, d.ints[at + REC.end] as number) });
    return 'held';
  }

  /** Record i into the reused Point. */
  private load(d: DedupRecords, i: number): Point {
    const at = i * RECORD_INTS;
    const p = this.point;
    p.keyHi = d.ints[at + REC.keyHi] as number;
    p.keyLo = d.ints[at + REC.keyLo] as number;
    p.hashHi = d.ints[at + REC.hashHi] as number;
    p.hashLo = d.ints[at + REC.hashLo] as number;
    p.timeUs = d.timesUs[i] as number;
    return p;
  }
}

function summariesById(result: EncodeResult): Map<number, StatesSummary> | null {
  let map: Map<number, StatesSummary> | null = null;
  for (const c of result.control) {
    if (!('encoded' in c)) continue;
    map ??= new Map();
    map.set(c.id, c);
  }
  return map;
}

/** lp without the byte ranges (in order, not overlapping). */
function without(lp: Uint8Array, removals: readonly Removal[]): Uint8Array {
  const removed = removals.reduce((n, r) => n + r.end - r.start, 0);
  const out = new Uint8Array(lp.byteLength - removed);
  let from = 0;
  let to = 0;
  for (const r of removals) {
    out.set(lp.subarray(from, r.start), to);
    to += r.start - from;
    from = r.end;
  }
  out.set(lp.subarray(from), to);
  return out;
}

export { SeenTable } from './table.js';
export type { Arrival, Point, Verdict } from './policy.js';
