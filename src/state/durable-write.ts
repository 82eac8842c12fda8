/**
 * Writing a small file so that a crash leaves the old or the new content, never half of one,
 * and two writers of the same path never touch each other's temporary file.
 *
 * Rules:
 * - The data goes to a temporary file with a unique name (`<name>.<pid>.<n>.<random>.tmp`,
 *   created exclusively, mode 0600), is fsync'd, then renamed over the target; the directory is
 *   fsync'd after the rename so that the rename itself survives a power cut.
 * - A directory that does not exist is created 0700 (the state holds entity ids and a clock).
 * - A failed write removes its temporary file; temporary files left by a crash are removed by
 *   `removeStaleTemps` (they are never read).
 * - Every fsync/fdatasync the ingestor issues goes through `syncFile` (here, the spool, the file
 *   sink), so `diskSyncs` counts them all (ha_ingestor_disk_syncs_total): SD-card wear shows.
 */
import { randomBytes } from 'node:crypto';
import { appendFile, type FileHandle, mkdir, open, readdir, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export const FILE_MODE = 0o600;
export const DIR_MODE = 0o700;

let tempCounter = 0;

/**
 * fsyncs issued and bytes written durably since the process started. Module-level on purpose:
 * every durable write of every part passes through this module, and none of them holds the
 * metrics object; src/metrics.ts reads it when /metrics is read.
 */
export const diskSyncs = { syncs: 0, bytes: 0 };

/** fsync (or fdatasync with `dataOnly`) of an open file, counted in `diskSyncs`. */
export function syncFile(handle: FileHandle, dataOnly = false): Promise<void> {
  diskSyncs.syncs++;
  return dataOnly ? handle.datasync() : handle.sync();
}

/** Counts `bytes` written to a file that is about to be synced. */
export function countDurableBytes(bytes: number): void {
  diskSyncs.bytes += bytes;
}

function tempPathFor(path: string): string {
  return `${path}.${process.pid}.${tempCounter++}.${randomBytes(4).toString('hex')}.tmp`;
}

/** Writes `data` to `path` atomically and durably (file and directory fsync'd). */
export async function writeAtomically(path: string, data: string | Uint8Array): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: DIR_MODE });
  const tmp = tempPathFor(path);
  const handle = await open(tmp, 'wx', FILE_MODE);
  try {
    try {
      await handle.writeFile(data);
      countDurableBytes(typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength);
      await syncFile(handle);
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await syncDirectory(dir);
}

/** Appends `text` to `path` and fdatasyncs it: on disk when this resolves (nothing for ''). */
export async function appendDurably(path: string, text: string): Promise<void> {
  if (text === '') return;
  await appendFile(path, text);
  countDurableBytes(Buffer.byteLength(text));
  const handle = await open(path, 'r');
  try {
    await syncFile(handle, true);
  } finally {
    await handle.close();
  }
}

/** fsync of a directory: makes a rename or a new entry in it durable. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await syncFile(handle);
  } finally {
    await handle.close();
  }
}

/** Removes the temporary files a crash left beside `path`. */
export async function removeStaleTemps(path: string): Promise<void> {
  const prefix = `${basename(path)}.`;
  let names: string[];
  try {
    names = await readdir(dirname(path));
  } catch {
    return; // no directory yet: nothing stale
  }
  for (const name of names) {
    if (name.startsWith(prefix) && name.endsWith('.tmp')) await unlink(join(dirname(path), name)).catch(() => {});
  }
}
