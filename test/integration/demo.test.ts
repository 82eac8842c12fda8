/** The README's first command, `npm run demo`, ends with a zero-loss summary (here with fewer events). */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { freePort } from '../helpers/ports.js';

const DEMO = fileURLToPath(new URL('../../dist/src/demo.js', import.meta.url));

describe('npm run demo', () => {
  it('runs the simulator and the ingestor with nothing else installed and finds every point in the files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'demo-'));
    try {
      const env = { PATH: process.env.PATH ?? '', DEMO_EVENTS: '3000', DEMO_RATE: '3000', DATA_DIR: dir, HTTP_PORT: String(await freePort()) };
      const { code, out } = await new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn(process.execPath, [DEMO], { env });
        let text = '';
        child.stdout.on('data', (c: Buffer) => (text += c.toString()));
        child.stderr.on('data', (c: Buffer) => (text += c.toString()));
        child.once('exit', (c) => resolve({ code: c, out: text }));
      });
      expect(out).toMatch(/state changes emitted {3}3000 \(\+ \d+ snapshot states\)/);
      expect(out).toMatch(/points of HA states {5}\d+/);
      expect(out).toMatch(/zero loss {15}yes/);
      expect(code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
