/** HA's subscribe_entities format (src/sim/entity-diff.ts), table by table, and against the simulator. */
import { describe, expect, it } from 'vitest';
import {
  compressedState,
  epochSeconds,
  eventMessage,
  initialEntitiesMessage,
  pyEqual,
  stateDiffEvent,
  type CompressedState,
} from '../../src/sim/entity-diff.js';
import { HaSimulator, type SimState } from '../../src/sim/server.js';

const T0 = '2024-05-01T12:34:56.123456+00:00';
const T1 = '2024-05-01T12:35:00+00:00';
const ctx = (id: string, user_id: string | null = null): SimState['context'] => ({ id, parent_id: null, user_id });
const state = (over: Partial<SimState> = {}): SimState => ({
  entity_id: 'light.kitchen',
  state: 'on',
  attributes: { brightness: 10, friendly_name: 'Kitchen' },
  last_changed: T0,
  last_reported: T0,
  last_updated: T0,
  context: ctx('C0'),
  ...over,
});

describe('epochSeconds', () => {
  it('is the float HA sends, exact to the µs in its shortest form', () => {
    expect(JSON.stringify(epochSeconds(T0))).toBe('1714566896.123456');
    expect(JSON.stringify(epochSeconds(T1))).toBe('1714566900');
    expect(JSON.stringify(epochSeconds('2024-05-01T12:34:56.000001+00:00'))).toBe('1714566896.000001');
  });

  it('reads back every µs between 2000 and 2100 exactly', () => {
    let us = 946_684_800_000_000;
    for (let i = 0; i < 20_000; i++) {
      us += 157_788_000_000 + i; // ~100 years in 20,000 uneven steps
      const seconds = Math.floor(us / 1e6);
      const micros = us - seconds * 1e6;
      const iso = `${new Date(seconds * 1000).toISOString().slice(0, 19)}.${String(micros).padStart(6, '0')}+00:00`;
      const [whole, fraction = ''] = String(epochSeconds(iso)).split('.');
      expect(BigInt(whole as string) * 1_000_000n + BigInt(fraction.padEnd(6, '0'))).toBe(BigInt(us));
    }
  });
});

describe('pyEqual (Python ==)', () => {
  it.each([
    [1, 1.0, true],
    [1, true, true],
    [0, false, true],
    [-0, 0, true],
    ['1', 1, false],
    [null, 0, false],
    [[1, 'a'], [true, 'a'], true],
    [{ a: [1] }, { a: [1] }, true],
    [{ a: 1 }, { a: 1, b: 2 }, false],
    [[1], [1, 2], false],
  ])('%j == %j is %s', (a, b, expected) => {
    expect(pyEqual(a, b)).toBe(expected);
  });
});

describe('stateDiffEvent', () => {
  it('an added entity: the compressed state, lu only when it differs from lc, context as its id', () => {
    expect(stateDiffEvent('light.kitchen', null, state())).toEqual({
      a: { 'light.kitchen': { s: 'on', a: { brightness: 10, friendly_name: 'Kitchen' }, c: 'C0', lc: 1714566896.123456 } },
    });
    const later = compressedState(state({ last_updated: T1, context: ctx('C1', 'U1') }));
    expect(later).toEqual({ s: 'on', a: state().attributes, c: ctx('C1', 'U1'), lc: 1714566896.123456, lu: 1714566900 });
  });

  it('a removed entity: its id only, no time', () => {
    expect(stateDiffEvent('light.kitchen', state(), null)).toEqual({ r: ['light.kitchen'] });
  });

  it('a state change: s, lc (lu implied), the new context id, only the attributes that changed', () => {
    const next = state({ state: 'off', last_changed: T1, last_updated: T1, context: ctx('C1'), attributes: { brightness: null, friendly_name: 'Kitchen' } });
    expect(stateDiffEvent('light.kitchen', state(), next)).toEqual({
      c: { 'light.kitchen': { '+': { s: 'off', lc: 1714566900, c: 'C1', a: { brightness: null } } } },
    });
  });

  it('an attribute-only change: lu, and the removed keys under "-"', () => {
    const next = state({ last_updated: T1, context: ctx('C1'), attributes: { brightness: 11 } });
    expect(stateDiffEvent('light.kitchen', state(), next)).toEqual({
      c: { 'light.kitchen': { '+': { lu: 1714566900, c: 'C1', a: { brightness: 11 } }, '-': { a: ['friendly_name'] } } },
    });
  });

  it('a context whose user changed: an object with the parts that changed', () => {
    const next = state({ last_updated: T1, context: ctx('C1', 'U1') });
    expect(stateDiffEvent('light.kitchen', state(), next)).toEqual({ c: { 'light.kitchen': { '+': { lu: 1714566900, c: { user_id: 'U1', id: 'C1' } } } } });
  });

  it('a value whose type alone changed (1 → true) is not sent: HA compares with Python ==', () => {
    const before = state({ attributes: { brightness: 1, friendly_name: 'Kitchen' } });
    const next = state({ last_updated: T1, context: ctx('C1'), attributes: { brightness: true, friendly_name: 'Kitchen' } });
    expect(stateDiffEvent('light.kitchen', before, next)).toEqual({ c: { 'light.kitchen': { '+': { lu: 1714566900, c: 'C1' } } } });
  });
});

describe('messages', () => {
  it('put the subscription id last, as HA’s cached messages do', () => {
    expect(eventMessage(7, '{"r":["x.y"]}')).toBe('{"type":"event","event":{"r":["x.y"]},"id":7}');
    expect(JSON.parse(initialEntitiesMessage(3, [state()]))).toEqual({ type: 'event', event: { a: { 'light.kitchen': compressedState(state()) } }, id: 3 });
  });
});

/** What a subscribe_entities client keeps per entity (home-assistant-js-websocket's entities.ts). */
interface Kept {
  s: string;
  a: Record<string, unknown>;
  c: string | SimState['context'];
  lc: number;
  lu: number;
}

function apply(kept: Map<string, Kept>, event: ReturnType<typeof stateDiffEvent>): void {
  if ('r' in event) for (const id of event.r) kept.delete(id);
  else if ('a' in event)
    for (const [id, s] of Object.entries(event.a) as [string, CompressedState][]) kept.set(id, { s: s.s, a: s.a, c: s.c, lc: s.lc, lu: s.lu ?? s.lc });
  else
    for (const [id, d] of Object.entries(event.c)) {
      const k = kept.get(id) as Kept;
      const add = d['+'] as { s?: string; lc?: number; lu?: number; c?: Kept['c']; a?: Record<string, unknown> };
      const attributes = { ...k.a, ...(add.a ?? {}) };
      for (const key of d['-']?.a ?? []) delete attributes[key];
      const c = typeof add.c === 'object' && typeof k.c === 'object' ? { ...k.c, ...add.c } : (add.c ?? k.c);
      kept.set(id, { s: add.s ?? k.s, a: attributes, c, lc: add.lc ?? k.lc, lu: add.lc ?? add.lu ?? k.lu });
    }
}

describe('against the simulator', () => {
  it('diffs rebuild every state, its attributes, both times and its context exactly (not last_reported)', () => {
    const sim = new HaSimulator({ token: 'x', entities: 120, seed: 7, record: false });
    const kept = new Map<string, Kept>();
    const events = sim.generate(3000, { newEntityEvery: 97, removeEvery: 89 });
    for (const text of events) {
      const { entity_id, old_state, new_state } = (JSON.parse(text) as { data: { entity_id: string; old_state: SimState | null; new_state: SimState | null } })
        .data;
      if (old_state !== null && !kept.has(entity_id)) apply(kept, stateDiffEvent(entity_id, null, old_state));
      apply(kept, stateDiffEvent(entity_id, old_state, new_state));
      if (new_state === null) {
        expect(kept.has(entity_id)).toBe(false);
        continue;
      }
      expect(kept.get(entity_id)).toEqual({
        s: new_state.state,
        a: new_state.attributes,
        c: new_state.context.id,
        lc: epochSeconds(new_state.last_changed),
        lu: epochSeconds(new_state.last_updated),
      });
    }
  });
});
