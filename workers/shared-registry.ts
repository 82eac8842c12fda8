/**
 * Entity → area and device names, shared by the main thread (which reads HA's registries) with
 * every encoder thread, through one SharedArrayBuffer: no job has to carry it, and a worker sees
 * an update at its next batch.
 *
 * Layout: Int32 [0] = version (odd while being written: a seqlock), Int32 [1] = byte length,
 * then that many bytes of UTF-8 JSON: {"<entity_id>": {"area": "…", "device": "…"}, …}.
 */

export interface Placement {
  readonly area?: string;
  readonly device?: string;
}

export type Placements = Readonly<Record<string, Placement>>;

const HEADER = 8;

export function createSharedRegistry(capacityBytes = 4 * 1024 * 1024): SharedArrayBuffer {
  return new SharedArrayBuffer(HEADER + capacityBytes);
}

/** Main thread: publishes a new map. Returns false when it does not fit. */
export function publishPlacements(sab: SharedArrayBuffer, placements: Placements): boolean {
  const bytes = new TextEncoder().encode(JSON.stringify(placements));
  if (bytes.length > sab.byteLength - HEADER) return false;
  const header = new Int32Array(sab, 0, 2);
  Atomics.add(header, 0, 1); // odd: writing
  new Uint8Array(sab, HEADER, bytes.length).set(bytes);
  Atomics.store(header, 1, bytes.length);
  Atomics.add(header, 0, 1); // even: done
  return true;
}

/** Encoder thread: a reader that re-reads only when the version changed. */
export function placementReader(sab: SharedArrayBuffer | undefined) {
  let version = 0;
  let current: Placements = {};
  const decoder = new TextDecoder();
  return {
    /** The latest complete map (the previous one while an update is being written). */
    read(): { placements: Placements; changed: boolean } {
      if (sab === undefined) return { placements: current, changed: false };
      const header = new Int32Array(sab, 0, 2);
      const v = Atomics.load(header, 0);
      if (v === version || v % 2 === 1) return { placements: current, changed: false };
      const length = Atomics.load(header, 1);
      const copy = new Uint8Array(length);
      copy.set(new Uint8Array(sab, HEADER, length));
      if (Atomics.load(header, 0) !== v) return { placements: current, changed: false }; // torn: next time
      current = JSON.parse(decoder.decode(copy)) as Placements;
      version = v;
      return { placements: current, changed: true };
    },
  };
}
