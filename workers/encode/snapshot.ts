/**
 * A get_states answer: every state becomes a point at its last_updated. Whether a state is a
 * re-announcement is decided on the main thread (src/pipeline/restart-dedup/), from the records.
 */
import { isoToNs } from '../timestamp.js';
import type { HaState } from '../typed-schema.js';
import type { Batch } from './batch.js';
import { ARRIVAL, CREATED_ANEW, type StatesSummary } from './result.js';

/** A state HA created anew (at its start, or by force_update): last_changed = last_updated. */
export function createdAnew(state: unknown): boolean {
  const s = state as { last_changed?: unknown; last_updated?: unknown } | null;
  return typeof s?.last_updated === 'string' && s.last_changed === s.last_updated;
}

/** A state of a snapshot or a REST history answer: its point, recorded with `arrival`. */
export function encodeListedState(b: Batch, state: unknown, arrival: number, id: number): string | null {
  const line = b.encodeLine(state);
  const entityId = (state as { entity_id?: unknown } | null)?.entity_id;
  if (typeof entityId !== 'string') return null;
  if (line !== null) b.addState(entityId, line, arrival | (createdAnew(state) ? CREATED_ANEW : 0), id, false);
  b.seeEntity(entityId);
  return entityId;
}

export function encodeSnapshot(b: Batch, id: number, result: unknown[]): StatesSummary {
  const before = b.r.lines;
  const entityIds: string[] = [];
  let newest: { entityId: string; haMs: number } | null = null;
  for (const state of result) {
    const entityId = encodeListedState(b, state, ARRIVAL.snapshot, id);
    if (entityId === null) continue;
    b.observe(state as HaState);
    entityIds.push(entityId);
    const ms = isoToMs((state as HaState).last_updated);
    if (ms >= 0 && (newest === null || ms > newest.haMs)) newest = { entityId, haMs: ms };
  }
  return summary(id, 'snapshot', result.length, b.r.lines - before, entityIds, newest);
}

/** HA's ISO time → ms (floor), or -1. */
function isoToMs(iso: unknown): number {
  const ns = typeof iso === 'string' ? isoToNs(iso) : null;
  return ns === null || ns.length <= 6 ? -1 : Number(ns.slice(0, -6));
}

export function summary(
  id: number,
  kind: StatesSummary['encoded']['kind'],
  states: number,
  points: number,
  entityIds: string[],
  newest: StatesSummary['encoded']['newest'] = null,
): StatesSummary {
  return { id, type: 'result', success: true, encoded: { kind, states, points, entityIds, reannounced: 0, deferred: 0, haRestarted: false, newest } };
}
