import { describe, expect, it } from 'vitest';
import type { EncodeJob, StateResultKind } from '../../workers/encode-batch.js';
import { createSchemaBatchEncoder } from '../../workers/schema.js';
import { pino } from 'pino';
import { HeldBackLines } from '../../src/pipeline/held-back.js';
import { createSeenStates, SeenStates } from '../../workers/seen-states.js';
import { createSharedRegistry, publishPlacements } from '../../workers/shared-registry.js';
import { createTypedEncoder } from '../../workers/typed-schema.js';

function framesJob(frames: string[], snapshotIds: number[] = [], extra: [number, StateResultKind][] = []): EncodeJob {
  const parts = frames.map((f) => Buffer.from(f));
  const bytes = new Uint8Array(Buffer.concat(parts));
  const ends = new Uint32Array(parts.length);
  let offset = 0;
  parts.forEach((p, i) => {
    offset += p.length;
    ends[i] = offset;
  });
  return { bytes, ends, session: 4, token: 77, stateResults: [...snapshotIds.map((id) => [id, 'snapshot'] as [number, StateResultKind]), ...extra] };
}

const state = (id: string, s: string, ts: string) => ({ entity_id: id, state: s, attributes: {}, last_changed: ts, last_updated: ts, context: { id: 'c', parent_id: null, user_id: null } });
const changed = (id: string, s: string, ts: string, sub = 3) =>
  JSON.stringify({ type: 'event', event: { event_type: 'state_changed', data: { entity_id: id, old_state: null, new_state: state(id, s, ts) }, origin: 'LOCAL', time_fired: ts, context: { id: 'c' } }, id: sub });

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
    expect(r).toMatchObject({ lines: 5, events: 5, removed: 0, invalid: 0, control: [], maxTimeNs: '1714521605000000000' });
  });

  it('counts removals and hands results and pongs back', () => {
    const removal = JSON.stringify({ type: 'event', event: { event_type: 'state_changed', data: { entity_id: 'sensor.a', old_state: state('sensor.a', '1', '2024-05-01T00:00:01+00:00'), new_state: null }, time_fired: '2024-05-01T00:00:02+00:00' }, id: 3 });
    const r = encoder().encode(framesJob([`[${removal},{"id":9,"type":"pong"},{"id":10,"type":"result","success":true,"result":null}]`, '{"type":"result","id":11,"success":false,"error":{"code":"x","message":"y"}}']));
    expect(r).toMatchObject({ lines: 0, events: 1, removed: 1, invalid: 0, session: 4, token: 77 });
    expect(r.control).toEqual([
      { id: 9, type: 'pong' },
      { id: 10, type: 'result', success: true, result: null },
      { type: 'result', id: 11, success: false, error: { code: 'x', message: 'y' } },
    ]);
    expect(r.lp.length).toBe(0);
  });

  it('encodes a get_states answer as points and returns only its summary', () => {
    const states = [state('sensor.a', '1', '2024-05-01T00:00:01+00:00'), { bogus: true }, state('light.b', 'on', '2024-05-01T00:00:02+00:00')];
    const r = encoder().encode(framesJob([JSON.stringify({ id: 5, type: 'result', success: true, result: states }), JSON.stringify({ id: 6, type: 'result', success: true, result: states })], [5]));
    expect(text(r.lp)).toBe('sensor,entity_id=sensor.a value=1 1714521601000000000\nlight,entity_id=light.b value=1,state="on" 1714521602000000000\n');
    expect(r.invalid).toBe(1);
    expect(r.control[0]).toEqual({ id: 5, type: 'result', success: true, encoded: { kind: 'snapshot', states: 3, points: 2, entityIds: ['sensor.a', 'light.b'], reannounced: 0, deferred: 0, haRestarted: false, newest: expect.any(Object) } });
    // A list result that is not a snapshot command goes back whole.
    expect(r.control[1]).toMatchObject({ id: 6, result: states });
  });

  it('encodes history answers (compressed WebSocket and REST) at the same timestamps as live events', () => {
    const history = { 'sensor.a': [{ s: '1.5', a: { unit_of_measurement: '°C' }, lu: 1714521601.123456 }, { s: '2', lu: 1714521602 }], 'light.b': [{ s: 'on', a: {}, lu: 1714521603.000001, lc: 1714521600 }] };
    const rest = [[state('sensor.c', '7', '2024-05-01T00:00:04.5+00:00')], [state('sensor.d', 'x', '2024-05-01T00:00:05+00:00')]];
    const r = encoder().encode(
      framesJob([JSON.stringify({ id: 8, type: 'result', success: true, result: history }), JSON.stringify({ id: -1, type: 'result', success: true, result: rest })], [], [
        [8, 'history'],
        [-1, 'rest'],
      ]),
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
      { id: 8, type: 'result', success: true, encoded: { kind: 'history', states: 3, points: 3, entityIds: ['sensor.a', 'light.b'], reannounced: 0, deferred: 0, haRestarted: false, newest: null } },
      { id: -1, type: 'result', success: true, encoded: { kind: 'rest', states: 2, points: 2, entityIds: ['sensor.c', 'sensor.d'], reannounced: 0, deferred: 0, haRestarted: false, newest: null } },
    ]);
  });

  it('counts a message that is neither event nor reply as invalid', () => {
    const r = encoder().encode(framesJob(['{"type":"auth_ok"}', '[5]']));
    expect(r.invalid).toBe(2);
    expect(r.errors).toEqual(['unexpected message type "auth_ok"', 'message is not an object: 5']);
  });

  it('keeps going past a frame that is not JSON and an event it cannot encode', () => {
    const r = encoder().encode(framesJob(['{"type":"event",', changed('nodomain', '1', '2024-05-01T00:00:01+00:00'), changed('sensor.ok', '1', 'not a time'), changed('sensor.ok', '1', '2024-05-01T00:00:01+00:00')]));
    expect(r.lines).toBe(1);
    expect(r.invalid).toBe(3);
    expect(r.errors).toHaveLength(3);
    expect(r.errors[0]).toMatch(/^frame of 16 bytes is not JSON/);
    expect(r.errors[1]).toMatch(/no domain/);
    expect(r.errors[2]).toMatch(/bad last_updated "not a time"/);
  });

  it('writes other event types as ha_event points at time_fired', () => {
    const msg = JSON.stringify({ type: 'event', event: { event_type: 'call_service', data: { domain: 'light', service: 'turn_on', service_data: { entity_id: 'light.k' } }, time_fired: '2024-05-01T00:00:01.25+00:00' }, id: 4 });
    const r = encoder().encode(framesJob([msg]));
    expect(text(r.lp)).toBe('ha_event,event_type=call_service data_str="{\\"domain\\":\\"light\\",\\"service\\":\\"turn_on\\",\\"service_data\\":{\\"entity_id\\":\\"light.k\\"}}" 1714521601250000000\n');
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
    ['UTF-8 names, states, keys and values', 'sensor.küche_温度', 'Küche 🌡', { 'schlüssel': 'wärme', friendly_name: 'Wohnzimmer — Sofa', list: ['ä', '€'] }],
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
      { id: 5, type: 'result', success: true, encoded: { kind: 'snapshot', states: 1, points: 1, entityIds: ['sensor.küche'], reannounced: 0, deferred: 0, haRestarted: false, newest: expect.any(Object) } },
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
    JSON.stringify([{ type: 'event', event: { event_type: 'state_changed', data: { entity_id: id, new_state: { entity_id: id, state: s, attributes, last_updated: ts } }, time_fired: ts }, id: 2 }]);

  it('area and device names, overrides, filters and the context keep their UTF-8 whatever the frame', () => {
    const registry = createSharedRegistry(1 << 16);
    publishPlacements(registry, { 'sensor.küche': { area: 'Küche', device: 'Thermomètre' }, 'sensor.plain': { area: 'Salle à manger' } });
    const enc = createSchemaBatchEncoder({
      schema: 'typed',
      registry,
      filters: { exclude: { entities: ['sensor.ausgeschloßen'] }, component_config: { 'sensor.küche': { override_measurement: 'Temperatür' } }, ignore_attributes: ['größe'] },
    });
    const context = ',outdoor_condition_str="leichter Regen — ü"';
    for (const attrs of [{ friendly_name: 'Küche' }, { friendly_name: 'plain' }]) {
      // Once with a non-ASCII frame (Latin-1 path), once with an ASCII one (UTF-8 path).
      const job = (frames: string[]) => ({ ...framesJob(frames), context });
      const r = enc.encode(job([frame('sensor.küche', '21', { ...attrs, größe: 3 }), frame('sensor.plain', '1', attrs), frame('sensor.ausgeschloßen', '1', attrs)]));
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
    JSON.stringify({ type: 'event', event: { event_type: 'state_changed', data: { entity_id: id, old_state: oldState, new_state: state(id, s, t(at)) }, time_fired: t(at) }, id: sub });
  const lines = (lp: Uint8Array) => Buffer.from(lp).toString('utf8').split('\n').filter(Boolean);
  const heldBackLines = (seen: SharedArrayBuffer, written: string[]) =>
    new HeldBackLines({ seen: new SeenStates(seen), write: (lp) => written.push(...lines(lp)), hold: () => {}, release: () => {}, onSkipped: () => {}, log: pino({ level: 'silent' }) });
  const setup = () => {
    const seen = createSeenStates(1024);
    // Two encoders on one table: two worker threads.
    return [createSchemaBatchEncoder({ schema: 'typed' }, seen), createSchemaBatchEncoder({ schema: 'typed' }, seen), seen] as const;
  };

  it('leaves out live re-announcements of unchanged states, and writes those that changed', () => {
    const [one, two] = setup();
    one.encode({ ...framesJob([event('sensor.a', '1', 1, state('sensor.a', '0', t(0))), event('sensor.b', '5', 1, state('sensor.b', '4', t(0)))]), session: 3 }); // an earlier connection
    const r = two.encode(framesJob([event('sensor.a', '1', 30, null), event('sensor.b', '6', 30, null), event('sensor.c', '7', 30, null)]));
    expect(lines(r.lp)).toEqual([`sensor,entity_id=sensor.b value=6 ${ns(30)}`, `sensor,entity_id=sensor.c value=7 ${ns(30)}`]);
    expect(r).toMatchObject({ lines: 2, events: 3, reannounced: 1, skipped: 0 });
  });

  it('writes them all when it is off', () => {
    const enc = createSchemaBatchEncoder({ schema: 'typed' });
    enc.encode(framesJob([event('sensor.a', '1', 1, state('sensor.a', '0', t(0)))]));
    const r = enc.encode(framesJob([event('sensor.a', '1', 30, null)]));
    expect(r).toMatchObject({ lines: 1, reannounced: 0 });
  });

  it('a snapshot taken after HA started: held until the backfill, then judged in time order', () => {
    const [one, two, seen] = setup();
    const written: string[] = [];
    const held = heldBackLines(seen, written);
    held.begin(4);
    one.encode({ ...framesJob(['a', 'b', 'c', 'd', 'e'].map((x, i) => event(`sensor.${x}`, String(i), 1, state(`sensor.${x}`, '-', t(0))))), session: 3 }); // an earlier connection
    // HA restarted at 30 s: a re-announced unchanged; b changed to 5 at 20 s (before HA stopped)
    // and was re-announced; c went 2 → 1 → 2 while we were away; d came back with a new value;
    // e is recorder-excluded (no history) and re-announced unchanged.
    const snapshot = JSON.stringify({ id: 8, type: 'result', success: true, result: [state('sensor.a', '0', t(30)), state('sensor.b', '5', t(30)), state('sensor.c', '2', t(30)), state('sensor.d', '9', t(30)), state('sensor.e', '4', t(30))] });
    const r = two.encode({ ...framesJob([snapshot], [8]), backfillPending: true });
    expect(r.lines).toBe(0);
    expect(r.control).toEqual([{ id: 8, type: 'result', success: true, encoded: { kind: 'snapshot', states: 5, points: 0, entityIds: ['sensor.a', 'sensor.b', 'sensor.c', 'sensor.d', 'sensor.e'], reannounced: 0, deferred: 5, haRestarted: true, newest: expect.any(Object) } }]);
    held.add(4, r.heldBack, 77);
    const lu = (s: number) => Date.parse(t(s)) / 1000;
    const history = JSON.stringify({ id: 9, type: 'result', success: true, result: {
      'sensor.a': [{ s: '0', a: {}, lu: lu(30) }],
      'sensor.b': [{ s: '5', a: {}, lu: lu(20) }, { s: '5', a: {}, lu: lu(30) }],
      'sensor.c': [{ s: '1', a: {}, lu: lu(10) }, { s: '2', a: {}, lu: lu(30) }],
      'sensor.d': [{ s: '9', a: {}, lu: lu(30) }],
    } });
    const h = one.encode({ ...framesJob([history], [], [[9, 'history']]), haRestarted: true });
    expect(lines(h.lp)).toEqual([`sensor,entity_id=sensor.b value=5 ${ns(20)}`, `sensor,entity_id=sensor.c value=1 ${ns(10)}`, `sensor,entity_id=sensor.c value=2 ${ns(30)}`, `sensor,entity_id=sensor.d value=9 ${ns(30)}`]);
    expect(h.reannounced).toBe(2);
    // The backfill's next request starts a minute early: the same rows are judged the same way.
    const again = one.encode({ ...framesJob([history.replace('"id":9', '"id":10')], [], [[10, 'history']]), haRestarted: true });
    expect(lines(again.lp)).toEqual(lines(h.lp));
    expect(again.reannounced).toBe(0);
    // The backfill has ended: the held states are judged. a and b were left out by the backfill,
    // c and d written by it (written again: the same points), e has no history and repeats its
    // last point: a re-announcement.
    held.settle(4, true);
    expect(written).toEqual([`sensor,entity_id=sensor.c value=2 ${ns(30)}`, `sensor,entity_id=sensor.d value=9 ${ns(30)}`]);
  });

  it('a live re-announcement while the backfill is pending waits for it: after a missed change it is a change', () => {
    const [one, two, seen] = setup();
    const written: string[] = [];
    const held = heldBackLines(seen, written);
    one.encode({ ...framesJob([event('sensor.door', 'closed', 1, state('sensor.door', 'open', t(0)))]), session: 3 }); // an earlier connection
    held.begin(4);
    // While we were away the door went unavailable; HA restarted and the door's integration
    // loaded after we were back: its re-announcement comes live, before the backfill ends.
    const r = two.encode({ ...framesJob([event('sensor.door', 'closed', 40, null)]), backfillPending: true });
    expect(r.lines).toBe(0);
    held.add(4, r.heldBack, 77);
    const history = JSON.stringify({ id: 9, type: 'result', success: true, result: { 'sensor.door': [{ s: 'unavailable', a: {}, lu: Date.parse(t(20)) / 1000 }] } });
    expect(lines(one.encode({ ...framesJob([history], [], [[9, 'history']]), haRestarted: true }).lp)).toEqual([`sensor,entity_id=sensor.door state="unavailable" ${ns(20)}`]);
    held.settle(4, true);
    expect(written).toEqual([`sensor,entity_id=sensor.door value=0,state="closed" ${ns(40)}`]);
  });

  it('held states are all written when the backfill did not complete', () => {
    const [one, two, seen] = setup();
    const written: string[] = [];
    const held = heldBackLines(seen, written);
    one.encode({ ...framesJob([event('sensor.a', '1', 1, state('sensor.a', '0', t(0))), event('sensor.b', '1', 1, state('sensor.b', '0', t(0)))]), session: 3 }); // an earlier connection
    held.begin(4);
    const snapshot = JSON.stringify({ id: 8, type: 'result', success: true, result: [state('sensor.a', '1', t(30)), state('sensor.b', '1', t(30))] });
    const r = two.encode({ ...framesJob([snapshot], [8]), backfillPending: true });
    held.add(4, r.heldBack, 77);
    held.settle(4, false);
    expect(written).toEqual([`sensor,entity_id=sensor.a value=1 ${ns(30)}`, `sensor,entity_id=sensor.b value=1 ${ns(30)}`]);
  });

  it('a history row whose last_changed differs from last_updated is never a re-announcement', () => {
    const [one] = setup();
    one.encode({ ...framesJob([event('sensor.a', '1', 1, state('sensor.a', '0', t(0)))]), session: 3 }); // an earlier connection
    const history = JSON.stringify({ id: 9, type: 'result', success: true, result: { 'sensor.a': [{ s: '1', a: {}, lu: Date.parse(t(20)) / 1000, lc: Date.parse(t(1)) / 1000 }] } });
    const h = one.encode({ ...framesJob([history], [], [[9, 'history']]), haRestarted: true });
    expect(lines(h.lp)).toEqual([`sensor,entity_id=sensor.a value=1 ${ns(20)}`]);
  });

  it('points of the same connection say nothing of an HA restart (a snapshot ahead of its events)', () => {
    const [one, two] = setup();
    one.encode(framesJob([event('sensor.a', '1', 1, state('sensor.a', '0', t(0)))]));
    const snapshot = JSON.stringify({ id: 8, type: 'result', success: true, result: [state('sensor.a', '1', t(30))] });
    const r = two.encode(framesJob([snapshot], [8]));
    expect(r.control[0]).toMatchObject({ encoded: { points: 1, deferred: 0, haRestarted: false } });
  });

  it('a snapshot after a long, busy gap (most entities repeated, one kept its time) is no HA restart', () => {
    const [one, two] = setup();
    const ids = Array.from({ length: 10 }, (_, i) => `sensor.e${i}`);
    one.encode({ ...framesJob(ids.map((id) => event(id, '1', 1, state(id, '0', t(0))))), session: 3 }); // an earlier connection
    const states = ids.map((id, i) => (i === 0 ? state(id, '1', t(1)) : i < 7 ? state(id, '1', t(20)) : state(id, '2', t(20))));
    const r = two.encode(framesJob([JSON.stringify({ id: 8, type: 'result', success: true, result: states })], [8]));
    expect(r.control[0]).toMatchObject({ encoded: { points: 10, reannounced: 0, deferred: 0, haRestarted: false } });
  });

  it('a snapshot after a mere reconnect: no HA restart told, and a repeat in it (force_update) is written, by the backfill too', () => {
    const [one, two] = setup();
    one.encode({ ...framesJob(['a', 'b', 'c'].map((x) => event(`sensor.${x}`, '1', 1, state(`sensor.${x}`, '0', t(0))))), session: 3 }); // an earlier connection
    // b repeated its value at 20 s (force_update) while we were away.
    const snapshot = JSON.stringify({ id: 8, type: 'result', success: true, result: [state('sensor.a', '1', t(1)), state('sensor.b', '1', t(20)), state('sensor.c', '1', t(1))] });
    const r = two.encode(framesJob([snapshot], [8]));
    expect(r.control[0]).toMatchObject({ encoded: { points: 3, reannounced: 0, deferred: 0, haRestarted: false } });
    const history = JSON.stringify({ id: 9, type: 'result', success: true, result: { 'sensor.b': [{ s: '1', a: {}, lu: Date.parse(t(20)) / 1000 }] } });
    const h = one.encode({ ...framesJob([history], [], [[9, 'history']]), haRestarted: false });
    expect(lines(h.lp)).toEqual([`sensor,entity_id=sensor.b value=1 ${ns(20)}`]);
  });
});
