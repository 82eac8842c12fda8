/**
 * One pathological event is one invalid event: the rest of its batch is written, whichever
 * schema, whichever path (live, snapshot, history, other event types, replies).
 */
import { describe, expect, it } from 'vitest';
import type { EncodeJob, StateResultKind } from '../../workers/encode-batch.js';
import { DEFAULT_HA_SCHEMA } from '../../workers/ha-schema.js';
import { MAX_NESTING, nestsDeeperThan } from '../../workers/invalid.js';
import { pyStr } from '../../workers/python-values.js';
import { createSchemaBatchEncoder } from '../../workers/schema.js';
import { sortedJson } from '../../workers/sorted-json.js';
import type { SchemaOptions } from '../../workers/typed-schema.js';

function job(frames: string[], stateResults: [number, StateResultKind][] = []): EncodeJob {
  const parts = frames.map((f) => Buffer.from(f));
  const ends = new Uint32Array(parts.length);
  let offset = 0;
  parts.forEach((p, i) => {
    offset += p.length;
    ends[i] = offset;
  });
  return { bytes: new Uint8Array(Buffer.concat(parts)), ends, session: 1, stateResults };
}

const at = (i: number) => `2024-05-01T00:00:${String(i % 60).padStart(2, '0')}.${String(i).padStart(6, '0')}+00:00`;
/** Nested `depth` levels deep, as text: building it as an object would itself need the stack. */
const deepJson = (depth: number) => `${'{"a":'.repeat(depth - 1)}[1]${'}'.repeat(depth - 1)}`;
const stateJson = (id: string, i: number, attributes: string) =>
  `{"entity_id":"${id}","state":"${i}","attributes":${attributes},"last_changed":"${at(i)}","last_updated":"${at(i)}"}`;
const eventJson = (id: string, i: number, attributes = '{"unit_of_measurement":"W"}') =>
  `{"type":"event","id":3,"event":{"event_type":"state_changed","time_fired":"${at(i)}","data":{"entity_id":"${id}","old_state":null,"new_state":${stateJson(id, i, attributes)}}}}`;

const SCHEMAS: [string, SchemaOptions, number][] = [
  ['typed', { schema: 'typed' }, 100_000],
  ['ha', { schema: 'ha', ha: DEFAULT_HA_SCHEMA }, 10_000],
];

describe.each(SCHEMAS)('SCHEMA=%s: one event nested too deep', (_name, schema, depth) => {
  const twentyAndOne = () => {
    const good = Array.from({ length: 20 }, (_, i) => eventJson(`sensor.good_${i}`, i + 1));
    const bad = eventJson('sensor.deep', 30, `{"unit_of_measurement":"W","tree":${deepJson(depth)}}`);
    return [...good.slice(0, 10), bad, ...good.slice(10)];
  };

  it(`in one coalesced frame (${depth} levels): the 20 good events are written, 1 invalid is counted with its reason`, () => {
    const r = createSchemaBatchEncoder(schema).encode(job([`[${twentyAndOne().join(',')}]`]));
    const lines = Buffer.from(r.lp).toString('utf8').trim().split('\n');
    expect(lines).toHaveLength(20);
    expect(lines.some((l) => l.includes('deep'))).toBe(false);
    expect(r).toMatchObject({ events: 21, invalid: 1, lines: 20 });
    expect(r.errors).toEqual([`sensor.deep: attribute "tree" nests deeper than ${MAX_NESTING} levels (refused)`]);
  });

  it('in frames of their own: the same', () => {
    const r = createSchemaBatchEncoder(schema).encode(job(twentyAndOne()));
    expect(r).toMatchObject({ events: 21, invalid: 1, lines: 20 });
  });

  it('at the bound: 64 levels are written, 65 are refused', () => {
    const r = createSchemaBatchEncoder(schema).encode(
      job([eventJson('sensor.at_bound', 1, `{"tree":${deepJson(MAX_NESTING)}}`), eventJson('sensor.past_bound', 2, `{"tree":${deepJson(MAX_NESTING + 1)}}`)]),
    );
    expect(r).toMatchObject({ events: 2, invalid: 1, lines: 1 });
    expect(Buffer.from(r.lp).toString('utf8')).toContain('at_bound');
  });

  it('in a snapshot and in a history answer: one invalid state, the others written', () => {
    const states = [stateJson('sensor.a', 1, '{}'), stateJson('sensor.deep', 2, `{"tree":${deepJson(depth)}}`), stateJson('sensor.b', 3, '{}')];
    const history = `{"sensor.h":[{"s":"1","a":{},"lu":1714521600.5},{"s":"2","a":{"tree":${deepJson(depth)}},"lu":1714521601.5},{"s":"3","lu":1714521602.5}]}`;
    const r = createSchemaBatchEncoder(schema).encode(
      job(
        [`{"id":7,"type":"result","success":true,"result":[${states.join(',')}]}`, `{"id":8,"type":"result","success":true,"result":${history}}`],
        [
          [7, 'snapshot'],
          [8, 'history'],
        ],
      ),
    );
    // The third history row has no "a": it carries the deep attributes forward, and is refused too.
    expect(r.invalid).toBe(3);
    expect(r.lines).toBe(3); // sensor.a, sensor.b and the first history row
    expect(r.control).toHaveLength(2);
  });
});

describe('other paths', () => {
  it('an event of another type with data nested too deep is one invalid event', () => {
    const other = `{"type":"event","id":3,"event":{"event_type":"call_service","time_fired":"${at(5)}","data":${deepJson(100_000)}}}`;
    const r = createSchemaBatchEncoder({ schema: 'typed' }).encode(job([`[${eventJson('sensor.a', 1)},${other},${eventJson('sensor.b', 2)}]`]));
    expect(r).toMatchObject({ events: 3, invalid: 1, lines: 2 });
    expect(r.errors).toEqual([`call_service: event data nests deeper than ${MAX_NESTING} levels (refused)`]);
  });

  it('a reply nested too deep is refused, not handed to the main thread', () => {
    const r = createSchemaBatchEncoder({ schema: 'typed' }).encode(
      job([`{"id":9,"type":"result","success":true,"result":${deepJson(100_000)}}`, eventJson('sensor.a', 1)]),
    );
    expect(r).toMatchObject({ invalid: 1, lines: 1, control: [] });
  });

  it('a state value nested too deep (an array of arrays) is one invalid event', () => {
    const bad = `{"type":"event","id":3,"event":{"event_type":"state_changed","time_fired":"${at(3)}","data":{"new_state":{"entity_id":"sensor.x","state":${'['.repeat(200_000)}${']'.repeat(200_000)},"last_updated":"${at(3)}"}}}}`;
    const r = createSchemaBatchEncoder({ schema: 'ha', ha: DEFAULT_HA_SCHEMA }).encode(
      job([`[${eventJson('sensor.a', 1)},${bad},${eventJson('sensor.b', 2)}]`]),
    );
    expect(r).toMatchObject({ events: 3, invalid: 1, lines: 2 });
  });

  it('a year below 100 is refused as one invalid event with its reason, never written as another year', () => {
    const year50 = eventJson('sensor.old', 1).replaceAll(at(1), '0050-06-01T00:00:00+00:00');
    for (const schema of SCHEMAS.map(([, s]) => s)) {
      const r = createSchemaBatchEncoder(schema).encode(job([year50, eventJson('sensor.a', 2)]));
      expect(r).toMatchObject({ events: 2, invalid: 1, lines: 1 });
      expect(r.errors).toEqual(['sensor.old: last_updated "0050-06-01T00:00:00+00:00" is outside the range InfluxDB can store (1677-09-21 to 2262-04-11)']);
    }
  });
});

describe('the bounded helpers', () => {
  it('nestsDeeperThan is iterative (a million levels) and exact at the bound', () => {
    expect(nestsDeeperThan(JSON.parse(deepJson(1_000_000)))).toBe(true);
    expect(nestsDeeperThan(JSON.parse(deepJson(MAX_NESTING)))).toBe(false);
    expect(nestsDeeperThan(JSON.parse(deepJson(MAX_NESTING + 1)))).toBe(true);
    expect(nestsDeeperThan('text')).toBe(false);
  });

  it('sortedJson and pyStr refuse past the bound with the name they were given', () => {
    const deep = JSON.parse(deepJson(MAX_NESTING + 1));
    expect(() => sortedJson(deep, 'x: attribute "t"')).toThrow(`x: attribute "t" nests deeper than ${MAX_NESTING} levels (refused)`);
    expect(() => pyStr(deep, 'x: attribute "t"')).toThrow(`x: attribute "t" nests deeper than ${MAX_NESTING} levels (refused)`);
    expect(sortedJson(JSON.parse(deepJson(MAX_NESTING)))).toBe(deepJson(MAX_NESTING));
  });
});
