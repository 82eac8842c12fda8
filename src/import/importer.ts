/**
 * The import of what Home Assistant already knows (--import-history, IMPORT_HISTORY_ON_FIRST_START):
 * recorded states (src/import/states.ts) and long-term statistics (src/import/statistics.ts), each
 * an Importer. Both write through the same encoders and writer as live points, keep a cursor in
 * DATA_DIR so a killed import resumes where it stopped, and leave the live stream the first claim
 * on every queue.
 */
import type { Logger } from 'pino';
import type { HaConnection } from '../ha/connection.js';
import type { Metrics } from '../metrics.js';

export interface ImporterContext {
  readonly connection: Pick<HaConnection, 'request' | 'requestStates' | 'expectStates'> & { readonly haVersion?: string };
  /** HA's base HTTP URL (REST fallback) and the token for it. */
  readonly httpBase: string;
  readonly token: string;
  /** HA's clock, now (ms since the epoch). */
  readonly haNow: () => number;
  readonly dataDir: string;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** Resolves when live traffic leaves room (encoder and writer queues below their marks); awaited before every request. */
  readonly room: () => Promise<void>;
  /** Hands a frame to the pipeline as if it came from the socket (a REST answer, like the backfill's). */
  readonly feedFrame: (frame: Buffer) => void;
  /** Resolves once everything handed to the pipeline so far is durable (written, spooled or dead-lettered). */
  readonly durable: () => Promise<void>;
  /** Every entity id known now: HA's get_states of this connection and every id seen before (state.json). */
  readonly entityIds: () => readonly string[];
}

export interface ImportProgress {
  readonly importer: 'states' | 'statistics';
  /** Share of the importer's work done, 0 to 1. */
  readonly fraction: number;
  /** Entities (states) or statistic ids (statistics) seen so far. */
  readonly items: number;
  readonly points: number;
  readonly requests: number;
  /** Bytes of answers read from HA. */
  readonly bytes: number;
}

/** [fromMs, toMs) in HA's time; fromMs null: from the oldest record HA has. */
export interface ImportWindow {
  readonly fromMs: number | null;
  readonly toMs: number;
}

export interface Importer {
  readonly name: ImportProgress['importer'];
  /**
   * Imports the window, resuming from the importer's cursor in DATA_DIR; resolves with the final
   * progress once every point is written (acknowledged by the writer or its spool). Rejects with
   * HaConnectionLostError when the connection closes: the caller runs it again on the next one.
   */
  run(ctx: ImporterContext, window: ImportWindow, progress: (p: ImportProgress) => void): Promise<ImportProgress>;
  /** Whether an import of this kind was begun and not completed (its cursor in DATA_DIR says so): any start finishes it. */
  unfinished(dataDir: string): Promise<boolean>;
}
