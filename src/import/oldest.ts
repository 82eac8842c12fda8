/**
 * Where HA's recorder begins (`--import-history all`): the search for its oldest record.
 *
 * "Something is recorded at or before t" (src/ha/backfill.ts recordedAt: each entity's state in
 * force at t, one small answer per entity chunk) is false before the oldest row and true from it
 * on. (HA's start-time state is the entity's newest row with last_updated before the start:
 * home-assistant/core homeassistant/components/recorder/history/modern.py at
 * 03d83305fdac5b196b046247498947a99522d2a8, _get_single_entity_start_time_stmt.) So: step back
 * from the import's end a day, two, four… (HA keeps 10 days by default, `recorder:
 * purge_keep_days`; some keep years) until nothing is recorded, then halve the interval down to
 * PRECISION_MS. The start found has nothing at or before it: nothing is lost by starting there,
 * and at most PRECISION_MS of empty windows are asked for. About 2·log2(days·24) questions per
 * entity chunk: 13 for 10 days (5 steps back, 8 halvings).
 */
import { recordedAt, type BackfillOptions } from '../ha/backfill.js';

export const DAY_MS = 86_400_000;
export const PRECISION_MS = 3_600_000;
/** No recorder keeps more than this (about 45 years): the search stops there. */
const MAX_STEP_BACK_DAYS = 2 ** 14;
/** Entity ids per question: at most this many rows (no attributes) in one answer. */
export const IDS_PER_QUESTION = 500;

export type RecordedAt = (atMs: number) => Promise<boolean>;

/** The question over every entity chunk: true as soon as one chunk has a state at `atMs`. */
export function recordedAtAny(opts: BackfillOptions, ids: readonly string[], rest: boolean): RecordedAt {
  return async (atMs) => {
    for (let i = 0; i < ids.length; i += IDS_PER_QUESTION) {
      await opts.beforeRequest?.();
      if (await recordedAt(opts, atMs, ids.slice(i, i + IDS_PER_QUESTION), rest)) return true;
    }
    return false;
  };
}

/** The start (HA ms) before which HA's recorder holds nothing, searched back from `endMs`. */
export async function findOldest(recorded: RecordedAt, endMs: number): Promise<number> {
  let known = endMs; // something may be recorded here (or it is the end)
  let days = 1;
  let empty = endMs - DAY_MS;
  while (await recorded(empty)) {
    known = empty;
    if (days >= MAX_STEP_BACK_DAYS) return empty;
    days *= 2;
    empty = endMs - days * DAY_MS;
  }
  // Nothing at or before `empty`; maybe something at `known`: halve until close enough.
  while (known - empty > PRECISION_MS) {
    const middle = empty + Math.floor((known - empty) / 2);
    if (await recorded(middle)) known = middle;
    else empty = middle;
  }
  return empty;
}
