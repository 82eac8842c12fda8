/** `--check`: a precise one-line verdict per problem, and a non-zero exit, as a user meets it. */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { HaSimulator } from '../../src/sim/server.js';
import { createInfluxV1Database } from '../helpers/expected.js';
import { MAIN } from '../helpers/ingestor.js';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REJECTED_TOKEN_FILE } from '../../src/ha/rejected-token.js';
import { freePort } from '../helpers/ports.js';

let sim: HaSimulator;
const dataDir = mkdtempSync(join(tmpdir(), 'ha-ingestor-check-'));
beforeAll(async () => {
  sim = new HaSimulator({ token: 'right-token', entities: 40 });
  await sim.start();
  await createInfluxV1Database(inject('influxV1Url'), 'checked');
});
afterAll(() => sim.stop());

/** Runs `--check` as its own process (asynchronously: the simulator lives in this one). */
function check(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, '--check'], { env: { PATH: process.env.PATH ?? '', ...env } });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.once('exit', (code) => resolve({ code, out }));
  });
}

const base = () => ({
  HA_URL: `http://127.0.0.1:${sim.port}`,
  HA_TOKEN: 'right-token',
  INFLUX_URL: inject('influxV1Url'),
  INFLUX_API: 'v1',
  INFLUX_DB: 'checked',
  DATA_DIR: dataDir,
});

describe('--check', () => {
  it('says ready when the token and the database are right', async () => {
    const { code, out } = await check(base());
    expect(out).toMatch(/^ok {3}Home Assistant: .* accepts the token \(Home Assistant 2025\.11\.0\)$/m);
    expect(out).toMatch(/^ok {3}database: .*may write to database checked$/m);
    expect(out).toMatch(/^verdict: ready$/m);
    expect(code).toBe(0);
  });

  it('names a wrong HA token, exits 3, and records it (without the token) so that a start does not send it again', async () => {
    const { code, out } = await check({ ...base(), HA_TOKEN: 'wrong-token' });
    expect(out).toMatch(/^FAIL Home Assistant: Home Assistant rejected the access token \(HA_TOKEN\): Invalid access token or password$/m);
    expect(out).toMatch(/^verdict: 1 check failed$/m);
    expect(out).not.toContain('wrong-token');
    expect(code).toBe(3);
    const record = readFileSync(join(dataDir, REJECTED_TOKEN_FILE), 'utf8');
    expect(JSON.parse(record)).toMatchObject({ rejections: 1 });
    expect(record).not.toContain('wrong-token');
    // A person asking again: tried again (--check always tries), and counted.
    expect((await check({ ...base(), HA_TOKEN: 'wrong-token' })).code).toBe(3);
    expect(JSON.parse(readFileSync(join(dataDir, REJECTED_TOKEN_FILE), 'utf8'))).toMatchObject({ rejections: 2 });
    // An accepted token clears the record.
    expect((await check(base())).code).toBe(0);
    expect(existsSync(join(dataDir, REJECTED_TOKEN_FILE))).toBe(false);
  });

  it('names a database that does not exist', async () => {
    const { code, out } = await check({ ...base(), INFLUX_DB: 'no_such_db' });
    expect(out).toMatch(/^FAIL database: database no_such_db not found at http:\/\/127\.0\.0\.1:\d+ \(404\): .*database not found/m);
    expect(code).toBe(1);
  });

  it('names an unreachable database', async () => {
    const port = await freePort();
    const { code, out } = await check({ ...base(), INFLUX_URL: `http://127.0.0.1:${port}` });
    expect(out).toMatch(new RegExp(`^FAIL database: http://127\\.0\\.0\\.1:${port} is unreachable: .*ECONNREFUSED`, 'm'));
    expect(code).toBe(1);
  });

  it('exits 2 with the configuration problems before trying anything', async () => {
    const { code, out } = await check({ ...base(), HA_URL: 'nope' });
    expect(out).toMatch(/HA_URL: expected .*got "nope"/);
    expect(code).toBe(2);
  });
});
