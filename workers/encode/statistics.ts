/**
 * recorder/statistics_during_period's answer → ha_statistics points (docs/schema.md):
 *
 *   {"sensor.energy":[{"start":1714564800000,"end":1714568400000,"mean":null,"min":null,
 *     "max":null,"last_reset":null,"state":1234.5,"sum":567.25,"change":1.5}, …], …}
 *
 * Row shapes across HA releases (home-assistant/core, homeassistant/components/recorder/):
 * - websocket_api.py (dfbe53eb8ea80795f6b033a6d3c3054b7a496fde, _ws_get_statistics_during_period):
 *   `start`, `end` and `last_reset` are integer ms (`int(row["start"] * 1000)`); releases in
 *   between sent the same as float ms, so any number is read as ms and rounded.
 * - Before (history/statistics_during_period, HA 2021.9–2022.10): datetimes serialized by HA's
 *   JSON encoder, ISO 8601 strings (`"2022-09-01T10:00:00+00:00"`), `last_reset` likewise.
 * - statistics.py (_sorted_statistics_to_dict, d3be3f4737f0942256ba688a145b67aa035de084): a row
 *   carries the requested types, null where the statistic has none (a counter has no mean);
 *   a statistic id without rows in the window is absent.
 *
 * Point: `ha_statistics,period=<hour|5minute>,statistic_id=<id> last_reset="…",max=…,mean=…,
 * min=…,state=…,sum=… <start ns>`. Null fields are left out; `change` is not written (HA derives
 * it from `sum` per request window); a row with no field left is counted as skipped. No
 * statistic id is reported as an entity (they are no entity ids, and external ones hold a `:`).
 */
import { isoToNs } from '../timestamp.js';
import type { Batch } from './batch.js';
import type { StatesSummary, StatisticsResultKind } from './result.js';
import { summary } from './snapshot.js';

const MEASUREMENT = 'ha_statistics';
/** Float fields, in the (byte) order they are written. */
const FLOAT_FIELDS = ['max', 'mean', 'min', 'state', 'sum'] as const;
const PERIOD_TAG: Record<StatisticsResultKind, string> = { 'statistics-hour': 'hour', 'statistics-5minute': '5minute' };
/** ms beyond which a time is outside InfluxDB's range (2262-04-11). */
const MAX_MS = 9_223_372_036_854;

type Row = Record<string, unknown>;

/** A row time as HA sends it (ms number, or ISO string in older releases) → ms, or null. */
export function statisticsTimeMs(value: unknown): number | null {
  if (typeof value === 'number') {
    const ms = Math.round(value);
    return Number.isFinite(ms) && ms >= 0 && ms <= MAX_MS ? ms : null;
  }
  if (typeof value !== 'string') return null;
  const ns = isoToNs(value);
  if (ns === null || ns.startsWith('-')) return null;
  // Floor to the ms (HA's periods start on whole seconds; last_reset keeps ms).
  return ns.length <= 6 ? 0 : Number(ns.slice(0, -6));
}

/** The fields of a row, or '' when it has none. */
export function statisticsFields(row: Row): string {
  let out = '';
  if (row.last_reset !== null && row.last_reset !== undefined) {
    const ms = statisticsTimeMs(row.last_reset);
    if (ms !== null) out = `last_reset="${new Date(ms).toISOString()}"`;
  }
  for (const key of FLOAT_FIELDS) {
    const v = row[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) continue;
    out += `${out === '' ? '' : ','}${key}=${v}`;
  }
  return out;
}

export function encodeStatistics(b: Batch, id: number, kind: StatisticsResultKind, result: Record<string, unknown>): StatesSummary {
  const before = b.r.lines;
  const head = `${MEASUREMENT},period=${PERIOD_TAG[kind]},statistic_id=`;
  const ids: string[] = [];
  let rows = 0;
  let newest: { entityId: string; haMs: number } | null = null;
  for (const [statisticId, list] of Object.entries(result)) {
    if (statisticId === '' || !Array.isArray(list)) {
      b.fail(`statistics answer: ${JSON.stringify(statisticId).slice(0, 80)} has no list of rows`);
      continue;
    }
    ids.push(statisticId);
    const tagged = head + b.thread.escaper.tag(statisticId);
    for (const row of list as unknown[]) {
      rows++;
      const startMs = typeof row === 'object' && row !== null ? statisticsTimeMs((row as Row).start) : null;
      if (startMs === null) {
        b.fail(`${statisticId}: statistics row without a readable start`);
        continue;
      }
      const fields = statisticsFields(row as Row);
      if (fields === '') {
        b.r.skipped++;
        continue;
      }
      b.addLine(`${tagged} ${fields} ${startMs === 0 ? '0' : `${startMs}000000`}\n`);
      if (newest === null || startMs > newest.haMs) newest = { entityId: statisticId, haMs: startMs };
    }
  }
  return summary(id, kind, rows, b.r.lines - before, ids, newest);
}
