/**
 * The place of a JSON syntax error (src/json-syntax.ts): line and column, never text. Review 12
 * item 8: V8's message quotes a slice of the file, which may be a password.
 */
import { describe, expect, it } from 'vitest';
import { jsonSyntaxPlace } from '../../src/json-syntax.js';

describe('jsonSyntaxPlace', () => {
  it.each([
    ['{"password": hunter2secret}', 'line 1, column 14'],
    ['{"a":1,}', 'line 1, column 8'],
    ['{\n  "a": "x', 'line 2, column 10'],
    ['{"a" 1}', 'line 1, column 6'],
    ["{'a':1}", 'line 1, column 2'],
    ['', 'line 1, column 1'],
    ['{"a":1} x', 'line 1, column 9'],
    ['{"p":"abc\ndef"}', 'line 1, column 10'],
    ['{"p":"\\x"}', 'line 1, column 7'],
    ['[1, 2,\n 3 4]', 'line 2, column 4'],
    ['{"a": tru}', 'line 1, column 7'],
  ])('%j → %s', (text, want) => {
    expect(() => JSON.parse(text)).toThrow();
    expect(jsonSyntaxPlace(text)).toBe(want);
  });

  it('says nothing of the text when nesting is deeper than the stack', () => {
    expect(jsonSyntaxPlace(`${'['.repeat(200000)}x`)).toBe('nested too deeply to say where');
  });
});
