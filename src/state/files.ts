/**
 * What survives a restart besides the spool, in `<DATA_DIR>/state.json`:
 *
 *   {"version":2,"watermarkHaMs":1714566896123,"entityIds":["sensor.a", …],"savedAt":"…"}
 *
 * watermarkHaMs: HA's clock (ms): every live event HA fired before it was durably handed off
 *   (src/pipeline/watermark.ts). The gap after a restart is fetched from HA's history from it.
 * entityIds: every entity ever seen, so a backfill also covers entities that vanished.
 * Version 1 (`"watermarkMs"`, the ingestor's clock at arrival) is read as an HA time: right when
 * both clocks agree, off by their difference when not; the next save writes version 2.
 * Saved by a StateSaver (src/state/saver.ts) through writeAtomically: a crash leaves the old or
 * the new file, never half of one.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { StatePart } from './saver.js';
import { writeAtomically } from './durable-write.js';

export interface SavedState {
  readonly watermarkHaMs: number;
  readonly entityIds: readonly string[];
}

/** What state.json is made of, read when a save is due. */
export interface StateSource {
  /** The watermark's value (Watermark.value()); null = not known, nothing is written. */
  watermarkHaMs(): number | null;
  /** Every entity id seen; it only grows, so its size tells a change. */
  entityIds(): ReadonlySet<string>;
}

/** A saved file's content, or null when there is none (any other read error is thrown). */
export async function readIfPresent(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * One JSON record in a file of DATA_DIR (the rejected-token record, the import cursor), written
 * atomically; `parse` throws when the file exists but cannot be used.
 */
export class RecordFile<T> {
  readonly path: string;

  constructor(
    dataDir: string,
    name: string,
    private readonly parse: (text: string, path: string) => T,
    private readonly serialize: (record: T) => string,
  ) {
    this.path = join(dataDir, name);
  }

  /** The record, or null when there is no file. */
  async load(): Promise<T | null> {
    const bytes = await readIfPresent(this.path);
    return bytes === null ? null : this.parse(bytes.toString('utf8'), this.path);
  }

  save(record: T): Promise<void> {
    return writeAtomically(this.path, this.serialize(record));
  }
}

export class StateFile {
  readonly path: string;

  constructor(dir: string) {
    this.path = join(dir, 'state.json');
  }

  async load(): Promise<SavedState | null> {
    const bytes = await readIfPresent(this.path);
    if (bytes === null) return null;
    const parsed = JSON.parse(bytes.toString('utf8')) as { version?: unknown; watermarkHaMs?: unknown; watermarkMs?: unknown; entityIds?: unknown };
    const watermark = parsed.version === 2 ? parsed.watermarkHaMs : parsed.version === 1 ? parsed.watermarkMs : undefined;
    if (typeof watermark !== 'number' || !Array.isArray(parsed.entityIds)) {
      throw new Error(`${this.path} is not a state file this version understands`);
    }
    return { watermarkHaMs: watermark, entityIds: parsed.entityIds.filter((e): e is string => typeof e === 'string') };
  }

  async save(state: SavedState): Promise<void> {
    await writeAtomically(this.path, serializeState(state));
  }

  /** The StateSaver's part for this file. */
  part(source: StateSource): StatePart {
    return {
      path: this.path,
      version: () => `${source.watermarkHaMs()}/${source.entityIds().size}`,
      serialize: () => {
        const watermarkHaMs = source.watermarkHaMs();
        return watermarkHaMs === null ? null : serializeState({ watermarkHaMs, entityIds: [...source.entityIds()] });
      },
    };
  }
}

function serializeState(state: SavedState): string {
  return JSON.stringify({ version: 2, watermarkHaMs: state.watermarkHaMs, entityIds: state.entityIds, savedAt: new Date().toISOString() });
}

/**
 * Restart de-duplication's table (src/pipeline/restart-dedup/table.ts defines the format) in
 * `<DATA_DIR>/seen-states.bin`, saved with the watermark by the StateSaver (RestartDedup.persist
 * is its part). This class only reads the bytes back.
 */
export class SeenStatesFile {
  readonly path: string;

  constructor(dir: string) {
    this.path = join(dir, 'seen-states.bin');
  }

  /** The saved bytes, or null when there is no file. */
  load(): Promise<Uint8Array | null> {
    return readIfPresent(this.path);
  }
}
