/**
 * Home Assistant misbehaving in ways that used to cost data or stall the ingestor: the auth
 * protocol broken, a watermark from the future, frames at and over the size limit. The built
 * ingestor, the HA simulator, real InfluxDB 1.6.7, compared point by point.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import type { IngestorProcess } from '../helpers/ingestor.js';
import { MAX_FRAME_BYTES } from '../../src/ha/socket.js';
import { until } from '../helpers/ports.js';
import { type Scenario, sleep } from '../helpers/scenario.js';
import { startScenario, useCleanups } from '../helpers/cleanups.js';

const cleanups = useCleanups();

const scenario = (opts: Parameters<typeof startScenario>[1]): Promise<Scenario> => startScenario(cleanups, opts);

const messages = (sc: Scenario): string[] => (sc.ingestor?.logs ?? []).map((l) => String(l.msg));

describe('the auth protocol broken (issue 10 item 16)', () => {
  it('auth_ok before the token: one clear warning per attempt, never "authenticated", backoff, then connects', async () => {
    const started = Date.now();
    // The first three connections get auth_ok before auth_required, then silence.
    const sc = await scenario({ influxUrl: inject('influxV1Url'), db: 'auth_ok_first', sim: { authOkFirst: 3 } });
    const ingestor = sc.ingestor as IngestorProcess;
    const took = Date.now() - started;
    expect(sc.sim.connectionsAccepted).toBe(4);
    const warnings = ingestor.logs.filter((l) => l.msg === 'Home Assistant connection failed');
    expect(warnings).toHaveLength(3);
    for (const w of warnings) {
      expect((w.err as { message: string; code: string }).message).toMatch(
        /^Home Assistant broke the auth protocol: "auth_ok" arrived before we sent the access token, \d+ ms after the socket opened$/,
      );
      expect((w.err as { code: string }).code).toBe('HA_CONNECTION');
    }
    // Authenticated once: on the fourth, well-behaved attempt.
    expect(ingestor.logs.filter((l) => l.msg === 'authenticated to Home Assistant')).toHaveLength(1);
    const authenticatedAt = ingestor.logs.findIndex((l) => l.msg === 'authenticated to Home Assistant');
    expect(ingestor.logs.findLastIndex((l) => l.msg === 'Home Assistant connection failed')).toBeLessThan(authenticatedAt);
    // With backoff, not 120 s per attempt (the stall) and not at once (no backoff).
    expect(ingestor.logs.filter((l) => l.msg === 'reconnecting to Home Assistant')).toHaveLength(3);
    expect(took).toBeLessThan(30_000);
    expect(await ingestor.metric('ha_ingestor_ha_reconnects_total')).toBe(3);
    await sc.sim.emit({ count: 500, rate: 1_000 });
    await sc.expectDatabaseComplete(30_000);
    expect(messages(sc).filter((m) => m.includes('authenticated'))).toHaveLength(1);
  });
});

describe('a watermark in the future (issue 10 item 8)', () => {
  // With RESTART_DEDUP=false no snapshot is ever taken for an HA restart: the gap start after the
  // anchor would pass for a quiet home.
  for (const restartDedup of ['true', 'false']) {
    it(`state.json from year 5138 (RESTART_DEDUP=${restartDedup}): clamped to HA's now with a warning; everything emitted while the ingestor was away arrives`, async () => {
      // The saved watermark is awaited below for 10 s: saves every 2 s, as before the default became 30 s.
      const sc = await scenario({
        influxUrl: inject('influxV1Url'),
        db: `future_watermark_${restartDedup}`,
        env: { RESTART_DEDUP: restartDedup, STATE_SAVE_INTERVAL_MS: '2000' },
      });
      await sc.sim.emit({ count: 1_000, rate: 1_000 });
      await sc.ingestor?.written(1_000);
      expect(await sc.ingestor?.stop('SIGTERM')).toBe(0);
      const file = join(sc.dataDir, 'state.json');
      const saved = JSON.parse(readFileSync(file, 'utf8')) as { version: number; entityIds: string[] };
      expect(saved.version).toBe(2);
      const future = Date.parse('5138-06-01T00:00:00Z');
      writeFileSync(file, JSON.stringify({ ...saved, watermarkHaMs: future }));
      // HA keeps producing while the ingestor is away.
      const away = sc.sim.emit({ count: 3_000, rate: 1_500 });
      await sleep(1_000);
      const ingestor = await sc.startIngestor();
      await away;
      expect(sc.sim.emitted.filter((e) => !e.delivered).length).toBeGreaterThan(1_000);
      await sc.expectDatabaseComplete(60_000);
      const warning = ingestor.logs.find((l) => String(l.msg).includes("after Home Assistant's now"));
      expect(ingestor.logs.some((l) => String(l.msg).includes('restarted with its clock behind'))).toBe(false);
      expect(warning).toMatchObject({ level: 40, gapStart: new Date(future - 60_000).toISOString() });
      expect(Date.parse(String(warning?.haNow))).toBeLessThan(Date.now() + 60_000);
      expect(await ingestor.metric('ha_ingestor_watermark_clamped_total')).toBe(1);
      expect(await ingestor.metric('ha_ingestor_backfills_total{result="complete"}')).toBe(1);
      // The saved watermark is back in HA's present: the next start does not clamp again.
      await until(
        'state.json in the present',
        () => {
          const w = (JSON.parse(readFileSync(file, 'utf8')) as { watermarkHaMs: number }).watermarkHaMs;
          return w < Date.now() + 60_000 ? w : undefined;
        },
        10_000,
        100,
      );
      expect((await ingestor.health()).status).toBe(200);
    });
  }
});

/** A field of /proc/<pid>/status, in kB (VmHWM: the process's peak RSS so far). */
const procKb = (pid: number, field: string): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);

/** docs/reliability.md: a maximal frame raises the ingestor's peak RSS by at most 96 MiB (6 × the 16 MiB MAX_FRAME_BYTES). */
const FRAME_MEMORY_BOUND_KB = 96 * 1024;

describe('frames at and over MAX_FRAME_BYTES (issue 10 item 7)', () => {
  it('a frame just under the limit (4,000 events of small numeric attributes, the costliest shape): written whole, peak RSS up at most 96 MiB, no reconnect', async () => {
    const sc = await scenario({ influxUrl: inject('influxV1Url'), db: 'frame_under_limit' });
    const ingestor = sc.ingestor as IngestorProcess;
    const pid = ingestor.proc.pid as number;
    await sc.sim.emit({ count: 500, rate: 1_000 });
    await sc.expectDatabaseComplete(30_000);
    const before = procKb(pid, 'VmHWM');
    const size = await sc.sim.sendBigFrame(MAX_FRAME_BYTES - 256 * 1024, 4_000, 'sensor.big_frame', 'keys');
    expect(size).toBeLessThanOrEqual(MAX_FRAME_BYTES);
    expect(size).toBeGreaterThan(MAX_FRAME_BYTES - 2 * 1024 * 1024);
    await sc.sim.emit({ count: 200, rate: 1_000 });
    await sc.expectDatabaseComplete(60_000);
    const peak = procKb(pid, 'VmHWM');
    console.log(`frame of ${size} bytes: peak RSS ${before} kB → ${peak} kB (+${peak - before} kB; bound +${FRAME_MEMORY_BOUND_KB} kB)`);
    expect(peak - before).toBeLessThan(FRAME_MEMORY_BOUND_KB);
    expect(await ingestor.metric('ha_ingestor_ha_reconnects_total')).toBe(0);
    expect(await ingestor.metric('ha_ingestor_ha_frames_too_big_total')).toBe(0);
  });

  it('a frame over the limit: a clear error and a metric, reconnect, its events from the backfill, nothing lost', async () => {
    const sc = await scenario({ influxUrl: inject('influxV1Url'), db: 'frame_over_limit' });
    const ingestor = sc.ingestor as IngestorProcess;
    const live = sc.sim.emit({ count: 3_000, rate: 1_000 });
    await sleep(1_000);
    const size = await sc.sim.sendBigFrame(MAX_FRAME_BYTES + 1024 * 1024, 256);
    expect(size).toBeGreaterThan(MAX_FRAME_BYTES);
    await live;
    expect(sc.sim.emitted.filter((e) => e.entityId === 'sensor.big_frame')).toHaveLength(256);
    await sc.expectDatabaseComplete(60_000);
    const logs = ingestor.logs;
    const error = logs.find((l) => l.frameBytes !== undefined);
    expect(error).toMatchObject({ level: 50, frameBytes: size, limitBytes: MAX_FRAME_BYTES });
    expect(String(error?.msg)).toBe(
      `a frame of ${size} bytes from Home Assistant is over the 16 MiB limit (MAX_FRAME_BYTES): the connection is dropped; what it carried is fetched from HA's history by the backfill`,
    );
    expect(
      logs.some((l) => String(l.msg).includes('Max payload size exceeded') || String((l.err as { message?: string })?.message).includes('Max payload')),
    ).toBe(false);
    expect(await ingestor.metric('ha_ingestor_ha_frames_too_big_total')).toBe(1);
    expect(await ingestor.metric('ha_ingestor_ha_reconnects_total')).toBe(1);
    expect(await ingestor.metric('ha_ingestor_backfills_total{result="complete"}')).toBe(1);
    expect((await ingestor.health()).status).toBe(200);
  });
});
