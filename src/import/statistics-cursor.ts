/**
 * Where the long-term statistics stand, per period and statistic id, in DATA_DIR:
 *
 *   statistics-import.json  (the import, src/import/statistics.ts)
 *   statistics-follow.json  (the follower that keeps them up to date)
 *
 *   {"version":1,"fromMs":null,"sinceMs":{"hour":…,"5minute":…},
 *    "periods":{"hour":{"sensor.energy":1714568400000,…},"5minute":{…}}}
 *
 * periods.<period>.<id>: HA ms; every row of that id and period with a start before it has been
 *   written (acknowledged by the database, spooled or dead-lettered) — saved only after that.
 * fromMs: the import's window start it was made for (null: from the oldest row).
 * complete: the import wrote its whole window; a rerun asks for nothing (delete the file to import
 *   again), and an incomplete one is finished by the next start, with or without the flag.
 * sinceMs: the follower's start per period (where it began on its first start); ids it sees later
 *   begin there.
 * Written through writeAtomically: a kill leaves the old or the new file, so at most the one
 * chunk in flight is asked for again.
 */
import { join } from 'node:path';
import type { StatisticsPeriod } from '../ha/messages.js';
import { writeAtomically } from '../state/durable-write.js';
import { readIfPresent } from '../state/files.js';

export const PERIODS: readonly StatisticsPeriod[] = ['hour', '5minute'];

export interface StatisticsCursor {
  fromMs: number | null;
  /** The import: every chunk of its window written (a rerun asks for nothing; the follower goes on). */
  complete: boolean;
  sinceMs: Record<StatisticsPeriod, number> | null;
  readonly periods: Record<StatisticsPeriod, Map<string, number>>;
}

export const emptyCursor = (fromMs: number | null = null): StatisticsCursor => ({
  fromMs,
  complete: false,
  sinceMs: null,
  periods: { hour: new Map(), '5minute': new Map() },
});

export class StatisticsCursorFile {
  readonly path: string;

  constructor(dataDir: string, name: 'statistics-import.json' | 'statistics-follow.json') {
    this.path = join(dataDir, name);
  }

  /** The saved cursor, or null when there is none; a file of another format throws. */
  async load(): Promise<StatisticsCursor | null> {
    const bytes = await readIfPresent(this.path);
    if (bytes === null) return null;
    const parsed = JSON.parse(bytes.toString('utf8')) as { version?: unknown; fromMs?: unknown; complete?: unknown; sinceMs?: unknown; periods?: unknown };
    const periods = parsed.periods as Record<string, unknown> | undefined;
    if (parsed.version !== 1 || typeof periods !== 'object' || periods === null)
      throw new Error(`${this.path} is not a statistics cursor this version understands`);
    const cursor = emptyCursor(typeof parsed.fromMs === 'number' ? parsed.fromMs : null);
    cursor.complete = parsed.complete === true;
    const since = parsed.sinceMs as Record<string, unknown> | null | undefined;
    if (typeof since?.hour === 'number' && typeof since['5minute'] === 'number') cursor.sinceMs = { hour: since.hour, '5minute': since['5minute'] };
    for (const period of PERIODS) {
      for (const [id, ms] of Object.entries((periods[period] ?? {}) as Record<string, unknown>)) if (typeof ms === 'number') cursor.periods[period].set(id, ms);
    }
    return cursor;
  }

  async save(cursor: StatisticsCursor): Promise<void> {
    const periods = { hour: Object.fromEntries(cursor.periods.hour), '5minute': Object.fromEntries(cursor.periods['5minute']) };
    await writeAtomically(this.path, JSON.stringify({ version: 1, fromMs: cursor.fromMs, complete: cursor.complete, sinceMs: cursor.sinceMs, periods }));
  }
}
