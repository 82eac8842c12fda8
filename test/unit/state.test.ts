import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { StateFile, type StateSource } from '../../src/state/files.js';
import { type StatePart, StateSaver } from '../../src/state/saver.js';

// Every file write goes through writeAtomically: count them and how many run at once.
// With io.inMemory (fake timers: real I/O would not finish between timer steps) nothing touches the
// disk and io.files keeps what each path would hold.
const io = vi.hoisted(() => ({ active: 0, maxActive: 0, writes: 0, inMemory: false, files: new Map<string, string | Uint8Array>() }));
vi.mock('../../src/state/durable-write.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/state/durable-write.js')>();
  return {
    ...real,
    removeStaleTemps: async (path: string) => (io.inMemory ? undefined : real.removeStaleTemps(path)),
    writeAtomically: async (path: string, data: string | Uint8Array) => {
      io.active++;
      io.maxActive = Math.max(io.maxActive, io.active);
      io.writes++;
      try {
        if (io.inMemory) io.files.set(path, data);
        else await real.writeAtomically(path, data);
      } finally {
        io.active--;
      }
    },
  };
});

const log = pino({ level: 'silent' });
let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'state-'));
  Object.assign(io, { active: 0, maxActive: 0, writes: 0, inMemory: false, files: new Map() });
});
afterEach(() => {
  vi.useRealTimers();
  rmSync(dir, { recursive: true, force: true });
});

function source(watermark: number | null, ids: string[] = []): StateSource & { watermark: number | null; ids: Set<string> } {
  const s = {
    watermark,
    ids: new Set(ids),
    watermarkHaMs: () => s.watermark,
    entityIds: () => s.ids,
  };
  return s;
}

const tempFiles = (d: string) => readdirSync(d).filter((n) => n.endsWith('.tmp'));

describe('StateFile', () => {
  it('concurrent saves of one path never clash (unique temp files): each resolves, one complete file is left', async () => {
    const file = new StateFile(dir);
    await Promise.all(Array.from({ length: 20 }, (_, i) => file.save({ watermarkHaMs: i, entityIds: [`sensor.e${i}`] })));
    const saved = await file.load();
    expect(saved).not.toBeNull();
    expect(saved?.entityIds).toEqual([`sensor.e${saved?.watermarkHaMs}`]);
    expect(tempFiles(dir)).toEqual([]);
  });

  it('writes version 2 with the HA-time watermark, 0600, in a new directory made 0700', async () => {
    const nested = join(dir, 'a', 'b');
    const file = new StateFile(nested);
    await file.save({ watermarkHaMs: 1234, entityIds: ['sensor.a'] });
    expect(JSON.parse(readFileSync(file.path, 'utf8'))).toMatchObject({ version: 2, watermarkHaMs: 1234, entityIds: ['sensor.a'] });
    expect(statSync(file.path).mode & 0o777).toBe(0o600);
    expect(statSync(nested).mode & 0o777).toBe(0o700);
  });

  it('reads version 1 (watermarkMs) as the HA time', async () => {
    const file = new StateFile(dir);
    writeFileSync(file.path, JSON.stringify({ version: 1, watermarkMs: 1714566896123, entityIds: ['sensor.a', 7], savedAt: 'x' }));
    expect(await file.load()).toEqual({ watermarkHaMs: 1714566896123, entityIds: ['sensor.a'] });
  });

  it('refuses a file it does not understand, and a missing file is no state', async () => {
    const file = new StateFile(dir);
    expect(await file.load()).toBeNull();
    writeFileSync(file.path, JSON.stringify({ version: 3, watermarkHaMs: 1, entityIds: [] }));
    await expect(file.load()).rejects.toThrow('not a state file this version understands');
  });
});

describe('StateSaver', () => {
  it('serialises saves: many asked for at once never run two writes together, and the last state wins', async () => {
    const src = source(1);
    const file = new StateFile(dir);
    const saver = new StateSaver({ parts: [file.part(src)], intervalMs: 60_000, log });
    const saves: Promise<void>[] = [];
    for (let i = 2; i <= 30; i++) {
      src.watermark = i;
      saves.push(saver.saveNow());
      if (i % 5 === 0) await new Promise((r) => setImmediate(r));
    }
    await Promise.all(saves);
    await saver.stop();
    expect(io.maxActive).toBe(1);
    expect(io.writes).toBeLessThan(29); // requests made while one waited joined it
    expect((await file.load())?.watermarkHaMs).toBe(30);
    expect(tempFiles(dir)).toEqual([]);
  });

  it('writes nothing while nothing changed: not at start, not on the timer, not at stop', async () => {
    vi.useFakeTimers();
    const src = source(1000, ['sensor.a']);
    const saver = new StateSaver({ parts: [new StateFile(dir).part(src)], intervalMs: 100, log });
    saver.start();
    await vi.advanceTimersByTimeAsync(1_000);
    await saver.saveNow();
    expect(io.writes).toBe(0);
    src.ids.add('sensor.b');
    await saver.saveNow();
    expect(io.writes).toBe(1);
    await vi.advanceTimersByTimeAsync(1_000);
    await saver.stop();
    expect(io.writes).toBe(1);
    expect(saver.writes).toBe(1);
  });

  it('the timer saves a change; a null watermark writes nothing and keeps the earlier file', async () => {
    const file = new StateFile(dir);
    await file.save({ watermarkHaMs: 500, entityIds: ['sensor.old'] });
    io.writes = 0;
    const src = source(null);
    const saver = new StateSaver({ parts: [file.part(src)], intervalMs: 10, log });
    saver.start();
    src.ids.add('sensor.new'); // changed, but no watermark known: nothing to save
    await saver.saveNow();
    expect(io.writes).toBe(0);
    expect(await file.load()).toEqual({ watermarkHaMs: 500, entityIds: ['sensor.old'] });
    src.watermark = 900;
    const deadline = Date.now() + 5_000;
    while (saver.writes === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(await file.load()).toEqual({ watermarkHaMs: 900, entityIds: ['sensor.new'] });
    await saver.stop();
  });

  it('round trip: what the saver wrote is what StateFile.load reads back', async () => {
    const src = source(1_714_566_896_123, ['sensor.a', 'light.b']);
    const file = new StateFile(dir);
    const saver = new StateSaver({ parts: [file.part(src)], intervalMs: 60_000, log });
    src.watermark = 1_714_566_999_000;
    await saver.stop();
    expect(await file.load()).toEqual({ watermarkHaMs: 1_714_566_999_000, entityIds: ['sensor.a', 'light.b'] });
    expect(statSync(file.path).mode & 0o777).toBe(0o600);
  });

  it('stop() waits for the save under way, then saves the newest state once more', async () => {
    const src = source(1);
    const file = new StateFile(dir);
    const saver = new StateSaver({ parts: [file.part(src)], intervalMs: 60_000, log });
    src.watermark = 2;
    const first = saver.saveNow();
    src.watermark = 3;
    await saver.stop();
    await first;
    expect((await file.load())?.watermarkHaMs).toBe(3);
    expect(io.maxActive).toBe(1);
    src.watermark = 4;
    await saver.saveNow(); // stopped: no more writes
    expect((await file.load())?.watermarkHaMs).toBe(3);
  });

  it('cancel() (a failed start) saves nothing', async () => {
    const src = source(1);
    const saver = new StateSaver({ parts: [new StateFile(dir).part(src)], intervalMs: 10, log });
    saver.start();
    await saver.cancel();
    src.watermark = 2;
    await saver.stop();
    expect(io.writes).toBe(0);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('cadence: a change waits for the next check, at most intervalMs; nothing changed, no write at any check', async () => {
    vi.useFakeTimers();
    io.inMemory = true;
    const src = source(1000, ['sensor.a']);
    const saver = new StateSaver({ parts: [new StateFile(dir).part(src)], intervalMs: 30_000, firstSaveMs: 2_000, log });
    saver.start();
    src.watermark = 2000;
    await vi.advanceTimersByTimeAsync(29_000);
    expect(io.writes).toBe(0); // on disk (onDisk not false): no early save
    await vi.advanceTimersByTimeAsync(1_000);
    expect(io.writes).toBe(1);
    for (let w = 2001; w <= 2060; w++) {
      src.watermark = w; // 2 changes a second for 30 s: one write
      await vi.advanceTimersByTimeAsync(500);
    }
    expect(io.writes).toBe(2);
    await vi.advanceTimersByTimeAsync(300_000);
    expect(io.writes).toBe(2);
    await saver.stop();
    expect(io.writes).toBe(2);
  });

  it('a first start (onDisk: false) checks every firstSaveMs until that part is written, then every intervalMs', async () => {
    vi.useFakeTimers();
    io.inMemory = true;
    const src = source(null);
    const file = new StateFile(dir);
    const saver = new StateSaver({ parts: [{ ...file.part(src), onDisk: false }], intervalMs: 30_000, firstSaveMs: 2_000, log });
    saver.start();
    await vi.advanceTimersByTimeAsync(10_000); // no watermark yet: nothing to write, still checking
    expect(io.writes).toBe(0);
    src.watermark = 5;
    await vi.advanceTimersByTimeAsync(2_000);
    expect(io.writes).toBe(1);
    expect(JSON.parse(String(io.files.get(file.path))).watermarkHaMs).toBe(5);
    src.watermark = 6;
    await vi.advanceTimersByTimeAsync(28_000);
    expect(io.writes).toBe(1);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(io.writes).toBe(2);
    await saver.stop();
  });

  it('one save serializes every part at one moment and writes them in order; a failed part stops the parts after it', async () => {
    let table = 0;
    const order: string[] = [];
    const blocked = join(dir, 'not-a-dir');
    writeFileSync(blocked, '');
    let tablePath = blocked + '/seen.bin';
    const src = source(1);
    const stateFile = new StateFile(dir);
    const tablePart: StatePart = {
      get path() {
        return tablePath;
      },
      version: () => table,
      serialize: () => {
        order.push(`table ${table} watermark ${src.watermark}`);
        return new Uint8Array([table]);
      },
    };
    const statePart = stateFile.part(src);
    const saver = new StateSaver({ parts: [tablePart, statePart], intervalMs: 60_000, log });
    table = 1;
    src.watermark = 2;
    await expect(saver.saveNow()).rejects.toMatchObject({ code: 'STATE_SAVE_FAILED' });
    expect(await stateFile.load()).toBeNull(); // the watermark never gets ahead of the table
    tablePath = join(dir, 'seen.bin');
    await saver.saveNow();
    expect([...readFileSync(tablePath)]).toEqual([1]);
    expect((await stateFile.load())?.watermarkHaMs).toBe(2);
    expect(order).toEqual(['table 1 watermark 2', 'table 1 watermark 2']);
    await saver.stop();
  });

  it('an opaque part (restart de-duplication) is written when its version moves; a failure is reported and retried', async () => {
    let version = 0;
    let bytes = new Uint8Array([1, 2, 3]);
    const blocked = join(dir, 'not-a-dir');
    writeFileSync(blocked, '');
    const part: StatePart = { path: join(blocked, 'seen.bin'), version: () => version, serialize: () => bytes };
    const saver = new StateSaver({ parts: [part], intervalMs: 60_000, log });
    version = 1;
    await expect(saver.saveNow()).rejects.toMatchObject({ code: 'STATE_SAVE_FAILED', message: expect.stringMatching(/ENOTDIR|EEXIST/) });
    const ok: StatePart = { ...part, path: join(dir, 'seen.bin') };
    const saver2 = new StateSaver({ parts: [ok], intervalMs: 60_000, log });
    version = 2;
    bytes = new Uint8Array([4, 5]);
    await saver2.saveNow();
    expect([...readFileSync(ok.path)]).toEqual([4, 5]);
    await saver2.saveNow();
    expect(saver2.writes).toBe(1);
  });
});
