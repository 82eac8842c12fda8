/**
 * The pool's unit of work: a batch of raw HA WebSocket frames (or a get_states snapshot) →
 * line protocol bytes plus counts.
 *
 * A frames job carries the frames back to back in one buffer, with `ends[i]` the offset just past
 * frame i. A frame is one message object or, with coalescing, a JSON array of them. Only
 * messages of type "event" are encoded; anything else in the frame (a result, a pong) was seen by
 * the main thread already and is counted here as `other`.
 */
import { capString, InvalidStateError, STRING_FIELD_MAX, type HaState, type TypedEncoder } from './typed-schema.js';
import { escapeStringValue, escapeTagValue } from './line-protocol.js';
import { isoToNs } from './timestamp.js';

export interface FramesJob {
  readonly kind: 'frames';
  readonly bytes: Uint8Array;
  readonly ends: Uint32Array;
}

export interface StatesJob {
  readonly kind: 'states';
  readonly states: readonly unknown[];
}

export type EncodeJob = FramesJob | StatesJob;

export interface EncodeResult {
  /** UTF-8 line protocol, one point per line, each line ending in \n. */
  lp: Uint8Array;
  lines: number;
  /** Event messages seen (state_changed and others). */
  events: number;
  /** state_changed with new_state null: the entity was removed; nothing to write. */
  removed: number;
  /** Events or frames that could not be read or encoded. */
  invalid: number;
  /** Non-event messages in the frames (results, pongs). */
  other: number;
  /** Largest point timestamp in the batch (ns digits), '' when none. */
  maxTimeNs: string;
  /** The first few reasons for `invalid`, for the log. */
  errors: string[];
}

const MAX_ERRORS_KEPT = 5;

interface HaEvent {
  event_type?: unknown;
  data?: { new_state?: HaState | null } & Record<string, unknown>;
  time_fired?: unknown;
}

export function createBatchEncoder(encoder: TypedEncoder) {
  const textEncoder = new TextEncoder();
  const eventTypeTags = new Map<string, string>();

  function otherEventLine(ev: HaEvent): string {
    const type = typeof ev.event_type === 'string' ? ev.event_type : '';
    let tag = eventTypeTags.get(type);
    if (tag === undefined) {
      tag = escapeTagValue(type);
      if (tag === '') throw new InvalidStateError('event without event_type');
      if (eventTypeTags.size > 10_000) eventTypeTags.clear();
      eventTypeTags.set(type, tag);
    }
    const ns = typeof ev.time_fired === 'string' ? isoToNs(ev.time_fired) : null;
    if (ns === null) throw new InvalidStateError(`${type}: bad time_fired ${JSON.stringify(ev.time_fired)}`);
    const data = escapeStringValue(capString(JSON.stringify(ev.data ?? {}), STRING_FIELD_MAX));
    return `ha_event,event_type=${tag} data_str="${data}" ${ns}\n`;
  }

  function encode(job: EncodeJob): EncodeResult {
    let out = '';
    const r: EncodeResult = { lp: new Uint8Array(0), lines: 0, events: 0, removed: 0, invalid: 0, other: 0, maxTimeNs: '', errors: [] };

    const fail = (reason: string): void => {
      r.invalid++;
      if (r.errors.length < MAX_ERRORS_KEPT) r.errors.push(reason);
    };
    const add = (line: string): void => {
      out += line;
      r.lines++;
      // The timestamp is the digits between the last space and the newline.
      const ts = line.slice(line.lastIndexOf(' ') + 1, -1);
      if (ts.length > r.maxTimeNs.length || (ts.length === r.maxTimeNs.length && ts > r.maxTimeNs)) r.maxTimeNs = ts;
    };
    const encodeMessage = (msg: unknown): void => {
      if (typeof msg !== 'object' || msg === null || (msg as { type?: unknown }).type !== 'event') {
        r.other++;
        return;
      }
      r.events++;
      const ev = (msg as { event?: HaEvent }).event;
      try {
        if (typeof ev !== 'object' || ev === null) throw new InvalidStateError('event message without event');
        if (ev.event_type === 'state_changed') {
          const state = ev.data?.new_state;
          if (state === null) r.removed++;
          else if (state === undefined) throw new InvalidStateError('state_changed without new_state');
          else add(encoder.encodeState(state));
        } else {
          add(otherEventLine(ev));
        }
      } catch (err) {
        if (!(err instanceof InvalidStateError)) throw err;
        fail(err.message);
      }
    };

    if (job.kind === 'frames') {
      const text = Buffer.from(job.bytes.buffer, job.bytes.byteOffset, job.bytes.byteLength);
      let start = 0;
      for (const end of job.ends) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(text.toString('utf8', start, end));
        } catch (err) {
          fail(`frame of ${end - start} bytes is not JSON: ${(err as Error).message}`);
          start = end;
          continue;
        }
        start = end;
        if (Array.isArray(parsed)) for (const msg of parsed) encodeMessage(msg);
        else encodeMessage(parsed);
      }
    } else {
      for (const state of job.states) {
        try {
          add(encoder.encodeState(state as HaState));
        } catch (err) {
          if (!(err instanceof InvalidStateError)) throw err;
          fail(err.message);
        }
      }
    }
    r.lp = textEncoder.encode(out);
    return r;
  }

  return { encode };
}

export type BatchEncoder = ReturnType<typeof createBatchEncoder>;
