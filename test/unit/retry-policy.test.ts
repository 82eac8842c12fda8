import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../src/backoff.js';
import { decide, MAX_RETRY_AFTER_MS, parseRetryAfter } from '../../src/writer/retry-policy.js';

describe('decide', () => {
  it.each([
    [204, undefined, { action: 'success' }],
    [200, undefined, { action: 'success' }],
    [undefined, undefined, { action: 'retry', afterMs: undefined }],
    [429, '3', { action: 'retry', afterMs: 3000 }],
    [503, undefined, { action: 'retry', afterMs: undefined }],
    [500, undefined, { action: 'retry', afterMs: undefined }],
    [502, undefined, { action: 'retry', afterMs: undefined }],
    [504, '0', { action: 'retry', afterMs: 0 }],
    [400, undefined, { action: 'reject' }],
    [401, undefined, { action: 'reject' }],
    [403, undefined, { action: 'reject' }],
    [404, undefined, { action: 'reject' }],
    [413, undefined, { action: 'reject' }],
    [422, undefined, { action: 'reject' }],
  ])('%s (Retry-After %s)', (status, retryAfter, expected) => {
    expect(decide(status, retryAfter)).toEqual(expected);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2024-05-01T00:00:00Z');
  it.each([
    ['5', 5000],
    [' 5 ', 5000],
    ['Wed, 01 May 2024 00:00:10 GMT', 10_000],
    ['Tue, 30 Apr 2024 23:59:00 GMT', 0],
    ['99999', MAX_RETRY_AFTER_MS],
    ['soon', undefined],
    ['', undefined],
    [undefined, undefined],
  ])('%j → %s', (value, ms) => {
    expect(parseRetryAfter(value, now)).toBe(ms);
  });
});

describe('backoffDelay', () => {
  it('is full jitter under an exponential ceiling', () => {
    expect(backoffDelay(0, 1000, 60_000, () => 0.999)).toBe(999);
    expect(backoffDelay(3, 1000, 60_000, () => 0.5)).toBe(4000);
    expect(backoffDelay(10, 1000, 60_000, () => 1)).toBe(60_000);
    expect(backoffDelay(1000, 1000, 60_000, () => 0)).toBe(0);
  });
});
