/**
 * The pool's unit of work: a batch of raw HA WebSocket frames → line protocol bytes, counts, and
 * the non-event messages found in the frames.
 *
 * Job format: the frames back to back in `bytes`, `ends[i]` the offset just past frame i. A frame
 * is one message object or, with coalescing, a JSON array of them. After auth the main thread
 * parses no frame at all: results and pongs travel in the same frames as events, so the worker
 * that parses the frame anyway hands them back in `control`. A result whose id is listed in
 * `stateResults` holds states to write (a get_states snapshot, a history/history_during_period
 * answer, or a REST history answer): its states are encoded here as points, each at its own
 * last_updated, and only a summary goes back, not the megabytes of states.
 *
 * Decoding: UTF-8 text with any non-ASCII byte becomes a two-byte V8 string, which is slow to
 * build and to parse. Line protocol only needs the bytes back, so when a job has no `\u` escape
 * beyond ASCII, frames are read as Latin-1 (one character per byte, a one-byte string) and the
 * output is written back as Latin-1: every byte of the input comes out unchanged, and nothing we
 * add is beyond ASCII. Strings that leave the worker otherwise (replies, errors) are re-read as
 * UTF-8.
 */
import { isAscii } from 'node:buffer';
import { isControlMessage, type ControlMessage } from '../src/ha/messages.js';
import { capString, InvalidStateError, STRING_FIELD_MAX, type HaState, type StateEncoder } from './typed-schema.js';
import { escapeStringValue, escapeTagValue } from './line-protocol.js';
import { fromLatin1Form, toLatin1Form } from './latin1.js';
import { epochSecondsToNs, isoToNs } from './timestamp.js';

export interface EncodeJob {
  readonly bytes: Uint8Array;
  readonly ends: Uint32Array;
  /** Which HA connection the frames came from; echoed back so stale replies can be ignored. */
  readonly session: number;
  /** Watermark token of the frames (their arrival time); echoed back. */
  readonly token: number;
  /** Ids of commands whose answer is states to write, and the answer's shape. */
  readonly stateResults: readonly (readonly [number, StateResultKind])[];
  /** Enrichment fields appended to every live event point (src/enrich/context.ts); '' = none. */
  readonly context?: string;
  /** Event types subscribed to for the ingestor's own use: reported in `observed`, not written. */
  readonly internalEventTypes?: readonly string[];
}

/**
 * A person, device tracker or weather state seen in the batch, for the main thread's context;
 * or (id `event:<type>`) an event of an internal type.
 */
export interface Observed {
  readonly id: string;
  readonly state: string;
  /** HA's last_updated, ns digits ('' when unreadable). */
  readonly timeNs: string;
  readonly temperature?: number;
  readonly humidity?: number;
}

const OBSERVED_DOMAINS = /^(person|device_tracker|weather)\./;

/**
 * snapshot: get_states, a list of states. history: history/history_during_period's compressed
 * `{"<entity_id>":[{"s","a","lu","lc"}]}`. rest: /api/history/period's list of lists of states.
 */
export type StateResultKind = 'snapshot' | 'history' | 'rest';

/** What an answer full of states is reduced to. */
export interface StatesSummary {
  readonly id: number;
  readonly type: 'result';
  readonly success: true;
  readonly encoded: { readonly kind: StateResultKind; readonly states: number; readonly points: number; readonly entityIds: string[] };
}

export interface EncodeResult {
  /** UTF-8 line protocol, one point per line, each line ending in \n. */
  lp: Uint8Array;
  lines: number;
  session: number;
  token: number;
  /** Event messages seen (state_changed and others). */
  events: number;
  /** state_changed with new_state null: the entity was removed; nothing to write. */
  removed: number;
  /** States the schema leaves out (SCHEMA=ha skips unknown, unavailable and empty states). */
  skipped: number;
  /** Events, states or frames that could not be read or encoded. */
  invalid: number;
  /** Results and pongs, for the HA connection; get_states answers as SnapshotSummary. */
  control: (ControlMessage | StatesSummary)[];
  /** Largest point timestamp in the batch (ns digits), '' when none. */
  maxTimeNs: string;
  /** Person, device tracker and weather states, in order (live events and snapshots). */
  observed: Observed[];
  /** The first few reasons for `invalid`, for the log. */
  errors: string[];
}

const MAX_ERRORS_KEPT = 5;
const BACKSLASH_U = Buffer.from('\\u');

/** Whether every `\uXXXX` escape in the bytes is ASCII (\u0000–\u007f). */
function escapesAreAscii(bytes: Buffer): boolean {
  for (let i = bytes.indexOf(BACKSLASH_U); i !== -1; i = bytes.indexOf(BACKSLASH_U, i + 2)) {
    // An escaped backslash followed by a literal u (`\\u`) is not an escape: skip pairs.
    let slashes = 0;
    for (let j = i; j >= 0 && bytes[j] === 0x5c; j--) slashes++;
    if (slashes % 2 === 0) continue;
    const hex = bytes.toString('latin1', i + 2, i + 6);
    if (!/^00[0-7][0-9a-fA-F]$/.test(hex)) return false;
  }
  return true;
}


interface HaEvent {
  event_type?: unknown;
  data?: { new_state?: HaState | null } & Record<string, unknown>;
  time_fired?: unknown;
}

/**
 * `latin1Encoder` is the same schema built for the Latin-1 fast path (its configuration strings
 * in Latin-1 form, workers/latin1.ts); without it every frame is decoded as UTF-8.
 */
export function createBatchEncoder(utf8Encoder: StateEncoder, latin1Encoder?: StateEncoder) {
  let encoder = utf8Encoder;
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
    const r: EncodeResult = { lp: new Uint8Array(0), lines: 0, session: job.session, token: job.token, events: 0, removed: 0, skipped: 0, invalid: 0, control: [], maxTimeNs: '', observed: [], errors: [] };

    const fail = (reason: string): void => {
      r.invalid++;
      if (r.errors.length < MAX_ERRORS_KEPT) r.errors.push(reason);
    };
    const add = (line: string | null): void => {
      if (line === null) {
        r.skipped++;
        return;
      }
      out += line;
      r.lines++;
      // The timestamp is the digits between the last space and the newline.
      const ts = line.slice(line.lastIndexOf(' ') + 1, -1);
      if (ts.length > r.maxTimeNs.length || (ts.length === r.maxTimeNs.length && ts > r.maxTimeNs)) r.maxTimeNs = ts;
    };
    const observe = (state: HaState): void => {
      if (!OBSERVED_DOMAINS.test(state.entity_id)) return;
      const a = (state.attributes ?? {}) as { temperature?: unknown; humidity?: unknown };
      r.observed.push({
        id: state.entity_id,
        state: String(state.state),
        timeNs: (typeof state.last_updated === 'string' ? isoToNs(state.last_updated) : null) ?? '',
        ...(typeof a.temperature === 'number' ? { temperature: a.temperature } : {}),
        ...(typeof a.humidity === 'number' ? { humidity: a.humidity } : {}),
      });
    };
    const text = Buffer.from(job.bytes.buffer, job.bytes.byteOffset, job.bytes.byteLength);
    const latin1 = latin1Encoder !== undefined && !isAscii(text) && escapesAreAscii(text);
    encoder = latin1 ? (latin1Encoder as StateEncoder) : utf8Encoder;
    const context = latin1 ? toLatin1Form(job.context ?? '') : (job.context ?? '');
    const withContext = (line: string | null): string | null => {
      if (line === null || context === '') return line;
      const sp = line.lastIndexOf(' ');
      return `${line.slice(0, sp)}${context}${line.slice(sp)}`;
    };
    const encodeState = (state: unknown, timeNs?: string): void => {
      try {
        add(encoder.encodeState(state as HaState, timeNs));
      } catch (err) {
        if (!(err instanceof InvalidStateError)) throw err;
        fail(err.message);
      }
    };
    const encodeStates = (id: number, kind: StateResultKind, result: unknown): StatesSummary => {
      const before = r.lines;
      const entityIds: string[] = [];
      let states = 0;
      if (kind === 'history') {
        // {"sensor.x":[{"s":"21.4","a":{…},"lu":1714566000.123456}, …]}; "a" may be left out
        // when unchanged, so the last attributes seen carry forward.
        for (const [entityId, rows] of Object.entries((result ?? {}) as Record<string, unknown>)) {
          entityIds.push(entityId);
          let attributes: Record<string, unknown> = {};
          for (const row of Array.isArray(rows) ? (rows as { s?: unknown; a?: Record<string, unknown>; lu?: unknown }[]) : []) {
            states++;
            if (row.a !== undefined) attributes = row.a;
            if (typeof row.lu !== 'number') {
              fail(`${entityId}: history row without lu`);
              continue;
            }
            encodeState({ entity_id: entityId, state: row.s, attributes }, epochSecondsToNs(row.lu));
          }
        }
      } else {
        const list = kind === 'rest' ? (result as unknown[][]).flat() : (result as unknown[]);
        for (const state of list) {
          states++;
          encodeState(state);
          if (kind === 'snapshot' && typeof (state as HaState | null)?.entity_id === 'string') observe(state as HaState);
          const id = (state as { entity_id?: unknown } | null)?.entity_id;
          if (kind === 'snapshot' && typeof id === 'string') entityIds.push(id);
        }
      }
      return { id, type: 'result', success: true, encoded: { kind, states, points: r.lines - before, entityIds } };
    };
    const encodeMessage = (msg: unknown): void => {
      const m = msg as { type?: unknown; id?: unknown; success?: unknown; result?: unknown; event?: HaEvent } | null;
      if (typeof m !== 'object' || m === null) return fail(`message is not an object: ${JSON.stringify(msg)?.slice(0, 80)}`);
      if (m.type !== 'event') {
        const kind = m.type === 'result' && m.success === true ? job.stateResults.find(([id]) => id === m.id)?.[1] : undefined;
        if (kind !== undefined && typeof m.result === 'object' && m.result !== null) {
          r.control.push(encodeStates(m.id as number, kind, m.result));
        } else if (isControlMessage(m)) {
          r.control.push(m);
        } else {
          fail(`unexpected message type ${JSON.stringify(m.type)}`);
        }
        return;
      }
      r.events++;
      const ev = m.event;
      try {
        if (typeof ev !== 'object' || ev === null) throw new InvalidStateError('event message without event');
        if (ev.event_type === 'state_changed') {
          const state = ev.data?.new_state;
          if (state === null) r.removed++;
          else if (state === undefined) throw new InvalidStateError('state_changed without new_state');
          else {
            add(withContext(encoder.encodeState(state, undefined, typeof ev.time_fired === 'string' ? ev.time_fired : undefined)));
            if (typeof state?.entity_id === 'string') observe(state);
          }
        } else if (typeof ev.event_type === 'string' && job.internalEventTypes?.includes(ev.event_type)) {
          r.observed.push({ id: `event:${ev.event_type}`, state: '', timeNs: '' });
        } else {
          add(otherEventLine(ev));
        }
      } catch (err) {
        if (!(err instanceof InvalidStateError)) throw err;
        fail(err.message);
      }
    };

    let start = 0;
    for (const end of job.ends) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(latin1 ? text.toString('latin1', start, end) : text.toString('utf8', start, end));
      } catch (err) {
        fail(`frame of ${end - start} bytes is not JSON: ${(err as Error).message}`);
        start = end;
        continue;
      }
      start = end;
      if (Array.isArray(parsed)) for (const msg of parsed) encodeMessage(msg);
      else encodeMessage(parsed);
    }
    if (latin1) {
      const lp = Buffer.allocUnsafeSlow(out.length);
      lp.write(out, 0, 'latin1');
      r.lp = lp;
      r.errors = r.errors.map(fromLatin1Form);
      r.observed = r.observed.map((o) => ({ ...o, id: fromLatin1Form(o.id), state: fromLatin1Form(o.state) }));
      r.control = r.control.map((c) =>
        'encoded' in c ? { ...c, encoded: { ...c.encoded, entityIds: c.encoded.entityIds.map(fromLatin1Form) } } : (JSON.parse(fromLatin1Form(JSON.stringify(c))) as ControlMessage),
      );
    } else {
      r.lp = textEncoder.encode(out);
    }
    return r;
  }

  return { encode };
}

export type BatchEncoder = ReturnType<typeof createBatchEncoder>;
