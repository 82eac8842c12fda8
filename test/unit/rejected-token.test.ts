/** The record of a rejected HA_TOKEN (src/ha/rejected-token.ts): its format, its updates, the guard's verdicts. */
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  afterRejection,
  fingerprint,
  parseRecord,
  REJECTED_TOKEN_FILE,
  RejectedTokenFile,
  recordIsFor,
  rejectionProblem,
  TokenGuard,
} from '../../src/ha/rejected-token.js';
import { createMetrics } from '../../src/metrics.js';
import { capturingLogger } from '../helpers/log.js';

const T0 = new Date('2026-01-02T03:04:05.000Z');
const T1 = new Date('2026-01-02T04:00:00.000Z');
const salt = () => '00112233445566778899aabbccddeeff';
const dir = () => mkdtempSync(join(tmpdir(), 'ha-ingestor-rejected-'));

describe('afterRejection', () => {
  it('starts a record for a token, holding a salted SHA-256 and never the token', () => {
    const r = afterRejection(null, 'secret-token', 'Invalid access token or password', T0, salt);
    expect(r).toEqual({
      version: 1,
      salt: salt(),
      tokenSha256: fingerprint(salt(), 'secret-token'),
      firstRejectedAt: '2026-01-02T03:04:05.000Z',
      lastRejectedAt: '2026-01-02T03:04:05.000Z',
      rejections: 1,
      haMessage: 'Invalid access token or password',
    });
    expect(r.tokenSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(r)).not.toContain('secret-token');
    expect(recordIsFor(r, 'secret-token')).toBe(true);
    expect(recordIsFor(r, 'secret-token2')).toBe(false);
  });

  it('counts on for the same token, starts again for another', () => {
    const first = afterRejection(null, 'a-token', 'm', T0, salt);
    const same = afterRejection(first, 'a-token', 'm2', T1);
    expect(same).toMatchObject({ rejections: 2, firstRejectedAt: T0.toISOString(), lastRejectedAt: T1.toISOString(), haMessage: 'm2', salt: salt() });
    const other = afterRejection(same, 'b-token', 'm', T1, () => 'ff');
    expect(other).toMatchObject({ rejections: 1, firstRejectedAt: T1.toISOString(), salt: 'ff' });
    expect(recordIsFor(other, 'a-token')).toBe(false);
  });

  it("cuts HA's message to 200 characters", () => {
    expect(afterRejection(null, 't', 'x'.repeat(500), T0).haMessage).toHaveLength(200);
  });
});

describe('parseRecord', () => {
  const good = afterRejection(null, 'tok', 'm', T0, salt);
  it('reads what was written', () => {
    expect(parseRecord(JSON.stringify(good))).toEqual(good);
  });
  it.each([
    ['not JSON', '{', /JSON|Expected/],
    ['another version', JSON.stringify({ ...good, version: 2 }), /^not a version 1 record$/],
    ['no salt', JSON.stringify({ ...good, salt: undefined }), /^salt missing$/],
    ['a short hash', JSON.stringify({ ...good, tokenSha256: 'ab' }), /^tokenSha256 missing$/],
    ['no times', JSON.stringify({ ...good, lastRejectedAt: 'yesterday' }), /^times missing$/],
    ['no count', JSON.stringify({ ...good, rejections: 0 }), /^rejections missing$/],
  ])('refuses %s', (_what, text, message) => {
    expect(() => parseRecord(text)).toThrow(message);
  });
});

describe('TokenGuard', () => {
  const guardFor = (dataDir: string, token: string) => {
    const { log, lines } = capturingLogger();
    const metrics = createMetrics();
    return { guard: new TokenGuard(new RejectedTokenFile(dataDir), token, log, metrics), lines, metrics };
  };

  it('lets an unknown token through, records a rejection (0600), blocks that token at the next start, not another', async () => {
    const d = dir();
    const run1 = guardFor(d, 'tok-1');
    expect(await run1.guard.load()).toBe(false);
    expect(run1.guard.status).toBe('unknown');
    expect(run1.metrics.haAuthRejected.get()).toBe(0);
    await run1.guard.rejected('Invalid access token or password', T0);
    expect(run1.guard.status).toBe('rejected');
    expect(run1.metrics.haAuthRejected.get()).toBe(1);
    expect(run1.lines.filter((l) => (l.level as number) >= 50)).toHaveLength(1);
    const path = join(d, REJECTED_TOKEN_FILE);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, 'utf8')).not.toContain('tok-1');

    const run2 = guardFor(d, 'tok-1');
    expect(await run2.guard.load()).toBe(true);
    expect(run2.guard.status).toBe('rejected');
    expect(run2.metrics.haAuthRejected.get()).toBe(1);
    expect(run2.guard.rejection).toMatchObject({ rejections: 1, lastRejectedAt: T0.toISOString() });
    const logged = run2.lines.filter((l) => (l.level as number) >= 50);
    expect(logged.map((l) => l.msg)).toEqual([
      expect.stringMatching(/^Home Assistant rejected this HA_TOKEN at 2026-01-02T03:04:05\.000Z; it is not sent again/),
    ]);
    expect(JSON.stringify(run2.lines)).not.toContain('tok-1');

    const run3 = guardFor(d, 'tok-2');
    expect(await run3.guard.load()).toBe(false);
    expect(run3.guard.rejection).toBeNull();
  });

  it('removes the record once HA accepts the token', async () => {
    const d = dir();
    const run1 = guardFor(d, 'tok');
    await run1.guard.load();
    await run1.guard.rejected('m', T0);
    const run2 = guardFor(d, 'tok-new');
    expect(await run2.guard.load()).toBe(false);
    await run2.guard.accepted();
    expect(run2.guard.status).toBe('accepted');
    expect(await new RejectedTokenFile(d).load()).toBeNull();
  });

  it('counts rejections of the same token across runs', async () => {
    const d = dir();
    for (const at of [T0, T1]) {
      const run = guardFor(d, 'tok');
      await run.guard.load();
      await run.guard.rejected('m', at);
    }
    expect(await new RejectedTokenFile(d).load()).toMatchObject({ rejections: 2, firstRejectedAt: T0.toISOString(), lastRejectedAt: T1.toISOString() });
  });

  it('ignores a damaged record with one warning (at worst one more attempt, which rewrites it)', async () => {
    const d = dir();
    writeFileSync(join(d, REJECTED_TOKEN_FILE), '{"version":1,');
    const run = guardFor(d, 'tok');
    expect(await run.guard.load()).toBe(false);
    expect(run.lines.filter((l) => l.level === 40).map((l) => l.msg)).toEqual(['cannot read the record of a rejected HA_TOKEN; ignoring it']);
  });

  it('words the problem for /health without the token', () => {
    const r = afterRejection(afterRejection(null, 'tok', 'm', T0, salt), 'tok', 'm', T1);
    expect(rejectionProblem(r)).toBe(
      'Home Assistant rejected HA_TOKEN (2 times, last at 2026-01-02T04:00:00.000Z); it is not sent again. ' +
        'Set a valid long-lived access token in HA_TOKEN and restart the ingestor: a new token is tried at once. ' +
        'If this token is valid again (its user re-enabled), run the ingestor with --check once.',
    );
  });
});
