import { describe, expect, it } from 'vitest';
import { createRedactor, REDACTED } from '../../src/redact.js';

describe('redaction', () => {
  const redact = createRedactor(['ha-token-abc123', 'p@ss word"7'], [['admin', 'p@ss word"7']]);

  it.each([
    ['the secret itself', 'token ha-token-abc123 rejected'],
    ['a Bearer header echoed back', '{"echo":"Authorization: Bearer ha-token-abc123"}'],
    ['URL-encoded', 'http://h/?p=p%40ss%20word%227'],
    ['JSON-escaped', JSON.stringify({ message: 'password p@ss word"7 is wrong' })],
    ['Basic credentials', `Authorization: Basic ${Buffer.from('admin:p@ss word"7').toString('base64')}`],
    ['base64 of the token', Buffer.from('ha-token-abc123').toString('base64')],
  ])('removes %s', (_what, text) => {
    const out = redact(text);
    expect(out).toContain(REDACTED);
    expect(out).not.toContain('ha-token-abc123');
    expect(out).not.toContain('p@ss word');
    expect(out).not.toContain('p%40ss');
  });

  it('leaves other text alone, and does nothing without secrets', () => {
    expect(redact('written 5000 points')).toBe('written 5000 points');
    expect(createRedactor([])('Token x')).toBe('Token x');
  });
});
