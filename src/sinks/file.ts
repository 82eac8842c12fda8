/**
 * The file sink: each write request's body is appended to `<dir>/points-<start>.lp.gz` (or `.lp`
 * at GZIP_LEVEL=0) and flushed to disk before it is acknowledged. A concatenation of gzip
 * members is one valid gzip stream, so a file is ready for `influx write --file … ` or `zcat`.
 * A file is closed and a new one started past ROTATE_BYTES or ROTATE_MS.
 */
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { WriteClient, WriteResponse } from './influx.js';
import { countDurableBytes, syncFile } from '../state/durable-write.js';

export const ROTATE_BYTES = 64 * 1024 * 1024;
export const ROTATE_MS = 60 * 60_000;

export function createFileWriteClient(dir: string, opts: { rotateBytes?: number; rotateMs?: number } = {}): WriteClient & { readonly files: string[] } {
  const rotateBytes = opts.rotateBytes ?? ROTATE_BYTES;
  const rotateMs = opts.rotateMs ?? ROTATE_MS;
  const files: string[] = [];
  let current: { handle: FileHandle; bytes: number; openedAt: number; gzipped: boolean } | null = null;
  // Writes are chained: two requests in flight must not interleave inside one file.
  let chain: Promise<unknown> = Promise.resolve();

  async function fileFor(gzipped: boolean): Promise<NonNullable<typeof current>> {
    const now = Date.now();
    if (current !== null && current.gzipped === gzipped && current.bytes < rotateBytes && now - current.openedAt < rotateMs) return current;
    await current?.handle.close();
    await mkdir(dir, { recursive: true });
    const stamp = new Date(now).toISOString().replace(/[:.]/g, '-');
    const path = join(dir, `points-${stamp}-${files.length}.lp${gzipped ? '.gz' : ''}`);
    current = { handle: await open(path, 'a'), bytes: 0, openedAt: now, gzipped };
    files.push(path);
    return current;
  }

  async function append(body: Buffer, gzipped: boolean): Promise<WriteResponse> {
    try {
      const file = await fileFor(gzipped);
      await file.handle.write(body);
      countDurableBytes(body.length);
      await syncFile(file.handle, true);
      file.bytes += body.length;
      return { status: 204, message: '', retryAfter: undefined };
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      // No HTTP status: the writer retries, as for an unreachable database (disk full, …).
      return { status: undefined, message: `cannot write to ${dir}: ${e.code ?? ''} ${e.message}`, retryAfter: undefined };
    }
  }

  return {
    files,
    write(body, gzipped) {
      const result = chain.then(() => append(body, gzipped));
      chain = result;
      return result;
    },
    async close() {
      await chain;
      await current?.handle.close();
      current = null;
    },
    destroy() {
      return this.close();
    },
  };
}
