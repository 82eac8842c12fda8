/** `--check`: a precise one-line verdict per problem, and a non-zero exit, as a user meets it. */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { HaSimulator } from '../../src/sim/server.js';
import { createInfluxV1Database } from '../helpers/expected.js';
import { MAIN } from '../helpers/ingestor.js';
import { spawnSync } from 'node:child_process';
import { freePort } from '../helpers/ports.js';

let sim: HaSimulator;
beforeAll(async () => {
  sim = new HaSimulator({ token: 'right-token', entities: 40 });
  await sim.start();
  await createInfluxV1Database(inject('influxV1Url'), 'checked');
});
afterAll(() => sim.stop());

function check(env: Record<string, string>): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [MAIN, '--check'], { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, out: r.stdout + r.stderr };
}

const base = () => ({ HA_URL: `http://127.0.0.1:${sim.port}`, HA_TOKEN: 'right-token', INFLUX_URL: inject('influxV1Url'), INFLUX_API: 'v1', INFLUX_DB: 'checked' });

describe('--check', () => {
  it('says ready when the token and the database are right', () => {
    const { code, out } = check(base());
    expect(out).toMatch(/^ok {3}Home Assistant: .* accepts the token \(Home Assistant 2025\.11\.0\)$/m);
    expect(out).toMatch(/^ok {3}database: .*may write to database checked$/m);
    expect(out).toMatch(/^verdict: ready$/m);
    expect(code).toBe(0);
  });

  it('names a wrong HA token', () => {
    const { code, out } = check({ ...base(), HA_TOKEN: 'wrong-token' });
    expect(out).toMatch(/^FAIL Home Assistant: Home Assistant rejected the access token \(HA_TOKEN\): Invalid access token or password$/m);
    expect(out).toMatch(/^verdict: 1 check failed$/m);
    expect(out).not.toContain('wrong-token');
    expect(code).toBe(1);
  });

  it('names a database that does not exist', () => {
    const { code, out } = check({ ...base(), INFLUX_DB: 'no_such_db' });
    expect(out).toMatch(/^FAIL database: database no_such_db not found at http:\/\/127\.0\.0\.1:\d+ \(404\): .*database not found/m);
    expect(code).toBe(1);
  });

  it('names an unreachable database', async () => {
    const port = await freePort();
    const { code, out } = check({ ...base(), INFLUX_URL: `http://127.0.0.1:${port}` });
    expect(out).toMatch(new RegExp(`^FAIL database: http://127\\.0\\.0\\.1:${port} is unreachable: .*ECONNREFUSED`, 'm'));
    expect(code).toBe(1);
  });

  it('exits 2 with the configuration problems before trying anything', () => {
    const { code, out } = check({ ...base(), HA_URL: 'nope' });
    expect(out).toMatch(/HA_URL: expected .*got "nope"/);
    expect(code).toBe(2);
  });
});
