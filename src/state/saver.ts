/**
 * Saves the state that survives a restart (the watermark and entity ids in state.json, restart
 * de-duplication's table, …), each part to its own file.
 *
 * Rules:
 * - One save at a time: a save asked for while one runs starts after it (several such requests
 *   make one save, which sees the newest state). The timer never starts a second one.
 * - Cadence (SD cards): the timer checks every `intervalMs`, so a change is on disk at most
 *   `intervalMs` (plus the write) after it happened; at 2 changes a second that is one write per
 *   part per interval, not one per change. Until a part marked `onDisk: false` (nothing from an
 *   earlier run: a first start) has been written, the timer checks every `firstSaveMs` instead,
 *   so a first start's watermark is not left unsaved for a whole interval.
 * - A part is written only when its version() differs from the one last written. The versions
 *   the parts have when the saver is built count as written: parts are built from what was
 *   loaded from disk, so an idle ingestor performs no write and no fsync at all.
 * - A part whose serialize() returns null has nothing to save (a watermark not known yet): the
 *   file an earlier run saved is kept.
 * - One save serializes every changed part at the same moment, then writes them in list order;
 *   a failed write ends that save. So a part listed before another is never older on disk than
 *   it: restart de-duplication's table comes before the watermark it must cover (app.ts).
 * - Files are written by writeAtomically (unique temp file, file and directory fsync'd, 0600).
 * - A failed write is logged and tried again at the next save; saveNow() rejects with
 *   StateSaveError, the timer and stop() only log.
 */
import type { Logger } from 'pino';
import { IngestorError } from '../errors.js';
import { removeStaleTemps, writeAtomically } from './durable-write.js';

/** One file of saved state. */
export interface StatePart {
  /** Where it is saved (absolute, or relative to the working directory). */
  readonly path: string;
  /** Changes whenever serialize() would say something else; cheap (called every interval). */
  version(): number | string;
  /** false: no file from an earlier run (a first start); written at the first check that has something. */
  readonly onDisk?: boolean;
  /** The file's content, or null when there is nothing to save yet (keep what is on disk). */
  serialize(): Uint8Array | string | null;
}

export interface StateSaverOptions {
  readonly parts: readonly StatePart[];
  /** Time between two checks for changes: the longest a change waits before it is written. */
  readonly intervalMs: number;
  /** Time between two checks while a part marked `onDisk: false` is not written yet (default intervalMs). */
  readonly firstSaveMs?: number;
  readonly log: Logger;
}

export class StateSaveError extends IngestorError {
  constructor(path: string, cause: unknown) {
    const reason = (cause as NodeJS.ErrnoException).code ?? (cause as Error).message;
    super('STATE_SAVE_FAILED', `cannot save ${path}: ${reason}`, true, { cause });
  }
}

export class StateSaver {
  /** Files written since start (a test and a metric can see that idle means no write). */
  writes = 0;
  private readonly saved = new Map<StatePart, number | string>();
  private readonly cleaned = new Set<StatePart>();
  /** Parts written by this saver. */
  private readonly written = new Set<StatePart>();
  private chain: Promise<void> = Promise.resolve();
  /** A save asked for and not begun yet: later requests join it. */
  private pending: Promise<void> | null = null;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly opts: StateSaverOptions) {
    for (const part of opts.parts) this.saved.set(part, part.version());
  }

  /** Checks for changes every intervalMs (firstSaveMs at first). The timer alone never keeps the process alive. */
  start(): void {
    if (this.stopped || this.timer !== undefined) return;
    this.schedule();
  }

  /** Saves every part that changed, after any save under way. Rejects if a part could not be saved. */
  saveNow(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return this.enqueue();
  }

  /** Shutdown: no more timer; waits for a save under way, then saves once more. Never rejects. */
  async stop(): Promise<void> {
    if (this.stopped) return this.chain;
    clearTimeout(this.timer);
    const last = this.enqueue();
    this.stopped = true;
    await last.catch(() => {});
  }

  /** A start that failed: no more timer, no final save; waits for a save under way. */
  async cancel(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.chain;
  }

  private enqueue(): Promise<void> {
    if (this.pending !== null) return this.pending;
    const run = this.chain.then(() => {
      this.pending = null;
      return this.saveChanged();
    });
    this.pending = run;
    this.chain = run.catch(() => {});
    return run;
  }

  private schedule(): void {
    const firstSave = this.opts.parts.some((p) => p.onDisk === false && !this.written.has(p));
    const ms = firstSave ? (this.opts.firstSaveMs ?? this.opts.intervalMs) : this.opts.intervalMs;
    this.timer = setTimeout(() => {
      void this.saveNow()
        .catch(() => {})
        .then(() => {
          if (!this.stopped) this.schedule();
        });
    }, ms);
    this.timer.unref();
  }

  private async saveChanged(): Promise<void> {
    // Serialized together, before any write: each file holds the state of one moment.
    const due: { part: StatePart; version: number | string; data: Uint8Array | string }[] = [];
    for (const part of this.opts.parts) {
      const version = part.version();
      if (this.saved.get(part) === version) continue;
      const data = part.serialize();
      if (data !== null) due.push({ part, version, data });
    }
    for (const { part, version, data } of due) {
      try {
        if (!this.cleaned.has(part)) {
          await removeStaleTemps(part.path);
          this.cleaned.add(part);
        }
        await writeAtomically(part.path, data);
      } catch (err) {
        const failure = new StateSaveError(part.path, err);
        this.opts.log.error({ err: failure, file: part.path }, 'cannot save state; trying again at the next save');
        // The parts after it wait too: none gets ahead of a part listed before it.
        throw failure;
      }
      this.writes++;
      this.written.add(part);
      this.saved.set(part, version);
    }
  }
}
