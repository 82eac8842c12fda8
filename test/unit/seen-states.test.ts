import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SeenStatesFile } from '../../src/state.js';
import { toLatin1Form } from '../../workers/latin1.js';
import { createSeenStates, SeenStates } from '../../workers/seen-states.js';

const line = (fields: string, us: number, id = 'sensor.a') => `sensor,entity_id=${id} ${fields} ${us}000\n`;

describe('seen states: the last point per entity', () => {
  it('skips a live re-announcement (old_state null) of the same state, each time, and nothing else', () => {
    const seen = new SeenStates(createSeenStates(64));
    expect(seen.note('sensor.a', line('value=1', 100), 'change', 1, false)).toEqual({ kind: 'new', skip: false });
    expect(seen.note('sensor.a', line('value=1', 100), 'change', 1, false)).toEqual({ kind: 'same', skip: false });
    expect(seen.note('sensor.a', line('value=1', 200), 'announce', 1, false)).toEqual({ kind: 'renewed', skip: true });
    // The skipped point itself, again (from the backfill): skipped again.
    expect(seen.note('sensor.a', line('value=1', 200), 'recorded', 1, false)).toEqual({ kind: 'same', skip: true });
    expect(seen.note('sensor.a', line('value=1', 300), 'announce', 1, false)).toEqual({ kind: 'renewed', skip: true });
    expect(seen.note('sensor.a', line('value=2', 400), 'announce', 1, false)).toEqual({ kind: 'new', skip: false });
    // A live change that repeats the state (force_update) is written.
    expect(seen.note('sensor.a', line('value=2', 500), 'change', 1, false)).toEqual({ kind: 'renewed', skip: false });
    // Older than the entry: written, the entry kept.
    expect(seen.note('sensor.a', line('value=9', 150), 'recorded', 1, false)).toEqual({ kind: 'older', skip: false });
    expect(seen.note('sensor.a', line('value=2', 600), 'announce', 1, false)).toEqual({ kind: 'renewed', skip: true });
    expect(seen.size).toBe(1);
  });

  it('skips at most one recorded repeat per entity and connection (force_update repeats look the same)', () => {
    const seen = new SeenStates(createSeenStates(64));
    seen.note('sensor.a', line('value=1', 100), 'change', 1, false);
    seen.note('sensor.b', line('value=5', 100, 'sensor.b'), 'change', 1, false);
    expect(seen.note('sensor.a', line('value=1', 200), 'recorded', 2, false).skip).toBe(true);
    expect(seen.note('sensor.a', line('value=1', 300), 'recorded', 2, false).skip).toBe(false);
    expect(seen.note('sensor.b', line('value=5', 300, 'sensor.b'), 'recorded', 2, false).skip).toBe(true);
    expect(seen.note('sensor.a', line('value=1', 400), 'recorded', 3, false).skip).toBe(true);
  });

  it('judges a history row older than the latest point against the point before it', () => {
    // We were away; HA restarted at 200 (re-announcing 1) and the sensor read 2 at 300. The
    // snapshot brings 2@300 first, then the backfill brings 1@200 and 2@300.
    const seen = new SeenStates(createSeenStates(64));
    seen.note('sensor.a', line('value=1', 100), 'change', 1, false);
    expect(seen.compare('sensor.a', line('value=2', 300), false)).toBe('new');
    expect(seen.note('sensor.a', line('value=2', 300), 'recorded', 2, false)).toEqual({ kind: 'new', skip: false });
    expect(seen.note('sensor.a', line('value=1', 200), 'recorded', 2, false)).toEqual({ kind: 'renewed', skip: true });
    expect(seen.note('sensor.a', line('value=2', 300), 'recorded', 2, false)).toEqual({ kind: 'same', skip: false });
    expect(seen.note('sensor.a', line('value=1', 50), 'recorded', 2, false)).toEqual({ kind: 'older', skip: false });
    // Without an HA restart the same rows are all written.
    const plain = new SeenStates(createSeenStates(64));
    plain.note('sensor.a', line('value=1', 100), 'change', 1, false);
    plain.note('sensor.a', line('value=2', 300), 'change', 2, false);
    expect(plain.note('sensor.a', line('value=1', 200), 'change', 2, false)).toEqual({ kind: 'renewed', skip: false });
  });

  it('a skipped re-announcement stays skipped when the backfill brings it again after newer points', () => {
    const seen = new SeenStates(createSeenStates(64));
    seen.note('sensor.a', line('value=1', 100), 'change', 1, false);
    expect(seen.note('sensor.a', line('value=1', 200), 'announce', 1, false).skip).toBe(true); // HA restart 1
    seen.note('sensor.a', line('value=2', 300), 'change', 1, false);
    expect(seen.note('sensor.a', line('value=2', 400), 'recorded', 2, false).skip).toBe(true); // HA restart 2
    // The backfill of connection 2 starts a minute early: 200 again, then 300 and 400.
    expect(seen.note('sensor.a', line('value=1', 200), 'recorded', 2, false)).toEqual({ kind: 'same', skip: true });
    expect(seen.note('sensor.a', line('value=2', 300), 'recorded', 2, false)).toEqual({ kind: 'same', skip: false });
    expect(seen.note('sensor.a', line('value=2', 400), 'recorded', 2, false)).toEqual({ kind: 'same', skip: true });
    expect(seen.note('sensor.a', line('value=1', 200), 'change', 3, false)).toEqual({ kind: 'same', skip: true });
  });

  it('compares without recording', () => {
    const seen = new SeenStates(createSeenStates(64));
    expect(seen.compare('sensor.a', line('value=1', 100), false)).toBe('none');
    seen.note('sensor.a', line('value=1', 100), 'change', 1, false);
    expect(seen.compare('sensor.a', line('value=1', 100), false)).toBe('same');
    expect(seen.compare('sensor.a', line('value=1', 200), false)).toBe('renewed');
    expect(seen.compare('sensor.a', line('value=1', 50), false)).toBe('older');
    expect(seen.compare('sensor.a', line('value=3', 200), false)).toBe('new');
    expect(seen.note('sensor.a', line('value=1', 100), 'change', 1, false).kind).toBe('same');
  });

  it('tells entities and attributes apart, and only the timestamp is left out of the comparison', () => {
    const seen = new SeenStates(createSeenStates(64));
    seen.note('sensor.a', line('value=1,friendly_name_str="A"', 100), 'change', 1, false);
    expect(seen.note('sensor.a', line('value=1,friendly_name_str="B"', 200), 'announce', 1, false).skip).toBe(false);
    expect(seen.note('sensor.b', line('value=1,friendly_name_str="B"', 300, 'sensor.b'), 'announce', 1, false).skip).toBe(false);
    // Same fields, another series (an area tag appeared): written.
    expect(seen.note('sensor.a', `sensor,area=Hall,entity_id=sensor.a value=1,friendly_name_str="B" 400000\n`, 'announce', 1, false).skip).toBe(false);
  });

  it('hashes the UTF-8 bytes, so the Latin-1 fast path and the UTF-8 path agree', () => {
    const seen = new SeenStates(createSeenStates(64));
    const utf8 = line('state="Küche 🌡 €"', 100, 'sensor.küche');
    seen.note('sensor.küche', utf8, 'change', 1, false);
    const renewed = line('state="Küche 🌡 €"', 200, 'sensor.küche');
    expect(seen.note(toLatin1Form('sensor.küche'), toLatin1Form(renewed), 'announce', 1, true)).toEqual({ kind: 'renewed', skip: true });
    expect(seen.note('sensor.küche', line('state="Küche 🌡 £"', 300, 'sensor.küche'), 'announce', 1, false).skip).toBe(false);
  });

  it('stops taking new entities when full, and keeps de-duplicating those it has', () => {
    const seen = new SeenStates(createSeenStates(8));
    for (let i = 0; i < 20; i++) expect(seen.note(`sensor.e${i}`, line('value=1', 100, `sensor.e${i}`), 'change', 1, false).skip).toBe(false);
    expect(seen.size).toBe(6);
    for (let i = 0; i < 20; i++) expect(seen.note(`sensor.e${i}`, line('value=1', 200, `sensor.e${i}`), 'announce', 1, false).skip).toBe(i < 6 ? true : false);
  });
});

describe('seen states file', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('saves and restores every entry; a later re-announcement is still recognised', async () => {
    dir = mkdtempSync(join(tmpdir(), 'seen-'));
    const before = new SeenStates(createSeenStates(1024));
    for (let i = 0; i < 300; i++) before.note(`sensor.e${i}`, line(`value=${i}`, 100 + i, `sensor.e${i}`), 'change', 1, false);
    before.note('sensor.e0', line('value=0', 5000, 'sensor.e0'), 'announce', 1, false); // a skipped entry
    const file = new SeenStatesFile(dir);
    await file.save(before);

    const after = new SeenStates(createSeenStates(4096));
    expect(await file.load(after)).toBe(300);
    expect(after.size).toBe(300);
    expect(after.note('sensor.e7', line('value=7', 9000, 'sensor.e7'), 'announce', 1, false)).toEqual({ kind: 'renewed', skip: true });
    expect(after.note('sensor.e8', line('value=999', 9000, 'sensor.e8'), 'announce', 1, false).skip).toBe(false);
    expect(after.note('sensor.e0', line('value=0', 5000, 'sensor.e0'), 'recorded', 1, false)).toEqual({ kind: 'same', skip: true });
    expect(after.note('sensor.e9', line('value=9', 109, 'sensor.e9'), 'recorded', 1, false)).toEqual({ kind: 'same', skip: false });
  });

  it('a missing file is an empty table; a foreign file is an error that names it', async () => {
    dir = mkdtempSync(join(tmpdir(), 'seen-'));
    const file = new SeenStatesFile(dir);
    expect(await file.load(new SeenStates(createSeenStates(64)))).toBe(0);
    writeFileSync(file.path, 'not this');
    await expect(file.load(new SeenStates(createSeenStates(64)))).rejects.toThrow(`${file.path} is not a seen-states file this version understands`);
  });
});

describe('seen states across threads', () => {
  it('two worker threads noting the same 20,000 entities at once: each claimed once, judged new by exactly one', async () => {
    const { Worker } = await import('node:worker_threads');
    const { fileURLToPath } = await import('node:url');
    const module = fileURLToPath(new URL('../../dist/workers/seen-states.js', import.meta.url));
    const sab = createSeenStates(1 << 15);
    const code = `
      const { workerData, parentPort } = require('node:worker_threads');
      import(workerData.module).then(({ SeenStates }) => {
        const seen = new SeenStates(workerData.sab);
        const counts = { new: 0, same: 0, renewed: 0, older: 0 };
        for (let i = 0; i < 20000; i++) counts[seen.note('sensor.e' + i, 'sensor,entity_id=sensor.e' + i + ' value=' + i + ' 1000000\\n', 'change', 1, false).kind]++;
        parentPort.postMessage(counts);
      });`;
    const run = () =>
      new Promise<Record<string, number>>((resolve, reject) => {
        const w = new Worker(code, { eval: true, workerData: { sab, module } });
        w.once('message', resolve);
        w.once('error', reject);
      });
    const [a, b] = await Promise.all([run(), run()]);
    expect((a.new ?? 0) + (b.new ?? 0)).toBe(20_000);
    expect((a.same ?? 0) + (b.same ?? 0)).toBe(20_000);
    expect(new SeenStates(sab).size).toBe(20_000);
  });
});
