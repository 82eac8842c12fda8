/** The benchmark harness runs, briefly, and produces well-formed results with zero loss. No timing is asserted. */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const RUN = fileURLToPath(new URL('../../dist/bench/run.js', import.meta.url));
const IMPORT = fileURLToPath(new URL('../../dist/bench/import.js', import.meta.url));

/** Runs a built bench script with --quick, its results in `dir`; resolves with its exit code. */
function runQuick(script: string, dir: string): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, '--quick'], { env: { ...process.env, BENCH_RESULTS_DIR: dir }, stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('exit', resolve);
  });
}

describe('npm run bench -- --quick', () => {
  it('writes micro, end-to-end and footprint results, every run without loss', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
    try {
      expect(await runQuick(RUN, dir)).toBe(0);
      const micro = JSON.parse(readFileSync(join(dir, 'micro.json'), 'utf8')) as { results: { name: string; nsPerEvent: number }[] };
      expect(micro.results.length).toBeGreaterThanOrEqual(15);
      for (const r of micro.results) expect(r.nsPerEvent, r.name).toBeGreaterThan(0);
      const e2e = JSON.parse(readFileSync(join(dir, 'e2e.json'), 'utf8')) as {
        summary: { zeroLoss: boolean; ratioDefaultToBare: number; headroomOrdersOfMagnitude: number };
        results: {
          name: string;
          system: string;
          received: number;
          expected: number;
          eventsPerSecond: number;
          rate: number | null;
          latencyMs: unknown;
          cpuMicrosPerEvent: number;
          peakRssMb: number;
        }[];
      };
      expect(e2e.summary.zeroLoss).toBe(true);
      expect(e2e.summary.ratioDefaultToBare).toBeGreaterThan(0);
      expect(e2e.summary.headroomOrdersOfMagnitude).toBeGreaterThan(3);
      expect(e2e.results.map((r) => r.system).sort()).toEqual(['bare', 'ingestor', 'ingestor', 'ingestor']);
      for (const r of e2e.results) {
        expect(r.received, r.name).toBe(r.expected);
        expect(r.eventsPerSecond, r.name).toBeGreaterThan(0);
        expect(r.cpuMicrosPerEvent, r.name).toBeGreaterThan(0);
        expect(r.peakRssMb, r.name).toBeGreaterThan(0);
        if (r.rate !== null) expect(r.latencyMs, r.name).toMatchObject({ p50: expect.any(Number), p99: expect.any(Number) });
      }
      const footprint = JSON.parse(readFileSync(join(dir, 'footprint.json'), 'utf8')) as {
        rows: { name: string; rate: number | null; events: number; cpuPercent: number; rssSteadyMb: number; fsyncsPerMinute: number | null }[];
      };
      expect(footprint.rows.map((r) => r.rate)).toEqual([0, 2, null]);
      for (const r of footprint.rows) {
        expect(r.cpuPercent, r.name).toBeGreaterThanOrEqual(0);
        expect(r.rssSteadyMb, r.name).toBeGreaterThan(0);
        if (r.rate !== null) expect(r.fsyncsPerMinute, r.name).toEqual(expect.any(Number));
      }
      expect(footprint.rows[1]?.events).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the import bench (--quick): every recorded row imported, with its HA-side cost', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-import-smoke-'));
    try {
      expect(await runQuick(IMPORT, dir)).toBe(0);
      const { results } = JSON.parse(readFileSync(join(dir, 'import.json'), 'utf8')) as {
        results: { points: number; rows: number; pointsPerSecond: number; requests: number; megabytes: number }[];
      };
      expect(results.length).toBe(1);
      for (const r of results) {
        expect(r.points).toBe(r.rows);
        expect(r.pointsPerSecond).toBeGreaterThan(0);
        expect(r.requests).toBeGreaterThan(0);
        expect(r.megabytes).toBeGreaterThan(0);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
