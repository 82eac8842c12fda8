/**
 * What survives a restart besides the spool, in `<DATA_DIR>/state.json`:
 *
 *   {"version":2,"watermarkHaMs":1714566896123,"entityIds":["sensor.a", …],"savedAt":"…"}
 *
 * watermarkHaMs: HA's clock (ms): every live event HA fired before it was durably handed off
 *   (src/pipeline/watermark.ts). The gap after a restart is fetched from HA's history from it.
 * entityIds: every entity ever seen, so a backfill also covers entities that vanished.
 * Version 1 (`"watermarkMs"`, the ingestor's clock at arrival) is read as an HA time: right when
 * both clocks agree, off by their difference when not; the next save writes version 2.
 * Saved by a StateSaver (src/state/saver.ts) through writeAtomically: a crash leaves the old or
 * the new file, never half of one.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SAVED_INTS, SAVED_TIMES, type SeenStates } from '../workers/seen-states.js';
import type { StatePart } from './state/saver.js';
import { writeAtomically } from './state/durable-write.js';

export interface SavedState {
  readonly watermarkHaMs: number;
  readonly entityIds: readonly string[];
}

/** What state.json is made of, read when a save is due. */
export interface StateSource {
  /** The watermark's value (Watermark.value()); null = not known, nothing is written. */
  watermarkHaMs(): number | null;
  /** Every entity id seen; it only grows, so its size tells a change. */
  entityIds(): ReadonlySet<string>;
}

export class StateFile {
  readonly path: string;

  constructor(dir: string) {
    this.path = join(dir, 'state.json');
  }

  async load(): Promise<SavedState | null> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    const parsed = JSON.parse(text) as { version?: unknown; watermarkHaMs?: unknown; watermarkMs?: unknown; entityIds?: unknown };
    const watermark = parsed.version === 2 ? parsed.watermarkHaMs : parsed.version === 1 ? parsed.watermarkMs : undefined;
    if (typeof watermark !== 'number' || !Array.isArray(parsed.entityIds)) {
      throw new Error(`${this.path} is not a state file this version understands`);
    }
    return { watermarkHaMs: watermark, entityIds: parsed.entityIds.filter((e): e is string => typeof e === 'string') };
  }

  async save(state: SavedState): Promise<void> {
    await writeAtomically(this.path, serializeState(state));
  }

  /** The StateSaver's part for this file. */
  part(source: StateSource): StatePart {
    return {
      path: this.path,
      version: () => `${source.watermarkHaMs()}/${source.entityIds().size}`,
      serialize: () => {
        const watermarkHaMs = source.watermarkHaMs();
        return watermarkHaMs === null ? null : serializeState({ watermarkHaMs, entityIds: [...source.entityIds()] });
      },
    };
  }
}

function serializeState(state: SavedState): string {
  return JSON.stringify({ version: 2, watermarkHaMs: state.watermarkHaMs, entityIds: state.entityIds, savedAt: new Date().toISOString() });
}

const SEEN_MAGIC = 0x53534148; // "HASS", little-endian
const SEEN_VERSION = 3;
const SEEN_HEADER = 16;
/** Per entity: SAVED_TIMES Float64 and SAVED_INTS Int32. */
const SEEN_ENTRY_BYTES = SAVED_TIMES * 8 + SAVED_INTS * 4;

/**
 * Restart de-duplication's last point per entity (workers/seen-states.ts), in
 * `<DATA_DIR>/seen-states.bin`, saved with the watermark: a 16-byte header ("HASS", version,
 * entity count), the entities' times (Float64 × SAVED_TIMES, µs), then their key and point hashes
 * and flags (Int32 × SAVED_INTS), in the machine's byte order (little-endian everywhere we run).
 */
export class SeenStatesFile {
  readonly path: string;

  constructor(dir: string) {
    this.path = join(dir, 'seen-states.bin');
  }

  async load(into: SeenStates): Promise<number> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw err;
    }
    const count = bytes.length >= SEEN_HEADER ? bytes.readUInt32LE(8) : -1;
    if (count < 0 || bytes.readUInt32LE(0) !== SEEN_MAGIC || bytes.readUInt32LE(4) !== SEEN_VERSION || bytes.length !== SEEN_HEADER + count * SEEN_ENTRY_BYTES) {
      throw new Error(`${this.path} is not a seen-states file this version understands`);
    }
    const aligned = new Uint8Array(bytes.length - SEEN_HEADER);
    aligned.set(bytes.subarray(SEEN_HEADER));
    return into.restore(new Int32Array(aligned.buffer, count * SAVED_TIMES * 8, count * SAVED_INTS), new Float64Array(aligned.buffer, 0, count * SAVED_TIMES));
  }

  async save(from: SeenStates): Promise<void> {
    await writeAtomically(this.path, this.serialize(from));
  }

  serialize(from: SeenStates): Buffer {
    const { ints, times } = from.entries();
    const out = Buffer.alloc(SEEN_HEADER + times.byteLength + ints.byteLength);
    out.writeUInt32LE(SEEN_MAGIC, 0);
    out.writeUInt32LE(SEEN_VERSION, 4);
    out.writeUInt32LE(times.length / SAVED_TIMES, 8);
    out.set(new Uint8Array(times.buffer, times.byteOffset, times.byteLength), SEEN_HEADER);
    out.set(new Uint8Array(ints.buffer, ints.byteOffset, ints.byteLength), SEEN_HEADER + times.byteLength);
    return out;
  }
}
