/**
 * Whether a snapshot shows that Home Assistant has started since our last points. HA re-creates
 * every state when it starts: after a restart (almost) no state keeps the time of our last point
 * for its entity, and some, created anew (last_changed = last_updated), repeat that point at a
 * newer time. Without a restart, the entities nothing happened to keep their time. Only points
 * from earlier connections count: a snapshot ahead of its own connection's events says nothing.
 */
import { compare, type Point } from './policy.js';
import type { SeenTable } from './table.js';

/**
 * A snapshot shows an HA restart when at most this share of the states compared kept the time
 * of our last point (entities whose integration restores an old state object, if any).
 */
const RESTART_MAX_UNCHANGED = 0.02;

export interface SnapshotState {
  readonly point: Point;
  readonly createdAnew: boolean;
}

/** `states`: the snapshot's points, of connection `session`. */
export function snapshotShowsRestart(table: SeenTable, states: Iterable<SnapshotState>, session: number): boolean {
  let compared = 0;
  let renewed = 0;
  let unchanged = 0;
  for (const s of states) {
    const kind = compare(table, s.point, session);
    if (kind === 'none') continue;
    compared++;
    if (kind === 'renewed' && s.createdAnew) renewed++;
    else if (kind === 'same') unchanged++;
  }
  return renewed > 0 && unchanged <= compared * RESTART_MAX_UNCHANGED;
}
