/** The demo's count: the points in the file sink's files, split into HA states and derived points. */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { splitLines } from '../../workers/line-protocol.js';

/** Points the ingestor derives (presence, weather, its own health) rather than copies from HA. */
const DERIVED = /^(home_presence|weather_observation|ha_ingestor)[ ,]/;

export interface Counted {
  readonly files: number;
  readonly states: number;
  readonly derived: number;
}

export async function countPoints(outDir: string): Promise<Counted> {
  const files = (await readdir(outDir)).filter((f) => f.startsWith('points-'));
  let states = 0;
  let derived = 0;
  for (const f of files) {
    const raw = await readFile(join(outDir, f));
    // splitLines: a state with a line feed keeps it raw inside its string field.
    for (const line of splitLines(f.endsWith('.gz') ? gunzipSync(raw) : raw)) {
      if (line === '') continue;
      if (DERIVED.test(line)) derived++;
      else states++;
    }
  }
  return { files: files.length, states, derived };
}
