import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../src/backoff.js';
import { decide, MAX_RETRY_AFTER_MS, parseRetryAfter } from '../../src/writer/retry-policy.js';

describe('decide: the whole status table', () => {
  const keep = (cause: string) => ({ action: 'keep', cause });
  it.each([
    // status, Retry-After, lines in the body, decision
    [204, undefined, 10, { action: 'success' }],
    [200, undefined, 10, keep('unacknowledged')],
    [201, undefined, 1, keep('unacknowledged')],
    [undefined, undefined, 10, { action: 'retry', afterMs: undefined }],
    [undefined, '5', 10, { action: 'retry', afterMs: undefined }],
    [429, '3', 10, { action: 'retry', afterMs: 3000 }],
    [429, undefined, 10, { action: 'retry', afterMs: undefined }],
    [500, undefined, 10, { action: 'retry', afterMs: undefined }],
    [502, undefined, 10, { action: 'retry', afterMs: undefined }],
    [503, '2', 10, { action: 'retry', afterMs: 2000 }],
    [504, '0', 10, { action: 'retry', afterMs: 0 }],
    [413, undefined, 10, { action: 'split' }],
    [413, undefined, 2, { action: 'split' }],
    [413, undefined, 1, keep('not-database')],
    [400, undefined, 10, { action: 'isolate' }],
    [400, undefined, 1, { action: 'deadLetter' }],
    [422, undefined, 10, { action: 'isolate' }],
    [422, undefined, 1, { action: 'deadLetter' }],
    [401, undefined, 10, keep('config')],
    [401, undefined, 1, keep('config')],
    [403, undefined, 10, keep('config')],
    [404, undefined, 10, keep('config')],
    [405, undefined, 10, keep('refused')],
    [409, undefined, 10, keep('refused')],
    [410, undefined, 1, keep('refused')],
    [301, undefined, 10, keep('unacknowledged')],
    [302, undefined, 1, keep('unacknowledged')],
    [501, undefined, 10, keep('refused')],
    [507, undefined, 10, keep('refused')],
  ])('%s (Retry-After %s, %s lines)', (status, retryAfter, lines, expected) => {
    expect(decide(status, retryAfter, lines)).toEqual(expected);
  });

  it.each([
    // the sink's verdict on the body decides between a line problem and an outage
    [204, 10, 'ack', { action: 'success' }],
    [200, 10, 'other', keep('unacknowledged')],
    [400, 10, 'lines', { action: 'isolate' }],
    [400, 1, 'lines', { action: 'deadLetter' }],
    [422, 1, 'lines', { action: 'deadLetter' }],
    [400, 10, 'other', keep('not-database')],
    [400, 1, 'other', keep('not-database')],
    [422, 1, 'other', keep('not-database')],
    [413, 10, 'other', { action: 'split' }],
    [413, 1, 'other', keep('not-database')],
    [503, 1, 'other', { action: 'retry', afterMs: undefined }],
  ] as const)('%s with %s lines and verdict %s', (status, lines, verdict, expected) => {
    expect(decide(status, undefined, lines, verdict)).toEqual(expected);
  });

  it('assumes a body of several lines when not told', () => {
    expect(decide(413)).toEqual({ action: 'split' });
    expect(decide(400)).toEqual({ action: 'isolate' });
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
