/**
 * The demo's folder. Its verdict compares the points in DATA_DIR/out with what the simulator
 * emitted, which is exact only for an ingestor that starts with nothing: a watermark, seen-states
 * table or spool left by an earlier run would make the ingestor (rightly) fetch the gap since
 * that run from the new simulator's history and write what it finds there too. So every run
 * starts from an empty folder.
 *
 * Rules: a folder is emptied only when it is the demo's own: the default data/demo, a folder
 * that is empty or missing, or one that holds MARKER (written by an earlier demo run). Any other
 * DATA_DIR (perhaps the ingestor's real one, with a spool not yet written) is refused, untouched.
 */
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DemoError } from './errors.js';
import { DEFAULT_DATA_DIR } from './options.js';

export const MARKER = '.ha-ingestor-demo';

async function entries(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new DemoError('DEMO_FOLDER_UNUSABLE', `DATA_DIR=${dir}: cannot read it (${(err as Error).message})`, { cause: err });
  }
}

/** Empties `dir` (if it is the demo's own) and marks it as the demo's. */
export async function freshDemoFolder(dir: string, isDefault: boolean): Promise<void> {
  const found = await entries(dir);
  if (!isDefault && found.length > 0 && !found.includes(MARKER)) {
    throw new DemoError(
      'DEMO_FOLDER_NOT_OURS',
      `DATA_DIR=${dir} holds files no demo run made; the demo empties its folder at every start, so give it a new or empty folder (or leave DATA_DIR unset for ${DEFAULT_DATA_DIR})`,
    );
  }
  try {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(join(dir, MARKER), 'made by npm run demo; emptied at its next start\n');
  } catch (err) {
    throw new DemoError('DEMO_FOLDER_UNUSABLE', `DATA_DIR=${dir}: cannot empty it for a fresh run (${(err as Error).message})`, { cause: err });
  }
}
