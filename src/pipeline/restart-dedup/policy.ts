/**
 * Restart de-duplication's verdicts (docs/reliability.md). When Home Assistant starts, it
 * announces every entity again (old_state null) with its state and attributes unchanged and new
 * timestamps; written as points, those are duplicates at the wrong time. Each point is judged
 * against its entity's last points in the table (table.ts), in the order the events arrived.
 *
 * Per entity two points are kept: the latest, and the one before it. The second serves history
 * rows that arrive after a newer state: when the ingestor was away while HA restarted and a
 * sensor changed after the restart, the snapshot brings the change first, then the backfill brings
 * the re-announcement, which is compared with the point before. The times of the last two
 * re-announcements skipped are kept too: the backfill starts a minute before the gap, so it brings
 * points already judged, and a skipped one must stay skipped.
 */
import { HAS_POINT, SLOT, SLOT_INTS, SLOT_TIMES, TIME, USED, type SeenTable } from './table.js';

/**
 * How a point came:
 * - `change`: a live state change (old_state set), or a history row when HA did not restart.
 *   Never taken for a re-announcement (only a point left out before, at the same time, stays
 *   left out).
 * - `announce`: a live state_changed with old_state null. Skipped when it repeats the entity's
 *   point before it.
 * - `recorded`: a get_states state, or a history row after HA restarted. A repeat cannot be told
 *   from a force_update repeat, so at most one per entity and connection is skipped.
 */
export type Arrival = 'change' | 'announce' | 'recorded';

/** A point to judge: entity key hash, point hash (line without timestamp), time in µs. */
export interface Point {
  keyHi: number;
  keyLo: number;
  hashHi: number;
  hashLo: number;
  timeUs: number;
}

/**
 * What `note` found, against the entity's point just before this one in time:
 * - `new`: none, or another state or attributes: written.
 * - `same`: a point seen before (the backfill starts a little before the gap): written again
 *   (an identical rewrite), or skipped again when it was skipped.
 * - `renewed`: same state and attributes, a newer time: a re-announcement (or a force_update
 *   repeat). Skipped or written as `skip` says.
 * - `older`: older than both points kept: written.
 */
export interface Verdict {
  readonly kind: 'new' | 'same' | 'renewed' | 'older';
  readonly skip: boolean;
}

const WRITE_NEW: Verdict = { kind: 'new', skip: false };
const WRITE_SAME: Verdict = { kind: 'same', skip: false };
const SKIP_SAME: Verdict = { kind: 'same', skip: true };
const WRITE_RENEWED: Verdict = { kind: 'renewed', skip: false };
const SKIP_RENEWED: Verdict = { kind: 'renewed', skip: true };
const WRITE_OLDER: Verdict = { kind: 'older', skip: false };

/** Judges `p` (arrived in connection `session`) and records it. A full table judges new entities `new`. */
export function note(t: SeenTable, p: Point, arrival: Arrival, session: number): Verdict {
  const slot = t.claim(p.keyHi, p.keyLo);
  if (slot < 0) return WRITE_NEW;
  const at = slot * SLOT_INTS;
  const tt = slot * SLOT_TIMES;
  const ints = t.ints;
  const times = t.times;
  if (((ints[at + SLOT.flags] as number) & HAS_POINT) === 0) {
    setLatest(t, at, tt, p, session);
    return WRITE_NEW;
  }
  if (p.timeUs === times[tt + TIME.skip0] || p.timeUs === times[tt + TIME.skip1]) return SKIP_SAME;
  const latestUs = times[tt + TIME.latest] as number;
  if (p.timeUs > latestUs) {
    const renewed = isPoint(ints, at + SLOT.latestHi, p);
    const skip = renewed && renewal(t, at, tt, p, arrival, session);
    ints[at + SLOT.beforeHi] = ints[at + SLOT.latestHi] as number;
    ints[at + SLOT.beforeLo] = ints[at + SLOT.latestLo] as number;
    ints[at + SLOT.beforeFlags] = HAS_POINT;
    times[tt + TIME.before] = latestUs;
    setLatest(t, at, tt, p, session);
    return renewed ? (skip ? SKIP_RENEWED : WRITE_RENEWED) : WRITE_NEW;
  }
  if (p.timeUs === latestUs) {
    if (isPoint(ints, at + SLOT.latestHi, p)) return WRITE_SAME;
    setLatest(t, at, tt, p, session); // another point at the same time: it is the latest now
    return WRITE_NEW;
  }
  return noteOlder(t, at, tt, p, arrival, session);
}

/** Older than the latest point: judged against the point before it, which it then becomes. */
function noteOlder(t: SeenTable, at: number, tt: number, p: Point, arrival: Arrival, session: number): Verdict {
  const ints = t.ints;
  const beforeUs = t.times[tt + TIME.before] as number;
  if (((ints[at + SLOT.beforeFlags] as number) & HAS_POINT) === 0 || p.timeUs < beforeUs) return WRITE_OLDER;
  if (p.timeUs === beforeUs) return isPoint(ints, at + SLOT.beforeHi, p) ? WRITE_SAME : WRITE_OLDER;
  const renewed = isPoint(ints, at + SLOT.beforeHi, p);
  const skip = renewed && renewal(t, at, tt, p, arrival, session);
  ints[at + SLOT.beforeHi] = p.hashHi;
  ints[at + SLOT.beforeLo] = p.hashLo;
  ints[at + SLOT.beforeFlags] = HAS_POINT;
  t.times[tt + TIME.before] = p.timeUs;
  t.changed();
  return renewed ? (skip ? SKIP_RENEWED : WRITE_RENEWED) : WRITE_NEW;
}

/** For a repeat at a newer time: whether to skip it as a re-announcement (and remember that). */
function renewal(t: SeenTable, at: number, tt: number, p: Point, arrival: Arrival, session: number): boolean {
  const skip = arrival === 'announce' || (arrival === 'recorded' && t.ints[at + SLOT.skipSession] !== session);
  if (!skip) return false;
  if (arrival === 'recorded') t.ints[at + SLOT.skipSession] = session;
  t.times[tt + TIME.skip1] = t.times[tt + TIME.skip0] as number;
  t.times[tt + TIME.skip0] = p.timeUs;
  t.changed();
  return true;
}

function setLatest(t: SeenTable, at: number, tt: number, p: Point, session: number): void {
  t.ints[at + SLOT.latestHi] = p.hashHi;
  t.ints[at + SLOT.latestLo] = p.hashLo;
  t.ints[at + SLOT.flags] = USED | HAS_POINT;
  t.ints[at + SLOT.latestSession] = session;
  t.times[tt + TIME.latest] = p.timeUs;
  t.changed();
}

function isPoint(ints: Int32Array, at: number, p: Point): boolean {
  return ints[at] === p.hashHi && ints[at + 1] === p.hashLo;
}

/**
 * How `p` compares with the entity's latest point, changing nothing. With `before`, a latest
 * point that came in that connection does not count ('none'): only points from earlier
 * connections say what HA did while we were away.
 */
export function compare(t: SeenTable, p: Point, before?: number): Verdict['kind'] | 'none' {
  const slot = t.find(p.keyHi, p.keyLo);
  if (slot < 0) return 'none';
  const at = slot * SLOT_INTS;
  if (((t.ints[at + SLOT.flags] as number) & HAS_POINT) === 0 || t.ints[at + SLOT.latestSession] === before) return 'none';
  const latestUs = t.times[slot * SLOT_TIMES + TIME.latest] as number;
  if (p.timeUs < latestUs) return 'older';
  if (!isPoint(t.ints, at + SLOT.latestHi, p)) return 'new';
  return p.timeUs === latestUs ? 'same' : 'renewed';
}
