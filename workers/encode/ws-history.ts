/**
 * history/history_during_period's compressed answer:
 *
 *   {"sensor.x":[{"s":"21.4","a":{…},"lu":1714566000.123456,"lc":…}, …]}
 *
 * "a" may be left out when unchanged, so the last attributes seen carry forward; "lc" is there
 * only when it differs from "lu" (so a row without it was created anew).
 */
import { epochSecondsToNs } from '../timestamp.js';
import type { Batch } from './batch.js';
import { ARRIVAL, CREATED_ANEW, type StatesSummary } from './result.js';
import { summary } from './snapshot.js';

interface Row {
  s?: unknown;
  a?: Record<string, unknown>;
  lu?: unknown;
  lc?: unknown;
}

export function encodeWsHistory(b: Batch, id: number, result: Record<string, unknown>): StatesSummary {
  const before = b.r.lines;
  const entityIds: string[] = [];
  let states = 0;
  for (const [entityId, rows] of Object.entries(result)) {
    entityIds.push(entityId);
    b.seeEntity(entityId);
    let attributes: Record<string, unknown> = {};
    for (const row of Array.isArray(rows) ? (rows as Row[]) : []) {
      states++;
      if (row.a !== undefined) attributes = row.a;
      if (typeof row.lu !== 'number') {
        b.fail(`${entityId}: history row without lu`);
        continue;
      }
      const ns = epochSecondsToNs(row.lu);
      if (ns === null) {
        b.fail(`${entityId}: history row time ${row.lu} s is outside the range InfluxDB can store`);
        continue;
      }
      const line = b.encodeLine({ entity_id: entityId, state: row.s, attributes }, ns);
      if (line === null) continue;
      const anew = row.lc === undefined || row.lc === row.lu ? CREATED_ANEW : 0;
      b.addState(entityId, line, ARRIVAL.history | anew, id, false);
    }
  }
  return summary(id, 'history', states, b.r.lines - before, entityIds);
}
