/**
 * Home Assistant's `subscribe_entities` wire format, built from the same states a `state_changed`
 * event carries (HA ≥ 2022.4; homeassistant/components/websocket_api/messages.py
 * `_state_diff_event`, homeassistant/core.py `State.as_compressed_state`). Used by the wire-bytes
 * benchmark (bench/wire-bytes.ts) and ready for a simulator that serves the subscription.
 *
 * One state change is one event message whose `event` is one of:
 *   {"a": {entity_id: {"s": state, "a": attributes, "c": context, "lc": t, "lu"?: t}}}   added (old_state null)
 *   {"r": [entity_id]}                                                                    removed (new_state null)
 *   {"c": {entity_id: {"+": {"s"?, "lc"? | "lu"?, "c"?, "a"?: {changed}}, "-"?: {"a": [keys]}}}}
 *
 * HA's rules, kept here:
 * - `lc`/`lu` are float seconds since the epoch (Python's float repr, the shortest that reads
 *   back; for today's dates that is exact to the µs). An add carries `lu` only when it differs
 *   from `lc`; a diff carries `lc` when last_changed moved (last_updated is then the same
 *   instant) and `lu` otherwise. `last_reported` is never sent.
 * - Context: its id string when parent_id and user_id are null (add) or when only the id changed
 *   (diff); otherwise an object of the parts (add: all three; diff: those that changed).
 * - Attributes are compared with Python's `==`, where 1 == 1.0 == True: a value whose type
 *   alone changed (1 → true) is not sent, so a client keeps the old one. Removed keys are listed.
 * - No old_state, no time_fired, no origin; a removal carries no time.
 */
import type { SimState } from './server.js';

type Json = unknown;

/** Python's `==` on JSON values: bool and number compare by value (True == 1 == 1.0). */
export function pyEqual(a: Json, b: Json): boolean {
  if (a === b) return true;
  const ta = typeof a;
  const tb = typeof b;
  if ((ta === 'number' || ta === 'boolean') && (tb === 'number' || tb === 'boolean')) return Number(a) === Number(b);
  if (a === null || b === null || ta !== 'object' || tb !== 'object') return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((v, i) => pyEqual(v, b[i]));
  }
  const oa = a as Record<string, Json>;
  const ob = b as Record<string, Json>;
  const keys = Object.keys(oa);
  if (keys.length !== Object.keys(ob).length) return false;
  return keys.every((k) => Object.hasOwn(ob, k) && pyEqual(oa[k], ob[k]));
}

/** HA's ISO time (`…+00:00`, fraction omitted at 0 µs) → float seconds, as Python's timestamp(). */
export function epochSeconds(iso: string): number {
  const fraction = /^\.(\d{1,6})/.exec(iso.slice(19))?.[1] ?? '';
  const us = Date.parse(`${iso.slice(0, 19)}Z`) * 1000 + Number(fraction.padEnd(6, '0'));
  return us / 1e6;
}

export interface CompressedState {
  s: string;
  a: Record<string, Json>;
  c: string | SimState['context'];
  lc: number;
  lu?: number;
}

export function compressedState(state: SimState): CompressedState {
  const ctx = state.context;
  const out: CompressedState = {
    s: state.state,
    a: state.attributes,
    c: ctx.parent_id === null && ctx.user_id === null ? ctx.id : ctx,
    lc: epochSeconds(state.last_changed),
  };
  if (state.last_changed !== state.last_updated) out.lu = epochSeconds(state.last_updated);
  return out;
}

export type EntitiesEvent =
  | { a: Record<string, CompressedState> }
  | { r: string[] }
  | { c: Record<string, { '+': Record<string, Json>; '-'?: { a: string[] } }> };

/** The `event` of HA's subscribe_entities message for one state_changed. */
export function stateDiffEvent(entityId: string, oldState: SimState | null, newState: SimState | null): EntitiesEvent {
  if (newState === null) return { r: [entityId] };
  if (oldState === null) return { a: { [newState.entity_id]: compressedState(newState) } };
  const add: Record<string, Json> = {};
  if (oldState.state !== newState.state) add.s = newState.state;
  if (oldState.last_changed !== newState.last_changed) add.lc = epochSeconds(newState.last_changed);
  else if (oldState.last_updated !== newState.last_updated) add.lu = epochSeconds(newState.last_updated);
  const oc = oldState.context;
  const nc = newState.context;
  let ctx: Record<string, string | null> | null = null;
  if (oc.parent_id !== nc.parent_id) ctx = { parent_id: nc.parent_id };
  if (oc.user_id !== nc.user_id) (ctx ??= {}).user_id = nc.user_id;
  if (oc.id !== nc.id) {
    if (ctx === null) add.c = nc.id;
    else ctx.id = nc.id;
  }
  if (ctx !== null) add.c = ctx;
  const oldAttrs = oldState.attributes;
  const newAttrs = newState.attributes;
  const changed: Record<string, Json> = {};
  let anyChanged = false;
  for (const [k, v] of Object.entries(newAttrs)) {
    if (!Object.hasOwn(oldAttrs, k) || !pyEqual(oldAttrs[k], v)) {
      changed[k] = v;
      anyChanged = true;
    }
  }
  if (anyChanged) add.a = changed;
  const diff: { '+': Record<string, Json>; '-'?: { a: string[] } } = { '+': add };
  const removed = Object.keys(oldAttrs).filter((k) => !Object.hasOwn(newAttrs, k));
  if (removed.length > 0) diff['-'] = { a: removed };
  return { c: { [newState.entity_id]: diff } };
}

/** One subscription message as current HA sends it (cached without the id, which comes last). */
export const eventMessage = (subscriptionId: number, eventJson: string): string => `{"type":"event","event":${eventJson},"id":${subscriptionId}}`;

/** subscribe_entities' first message: every current state, compressed (what get_states answers in full). */
export function initialEntitiesMessage(subscriptionId: number, states: Iterable<SimState>): string {
  const parts: string[] = [];
  for (const s of states) parts.push(`${JSON.stringify(s.entity_id)}:${JSON.stringify(compressedState(s))}`);
  return eventMessage(subscriptionId, `{"a":{${parts.join(',')}}}`);
}
