/**
 * /health composed from the parts: healthy when HA is subscribed and the database takes writes
 * (or the last failure is over a minute old and nothing reports a problem). A rejected HA_TOKEN
 * is unhealthy with `ha.auth: "rejected"` and what to do in `ha.authProblem`.
 */
import type { ClockOffset } from '../ha/clock-offset.js';
import type { HaConnection } from '../ha/connection.js';
import { rejectionProblem, type TokenGuard } from '../ha/rejected-token.js';
import type { ImportStatus } from '../import/progress.js';
import type { Metrics } from '../metrics.js';
import type { EncoderPool } from '../pipeline/encoder-pool.js';
import type { Watermark } from '../pipeline/watermark.js';
import type { Spool } from '../writer/spool.js';
import type { Writer } from '../writer/writer.js';
import type { HealthReport } from './server.js';

export interface HealthSources {
  readonly connection: HaConnection;
  readonly guard: TokenGuard;
  readonly clockOffset: ClockOffset;
  readonly writer: Writer;
  readonly pool: EncoderPool;
  readonly spool: Spool;
  readonly watermark: Watermark;
  readonly metrics: Metrics;
  /** The history import's progress, when one runs or ran (src/import/job.ts). */
  readonly importStatus?: ImportStatus | null;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function healthReport(s: HealthSources, now = Date.now()): HealthReport {
  const last = s.writer.lastWrite;
  const rejection = s.guard.rejection;
  const haOk = rejection === null && s.connection.state === 'subscribed';
  return {
    healthy: haOk && s.writer.problem === null && s.writer.durability === 'disk' && (last === null || last.ok || last.at < now - 60_000),
    body: {
      ha: {
        state: rejection === null ? s.connection.state : 'rejected',
        // "rejected": HA refused HA_TOKEN, which is not sent again until it changes.
        auth: s.guard.status,
        ...(rejection === null ? {} : { authProblem: rejectionProblem(rejection) }),
        version: s.connection.haVersion,
        coalescing: s.connection.coalescing,
        secondsSinceLastFrame: s.connection.lastFrameAt === 0 ? null : (now - s.connection.lastFrameAt) / 1000,
        // Our clock minus HA's, for display only: gaps are placed by HA's own timestamps.
        clockOffsetSeconds: s.clockOffset.offsetSeconds,
      },
      queues: {
        dispatchBytes: s.pool.queuedBytes,
        encoderBatchesInFlight: s.pool.inFlight,
        writerLines: s.metrics.writerQueueLines.get(),
      },
      lastWrite: last,
      databaseProblem: s.writer.problem,
      // "disk", or what waits in memory only (the database is away and the spool cannot write).
      durability: s.writer.durability,
      spool: { bytes: s.spool.bytes, points: s.spool.lines, files: s.spool.files, oldestAgeSeconds: s.spool.oldestAgeSeconds },
      // HA's time up to which every live event is durable, and the batches not yet durable.
      watermark: iso(s.watermark.value()),
      heldBatches: s.watermark.held,
      ...(s.importStatus == null ? {} : { import: importSection(s.importStatus) }),
    },
  };
}

function importSection(s: ImportStatus) {
  return {
    state: s.state,
    importer: s.importer,
    fraction: Math.round(s.fraction * 1000) / 1000,
    items: s.items,
    points: s.points,
    requests: s.requests,
    bytes: s.bytes,
    etaSeconds: s.etaSeconds === null ? null : Math.round(s.etaSeconds),
    ...(s.problem === undefined ? {} : { problem: s.problem }),
  };
}
