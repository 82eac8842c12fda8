/**
 * A rejected HA_TOKEN never turns into a login storm (issue 12, item 7): HA counts every
 * auth_invalid as a failed login and, with `login_attempts_threshold`, bans the host's IP. The
 * built ingestor, as its own process, restarted the way a supervisor would, against the simulator
 * (which counts the tokens it rejects as HA's ban.py would).
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { REJECTED_TOKEN_FILE } from '../../src/ha/rejected-token.js';
import { HaSimulator } from '../../src/sim/server.js';
import { IngestorProcess } from '../helpers/ingestor.js';
import { until } from '../helpers/ports.js';

const WRONG = 'wrong-token-4c1f9e';
const RIGHT = 'right-token-7d2a0b';

let sim: HaSimulator | null = null;
let ingestor: IngestorProcess | null = null;
afterEach(async () => {
  await ingestor?.stop('SIGKILL');
  await sim?.stop();
  sim = null;
  ingestor = null;
});

/** The file sink: no database needed for what is tested here. */
const env = (dataDir: string, token: string) => ({ HA_URL: `http://127.0.0.1:${sim?.port}`, HA_TOKEN: token, DATA_DIR: dataDir, POOL_SIZE: '0' });

/** Waits until /health reports the token rejected; returns the body. */
async function rejectedHealth(p: IngestorProcess): Promise<Record<string, unknown>> {
  return until(
    '/health: ha.auth rejected',
    async () => {
      if (p.proc.exitCode !== null) throw new Error(`ingestor exited ${p.proc.exitCode}: ${p.stderr}`);
      const h = await p.health();
      return h.status === 503 && (h.body.ha as { auth?: string }).auth === 'rejected' ? h.body : undefined;
    },
    15_000,
  );
}

const errorLines = (p: IngestorProcess) => p.logs.filter((l) => (l.level as number) >= 50);

describe('a rejected HA_TOKEN (issue 12, item 7)', () => {
  it('stays up and says so; the token is sent once, across restarts with the same DATA_DIR; a new token connects at once', async () => {
    sim = new HaSimulator({ token: RIGHT, entities: 20 });
    await sim.start();
    const dataDir = mkdtempSync(join(tmpdir(), 'ha-ingestor-auth-'));

    ingestor = await IngestorProcess.start(env(dataDir, WRONG));
    const body = await rejectedHealth(ingestor);
    expect(body).toMatchObject({ status: 'unhealthy', ha: { state: 'rejected', auth: 'rejected', authProblem: expect.stringContaining('HA_TOKEN') } });
    expect((body.ha as { authProblem: string }).authProblem).toMatch(
      /^Home Assistant rejected HA_TOKEN \(1 time, last at \d{4}-.*Z\); it is not sent again\. Set a valid/,
    );
    expect(await ingestor.metric('ha_ingestor_ha_auth_rejected')).toBe(1);
    expect(sim.authRejections).toBe(1);
    // One error line, nothing fatal, still running.
    expect(errorLines(ingestor).map((l) => l.msg)).toEqual([expect.stringMatching(/^Home Assistant rejected the token \(HA_TOKEN\); not retrying it/)]);
    expect(ingestor.proc.exitCode).toBeNull();
    const record = readFileSync(join(dataDir, REJECTED_TOKEN_FILE), 'utf8');
    expect(JSON.parse(record)).toMatchObject({ version: 1, rejections: 1, haMessage: 'Invalid access token or password' });
    expect(record).not.toContain(WRONG);
    // Stopped while rejected: exit 3.
    expect(await ingestor.stop('SIGTERM')).toBe(3);
    const firstRunText = JSON.stringify(ingestor.logs) + JSON.stringify(body);

    // A supervisor's restart loop: three quick restarts with the same token and DATA_DIR.
    for (let i = 0; i < 3; i++) {
      ingestor = await IngestorProcess.start(env(dataDir, WRONG));
      const again = await rejectedHealth(ingestor);
      expect(again).toMatchObject({ ha: { state: 'rejected', auth: 'rejected' } });
      expect(await ingestor.metric('ha_ingestor_ha_auth_rejected')).toBe(1);
      expect(errorLines(ingestor).map((l) => l.msg)).toEqual([expect.stringMatching(/^Home Assistant rejected this HA_TOKEN at .*; it is not sent again/)]);
      expect(JSON.stringify(ingestor.logs) + JSON.stringify(again)).not.toContain(WRONG);
      expect(await ingestor.stop('SIGTERM')).toBe(3);
    }
    // Four runs, one failed login in HA.
    expect(sim.authRejections).toBe(1);
    expect(sim.connectionsAccepted).toBe(1);
    expect(firstRunText).not.toContain(WRONG);

    // The token fixed: tried at once, connects, and the record is gone.
    const started = Date.now();
    ingestor = await IngestorProcess.start(env(dataDir, RIGHT));
    await ingestor.healthy(15_000);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect((await ingestor.health()).body).toMatchObject({ ha: { state: 'subscribed', auth: 'accepted' } });
    expect(await ingestor.metric('ha_ingestor_ha_auth_rejected')).toBe(0);
    await until('the record removed', () => (existsSync(join(dataDir, REJECTED_TOKEN_FILE)) ? undefined : true), 5_000);
    expect(sim.authRejections).toBe(1);
    expect(await ingestor.stop('SIGTERM')).toBe(0);
  });
});
