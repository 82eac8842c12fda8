/**
 * The import job on its own, with fake importers and a fake HA recorder: where the import ends
 * (the boundary with the live stream), that it waits for the recorder and for room, that a closed
 * connection resumes on the next one, and when it runs at all.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { ImportRange } from '../../src/config.js';
import { HaConnectionLostError, IngestorError } from '../../src/errors.js';
import type { BackfillOptions } from '../../src/ha/backfill.js';
import type { StatesEncoded } from '../../src/ha/connection.js';
import type { Command } from '../../src/ha/messages.js';
import { CursorFile } from '../../src/import/cursor.js';
import type { Importer, ImporterContext, ImportProgress, ImportWindow } from '../../src/import/importer.js';
import { ImportJob, type ImportJobOptions } from '../../src/import/job.js';
import { ProgressReporter } from '../../src/import/progress.js';
import { createStatesImporter } from '../../src/import/states.js';
import { statisticsImporter } from '../../src/import/statistics.js';
import { emptyCursor, StatisticsCursorFile } from '../../src/import/statistics-cursor.js';
import { createMetrics } from '../../src/metrics.js';

const log = pino({ level: 'silent' });
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const T0 = Date.parse('2026-11-30T10:00:00Z');
const H = 3_600_000;

/** HA's recorder: the newest committed row of every entity, moved by the test. */
function fakeRecorder(newestMs: number | null) {
  const state = { newestMs, probes: 0 };
  const connection = {
    haVersion: '2025.11.0',
    request: async (msg: Command) => {
      state.probes++;
      const id = (msg.entity_ids as string[])[0] as string;
      return state.newestMs === null ? {} : { [id]: [{ s: '1', lu: state.newestMs / 1000 }] };
    },
    requestStates: async () => ({}) as StatesEncoded,
    expectStates: () => ({ id: -1, reply: Promise.resolve({} as StatesEncoded) }),
  };
  return { state, connection };
}

const done = (importer: ImportProgress['importer']): ImportProgress => ({ importer, fraction: 1, items: 0, points: 0, requests: 0, bytes: 0 });

/** An importer that records its calls and does what `behave` says on each; unfinished while `<name>-unfinished` exists in DATA_DIR. */
function fakeImporter(name: ImportProgress['importer'], behave: (ctx: ImporterContext, call: number) => Promise<void> = async () => {}) {
  const windows: ImportWindow[] = [];
  const importer: Importer = {
    name,
    run: async (ctx, window) => {
      windows.push(window);
      await behave(ctx, windows.length);
      return done(name);
    },
    unfinished: async (dataDir) => existsSync(join(dataDir, `${name}-unfinished`)),
  };
  return { importer, windows };
}

/** A start without the flag, `unfinished`'s cursor left incomplete: it runs to the end. */
async function runUnfinished(importers: Importer[], unfinished: ImportProgress['importer']): Promise<void> {
  const j = job({ importers, range: null });
  writeFileSync(join(j.dataDir, `${unfinished}-unfinished`), '');
  expect(await j.job.prepare()).toBe(true);
  j.job.subscribed(1, snapshot('sensor.a', T0));
  await j.job.idle();
}

function snapshot(entityId: string, haMs: number): StatesEncoded {
  return { kind: 'snapshot', states: 1, points: 1, entityIds: [entityId], reannounced: 0, deferred: 0, haRestarted: false, newest: { entityId, haMs } };
}

function job(opts: { importers: Importer[]; range: ImportRange | null; newestMs?: number | null; busy?: () => string | null }) {
  const dataDir = mkdtempSync(join(tmpdir(), 'import-job-'));
  dirs.push(dataDir);
  const recorder = fakeRecorder(opts.newestMs === undefined ? T0 : opts.newestMs);
  const metrics = createMetrics();
  const backfill = {
    connection: recorder.connection,
    httpBase: 'http://ha',
    token: 't',
    feedFrame: () => {},
    maxWindowMs: Number.POSITIVE_INFINITY,
    log,
    metrics,
  };
  const progress = new ProgressReporter(log, metrics, null);
  const options: ImportJobOptions = {
    importers: opts.importers,
    range: opts.range,
    context: { ...backfill, haNow: () => T0, durable: async () => {}, entityIds: () => ['sensor.a'] },
    dataDir,
    backfill: backfill as unknown as BackfillOptions,
    busy: opts.busy ?? (() => null),
    progress,
    log,
    metrics,
    recorderWaitMs: 5_000,
    probeIntervalMs: 5,
    retryMs: 5,
  };
  return { job: new ImportJob(options), recorder, dataDir, progress, options };
}

describe('import job', () => {
  it('ends where the live stream begins (the snapshot newest + 1 ms) and runs states, then statistics', async () => {
    const order: string[] = [];
    const states = fakeImporter('states', async () => void order.push('states'));
    const stats = fakeImporter('statistics', async () => void order.push('statistics'));
    const { job: j } = job({ importers: [states.importer, stats.importer], range: 10 * 24 * H });
    expect(await j.prepare()).toBe(true);
    j.subscribed(1, snapshot('sensor.a', T0));
    await j.idle();
    expect(order).toEqual(['states', 'statistics']);
    expect(states.windows).toEqual([{ fromMs: T0 + 1 - 10 * 24 * H, toMs: T0 + 1 }]);
    expect(stats.windows).toEqual(states.windows);
    expect(j.status?.state).toBe('done');
  });

  it('a live change seen before the snapshot newest moves the end back to it: `all` has no start', async () => {
    const states = fakeImporter('states');
    const { job: j } = job({ importers: [states.importer], range: 'all', newestMs: T0 + 5_000 });
    j.liveSeen(1, []); // nothing yet
    j.subscribed(1, snapshot('sensor.a', T0 + 5_000));
    j.liveSeen(1, [{ entityId: 'sensor.b', haMs: T0 + 2_000 }]);
    await j.idle();
    expect(states.windows).toEqual([{ fromMs: null, toMs: T0 + 2_001 }]);

    // No snapshot (HA 0.96 with a NaN attribute), the first live change seen before `subscribed`.
    const late = fakeImporter('states');
    const other = job({ importers: [late.importer], range: 'all', newestMs: T0 + 5_000 });
    other.job.liveSeen(1, [{ entityId: 'sensor.b', haMs: T0 + 3_000 }]);
    other.job.subscribed(1, null);
    await other.job.idle();
    expect(late.windows).toEqual([{ fromMs: null, toMs: T0 + 3_001 }]);
  });

  it("waits until HA's recorder shows the anchor's row before importing anything", async () => {
    const states = fakeImporter('states');
    const { job: j, recorder } = job({ importers: [states.importer], range: 'all', newestMs: T0 - 60_000 });
    j.subscribed(1, snapshot('sensor.a', T0));
    await until(() => recorder.state.probes >= 3);
    expect(states.windows).toEqual([]);
    recorder.state.newestMs = T0; // the recorder committed the anchor
    await j.idle();
    expect(states.windows.length).toBe(1);
  });

  it('every request waits while live traffic needs the queues', async () => {
    let busy: string | null = 'the encoder queue is busy';
    let asked = 0;
    let roomGiven = false;
    const states = fakeImporter('states', async (ctx) => {
      await ctx.room();
      roomGiven = true;
    });
    const { job: j } = job({
      importers: [states.importer],
      range: 'all',
      busy: () => {
        asked++;
        return busy;
      },
    });
    j.subscribed(1, snapshot('sensor.a', T0));
    await until(() => asked >= 3);
    expect(roomGiven).toBe(false);
    busy = null;
    await j.idle();
    expect(roomGiven).toBe(true);
  });

  it('a connection closed under it: the next connection runs the unfinished importers again, the finished not', async () => {
    let blocked = true;
    const states = fakeImporter('states');
    const stats = fakeImporter('statistics', async (ctx, call) => {
      if (call === 1) await ctx.room(); // waits: the connection closes meanwhile
    });
    const { job: j } = job({ importers: [states.importer, stats.importer], range: 'all', busy: () => (blocked ? 'busy' : null) });
    j.subscribed(1, snapshot('sensor.a', T0));
    await until(() => stats.windows.length === 1);
    j.closed(1);
    await j.idle();
    expect(j.status?.state).toBe('running');
    blocked = false;
    j.subscribed(2, snapshot('sensor.a', T0 + 9_000));
    await j.idle();
    expect(states.windows.length).toBe(1);
    // Same end as the first connection: fixed once per process.
    expect(stats.windows).toEqual([
      { fromMs: null, toMs: T0 + 1 },
      { fromMs: null, toMs: T0 + 1 },
    ]);
    expect(j.status?.state).toBe('done');
  });

  it('a run that ends after the next connection subscribed resumes on that connection at once', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const states = fakeImporter('states', async (_, call) => {
      if (call !== 1) return;
      await gate; // e.g. a window waiting to be durable while the connection closes
      throw new HaConnectionLostError('history/history_during_period', 'not connected');
    });
    const { job: j } = job({ importers: [states.importer], range: 'all' });
    j.subscribed(1, snapshot('sensor.a', T0));
    await until(() => states.windows.length === 1);
    j.closed(1);
    j.subscribed(2, snapshot('sensor.a', T0 + 9_000));
    release();
    await until(() => j.status?.state === 'done');
    expect(states.windows.length).toBe(2);
  });

  it('a step HA refused for now is asked again; an error that cannot pass ends the job visibly', async () => {
    const flaky = fakeImporter('states', async (_, call) => {
      if (call === 1) throw new IngestorError('IMPORT_STEP_FAILED', 'database busy', true);
    });
    const a = job({ importers: [flaky.importer], range: 'all' });
    a.job.subscribed(1, snapshot('sensor.a', T0));
    await a.job.idle();
    expect(flaky.windows.length).toBe(2);
    expect(a.job.status?.state).toBe('done');

    const broken = fakeImporter('states', async () => {
      throw new IngestorError('IMPORT_CURSOR_UNREADABLE', 'cursor unreadable', false);
    });
    const b = job({ importers: [broken.importer], range: 'all' });
    b.job.subscribed(1, snapshot('sensor.a', T0));
    await b.job.idle();
    expect(b.job.status).toMatchObject({ state: 'failed', problem: 'cursor unreadable' });
  });

  it('without a flag it runs only to finish an import begun earlier', async () => {
    const none = job({ importers: [fakeImporter('states').importer], range: null });
    expect(await none.job.prepare()).toBe(false);
    expect(none.job.status).toBeNull();
    none.job.subscribed(1, snapshot('sensor.a', T0));
    await none.job.idle();

    const states = fakeImporter('states');
    await runUnfinished([states.importer], 'states');
    expect(states.windows.length).toBe(1);
  });

  it('without a flag, the states done and the statistics killed in the middle: the statistics are finished too', async () => {
    const statistics = fakeImporter('statistics');
    await runUnfinished([fakeImporter('states').importer, statistics.importer], 'statistics');
    expect(statistics.windows.length).toBe(1);
  });

  it('killed before any importer saved a cursor: the next start, without the flag, carries out what was asked', async () => {
    const first = job({ importers: [fakeImporter('states').importer, fakeImporter('statistics').importer], range: 7 * 86_400_000 });
    expect(await first.job.prepare()).toBe(true);
    // Killed here: before the connection, the gap backfill, the recorder wait, any cursor.
    const states = fakeImporter('states');
    const statistics = fakeImporter('statistics');
    const next = new ImportJob({ ...first.options, importers: [states.importer, statistics.importer], range: null });
    expect(await next.prepare()).toBe(true);
    next.subscribed(1, snapshot('sensor.a', T0));
    await next.idle();
    expect(states.windows).toEqual([{ fromMs: T0 + 1 - 7 * 86_400_000, toMs: T0 + 1 }]);
    expect(statistics.windows.length).toBe(1);
    // Done: a later start has nothing to do.
    const after = new ImportJob({ ...first.options, importers: [states.importer, statistics.importer], range: null });
    expect(await after.prepare()).toBe(false);
  });

  it('without a request file: only the importers whose own cursor is unfinished run, and a damaged cursor runs to fail visibly', async () => {
    const states = fakeImporter('states');
    await runUnfinished([states.importer, fakeImporter('statistics').importer], 'statistics');
    expect(states.windows).toEqual([]);

    const damaged = job({ importers: [createStatesImporter(), statisticsImporter], range: null });
    writeFileSync(join(damaged.dataDir, 'statistics-import.json'), '{"version":9}');
    expect(await damaged.job.prepare()).toBe(true);
  });

  it('the real importers say unfinished from their own cursors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'import-job-'));
    dirs.push(dir);
    expect(await createStatesImporter().unfinished(dir)).toBe(false);
    expect(await statisticsImporter.unfinished(dir)).toBe(false);
    await new CursorFile(dir).save({ fromMs: T0 - H, toMs: T0, doneUntilMs: T0 - H / 2, complete: false, points: 10 });
    const stats = new StatisticsCursorFile(dir, 'statistics-import.json');
    await stats.save({ ...emptyCursor(null), complete: false });
    expect(await createStatesImporter().unfinished(dir)).toBe(true);
    expect(await statisticsImporter.unfinished(dir)).toBe(true);
    await new CursorFile(dir).save({ fromMs: T0 - H, toMs: T0, doneUntilMs: T0, complete: true, points: 10 });
    await stats.save({ ...emptyCursor(null), complete: true });
    expect(await createStatesImporter().unfinished(dir)).toBe(false);
    expect(await statisticsImporter.unfinished(dir)).toBe(false);
  });

  it('stop() ends a run waiting for room', async () => {
    const states = fakeImporter('states', (ctx) => ctx.room());
    const { job: j } = job({ importers: [states.importer], range: 'all', busy: () => 'busy' });
    j.subscribed(1, snapshot('sensor.a', T0));
    await until(() => states.windows.length === 1);
    await j.stop();
    expect(j.status?.state).toBe('running');
  });
});

async function until(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}
