/**
 * The states import's cursor: what of the import is done, in DATA_DIR/import-states.json.
 *
 * Format (JSON, written atomically and fsync'd by src/state/durable-write.ts):
 *   {"version":1,"fromMs":<HA ms>,"toMs":<HA ms>,"doneUntilMs":<HA ms>,"complete":<bool>,"points":<n>}
 *
 * - [fromMs, toMs) is the import's range in HA's time, fixed when the import begins (toMs: where
 *   the live stream of that run began, src/import/job.ts). A resumed import keeps it: what came
 *   after toMs was written live (and, after a restart, by the gap backfill).
 * - doneUntilMs: every recorded state in [fromMs, doneUntilMs) is durable (acknowledged by the
 *   database or in the spool). It only moves after a step's points are durable, so a kill redoes
 *   at most the one step it interrupted (identical points: idempotent).
 * - complete: [fromMs, toMs) is done. A rerun then writes nothing; deleting the file forces a
 *   fresh import.
 */
import { IngestorError } from '../errors.js';
import { RecordFile } from '../state/files.js';

export const CURSOR_FILE = 'import-states.json';

export interface ImportCursor {
  readonly fromMs: number;
  readonly toMs: number;
  readonly doneUntilMs: number;
  readonly complete: boolean;
  readonly points: number;
}

/** The cursor file exists but cannot be used: the user decides (delete it to import again). */
export class CursorError extends IngestorError {
  constructor(message: string) {
    super('IMPORT_CURSOR_UNREADABLE', message, false);
  }
}

const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** The cursor in a file's bytes; throws CursorError naming the file when they are not one. */
export function parseCursor(text: string, path: string): ImportCursor {
  let v: Partial<Record<keyof ImportCursor | 'version', unknown>>;
  try {
    v = JSON.parse(text) as typeof v;
  } catch {
    throw new CursorError(`${path} is not JSON: delete it to import again from the start`);
  }
  const { fromMs, toMs, doneUntilMs, complete, points } = v ?? {};
  if (v?.version !== 1 || !isTime(fromMs) || !isTime(toMs) || !isTime(doneUntilMs) || typeof complete !== 'boolean' || !isTime(points)) {
    throw new CursorError(`${path} is not an import cursor this version understands: delete it to import again from the start`);
  }
  if (fromMs > toMs || doneUntilMs < fromMs || doneUntilMs > toMs) {
    throw new CursorError(`${path} holds an impossible range (from ${fromMs}, done until ${doneUntilMs}, to ${toMs}): delete it to import again`);
  }
  return { fromMs, toMs, doneUntilMs, complete, points };
}

export function serializeCursor(c: ImportCursor): string {
  return `${JSON.stringify({ version: 1, fromMs: c.fromMs, toMs: c.toMs, doneUntilMs: c.doneUntilMs, complete: c.complete, points: c.points })}\n`;
}

export class CursorFile extends RecordFile<ImportCursor> {
  constructor(dataDir: string) {
    super(dataDir, CURSOR_FILE, parseCursor, serializeCursor);
  }
}

/** The cursor after a step [.., untilMs) is durable. */
export function advance(c: ImportCursor, untilMs: number, points: number): ImportCursor {
  const doneUntilMs = Math.min(c.toMs, Math.max(c.doneUntilMs, untilMs));
  return { ...c, doneUntilMs, complete: doneUntilMs >= c.toMs, points: c.points + points };
}

export const REQUEST_FILE = 'import-request.json';

/**
 * What was asked for (DATA_DIR/import-request.json), saved before anything else of the import
 * runs, and which importers have finished it. A kill before an importer saved its own cursor
 * (the gap backfill, the recorder wait and the oldest-record search come first) leaves the
 * request: the next start, with or without the flag, carries it out.
 *   {"version":1,"range":"all"|<ms>,"done":["states",…]}
 */
export interface ImportRequest {
  readonly range: 'all' | number;
  readonly done: readonly string[];
}

export function parseRequest(text: string, path: string): ImportRequest {
  let v: { version?: unknown; range?: unknown; done?: unknown };
  try {
    v = JSON.parse(text) as typeof v;
  } catch {
    throw new CursorError(`${path} is not JSON: delete it (and run with --import-history again if the import is not done)`);
  }
  const range = v?.range;
  if (v?.version !== 1 || !(range === 'all' || isTime(range)) || !Array.isArray(v.done)) {
    throw new CursorError(
      `${path} is not an import request this version understands: delete it (and run with --import-history again if the import is not done)`,
    );
  }
  return { range, done: v.done.filter((d): d is string => typeof d === 'string') };
}

export class RequestFile extends RecordFile<ImportRequest> {
  constructor(dataDir: string) {
    super(dataDir, REQUEST_FILE, parseRequest, (r) => `${JSON.stringify({ version: 1, range: r.range, done: r.done })}\n`);
  }
}
