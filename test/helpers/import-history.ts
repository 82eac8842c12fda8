/**
 * What the history import tests share: the recorded rows a simulator holds as expected points,
 * the import's boundary from the ingestor's log, and its figures from /metrics and /health.
 */
import { expect } from 'vitest';
import { until } from './ports.js';
import { expectedPoint, expectedPoints, type ExpectedPoint } from './expected.js';
import type { IngestorProcess } from './ingestor.js';
import type { Scenario } from './scenario.js';

/** µs since the epoch → HA's ISO form (independent of the simulator's own). */
export function isoOfMicros(us: number): string {
  const s = Math.floor(us / 1e6);
  return `${new Date(s * 1000).toISOString().slice(0, 19)}.${String(us - s * 1e6).padStart(6, '0')}+00:00`;
}

/** Every recorded row, every snapshot state and every emitted change: one point per entity and time. */
export function expectedWithHistory(sc: Scenario, leaveOut: (id: string) => boolean = () => false): ExpectedPoint[] {
  const points = new Map<string, ExpectedPoint>();
  for (const r of sc.sim.recordedRows()) {
    if (leaveOut(r.entityId)) continue;
    const p = expectedPoint(r.entityId, r.s, r.a, isoOfMicros(r.us));
    points.set(`${p.entityId}\u0000${p.time}`, p);
  }
  for (const p of expectedPoints([...sc.sim.snapshotStates.values()], sc.sim.emitted)) if (!leaveOut(p.entityId)) points.set(`${p.entityId}\u0000${p.time}`, p);
  return [...points.values()];
}

/** Recorded rows before `toMs` (HA ms): what the import itself must have written, each once. */
export function recordedBefore(sc: Scenario, toMs: number, leaveOut: (id: string) => boolean = () => false): number {
  let n = 0;
  for (const r of sc.sim.recordedRows()) if (r.us < toMs * 1000 && !leaveOut(r.entityId)) n++;
  return n;
}

/** The import's end (HA ms), from its log line. */
export function importEnd(ingestor: IngestorProcess): number | undefined {
  const line = ingestor.logs.find((l) => l.msg === 'the history import ends where the live stream of this run begins');
  return line === undefined ? undefined : Date.parse(String(line.to));
}

export interface ImportHealth {
  state: string;
  fraction: number;
  points: number;
}

export async function importHealth(ingestor: IngestorProcess): Promise<ImportHealth | undefined> {
  return (await ingestor.health()).body.import as ImportHealth | undefined;
}

/** Waits until /health says the import is done. */
export async function importDone(ingestor: IngestorProcess, timeoutMs = 40_000): Promise<ImportHealth> {
  return until(
    'history import done',
    async () => {
      if (ingestor.proc.exitCode !== null) throw new Error(`ingestor exited ${ingestor.proc.exitCode}: ${ingestor.stderr}`);
      const h = await importHealth(ingestor);
      if (h?.state === 'failed') throw new Error(`import failed: ${JSON.stringify(h)}`);
      return h?.state === 'done' ? h : undefined;
    },
    timeoutMs,
    100,
  );
}

export const importPoints = (ingestor: IngestorProcess): Promise<number> => ingestor.metric('ha_ingestor_import_points_total{importer="states"}');

export function expectLog(ingestor: IngestorProcess, msg: string, present = true): void {
  expect(ingestor.logs.some((l) => String(l.msg).startsWith(msg))).toBe(present);
}
