import { describe, expect, it } from 'vitest';
import { escapeKey, escapeMeasurement, escapeStringValue, escapeTagValue, formatFloat } from '../../workers/line-protocol.js';

describe('escapeMeasurement', () => {
  it.each([
    ['sensor', 'sensor'],
    ['a,b', 'a\\,b'],
    ['a b', 'a\\ b'],
    ['a=b', 'a=b'], // = is not special in a measurement
    ['a"b', 'a"b'],
    [',lead', '\\,lead'],
    ['trail ', 'trail\\ '],
    ['line\nfeed', 'line\\nfeed'],
    ['car\rriage', 'car\\rriage'],
    ['back\\slash', 'back\\slash'],
    ['ends\\', 'ends/'],
    ['ends\\\\', 'ends//'],
    ['a\\ b', 'a/\\ b'],
    ['über 温度', 'über\\ 温度'],
    ['', ''],
  ])('%j → %j', (input, expected) => {
    expect(escapeMeasurement(input)).toBe(expected);
  });
});

describe('escapeKey / escapeTagValue', () => {
  it.each([
    ['entity_id', 'entity_id'],
    ['a,b', 'a\\,b'],
    ['a=b', 'a\\=b'],
    ['a b', 'a\\ b'],
    [',=  ', '\\,\\=\\ \\ '],
    ['=lead', '\\=lead'],
    ['trail=', 'trail\\='],
    ['quote"', 'quote"'],
    ['new\nline', 'new\\nline'],
    ['back\\,slash', 'back/\\,slash'], // parsers disagree on a backslash before an escape: it becomes /
    ['Basement \\ cellar', 'Basement\\ /\\ cellar'],
    ['a\\\\b', 'a/\\b'],
    ['C:\\temp', 'C:\\temp'], // a backslash before an ordinary character is kept
    ['ends\\', 'ends/'],
    ['\\', '/'],
    ['°C', '°C'],
    ['µg/m³', 'µg/m³'],
    ['🌡 temp', '🌡\\ temp'],
    ['', ''],
  ])('%j → %j', (input, expected) => {
    expect(escapeKey(input)).toBe(expected);
    expect(escapeTagValue(input)).toBe(expected);
  });
});

describe('escapeStringValue', () => {
  it.each([
    ['plain', 'plain'],
    ['say "hi"', 'say \\"hi\\"'],
    ['C:\\temp\\', 'C:\\\\temp\\\\'],
    ['\\"', '\\\\\\"'],
    ['a,b=c d', 'a,b=c d'], // nothing but quote and backslash is special inside quotes
    ['line\nbreak', 'line\\\\nbreak'], // stored as the two characters \n
    ['cr\r', 'cr\\\\r'],
    ['', ''],
    ['Ünïcödé ✓ 🚀', 'Ünïcödé ✓ 🚀'],
  ])('%j → %j', (input, expected) => {
    expect(escapeStringValue(input)).toBe(expected);
  });
});

describe('formatFloat', () => {
  it.each([
    [1, '1'],
    [-0, '0'],
    [21.4, '21.4'],
    [-3.25, '-3.25'],
    [1e21, '1e+21'],
    [1.5e-7, '1.5e-7'],
    [12345678901234567000, '12345678901234567000'],
  ])('%d → %s', (input, expected) => {
    expect(formatFloat(input)).toBe(expected);
  });
});
