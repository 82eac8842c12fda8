/** /api/history/period's answer (the REST fallback): a list of lists of full states. */
import type { Batch } from './batch.js';
import { ARRIVAL, type StatesSummary } from './result.js';
import { encodeListedState, summary } from './snapshot.js';

export function encodeRestHistory(b: Batch, id: number, result: unknown[]): StatesSummary {
  const before = b.r.lines;
  const ids = new Set<string>();
  let states = 0;
  for (const list of result) {
    for (const state of Array.isArray(list) ? list : [list]) {
      states++;
      const entityId = encodeListedState(b, state, ARRIVAL.history, id);
      if (entityId !== null) ids.add(entityId);
    }
  }
  return summary(id, 'rest', states, b.r.lines - before, [...ids]);
}
