/**
 * Saves the state that survives a restart (the watermark and entity ids in state.json, restart
 * de-duplication's table, …), each part to its own file.
 *
 * Rules:
 * - One save at a time: a save asked for while one runs starts after it (several such requests
 *   make one save, which sees the newest state). The interval timer never starts a second one.
 * - A part is written only when its version() differs from the one last written. The versions
 *   the parts have when the saver is built count as written: parts are built from what was
 *   loaded from disk, so an idle ingestor performs no write and no fsync at all.
 * - A part whose serialize() returns null has nothing to save (a watermark not known yet): the
 *   file an earlier run saved is kept.
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
  /** The file's content, or null when there is nothing to save yet (keep what is on disk). */
  serialize(): Uint8Array | string | null;
}

export interface StateSaverOptions {
  readonly parts: readonly StatePart[];
  /** Time between two checks for changes. */
  readonly intervalMs: number;
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
  private chain: Promise<void> = Promise.resolve();
  /** A save asked for and not begun yet: later requests join it. */
  private pending: Promise<void> | null = null;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly opts: StateSaverOptions) {
    for (const part of opts.parts) this.saved.set(part, part.version());
  }

  /** Checks for changes every intervalMs. The timer alone never keeps the process alive. */
  start(): void {
    if (this.stopped || this.timer !== undefined) return;
    this.timer = setInterval(() => void this.saveNow().catch(() => {}), this.opts.intervalMs);
    this.timer.unref();
  }

  /** Saves every part that changed, after any save under way. Rejects if a part could not be saved. */
  saveNow(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return this.enqueue();
  }

  /** Shutdown: no more timer; waits for a save under way, then saves once more. Never rejects. */
  async stop(): Promise<void> {
    if (this.stopped) return this.chain;
    clearInterval(this.timer);
    const last = this.enqueue();
    this.stopped = true;
    await last.catch(() => {});
  }

  /** A start that failed: no more timer, no final save; waits for a save under way. */
  async cancel(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
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

  private async saveChanged(): Promise<void> {
    let failure: StateSaveError | null = null;
    for (const part of this.opts.parts) {
      const version = part.version();
      if (this.saved.get(part) === version) continue;
      const data = part.serialize();
      if (data === null) continue;
      try {
        if (!this.cleaned.has(part)) {
          await removeStaleTemps(part.path);
          this.cleaned.add(part);
        }
        await writeAtomically(part.path, data);
        this.writes++;
        this.saved.set(part, version);
      } catch (err) {
        failure = new StateSaveError(part.path, err);
        this.opts.log.error({ err: failure, file: part.path }, 'cannot save state; trying again at the next save');
      }
    }
    if (failure !== null) throw failure;
  }
}
