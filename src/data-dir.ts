/**
 * The folders the ingestor keeps data in (DATA_DIR, SPOOL_DIR, DEAD_LETTER_DIR), checked before
 * anything is built on them: each must be, or become, a folder this process can create files in.
 * A problem is one StartError naming the variable and the cause in words (exit 2), not a stack.
 */
import { constants } from 'node:fs';
import { access, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from './config.js';
import { StartError } from './errors.js';

const CAUSES: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'the file system is read-only',
  ENOSPC: 'the disk is full',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EEXIST: 'it is a file, not a folder',
  ENOENT: 'a part of the path does not exist',
};

function because(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  return `${CAUSES[code] ?? (err as Error).message}${code === '' ? '' : ` (${code})`}`;
}

/** Creates `path` (0700) if needed and proves a file can be written in it. */
export async function usableFolder(variable: string, path: string): Promise<void> {
  try {
    await mkdir(path, { recursive: true, mode: 0o700 });
    if (!(await stat(path)).isDirectory()) throw Object.assign(new Error('not a folder'), { code: 'EEXIST' });
    await access(path, constants.W_OK | constants.X_OK);
    const probe = join(path, `.write-probe-${process.pid}`);
    await writeFile(probe, '', { mode: 0o600 });
    await rm(probe);
  } catch (err) {
    throw new StartError('DATA_FOLDER_UNUSABLE', `${variable}=${path}: cannot keep data there: ${because(err)}`, { cause: err, exitCode: 2 });
  }
}

/** Every data folder of the configuration, in the order a user would fix them. */
export async function checkDataFolders(config: Config): Promise<void> {
  await usableFolder('DATA_DIR', config.dataDir);
  await usableFolder('SPOOL_DIR', config.spoolDir);
  await usableFolder('SPOOL_DIR', join(config.spoolDir, 'frames'));
  await usableFolder('DEAD_LETTER_DIR', config.deadLetterDir);
}
