/**
 * Live event messages: a state_changed becomes its new state's point (at new_state.last_updated,
 * in both schemas, so that the live point and a snapshot or history point of the same state have
 * one timestamp); any other event an `ha_event` point at time_fired, unless its type is observed
 * silently (registry updates the ingestor subscribed to for itself).
 */
import { badTimeReason, isoToNs } from '../timestamp.js';
import { InvalidStateError, MAX_NESTING, NestingTooDeepError, nestsDeeperThan } from '../invalid.js';
import { capString, STRING_FIELD_MAX, type HaState } from '../typed-schema.js';
import type { Batch } from './batch.js';
import { ARRIVAL } from './result.js';

export interface HaEvent {
  event_type?: unknown;
  data?: { new_state?: HaState | null; old_state?: unknown } & Record<string, unknown>;
  time_fired?: unknown;
}

/** How many live state changes `liveFirst` reports per batch. */
const LIVE_FIRST_MAX = 5;

/** One event message's `event`. Throws InvalidStateError for an event it cannot read. */
export function encodeEvent(b: Batch, ev: HaEvent | undefined): void {
  if (typeof ev !== 'object' || ev === null) throw new InvalidStateError('event message without event');
  if (ev.event_type === 'state_changed') {
    encodeStateChanged(b, ev);
    return;
  }
  const type = typeof ev.event_type === 'string' ? ev.event_type : '';
  if (b.job.observeEventTypes?.includes(type) === true) {
    b.r.observed.push({ id: `event:${type}`, state: '', timeNs: '' });
    if (b.job.silentEventTypes?.includes(type) === true) {
      noteLiveTime(b, typeof ev.time_fired === 'string' ? Date.parse(ev.time_fired) : Number.NaN);
      return;
    }
  }
  const line = otherEventLine(b, ev, type);
  b.addLine(line);
  noteLiveTime(b, Number(line.slice(line.lastIndexOf(' ') + 1, -7)));
}

function encodeStateChanged(b: Batch, ev: HaEvent): void {
  const state = ev.data?.new_state;
  if (state === null) {
    b.r.removed++;
    noteLiveTime(b, typeof ev.time_fired === 'string' ? Date.parse(ev.time_fired) : Number.NaN);
    return;
  }
  if (state === undefined) throw new InvalidStateError('state_changed without new_state');
  const line = b.encoder.encodeState(state);
  let ms = Number.NaN;
  if (line !== null) {
    const arrival = ev.data?.old_state === null ? ARRIVAL.liveAnnounce : ARRIVAL.liveChange;
    const us = b.addState(state.entity_id, line, arrival, 0, true);
    ms = Math.floor(us / 1000);
  } else {
    b.r.skipped++;
  }
  if (Number.isNaN(ms) && typeof state.last_updated === 'string') ms = Date.parse(state.last_updated);
  noteLiveTime(b, ms);
  if (typeof state.entity_id !== 'string') return;
  if (b.r.liveFirst.length < LIVE_FIRST_MAX && !Number.isNaN(ms)) b.r.liveFirst.push({ entityId: state.entity_id, haMs: ms });
  b.seeEntity(state.entity_id);
  b.observe(state);
}

function noteLiveTime(b: Batch, ms: number): void {
  if (ms > b.r.liveHaMaxMs) b.r.liveHaMaxMs = ms;
}

function otherEventLine(b: Batch, ev: HaEvent, type: string): string {
  const tags = b.thread.eventTypeTags;
  let tag = tags.get(type);
  if (tag === undefined) {
    tag = b.thread.escaper.tag(type);
    if (tag === '') throw new InvalidStateError('event without event_type');
    if (tags.size > 10_000) tags.clear();
    tags.set(type, tag);
  }
  const ns = typeof ev.time_fired === 'string' ? isoToNs(ev.time_fired) : null;
  if (ns === null) throw new InvalidStateError(`${type}: time_fired ${badTimeReason(ev.time_fired)}`);
  // JSON.stringify recurses: a value nested past the bound is refused before it is reached.
  if (nestsDeeperThan(ev.data, MAX_NESTING)) throw new NestingTooDeepError(`${type}: event data`);
  const data = b.thread.escaper.stringValue(capString(JSON.stringify(ev.data ?? {}), STRING_FIELD_MAX));
  return `ha_event,event_type=${tag} data_str="${data}" ${ns}\n`;
}
