/** The demo's settings (every message) and its folder rules (src/demo/options.ts, folder.ts). */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freshDemoFolder, MARKER } from '../../src/demo/folder.js';
import { demoOptions } from '../../src/demo/options.js';

describe('demoOptions', () => {
  it('has the README defaults: 20000 events at 2000/s into data/demo, a free port, files', () => {
    expect(demoOptions({})).toEqual({ events: 20_000, rate: 2_000, dataDir: 'data/demo', defaultDataDir: true, httpPort: null, toFiles: true });
  });

  it('takes the environment; HTTP_PORT=0 still means a free port (the demo reads /metrics)', () => {
    expect(demoOptions({ DEMO_EVENTS: '300', DEMO_RATE: '50', DATA_DIR: '/tmp/x', HTTP_PORT: '0', INFLUX_URL: 'http://db' })).toEqual({
      events: 300,
      rate: 50,
      dataDir: '/tmp/x',
      defaultDataDir: false,
      httpPort: null,
      toFiles: false,
    });
    expect(demoOptions({ HTTP_PORT: '9000' })).toMatchObject({ httpPort: 9000 });
  });

  it('names every problem', () => {
    expect(demoOptions({ DEMO_EVENTS: 'many', DEMO_RATE: '0', HTTP_PORT: '70000' })).toEqual({
      problems: [
        'DEMO_EVENTS=many: expected an integer from 1 to 10000000',
        'DEMO_RATE=0: expected an integer from 1 to 1000000',
        'HTTP_PORT=70000: expected an integer from 0 to 65535',
      ],
    });
  });
});

describe('freshDemoFolder', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const made = () => (dir = mkdtempSync(join(tmpdir(), 'demo-folder-')));

  it('empties a folder an earlier demo run marked, and marks it again', async () => {
    made();
    writeFileSync(join(dir, MARKER), '');
    writeFileSync(join(dir, 'state.json'), '{}');
    await freshDemoFolder(dir, false);
    expect(readdirSync(dir)).toEqual([MARKER]);
  });

  it('empties the default folder even without the mark (runs before the mark existed)', async () => {
    made();
    writeFileSync(join(dir, 'state.json'), '{}');
    await freshDemoFolder(dir, true);
    expect(readdirSync(dir)).toEqual([MARKER]);
  });

  it('creates a missing folder', async () => {
    const missing = join(made(), 'a', 'b');
    await freshDemoFolder(missing, false);
    expect(readdirSync(missing)).toEqual([MARKER]);
  });

  it('says when the folder cannot be read', async () => {
    const file = join(made(), 'a-file');
    writeFileSync(file, '');
    await expect(freshDemoFolder(file, false)).rejects.toMatchObject({
      code: 'DEMO_FOLDER_UNUSABLE',
      message: expect.stringMatching(new RegExp(`^DATA_DIR=${file}: cannot read it \\(ENOTDIR`)),
    });
  });

  it('refuses, untouched, a folder with files no demo made', async () => {
    made();
    mkdirSync(join(dir, 'spool'));
    await expect(freshDemoFolder(dir, false)).rejects.toMatchObject({
      code: 'DEMO_FOLDER_NOT_OURS',
      message: `DATA_DIR=${dir} holds files no demo run made; the demo empties its folder at every start, so give it a new or empty folder (or leave DATA_DIR unset for data/demo)`,
    });
    expect(existsSync(join(dir, 'spool'))).toBe(true);
  });
});
