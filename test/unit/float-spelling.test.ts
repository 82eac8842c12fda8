/**
 * HA spells a float without a fraction as `5.0` (orjson), an int as `5`. Inside lists and dicts
 * HA's integration prints Python's str() and derives a float from its digits
 * (homeassistant/components/influxdb/__init__.py, event_to_json: RE_DIGIT_TAIL), so the spelling
 * decides which fields exist (issue 12, item 10).
 */
import { describe, expect, it } from 'vitest';
import type { EncodeJob } from '../../workers/encode-batch.js';
import { mayHoldFloatSpelling, parseKeepingFloats, spelledAsFloat } from '../../workers/float-spelling.js';
import { DEFAULT_HA_SCHEMA } from '../../workers/ha-schema.js';
import { pyStr } from '../../workers/python-values.js';
import { createSchemaBatchEncoder } from '../../workers/schema.js';

describe('parseKeepingFloats', () => {
  it.each([
    '{"a":[30.0,100.0],"b":{"c":1.0,"d":[1,2.5,-0.0,1e3,1E-2]},"e":"x\\"y\\u00e9\\n","f":true,"g":false,"h":null}',
    ' [ 1 , { "k" : [ ] , "l" : { } } , "\u00e9" ] ',
    '{"__proto__":{"x":1.0},"dup":1.0,"dup":2}',
    '-12.50e+2',
    '"only a string"',
  ])('gives what JSON.parse gives: %s', (text) => {
    expect(parseKeepingFloats(text)).toStrictEqual(JSON.parse(text));
  });

  it('records the integral members spelled as floats, and only those', () => {
    const v = parseKeepingFloats('{"hs":[30.0,100.0,5,2.5,1e3],"o":{"a":1.0,"b":1,"dup":1.0,"dup":7}}') as {
      hs: number[];
      o: Record<string, number>;
    };
    expect([0, 1, 2, 3, 4].map((i) => spelledAsFloat(v.hs, i))).toEqual([true, true, false, false, true]);
    expect(['a', 'b', 'dup'].map((k) => spelledAsFloat(v.o, k))).toEqual([true, false, false]);
  });

  it.each(['[1,]', '{"a" 1}', '"open', '[01]', '{"a":tru}', '"tab\there"', '[1] x'])('refuses what JSON.parse refuses: %s', (text) => {
    expect(() => JSON.parse(text)).toThrow(SyntaxError);
    expect(() => parseKeepingFloats(text)).toThrow(SyntaxError);
  });

  it('Python prints the recorded members as floats', () => {
    expect(pyStr(parseKeepingFloats('[30.0, 100.0, 5, -0.0, 1e16]'))).toBe('[30.0, 100.0, 5, -0.0, 1e+16]');
    expect(pyStr(JSON.parse('[30.0, 100.0]'))).toBe('[30, 100]');
  });
});

describe('mayHoldFloatSpelling: which frames take the slower parse', () => {
  it.each([
    ['{"attributes":{"hs_color":[30.0,100.0]}}', true],
    ['{"attributes":{"xy":[0.5,1e3]}}', true],
    ['{"attributes":{"o":{"a":1.0}}}', true],
    ['{"state":"on","attributes":{"temperature":21.5,"n":[1,2]}}', false],
    ['{"state":"on","attributes":{"temperature":21.0,"friendly_name":"x"}}', false],
    // A nested dict that looks like a state's attributes or a history row (review of issue 13).
    ['{"state":"on","attributes":{"meta":{"attributes":{"level":5.0}}}}', true],
    ['{"state":"on","attributes":{"meta":{"s":"on","a":{"level":5.0}}}}', true],
    ['{"sensor.t":[{"s":"1","a":{"temperature":21.0},"lu":1714566896.5}]}', false],
    ['{"attributes":{"forecast":[{"temperature":21.0}]}}', true],
    ['{"attributes":{"a":{"x":1.0}}}', true],
    ['{"sensor.t":[{"s":"q\\"","a":{"t":21.0}}]}', false],
    // A member after a nested value, with or without members between (review of issue 12).
    ['{"attributes":{"d":{"ids":[1,2],"level":5.0}}}', true],
    ['{"attributes":{"d":{"ids":[1,2],"x":"a","level":5.0}}}', true],
    ['{"attributes":{"o":{"a":{"x":1},"b":5.0}}}', true],
    ['{"attributes":{"o":{"name":"a}b","level":5.0}}}', true],
    ['{"attributes":{"l":[ -1.0 ]}}', true],
    ['{"state":"on","attributes":{"t": 21.0,"n":"version 1.0, beta"}}', false],
    ['{"state":"on","attributes":{"t":2e3}}', false],
    ['{"attributes":{"l":[1,2e3]}}', true],
    ['{"state":"21.0","attributes":{"s":"a"}}', false],
  ])('%s → %s', (text, expected) => {
    expect(mayHoldFloatSpelling(text)).toBe(expected);
  });
});

describe("SCHEMA=ha through the batch encoder: the digits rule sees HA's spelling", () => {
  const frame = (attributes: string) =>
    `{"type":"event","event":{"event_type":"state_changed","data":{"entity_id":"light.k","old_state":null,"new_state":{"entity_id":"light.k","state":"on","attributes":${attributes},"last_changed":"2024-05-01T00:00:01+00:00","last_updated":"2024-05-01T00:00:01+00:00","context":{"id":"c"}}},"origin":"LOCAL","time_fired":"2024-05-01T00:00:01+00:00","context":{"id":"c"}},"id":3}`;
  const encode = (text: string, schema: 'ha' | 'typed' = 'ha') => {
    const bytes = new Uint8Array(Buffer.from(text));
    const job: EncodeJob = { bytes, ends: new Uint32Array([bytes.length]), session: 1, stateResults: [] };
    const options = schema === 'ha' ? { schema: 'ha' as const, ha: DEFAULT_HA_SCHEMA } : { schema: 'typed' as const };
    return Buffer.from(createSchemaBatchEncoder(options).encode(job).lp).toString('utf8');
  };

  it('hs_color [30.0, 100.0]: two dots, so no float (JSON.parse alone would give hs_color=30100)', () => {
    const line = encode(frame('{"hs_color":[30.0,100.0]}'));
    expect(line).toContain('hs_color_str="[30.0, 100.0]"');
    expect(line).not.toMatch(/hs_color=/);
  });

  it("{'a': 1.0}: one dot and two digits, so HA's float 1 (JSON.parse alone gives no float)", () => {
    const line = encode(frame('{"obj":{"a":1.0}}'));
    expect(line).toContain(`obj_str="{'a': 1.0}",obj=1 `);
  });

  it('[1.5, 5.0]: two dots, no float, where JSON.parse alone gives list=1.55', () => {
    expect(encode(frame('{"list":[1.5,5.0]}'))).not.toMatch(/list=/);
  });

  it("a dict member after a nested value: {'ids': [1, 2], 'level': 5.0} has one dot, so HA's float 125", () => {
    expect(encode(frame('{"d":{"ids":[1,2],"level":5.0}}'))).toContain(`d_str="{'ids': [1, 2], 'level': 5.0}",d=125 `);
  });

  it('tags_attributes: a float HA spelled 5.0 is the tag 5.0, as str(5.0) in HA', () => {
    const bytes = new Uint8Array(Buffer.from(frame('{"level":5.0,"n":2}')));
    const job: EncodeJob = { bytes, ends: new Uint32Array([bytes.length]), session: 1, stateResults: [] };
    const ha = { ...DEFAULT_HA_SCHEMA, tagsAttributes: ['level', 'n'] };
    const line = Buffer.from(createSchemaBatchEncoder({ schema: 'ha', ha }).encode(job).lp).toString('utf8');
    expect(line).toMatch(/^light\.k,domain=light,entity_id=k,level=5\.0,n=2 /);
  });

  it('a frame nested beyond the parser takes JSON.parse: its other messages are still written', () => {
    const deep = `${'['.repeat(5_000)}1${']'.repeat(5_000)}`;
    const text = `[${frame(`{"deep":${deep},"hs_color":[30.0,100.0]}`)},${frame('{"brightness":3}').replace('light.k', 'light.j').replace('light.k', 'light.j')}]`;
    const line = encode(text);
    expect(line).toContain('light.j,domain=light,entity_id=j');
  });

  it('the typed schema keeps compact JSON as before', () => {
    expect(encode(frame('{"hs_color":[30.0,100.0]}'), 'typed')).toContain('hs_color_str="[30,100]"');
  });
});
