import { describe, expect, it } from 'vitest';
import type { EncodeJob, StateResultKind } from '../../workers/encode-batch.js';
import { createSchemaBatchEncoder } from '../../workers/schema.js';
import { pino } from 'pino';
import { RestartDedup } from '../../src/pipeline/restart-dedup/index.js';
import { Watermark } from '../../src/pipeline/watermark.js';
import { createSharedRegistry, publishPlacements } from '../../workers/shared-registry.js';
import { createTypedEncoder, type HaState } from '../../workers/typed-schema.js';
import { pointOf } from '../../workers/encode/records.js';
import { sortedJson } from '../../workers/sorted-json.js';
import { DEFAULT_HA_SCHEMA } from '../../workers/ha-schema.js';

function framesJob(frames: string[], snapshotIds: number[] = [], extra: [number, StateResultKind][] = []): EncodeJob {
  const parts = frames.map((f) => Buffer.from(f));
  const bytes = new Uint8Array(Buffer.concat(parts));
  const ends = new Uint32Array(parts.length);
  let offset = 0;
  parts.forEach((p, i) => {
    offset += p.length;
    ends[i] = offset;
  });
  return { bytes, ends, session: 4, stateResults: [...snapshotIds.map((id) => [id, 'snapshot'] as [number, StateResultKind]), ...extra] };
}

const state = (id: string, s: string, ts: string) => ({
  entity_id: id,
  state: s,
  attributes: {},
  last_changed: ts,
  last_updated: ts,
  context: { id: 'c', parent_id: null, user_id: null },
});
const changed = (id: string, s: string, ts: string, sub = 3) =>
  JSON.stringify({
    type: 'event',
    event: {
      event_type: 'state_changed',
      data: { entity_id: id, old_state: null, new_state: state(id, s, ts) },
      origin: 'LOCAL',
      time_fired: ts,
      context: { id: 'c' },
    },
    id: sub,
  });

describe('batch encoder', () => {
  const encoder = () => createSchemaBatchEncoder({ schema: 'typed' });
  const text = (lp: Uint8Array) => Buffer.from(lp).toString('utf8');

  it('reads object frames, array frames and one-element arrays, in any key order', () => {
    const idFirst = `{"id":3,"event":${JSON.stringify({ time_fired: '2024-05-01T00:00:03+00:00', data: { new_state: state('sensor.c', '3', '2024-05-01T00:00:03+00:00'), entity_id: 'sensor.c' }, event_type: 'state_changed' })},"type":"event"}`;
    const r = encoder().encode(
      framesJob([
        changed('sensor.a', '1', '2024-05-01T00:00:01+00:00'),
        `[${changed('sensor.b', '2', '2024-05-01T00:00:02.5+00:00')}]`,
        idFirst,
        `[${changed('sensor.d', '4', '2024-05-01T00:00:04+00:00')},${changed('sensor.e', 'on', '2024-05-01T00:00:05+00:00')}]`,
      ]),
    );
    expect(text(r.lp)).toBe(
      [
        'sensor,entity_id=sensor.a value=1 1714521601000000000',
        'sensor,entity_id=sensor.b value=2 1714521602500000000',
        'sensor,entity_id=sensor.c value=3 1714521603000000000',
        'sensor,entity_id=sensor.d value=4 1714521604000000000',
        'sensor,entity_id=sensor.e value=1,state="on" 1714521605000000000',
        '',
      ].join('\n'),
    );
    expect(r).toMatchObject({ lines: 5, events: 5, removed: 0, invalid: 0, control: [], liveHaMaxMs: 1714521605000 });
    expect(r).not.toHaveProperty('maxTimeNs');
  });

  it('counts removals and hands results and pongs back', () => {
    const removal = JSON.stringify({
      type: 'event',
      event: {
        event_type: 'state_changed',
        data: { entity_id: 'sensor.a', old_state: state('sensor.a', '1', '2024-05-01T00:00:01+00:00'), new_state: null },
        time_fired: '2024-05-01T00:00:02+00:00',
      },
      id: 3,
    });
    const r = encoder().encode(
      framesJob([
        `[${removal},{"id":9,"type":"pong"},{"id":10,"type":"result","success":true,"result":null}]`,
        '{"type":"result","id":11,"success":false,"error":{"code":"x","message":"y"}}',
      ]),
    );
    expect(r).toMatchObject({ lines: 0, events: 1, removed: 1, invalid: 0, session: 4, liveHaMaxMs: 1714521602000 });
    expect(r.control).toEqual([
      { id: 9, type: 'pong' },
      { id: 10, type: 'result', success: true, result: null },
      { type: 'result', id: 11, success: false, error: { code: 'x', message: 'y' } },
    ]);
    expect(r.lp.length).toBe(0);
  });

  it('encodes a get_states answer as points and returns only its summary', () => {
    const states = [state('sensor.a', '1', '2024-05-01T00:00:01+00:00'), { bogus: true }, state('light.b', 'on', '2024-05-01T00:00:02+00:00')];
    const r = encoder().encode(
      framesJob(
        [JSON.stringify({ id: 5, type: 'result', success: true, result: states }), JSON.stringify({ id: 6, type: 'result', success: true, result: states })],
        [5],
      ),
    );
    expect(text(r.lp)).toBe('sensor,entity_id=sensor.a value=1 1714521601000000000\nlight,entity_id=light.b value=1,state="on" 1714521602000000000\n');
    expect(r.invalid).toBe(1);
    expect(r.control[0]).toEqual({
      id: 5,
      type: 'result',
      success: true,
      encoded: {
        kind: 'snapshot',
        states: 3,
        points: 2,
        entityIds: ['sensor.a', 'light.b'],
        reannounced: 0,
        deferred: 0,
        haRestarted: false,
        newest: { entityId: 'light.b', haMs: 1714521602000 },
      },
    });
    // A list result that is not a snapshot command goes back whole.
    expect(r.control[1]).toMatchObject({ id: 6, result: states });
  });

  it('encodes history answers (compressed WebSocket and REST) at the same timestamps as live events', () => {
    const history = {
      'sensor.a': [
        { s: '1.5', a: { unit_of_measurement: '°C' }, lu: 1714521601.123456 },
        { s: '2', lu: 1714521602 },
      ],
      'light.b': [{ s: 'on', a: {}, lu: 1714521603.000001, lc: 1714521600 }],
    };
    const rest = [[state('sensor.c', '7', '2024-05-01T00:00:04.5+00:00')], [state('sensor.d', 'x', '2024-05-01T00:00:05+00:00')]];
    const r = encoder().encode(
      framesJob(
        [JSON.stringify({ id: 8, type: 'result', success: true, result: history }), JSON.stringify({ id: -1, type: 'result', success: true, result: rest })],
        [],
        [
          [8, 'history'],
          [-1, 'rest'],
        ],
      ),
    );
    expect(text(r.lp)).toBe(
      [
        'sensor,entity_id=sensor.a,unit=°C value=1.5 1714521601123456000',
        'sensor,entity_id=sensor.a,unit=°C value=2 1714521602000000000', // attributes carried forward
        'light,entity_id=light.b value=1,state="on" 1714521603000001000',
        'sensor,entity_id=sensor.c value=7 1714521604500000000',
        'sensor,entity_id=sensor.d state="x" 1714521605000000000',
        '',
      ].join('\n'),
    );
    expect(r.control).toEqual([
      {
        id: 8,
        type: 'result',
        success: true,
        encoded: { kind: 'history', states: 3, points: 3, entityIds: ['sensor.a', 'light.b'], reannounced: 0, deferred: 0, haRestarted: false, newest: null },
      },
      {
        id: -1,
        type: 'result',
        success: true,
        encoded: { kind: 'rest', states: 2, points: 2, entityIds: ['sensor.c', 'sensor.d'], reannounced: 0, deferred: 0, haRestarted: false, newest: null },
      },
    ]);
  });

  it('counts a message that is neither event nor reply as invalid', () => {
    const r = encoder().encode(framesJob(['{"type":"auth_ok"}', '[5]']));
    expect(r.invalid).toBe(2);
    expect(r.errors).toEqual(['unexpected message type "auth_ok"', 'message is not an object: 5']);
  });

  it('keeps going past a frame that is not JSON and an event it cannot encode', () => {
    const r = encoder().encode(
      framesJob([
        '{"type":"event",',
        changed('nodomain', '1', '2024-05-01T00:00:01+00:00'),
        changed('sensor.ok', '1', 'not a time'),
        changed('sensor.ok', '1', '2024-05-01T00:00:01+00:00'),
      ]),
    );
    expect(r.lines).toBe(1);
    expect(r.invalid).toBe(3);
    expect(r.errors).toHaveLength(3);
    expect(r.errors[0]).toMatch(/^frame of 16 bytes is not JSON/);
    expect(r.errors[1]).toMatch(/no domain/);
    expect(r.errors[2]).toMatch(/last_updated "not a time" is not a valid ISO 8601 time/);
  });

  it('writes other event types as ha_event points at time_fired', () => {
    const msg = JSON.stringify({
      type: 'event',
      event: {
        event_type: 'call_service',
        data: { domain: 'light', service: 'turn_on', service_data: { entity_id: 'light.k' } },
        time_fired: '2024-05-01T00:00:01.25+00:00',
      },
      id: 4,
    });
    const r = encoder().encode(framesJob([msg]));
    expect(text(r.lp)).toBe(
      'ha_event,event_type=call_service data_str="{\\"domain\\":\\"light\\",\\"service\\":\\"turn_on\\",\\"service_data\\":{\\"entity_id\\":\\"light.k\\"}}" 1714521601250000000\n',
    );
  });

  it('spells ha_event points for INFLUX_FLAVOR (backslashes and a non-ASCII letter in the event type)', () => {
    const msg = JSON.stringify({ type: 'event', event: { event_type: 'my\\type ü\\', data: {}, time_fired: '2024-05-01T00:00:01.25+00:00' }, id: 4 });
    const influx = createSchemaBatchEncoder({ schema: 'typed' }).encode(framesJob([msg]));
    expect(text(influx.lp)).toBe('ha_event,event_type=my\\type\\ ü/ data_str="{}" 1714521601250000000\n');
    const vm = createSchemaBatchEncoder({ schema: 'typed', flavor: 'victoriametrics' }).encode(framesJob([msg]));
    expect(text(vm.lp)).toBe('ha_event,event_type=my\\\\type\\ ü\\\\ data_str="{}" 1714521601250000000\n');
  });
});

describe('batch encoder: bytes in, the same bytes out', () => {
  const encoder = () => createSchemaBatchEncoder({ schema: 'typed' });
  const ts = '2024-05-01T00:00:01+00:00';
  const msg = (id: string, s: string, attributes: Record<string, unknown>) =>
    JSON.stringify({ type: 'event', event: { event_type: 'state_changed', data: { entity_id: id, new_state: { ...state(id, s, ts), attributes } } }, id: 2 });
  const direct = (id: string, s: string, attributes: Record<string, unknown>) =>
    createTypedEncoder().encodeState({ entity_id: id, state: s, attributes, last_updated: ts });

  it.each([
    ['ASCII only', 'sensor.a', 'x', { friendly_name: 'Plain' }],
    ['UTF-8 names, states, keys and values', 'sensor.küche_温度', 'Küche 🌡', { schlüssel: 'wärme', friendly_name: 'Wohnzimmer — Sofa', list: ['ä', '€'] }],
    ['UTF-8 beside an ASCII \\u escape', 'sensor.b', 'ü', { ctl: 'a\u0001b' }],
    ['a \\u escape beyond ASCII (forces the UTF-8 path)', 'sensor.c', 'é', { euro: '€', name: 'Müller' }],
  ])('%s', (_name, id, s, attributes) => {
    // JSON.stringify writes non-ASCII raw; the third and fourth cases also carry \u escapes.
    let frame = msg(id, s, attributes);
    if (_name.includes('beyond')) frame = frame.replace('€', '\\u20ac');
    const r = encoder().encode(framesJob([frame]));
    expect(Buffer.from(r.lp).toString('utf8')).toBe(direct(id, s, attributes));
  });

  it('returns replies and snapshot ids as proper text whatever the decoding', () => {
    const snap = JSON.stringify({ id: 5, type: 'result', success: true, result: [state('sensor.küche', '1', ts)] });
    const other = JSON.stringify({ id: 6, type: 'result', success: true, result: { location_name: 'Zuhause in Köln' } });
    const r = encoder().encode(framesJob([snap, other, msg('sensor.ü', 'x', {})], [5]));
    expect(r.control).toEqual([
      {
        id: 5,
        type: 'result',
        success: true,
        encoded: {
          kind: 'snapshot',
          states: 1,
          points: 1,
          entityIds: ['sensor.küche'],
          reannounced: 0,
          deferred: 0,
          haRestarted: false,
          newest: { entityId: 'sensor.küche', haMs: 1714521601000 },
        },
      },
      { id: 6, type: 'result', success: true, result: { location_name: 'Zuhause in Köln' } },
    ]);
  });

  it('never cuts a long UTF-8 string inside a character', () => {
    const long = `x${'ä'.repeat(20_000)}`;
    const r = encoder().encode(framesJob([msg('sensor.long', 'x', { text: long })]));
    const line = Buffer.from(r.lp).toString('utf8');
    expect(line).not.toContain('\ufffd');
    expect(line).toMatch(/text_str="x(ä+)"/);
  });
});

describe('batch encoder: strings from outside the frame on the Latin-1 path', () => {
  const ts = '2024-05-01T00:00:01+00:00';
  const frame = (id: string, s: string, attributes: Record<string, unknown>) =>
    JSON.stringify([
      {
        type: 'event',
        event: { event_type: 'state_changed', data: { entity_id: id, new_state: { entity_id: id, state: s, attributes, last_updated: ts } }, time_fired: ts },
        id: 2,
      },
    ]);

  it('area and device names, overrides, filters and the context keep their UTF-8 whatever the frame', () => {
    const registry = createSharedRegistry(1 << 16);
    publishPlacements(registry, { 'sensor.küche': { area: 'Küche', device: 'Thermomètre' }, 'sensor.plain': { area: 'Salle à manger' } });
    const enc = createSchemaBatchEncoder({
      schema: 'typed',
      registry,
      filters: {
        exclude: { entities: ['sensor.ausgeschloßen'] },
        component_config: { 'sensor.küche': { override_measurement: 'Temperatür' } },
        ignore_attributes: ['größe'],
      },
    });
    const context = ',outdoor_condition_str="leichter Regen — ü"';
    for (const attrs of [{ friendly_name: 'Küche' }, { friendly_name: 'plain' }]) {
      // Once with a non-ASCII frame (Latin-1 path), once with an ASCII one (UTF-8 path).
      const job = (frames: string[]) => ({ ...framesJob(frames), context });
      const r = enc.encode(
        job([frame('sensor.küche', '21', { ...attrs, größe: 3 }), frame('sensor.plain', '1', attrs), frame('sensor.ausgeschloßen', '1', attrs)]),
      );
      const text = Buffer.from(r.lp).toString('utf8');
      const name = attrs.friendly_name;
      expect(text).toBe(
        [
          `Temperatür,area=Küche,device=Thermomètre,entity_id=sensor.küche value=21,friendly_name_str="${name}"${context} 1714521601000000000`,
          `sensor,area=Salle\\ à\\ manger,entity_id=sensor.plain value=1,friendly_name_str="${name}"${context} 1714521601000000000`,
          '',
        ].join('\n'),
      );
      expect(r.skipped).toBe(1);
    }
  });
});

describe('batch encoder: restart de-duplication', () => {
  const t = (s: number) => `2024-05-01T00:00:${String(s).padStart(2, '0')}+00:00`;
  const ns = (s: number) => String(BigInt(Date.parse(t(s))) * 1_000_000n);
  const event = (id: string, s: string, at: number, oldState: unknown, sub = 3) =>
    JSON.stringify({
      type: 'event',
      event: { event_type: 'state_changed', data: { entity_id: id, old_state: oldState, new_state: state(id, s, t(at)) }, time_fired: t(at) },
      id: sub,
    });
  const lines = (lp: Uint8Array) => Buffer.from(lp).toString('utf8').split('\n').filter(Boolean);
  /**
   * Two encoders (two worker threads) and the main thread's judge, which sees their results in
   * job order. `encode` returns the result as the writer gets it: lp and lines after filtering,
   * `reannounced` the re-announcements left out.
   */
  const setup = () => {
    const written: string[] = [];
    let skipped = 0;
    const watermark = new Watermark();
    const dedup = new RestartDedup({
      log: pino({ level: 'silent' }),
      metrics: { reannouncementsSkipped: { inc: (n = 1) => (skipped += n) }, seenEntities: { collect: () => {} } },
      write: (lp, _n, hold) => {
        written.push(...lines(lp));
        hold.release();
      },
      slots: 1024,
    });
    const judged = (enc: ReturnType<typeof createSchemaBatchEncoder>) => ({
      encode: (job: EncodeJob) => {
        const before = skipped;
        const r = enc.encode(job);
        const hold = watermark.hold();
        const out = dedup.filter(r, hold);
        hold.release();
        return { ...r, ...out, reannounced: skipped - before };
      },
    });
    const one = judged(createSchemaBatchEncoder({ schema: 'typed' }, { dedup: true }));
    const two = judged(createSchemaBatchEncoder({ schema: 'typed' }, { dedup: true }));
    return { one, two, dedup, written, watermark };
  };

  it('leaves out live re-announcements of unchanged states, and writes those that changed', () => {
    const { one, two } = setup();
    one.encode({
      ...framesJob([event('sensor.a', '1', 1, state('sensor.a', '0', t(0))), event('sensor.b', '5', 1, state('sensor.b', '4', t(0)))]),
      session: 3,
    }); // an earlier connection
    const r = two.encode(framesJob([event('sensor.a', '1', 30, null), event('sensor.b', '6', 30, null), event('sensor.c', '7', 30, null)]));
    expect(lines(r.lp)).toEqual([`sensor,entity_id=sensor.b value=6 ${ns(30)}`, `sensor,entity_id=sensor.c value=7 ${ns(30)}`]);
    expect(r).toMatchObject({ lines: 2, events: 3, reannounced: 1, skipped: 0 });
  });

  it("hashes each line's bytes before the context: the same as the schema's line alone, on every path", () => {
    const enc = createSchemaBatchEncoder({ schema: 'typed' }, { dedup: true });
    const alone = createTypedEncoder();
    const wide = { ...state('sensor.küche', 'wärmer ☀', t(1)), attributes: { friendly_name: 'Küche' } };
    const frames = [
      event('sensor.a', '21', 1, null), // ASCII: the UTF-8 path
      JSON.stringify({
        type: 'event',
        event: { event_type: 'state_changed', data: { entity_id: wide.entity_id, old_state: null, new_state: wide }, time_fired: t(1) },
        id: 3,
      }), // Latin-1 path
      event('sensor.b', 'x', 1, null).replace('"state":"x"', '"state":"\\u00e9"'), // an escape beyond ASCII: the UTF-8 path
    ];
    for (const context of ['', ',outdoor_condition_str="leichter Regen — ü"']) {
      for (const frame of frames) {
        const r = enc.encode({ ...framesJob([frame]), context });
        const records = r.dedup as NonNullable<typeof r.dedup>;
        expect(records.count).toBe(1);
        const parsed = (JSON.parse(frame) as { event: { data: { new_state: HaState } } }).event.data.new_state;
        const point = pointOf(parsed.entity_id, alone.encodeState(parsed) as string);
        expect([...records.ints.slice(0, 4)]).toEqual([point.keyHi, point.keyLo, point.hashHi, point.hashLo]);
      }
    }
  });

  it('writes them all when it is off', () => {
    const enc = createSchemaBatchEncoder({ schema: 'typed' });
    enc.encode(framesJob([event('sensor.a', '1', 1, state('sensor.a', '0', t(0)))]));
    const r = enc.encode(framesJob([event('sensor.a', '1', 30, null)]));
    expect(r).toMatchObject({ lines: 1 });
    expect(r.dedup).toBeUndefined();
  });

  it('a snapshot taken after HA started: held until the backfill, then judged in time order', () => {
    const { one, two, dedup, written, watermark } = setup();
    dedup.gap.begin(4);
    one.encode({ ...framesJob(['a', 'b', 'c', 'd', 'e'].map((x, i) => event(`sensor.${x}`, String(i), 1, state(`sensor.${x}`, '-', t(0))))), session: 3 }); // an earlier connection
    // HA restarted at 30 s: a re-announced unchanged; b changed to 5 at 20 s (before HA stopped)
    // and was re-announced; c went 2 → 1 → 2 while we were away; d came back with a new value;
    // e is recorder-excluded (no history) and re-announced unchanged.
    const snapshot = JSON.stringify({
      id: 8,
      type: 'result',
      success: true,
      result: [
        state('sensor.a', '0', t(30)),
        state('sensor.b', '5', t(30)),
        state('sensor.c', '2', t(30)),
        state('sensor.d', '9', t(30)),
        state('sensor.e', '4', t(30)),
      ],
    });
    const r = two.encode(framesJob([snapshot], [8]));
    expect(r.lines).toBe(0);
    expect(r.control).toEqual([
      {
        id: 8,
        type: 'result',
        success: true,
        encoded: {
          kind: 'snapshot',
          states: 5,
          points: 0,
          entityIds: ['sensor.a', 'sensor.b', 'sensor.c', 'sensor.d', 'sensor.e'],
          reannounced: 0,
          deferred: 5,
          haRestarted: true,
          newest: { entityId: 'sensor.a', haMs: 1714521630000 },
        },
      },
    ]);
    expect(watermark.held).toBe(1); // the waiting states keep a share of their frames' hold
    const lu = (s: number) => Date.parse(t(s)) / 1000;
    const history = JSON.stringify({
      id: 9,
      type: 'result',
      success: true,
      result: {
        'sensor.a': [{ s: '0', a: {}, lu: lu(30) }],
        'sensor.b': [
          { s: '5', a: {}, lu: lu(20) },
          { s: '5', a: {}, lu: lu(30) },
        ],
        'sensor.c': [
          { s: '1', a: {}, lu: lu(10) },
          { s: '2', a: {}, lu: lu(30) },
        ],
        'sensor.d': [{ s: '9', a: {}, lu: lu(30) }],
      },
    });
    // The connection's history rows: HA restarted (its snapshot said so).
    const h = one.encode(framesJob([history], [], [[9, 'history']]));
    expect(lines(h.lp)).toEqual([
      `sensor,entity_id=sensor.b value=5 ${ns(20)}`,
      `sensor,entity_id=sensor.c value=1 ${ns(10)}`,
      `sensor,entity_id=sensor.c value=2 ${ns(30)}`,
      `sensor,entity_id=sensor.d value=9 ${ns(30)}`,
    ]);
    expect(h.reannounced).toBe(2);
    expect(h.control[0]).toMatchObject({ encoded: { kind: 'history', states: 6, points: 4, reannounced: 2 } });
    // The backfill's next request starts a minute early: the same rows are judged the same way.
    const again = one.encode(framesJob([history.replace('"id":9', '"id":10')], [], [[10, 'history']]));
    expect(lines(again.lp)).toEqual(lines(h.lp));
    expect(again.reannounced).toBe(0);
    // The backfill has ended: the held states are judged. a and b were left out by the backfill,
    // c and d written by it (written again: the same points), e has no history and repeats its
    // last point: a re-announcement.
    dedup.gap.settle(4, true);
    expect(written).toEqual([`sensor,entity_id=sensor.c value=2 ${ns(30)}`, `sensor,entity_id=sensor.d value=9 ${ns(30)}`]);
    expect(watermark.held).toBe(0);
  });

  it('a live re-announcement while the backfill is pending waits for it: after a missed change it is a change', () => {
    const { one, two, dedup, written } = setup();
    one.encode({ ...framesJob([event('sensor.door', 'closed', 1, state('sensor.door', 'open', t(0)))]), session: 3 }); // an earlier connection
    dedup.gap.begin(4);
    // While we were away the door went unavailable; HA restarted and the door's integration
    // loaded after we were back: its re-announcement comes live, before the backfill ends.
    const r = two.encode(framesJob([event('sensor.door', 'closed', 40, null)]));
    expect(r.lines).toBe(0);
    const history = JSON.stringify({
      id: 9,
      type: 'result',
      success: true,
      result: { 'sensor.door': [{ s: 'unavailable', a: {}, lu: Date.parse(t(20)) / 1000 }] },
    });
    expect(lines(one.encode(framesJob([history], [], [[9, 'history']])).lp)).toEqual([`sensor,entity_id=sensor.door state="unavailable" ${ns(20)}`]);
    dedup.gap.settle(4, true);
    expect(written).toEqual([`sensor,entity_id=sensor.door value=0,state="closed" ${ns(40)}`]);
  });

  it('held states are all written when the backfill did not complete', () => {
    const { one, two, dedup, written } = setup();
    one.encode({
      ...framesJob([event('sensor.a', '1', 1, state('sensor.a', '0', t(0))), event('sensor.b', '1', 1, state('sensor.b', '0', t(0)))]),
      session: 3,
    }); // an earlier connection
    dedup.gap.begin(4);
    const snapshot = JSON.stringify({ id: 8, type: 'result', success: true, result: [state('sensor.a', '1', t(30)), state('sensor.b', '1', t(30))] });
    expect(two.encode(framesJob([snapshot], [8])).lines).toBe(0);
    dedup.gap.settle(4, false);
    expect(written).toEqual([`sensor,entity_id=sensor.a value=1 ${ns(30)}`, `sensor,entity_id=sensor.b value=1 ${ns(30)}`]);
  });

  it('a history row whose last_changed differs from last_updated is never a re-announcement', () => {
    const { one, two } = setup();
    one.encode({
      ...framesJob([event('sensor.a', '1', 1, state('sensor.a', '0', t(0))), event('sensor.b', '1', 1, state('sensor.b', '0', t(0)))]),
      session: 3,
    }); // an earlier connection
    // HA restarted (b re-created at 30 s: the snapshot shows it); a's row at 20 s repeats its
    // state with an older last_changed: an attribute-free force of last_updated, not a re-creation.
    const snapshot = JSON.stringify({ id: 8, type: 'result', success: true, result: [state('sensor.b', '1', t(30))] });
    expect(two.encode(framesJob([snapshot], [8])).control[0]).toMatchObject({ encoded: { haRestarted: true } });
    const history = JSON.stringify({
      id: 9,
      type: 'result',
      success: true,
      result: { 'sensor.a': [{ s: '1', a: {}, lu: Date.parse(t(20)) / 1000, lc: Date.parse(t(1)) / 1000 }] },
    });
    const h = one.encode(framesJob([history], [], [[9, 'history']]));
    expect(lines(h.lp)).toEqual([`sensor,entity_id=sensor.a value=1 ${ns(20)}`]);
    // The same row created anew (no lc) would have been a re-announcement.
    const anew = JSON.stringify({ id: 10, type: 'result', success: true, result: { 'sensor.a': [{ s: '1', a: {}, lu: Date.parse(t(25)) / 1000 }] } });
    expect(one.encode(framesJob([anew], [], [[10, 'history']])).reannounced).toBe(1);
  });

  it('points of the same connection say nothing of an HA restart (a snapshot ahead of its events)', () => {
    const { one, two } = setup();
    one.encode(framesJob([event('sensor.a', '1', 1, state('sensor.a', '0', t(0)))]));
    const snapshot = JSON.stringify({ id: 8, type: 'result', success: true, result: [state('sensor.a', '1', t(30))] });
    const r = two.encode(framesJob([snapshot], [8]));
    expect(r.control[0]).toMatchObject({ encoded: { points: 1, deferred: 0, haRestarted: false } });
  });

  it('a snapshot after a long, busy gap (most entities repeated, one kept its time) is no HA restart', () => {
    const { one, two } = setup();
    const ids = Array.from({ length: 10 }, (_, i) => `sensor.e${i}`);
    one.encode({ ...framesJob(ids.map((id) => event(id, '1', 1, state(id, '0', t(0))))), session: 3 }); // an earlier connection
    const states = ids.map((id, i) => (i === 0 ? state(id, '1', t(1)) : i < 7 ? state(id, '1', t(20)) : state(id, '2', t(20))));
    const r = two.encode(framesJob([JSON.stringify({ id: 8, type: 'result', success: true, result: states })], [8]));
    expect(r.control[0]).toMatchObject({ encoded: { points: 10, reannounced: 0, deferred: 0, haRestarted: false } });
  });

  it('a snapshot after a mere reconnect: no HA restart told, and a repeat in it (force_update) is written, by the backfill too', () => {
    const { one, two } = setup();
    one.encode({ ...framesJob(['a', 'b', 'c'].map((x) => event(`sensor.${x}`, '1', 1, state(`sensor.${x}`, '0', t(0))))), session: 3 }); // an earlier connection
    // b repeated its value at 20 s (force_update) while we were away.
    const snapshot = JSON.stringify({
      id: 8,
      type: 'result',
      success: true,
      result: [state('sensor.a', '1', t(1)), state('sensor.b', '1', t(20)), state('sensor.c', '1', t(1))],
    });
    const r = two.encode(framesJob([snapshot], [8]));
    expect(r.control[0]).toMatchObject({ encoded: { points: 3, reannounced: 0, deferred: 0, haRestarted: false } });
    const history = JSON.stringify({ id: 9, type: 'result', success: true, result: { 'sensor.b': [{ s: '1', a: {}, lu: Date.parse(t(20)) / 1000 }] } });
    const h = one.encode(framesJob([history], [], [[9, 'history']]));
    expect(lines(h.lp)).toEqual([`sensor,entity_id=sensor.b value=1 ${ns(20)}`]);
  });
});

describe('batch encoder: what the main thread is told', () => {
  const t = (s: number) => `2024-05-01T00:00:${String(s).padStart(2, '0')}+00:00`;
  const ms = (s: number) => Date.parse(t(s));
  const live = (id: string, at: number, fired = at) =>
    JSON.stringify({
      type: 'event',
      event: { event_type: 'state_changed', data: { entity_id: id, old_state: null, new_state: state(id, '1', t(at)) }, time_fired: t(fired) },
      id: 3,
    });
  const other = (type: string, at: number) =>
    JSON.stringify({ type: 'event', event: { event_type: type, data: { action: 'update' }, time_fired: t(at) }, id: 3 });

  it('liveHaMaxMs (new_state.last_updated, else time_fired) and the first five live state changes', () => {
    const enc = createSchemaBatchEncoder({ schema: 'typed' });
    const r = enc.encode(
      framesJob([
        live('sensor.a', 5, 6),
        live('sensor.b', 3),
        other('call_service', 9),
        live('sensor.c', 4),
        live('sensor.d', 1),
        live('sensor.e', 2),
        live('sensor.f', 7),
      ]),
    );
    expect(r.liveHaMaxMs).toBe(ms(9));
    expect(r.liveFirst).toEqual([
      { entityId: 'sensor.a', haMs: ms(5) },
      { entityId: 'sensor.b', haMs: ms(3) },
      { entityId: 'sensor.c', haMs: ms(4) },
      { entityId: 'sensor.d', haMs: ms(1) },
      { entityId: 'sensor.e', haMs: ms(2) },
    ]);
    // Snapshots and history are no live events.
    const snap = enc.encode(framesJob([JSON.stringify({ id: 5, type: 'result', success: true, result: [state('sensor.a', '1', t(50))] })], [5]));
    expect([snap.liveHaMaxMs, snap.liveFirst]).toEqual([-1, []]);
  });

  it('newEntityIds: each entity once per worker thread, whichever path brought it', () => {
    const enc = createSchemaBatchEncoder({ schema: 'typed' });
    expect(enc.encode(framesJob([live('sensor.a', 1), live('sensor.ü', 1), live('sensor.a', 2)])).newEntityIds).toEqual(['sensor.a', 'sensor.ü']);
    const snapshot = JSON.stringify({ id: 5, type: 'result', success: true, result: [state('sensor.a', '1', t(3)), state('sensor.b', 'unknown', t(3))] });
    const history = JSON.stringify({ id: 6, type: 'result', success: true, result: { 'sensor.c': [{ s: '1', lu: 1714521601 }] } });
    const rest = JSON.stringify({ id: 7, type: 'result', success: true, result: [[state('sensor.d', '1', t(4))]] });
    const r = enc.encode(
      framesJob(
        [snapshot, history, rest, live('sensor.ü', 5)],
        [5],
        [
          [6, 'history'],
          [7, 'rest'],
        ],
      ),
    );
    expect(r.newEntityIds).toEqual(['sensor.b', 'sensor.c', 'sensor.d']);
    expect(createSchemaBatchEncoder({ schema: 'typed' }).encode(framesJob([live('sensor.a', 1)])).newEntityIds).toEqual(['sensor.a']);
    // A \u escape beyond ASCII takes the UTF-8 path, raw UTF-8 the Latin-1 path: one report.
    const other = createSchemaBatchEncoder({ schema: 'typed' });
    expect(other.encode(framesJob([live('sensor.ö', 1).replaceAll('ö', '\\u00f6')])).newEntityIds).toEqual(['sensor.ö']);
    expect(other.encode(framesJob([live('sensor.ö', 2), live('sensor.ä', 2)])).newEntityIds).toEqual(['sensor.ä']);
  });

  it('registry updates are observed whatever is subscribed; only the silent ones are not written (defect 5)', () => {
    const enc = createSchemaBatchEncoder({ schema: 'typed' });
    const job = {
      ...framesJob([other('area_registry_updated', 1), other('device_registry_updated', 2), other('call_service', 3)]),
      observeEventTypes: ['area_registry_updated', 'device_registry_updated', 'entity_registry_updated'],
      silentEventTypes: ['device_registry_updated', 'entity_registry_updated'],
    };
    const r = enc.encode(job);
    expect(r.observed).toEqual([
      { id: 'event:area_registry_updated', state: '', timeNs: '' },
      { id: 'event:device_registry_updated', state: '', timeNs: '' },
    ]);
    // HA_EVENT_TYPES=* (or the user's own subscription): area updates are written as well.
    expect(
      Buffer.from(r.lp)
        .toString()
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(' ')[0]),
    ).toEqual(['ha_event,event_type=area_registry_updated', 'ha_event,event_type=call_service']);
    expect(r).toMatchObject({ events: 3, lines: 2, liveHaMaxMs: ms(3) });
  });
});

describe('batch encoder: one state, one line, whichever path brought it', () => {
  const lu = '2024-05-01T00:00:01.123456+00:00';
  const fired = '2024-05-01T00:00:01.123471+00:00'; // HA fires the event µs after last_updated
  const luSeconds = 1714521601.123456;
  const luNs = '1714521601123456000';
  const attributes = { friendly_name: 'Plug', info: { zeta: 1, alpha: { b: [{ y: 2, x: 1 }], a: 'ä' }, '10': true, '2': null } };
  const sorted = { friendly_name: 'Plug', info: { '10': true, '2': null, alpha: { a: 'ä', b: [{ x: 1, y: 2 }] }, zeta: 1 } };
  const full = (attrs: Record<string, unknown>) => ({ entity_id: 'sensor.plug', state: '3.5', attributes: attrs, last_changed: lu, last_updated: lu });
  const paths = (): string[] => {
    const liveEvent = JSON.stringify({
      type: 'event',
      event: { event_type: 'state_changed', data: { entity_id: 'sensor.plug', old_state: full({}), new_state: full(attributes) }, time_fired: fired },
      id: 3,
    });
    const snapshot = JSON.stringify({ id: 5, type: 'result', success: true, result: [full(attributes)] });
    const wsHistory = JSON.stringify({ id: 6, type: 'result', success: true, result: { 'sensor.plug': [{ s: '3.5', a: sorted, lu: luSeconds }] } });
    const restHistory = JSON.stringify({ id: 7, type: 'result', success: true, result: [[full(sorted)]] });
    return [liveEvent, snapshot, wsHistory, restHistory];
  };
  const linesOf = (schema: Parameters<typeof createSchemaBatchEncoder>[0], frames: string[]) =>
    Buffer.from(
      createSchemaBatchEncoder(schema).encode(
        framesJob(
          frames,
          [5],
          [
            [6, 'history'],
            [7, 'rest'],
          ],
        ),
      ).lp,
    )
      .toString()
      .split('\n')
      .filter(Boolean);

  it.each([
    ['typed', { schema: 'typed' } as const],
    ['ha', { schema: 'ha', ha: DEFAULT_HA_SCHEMA } as const],
  ])('SCHEMA=%s: live, snapshot, WebSocket and REST history give the same line (defects 11, 12)', (_name, schema) => {
    const lines = linesOf(schema, paths());
    expect(lines).toHaveLength(4);
    expect(new Set(lines).size).toBe(1);
    expect(lines[0]?.endsWith(` ${luNs}`)).toBe(true);
    // Non-ASCII frames take the Latin-1 path: the same line there.
    expect(linesOf(schema, [...paths(), JSON.stringify({ type: 'pong', id: 9, note: 'ü' })])).toEqual(lines);
  });

  it('object keys sort by code point, at every depth (as Python sorts str keys)', () => {
    const line = linesOf({ schema: 'typed' }, [paths()[0] as string])[0] as string;
    expect(line).toContain(`info_str="{\\"10\\":true,\\"2\\":null,\\"alpha\\":{\\"a\\":\\"ä\\",\\"b\\":[{\\"x\\":1,\\"y\\":2}]},\\"zeta\\":1}"`);
    const ha = linesOf({ schema: 'ha', ha: DEFAULT_HA_SCHEMA }, [paths()[0] as string])[0] as string;
    expect(ha).toContain(`info_str="{'10': True, '2': None, 'alpha': {'a': 'ä', 'b': [{'x': 1, 'y': 2}]}, 'zeta': 1}"`);
    // Beyond the BMP (a surrogate pair) sorts after U+FF01, as its code point does.
    expect(sortedJson({ '\u{1F600}': 1, '\uFF01': 2, b: 3, a: [{ d: 1, c: 2 }] })).toBe('{"a":[{"c":2,"d":1}],"b":3,"\uFF01":2,"\u{1F600}":1}');
  });
});
