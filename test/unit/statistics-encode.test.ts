import { describe, expect, it } from 'vitest';
import type { EncodeJob, StateResultKind, StatesSummary } from '../../workers/encode-batch.js';
import { DEFAULT_HA_SCHEMA } from '../../workers/ha-schema.js';
import { createSchemaBatchEncoder } from '../../workers/schema.js';

/** One result frame whose answer is statistics of `kind`. */
function job(result: unknown, kind: StateResultKind = 'statistics-hour', id = 7): EncodeJob {
  const frame = Buffer.from(JSON.stringify({ id, type: 'result', success: true, result }));
  return { bytes: new Uint8Array(frame), ends: Uint32Array.of(frame.length), session: 1, stateResults: [[id, kind]] };
}

const encode = (result: unknown, kind?: StateResultKind, flavor?: 'influxdb' | 'victoriametrics') => {
  const r = createSchemaBatchEncoder({ schema: 'typed', ...(flavor === undefined ? {} : { flavor }) }).encode(job(result, kind));
  return { r, text: Buffer.from(r.lp).toString('utf8'), summary: (r.control[0] as StatesSummary).encoded };
};

describe('statistics answers → ha_statistics points (workers/encode/statistics.ts)', () => {
  it("current HA's shape: integer ms, null where a statistic has no such type, change left out", () => {
    // As websocket_api.py (dfbe53eb) sends it without `types`: every type, nulls included.
    const { text, summary, r } = encode({
      'sensor.temperature': [
        { start: 1714564800000, end: 1714568400000, mean: 21.5, min: 20.25, max: 22, last_reset: null, state: null, sum: null, change: null },
        { start: 1714568400000, end: 1714572000000, mean: -0.5, min: -1, max: 0, last_reset: null, state: null, sum: null, change: null },
      ],
      'sensor.energy': [
        { start: 1714564800000, end: 1714568400000, mean: null, min: null, max: null, last_reset: 1714521600000, state: 1234.5, sum: 567.25, change: 1.5 },
      ],
    });
    expect(text).toBe(
      'ha_statistics,period=hour,statistic_id=sensor.temperature max=22,mean=21.5,min=20.25 1714564800000000000\n' +
        'ha_statistics,period=hour,statistic_id=sensor.temperature max=0,mean=-0.5,min=-1 1714568400000000000\n' +
        'ha_statistics,period=hour,statistic_id=sensor.energy last_reset="2024-05-01T00:00:00.000Z",state=1234.5,sum=567.25 1714564800000000000\n',
    );
    expect(r.lines).toBe(3);
    expect(summary).toMatchObject({ kind: 'statistics-hour', states: 3, points: 3, entityIds: ['sensor.temperature', 'sensor.energy'] });
    expect(summary.newest).toEqual({ entityId: 'sensor.temperature', haMs: 1714568400000 });
    // Statistic ids are no entity ids: never reported as such (the backfill would ask history for them).
    expect(r.newEntityIds).toEqual([]);
  });

  it('float ms (releases between) and the old ISO form (history/statistics_during_period) give the same points', () => {
    const floatMs = encode(
      { 'sensor.x': [{ start: 1714564800000.0, end: 1714565100000.0, mean: 1, min: 1, max: 1, last_reset: 1714521600000.4 }] },
      'statistics-5minute',
    );
    const iso = encode(
      {
        'sensor.x': [
          {
            statistic_id: 'sensor.x',
            start: '2024-05-01T12:00:00+00:00',
            end: '2024-05-01T12:05:00+00:00',
            mean: 1,
            min: 1,
            max: 1,
            last_reset: '2024-05-01T00:00:00.000400+00:00',
          },
        ],
      },
      'statistics-5minute',
    );
    const want = 'ha_statistics,period=5minute,statistic_id=sensor.x last_reset="2024-05-01T00:00:00.000Z",max=1,mean=1,min=1 1714564800000000000\n';
    expect(floatMs.text).toBe(want);
    expect(iso.text).toBe(want);
  });

  it('escapes statistic ids (external ids hold a colon; odd ids commas and spaces) per flavour', () => {
    const row = { start: 0, end: 3600000, sum: 1 };
    expect(encode({ 'energy:grid import,a b=c': [row] }).text).toBe('ha_statistics,period=hour,statistic_id=energy:grid\\ import\\,a\\ b\\=c sum=1 0\n');
    expect(encode({ 'x\\y\\': [row] }, 'statistics-hour', 'victoriametrics').text).toBe('ha_statistics,period=hour,statistic_id=x\\\\y\\\\ sum=1 0\n');
  });

  it('a row without fields is skipped, a row without a readable start is invalid; neither fails the rest', () => {
    const { text, r, summary } = encode({
      'sensor.a': [
        { start: 1714564800000, end: 1714568400000, mean: null, min: null, max: null, state: null, sum: null },
        { start: 'yesterday', mean: 1 },
        { end: 1714568400000, mean: 1 },
        null,
        { start: 1714568400000, mean: 2, min: 'NaN' },
      ],
      'sensor.b': 'not a list',
    });
    expect(text).toBe('ha_statistics,period=hour,statistic_id=sensor.a mean=2 1714568400000000000\n');
    expect(r.skipped).toBe(1);
    expect(r.invalid).toBe(4);
    expect(summary.points).toBe(1);
  });

  it("SCHEMA=ha writes the same ha_statistics points (HA's integration never wrote statistics)", () => {
    const answer = { 'sensor.x': [{ start: 1714564800000, end: 1714568400000, mean: 1.5, min: 1, max: 2, last_reset: null, state: null, sum: null }] };
    const ha = createSchemaBatchEncoder({ schema: 'ha', ha: DEFAULT_HA_SCHEMA }).encode(job(answer));
    expect(Buffer.from(ha.lp).toString('utf8')).toBe(encode(answer).text);
    expect(encode(answer).text).toBe('ha_statistics,period=hour,statistic_id=sensor.x max=2,mean=1.5,min=1 1714564800000000000\n');
  });

  it('non-ASCII statistic ids read as Latin-1 on the fast path come out as the same UTF-8 bytes', () => {
    const answer = { 'sensor.küche_energie': [{ start: 1714564800000, sum: 1 }] };
    expect(encode(answer).text).toBe('ha_statistics,period=hour,statistic_id=sensor.küche_energie sum=1 1714564800000000000\n');
  });

  it('an empty answer (no rows in the window) writes nothing', () => {
    const { text, summary } = encode({});
    expect(text).toBe('');
    expect(summary).toMatchObject({ states: 0, points: 0, newest: null });
  });
});
