/**
 * What survives a restart besides the spool, in `<DATA_DIR>/state.json`:
 *
 *   {"version":1,"watermarkMs":1714566896123,"entityIds":["sensor.a", …],"savedAt":"…"}
 *
 * watermarkMs: every event that arrived before it was durably handed off (see Watermark).
 * entityIds: every entity seen in a snapshot, so a backfill also covers entities that vanished.
 * Written to a temporary file, fsync'd, then renamed over the old one: a crash leaves the old
 * or the new file, never half of one.
 */
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';

export interface SavedState {
  readonly watermarkMs: number;
  readonly entityIds: readonly string[];
}

export class StateFile {
  readonly path: string;

  constructor(private readonly dir: string) {
    this.path = join(dir, 'state.json');
  }

  async load(): Promise<SavedState | null> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    const parsed = JSON.parse(text) as Partial<SavedState> & { version?: number };
    if (parsed.version !== 1 || typeof parsed.watermarkMs !== 'number' || !Array.isArray(parsed.entityIds)) {
      throw new Error(`${this.path} is not a state file this version understands`);
    }
    return { watermarkMs: parsed.watermarkMs, entityIds: parsed.entityIds.filter((e): e is string => typeof e === 'string') };
  }

  async save(state: SavedState): Promise<void> {
    await writeAtomically(this.dir, this.path, JSON.stringify({ version: 1, ...state, savedAt: new Date().toISOString() }));
  }
}

/** Written to a temporary file, fsync'd, then renamed over the old one. */
async function writeAtomically(dir: string, path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dir, { recursive: true });
  const tmp = `${path}.tmp`;
  const handle = await open(tmp, 'w');
  try {
    await handle.writeFile(data);
    await handle.datasync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
}

/**
 * Restart de-duplication's table (src/pipeline/restart-dedup/table.ts, which defines the format)
 * in `<DATA_DIR>/seen-states.bin`, saved with the watermark. This class only moves the bytes.
 */
export class SeenStatesFile {
  readonly path: string;

  constructor(private readonly dir: string) {
    this.path = join(dir, 'seen-states.bin');
  }

  /** The saved bytes, or null when there is no file. */
  async load(): Promise<Uint8Array | null> {
    try {
      return await readFile(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async save(bytes: Uint8Array): Promise<void> {
    await writeAtomically(this.dir, this.path, bytes);
  }
}
