import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { createFileWriteClient } from '../../src/sinks/file.js';

let dir = '';
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('file sink', () => {
  it('appends gzip members that read back as one stream, and rotates by size', async () => {
    dir = mkdtempSync(join(tmpdir(), 'file-sink-'));
    const client = createFileWriteClient(join(dir, 'out'), { rotateBytes: 40 });
    const bodies = ['a v=1 1\n', 'b v=2 2\n', 'c v=3 3\n'].map((l) => gzipSync(l));
    const replies = await Promise.all(bodies.map((b) => client.write(b, true)));
    await client.close();
    expect(replies.map((r) => r.status)).toEqual([204, 204, 204]);
    const files = readdirSync(join(dir, 'out')).sort();
    expect(files.length).toBeGreaterThan(1);
    expect(files.every((f) => /^points-.*\.lp\.gz$/.test(f))).toBe(true);
    const text = files.map((f) => gunzipSync(readFileSync(join(dir, 'out', f))).toString()).join('');
    expect(text).toBe('a v=1 1\nb v=2 2\nc v=3 3\n');
  });

  it('writes plain .lp files when bodies are not gzipped', async () => {
    dir = mkdtempSync(join(tmpdir(), 'file-sink-'));
    const client = createFileWriteClient(dir);
    await client.write(Buffer.from('a v=1 1\n'), false);
    await client.close();
    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/\.lp$/);
    expect(readFileSync(join(dir, files[0] as string), 'utf8')).toBe('a v=1 1\n');
  });

  it('answers a write it cannot do without a status, so the writer retries', async () => {
    dir = mkdtempSync(join(tmpdir(), 'file-sink-'));
    const blocker = join(dir, 'not-a-dir');
    writeFileSync(blocker, 'a file where the folder should be');
    const r = await createFileWriteClient(join(blocker, 'out')).write(Buffer.from('a v=1 1\n'), false);
    expect(r.status).toBeUndefined();
    expect(r.message).toMatch(/^cannot write to .*not-a-dir\/out: (ENOTDIR|EEXIST)/);
  });
});
