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
    await mkdir(this.dir, { recursive: true });
    const tmp = `${this.path}.tmp`;
    const handle = await open(tmp, 'w');
    try {
      await handle.writeFile(JSON.stringify({ version: 1, ...state, savedAt: new Date().toISOString() }));
      await handle.datasync();
    } finally {
      await handle.close();
    }
    await rename(tmp, this.path);
  }
}
