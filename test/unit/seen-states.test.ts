/**
 * Restart de-duplication's verdicts (src/pipeline/restart-dedup/policy.ts) on a real table, and
 * the table file. Ported from the shared-table tests: the same assertions, on the main-thread
 * table the workers no longer touch.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { compare as comparePoint, note as notePoint, type Arrival } from '../../src/pipeline/restart-dedup/policy.js';
import { SeenTable } from '../../src/pipeline/restart-dedup/table.js';
import { SeenStatesFile } from '../../src/state/files.js';
import { pointOf } from '../../workers/encode/records.js';
import { toLatin1Form } from '../../workers/latin1.js';

const line = (fields: string, us: number, id = 'sensor.a') => `sensor,entity_id=${id} ${fields} ${us}000\n`;

/** The old SeenStates API over the table and policy, so the assertions read as before. */
class Seen {
  constructor(readonly table = new SeenTable(64)) {}
  note(entityId: string, l: string, arrival: Arrival, session: number, latin1: boolean) {
    return notePoint(this.table, pointOf(entityId, l, latin1), arrival, session);
  }
  compare(entityId: string, l: string, latin1: boolean, before?: number) {
    return comparePoint(this.table, pointOf(entityId, l, latin1), before);
  }
  get size() {
    return this.table.size;
  }
}

describe('seen states: the last point per entity', () => {
  it('skips a live re-announcement (old_state null) of the same state, each time, and nothing else', () => {
    const seen = new Seen();
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
    const seen = new Seen();
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
    const seen = new Seen();
    seen.note('sensor.a', line('value=1', 100), 'change', 1, false);
    expect(seen.compare('sensor.a', line('value=2', 300), false)).toBe('new');
    expect(seen.note('sensor.a', line('value=2', 300), 'recorded', 2, false)).toEqual({ kind: 'new', skip: false });
    expect(seen.note('sensor.a', line('value=1', 200), 'recorded', 2, false)).toEqual({ kind: 'renewed', skip: true });
    expect(seen.note('sensor.a', line('value=2', 300), 'recorded', 2, false)).toEqual({ kind: 'same', skip: false });
    expect(seen.note('sensor.a', line('value=1', 50), 'recorded', 2, false)).toEqual({ kind: 'older', skip: false });
    // Without an HA restart the same rows are all written.
    const plain = new Seen();
    plain.note('sensor.a', line('value=1', 100), 'change', 1, false);
    plain.note('sensor.a', line('value=2', 300), 'change', 2, false);
    expect(plain.note('sensor.a', line('value=1', 200), 'change', 2, false)).toEqual({ kind: 'renewed', skip: false });
  });

  it('a skipped re-announcement stays skipped when the backfill brings it again after newer points', () => {
    const seen = new Seen();
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

  it('compares without recording; points of the connection asked about do not count', () => {
    const seen = new Seen();
    expect(seen.compare('sensor.a', line('value=1', 100), false)).toBe('none');
    seen.note('sensor.a', line('value=1', 100), 'change', 1, false);
    const version = seen.table.version;
    expect(seen.compare('sensor.a', line('value=1', 100), false)).toBe('same');
    expect(seen.compare('sensor.a', line('value=1', 200), false)).toBe('renewed');
    expect(seen.compare('sensor.a', line('value=1', 50), false)).toBe('older');
    expect(seen.compare('sensor.a', line('value=3', 200), false)).toBe('new');
    expect(seen.compare('sensor.a', line('value=3', 200), false, 1)).toBe('none');
    expect(seen.table.version).toBe(version);
    expect(seen.note('sensor.a', line('value=1', 100), 'change', 1, false).kind).toBe('same');
  });

  it('tells entities and attributes apart, and only the timestamp is left out of the comparison', () => {
    const seen = new Seen();
    seen.note('sensor.a', line('value=1,friendly_name_str="A"', 100), 'change', 1, false);
    expect(seen.note('sensor.a', line('value=1,friendly_name_str="B"', 200), 'announce', 1, false).skip).toBe(false);
    expect(seen.note('sensor.b', line('value=1,friendly_name_str="B"', 300, 'sensor.b'), 'announce', 1, false).skip).toBe(false);
    // Same fields, another series (an area tag appeared): written.
    expect(seen.note('sensor.a', `sensor,area=Hall,entity_id=sensor.a value=1,friendly_name_str="B" 400000\n`, 'announce', 1, false).skip).toBe(false);
  });

  it('hashes the UTF-8 bytes, so the Latin-1 fast path and the UTF-8 path agree', () => {
    const seen = new Seen();
    const utf8 = line('state="Küche 🌡 €"', 100, 'sensor.küche');
    seen.note('sensor.küche', utf8, 'change', 1, false);
    const renewed = line('state="Küche 🌡 €"', 200, 'sensor.küche');
    expect(seen.note(toLatin1Form('sensor.küche'), toLatin1Form(renewed), 'announce', 1, true)).toEqual({ kind: 'renewed', skip: true });
    expect(seen.note('sensor.küche', line('state="Küche 🌡 £"', 300, 'sensor.küche'), 'announce', 1, false).skip).toBe(false);
  });

  it('stops taking new entities when full, and keeps de-duplicating those it has', () => {
    const seen = new Seen(new SeenTable(8));
    for (let i = 0; i < 20; i++) expect(seen.note(`sensor.e${i}`, line('value=1', 100, `sensor.e${i}`), 'change', 1, false).skip).toBe(false);
    expect(seen.size).toBe(6);
    for (let i = 0; i < 20; i++) expect(seen.note(`sensor.e${i}`, line('value=1', 200, `sensor.e${i}`), 'announce', 1, false).skip).toBe(i < 6);
  });
});

describe('seen states file', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('saves and restores every entry; a later re-announcement is still recognised', async () => {
    dir = mkdtempSync(join(tmpdir(), 'seen-'));
    const before = new Seen(new SeenTable(1024));
    for (let i = 0; i < 300; i++) before.note(`sensor.e${i}`, line(`value=${i}`, 100 + i, `sensor.e${i}`), 'change', 1, false);
    before.note('sensor.e0', line('value=0', 5000, 'sensor.e0'), 'announce', 1, false); // a skipped entry
    const file = new SeenStatesFile(dir);
    writeFileSync(file.path, before.table.serialize()); // as the StateSaver writes it

    const after = new Seen(new SeenTable(4096));
    expect(after.table.restore((await file.load()) as Uint8Array)).toBe(300);
    expect(after.size).toBe(300);
    expect(after.note('sensor.e7', line('value=7', 9000, 'sensor.e7'), 'announce', 1, false)).toEqual({ kind: 'renewed', skip: true });
    expect(after.note('sensor.e8', line('value=999', 9000, 'sensor.e8'), 'announce', 1, false).skip).toBe(false);
    expect(after.note('sensor.e0', line('value=0', 5000, 'sensor.e0'), 'recorded', 1, false)).toEqual({ kind: 'same', skip: true });
    expect(after.note('sensor.e9', line('value=9', 109, 'sensor.e9'), 'recorded', 1, false)).toEqual({ kind: 'same', skip: false });
  });

  it('a missing file is no table; a foreign file is an error with a stable code', async () => {
    dir = mkdtempSync(join(tmpdir(), 'seen-'));
    const file = new SeenStatesFile(dir);
    expect(await file.load()).toBeNull();
    writeFileSync(file.path, 'not this');
    const foreign = (await file.load()) as Uint8Array;
    expect(() => new SeenTable(64).restore(foreign)).toThrow(
      expect.objectContaining({ code: 'SEEN_STATES_FILE_INVALID', message: 'not a seen-states file this version understands' }),
    );
  });
});
