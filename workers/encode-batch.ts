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
import { SeenStates, type Arrival } from './seen-states.js';

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
  /**
   * HA restarted while we were away (the session's snapshot said so): history rows that repeat
   * an entity's last point are re-announcements too. Restart de-duplication only.
   */
  readonly haRestarted?: boolean;
  /**
   * The connection's backfill has not ended: the table lacks the gap's points, so a state that
   * might be a re-announcement is held back (EncodeResult.heldBack) instead of judged.
   */
  readonly backfillPending?: boolean;
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

/**
 * A point that can only be judged once the backfill has put the gap's points in the table: the
 * main thread judges it then (src/pipeline/held-back.ts), and writes it unless it is a
 * re-announcement.
 */
export interface HeldBackLine {
  readonly entityId: string;
  /** The line as the schema made it (what the table's hash is of). */
  readonly line: string;
  /** What to write: the line with the enrichment context, for a live event. */
  readonly out: string;
  readonly arrival: 'announce' | 'recorded';
}

/** What an answer full of states is reduced to. */
export interface StatesSummary {
  readonly id: number;
  readonly type: 'result';
  readonly success: true;
  readonly encoded: {
    readonly kind: StateResultKind;
    readonly states: number;
    readonly points: number;
    readonly entityIds: string[];
    /** Re-announcements left out (restart de-duplication). */
    readonly reannounced: number;
    /** Snapshot states held back for the backfill (in EncodeResult.heldBack). */
    readonly deferred: number;
    /**
     * A snapshot in which (almost) no state kept the time of its entity's last point and some
     * repeat it at a newer time: HA has started since that point (restart de-duplication).
     */
    readonly haRestarted: boolean;
    /** The snapshot's newest state (last_updated in HA ms): the resync's fallback anchor (src/ha/resync.ts). */
    readonly newest: { readonly entityId: string; readonly haMs: number } | null;
  };
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
  /** HA's re-announcements of unchanged states, left out (restart de-duplication). */
  reannounced: number;
  /** Points to judge after the backfill (restart de-duplication), as proper UTF-8 text. */
  heldBack: HeldBackLine[];
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
  /** Newest HA time (ms) of a live event in the batch (new_state.last_updated, else time_fired); -1 if none. */
  liveHaMaxMs: number;
  /** The first ≤ LIVE_FIRST_MAX live state_changed with a new_state: entity id and last_updated (HA ms). */
  liveFirst: { entityId: string; haMs: number }[];
  /** Entity ids (live, snapshot or history) this worker thread has not reported before. */
  newEntityIds: string[];
}

const LIVE_FIRST_MAX = 5;
/** HA ISO time → ms (floor), or -1. */
function isoToMs(iso: unknown): number {
  const ns = typeof iso === 'string' ? isoToNs(iso) : null;
  return ns === null || ns.length <= 6 ? -1 : Number(ns.slice(0, -6));
}

const MAX_ERRORS_KEPT = 5;
/**
 * A snapshot shows an HA restart when at most this share of the states compared kept the time
 * of our last point (entities whose integration restores an old state object, if any).
 */
const RESTART_MAX_UNCHANGED = 0.02;

/** A state HA created anew (at its start, or by force_update): last_changed = last_updated. */
function createdAnew(state: unknown): boolean {
  const s = state as { last_changed?: unknown; last_updated?: unknown } | null;
  return typeof s?.last_updated === 'string' && s.last_changed === s.last_updated;
}
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
  data?: { new_state?: HaState | null; old_state?: unknown } & Record<string, unknown>;
  time_fired?: unknown;
}

/**
 * `latin1Encoder` is the same schema built for the Latin-1 fast path (its configuration strings
 * in Latin-1 form, workers/latin1.ts); without it every frame is decoded as UTF-8. `seenStates`
 * (workers/seen-states.ts) turns restart de-duplication on.
 */
export function createBatchEncoder(utf8Encoder: StateEncoder, latin1Encoder?: StateEncoder, seenStates?: SharedArrayBuffer) {
  let encoder = utf8Encoder;
  const seen = seenStates === undefined ? null : new SeenStates(seenStates);
  const textEncoder = new TextEncoder();
  const eventTypeTags = new Map<string, string>();
  /** Entity ids reported in newEntityIds already (this thread). */
  const reportedIds = new Set<string>();

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
    const r: EncodeResult = { lp: new Uint8Array(0), lines: 0, session: job.session, token: job.token, events: 0, removed: 0, skipped: 0, reannounced: 0, heldBack: [], invalid: 0, control: [], maxTimeNs: '', observed: [], errors: [], liveHaMaxMs: -1, liveFirst: [], newEntityIds: [] };
    const noteEntity = (id: string): void => {
      if (reportedIds.has(id)) return;
      reportedIds.add(id);
      r.newEntityIds.push(id);
    };

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
    const withContext = (line: string): string => {
      if (context === '') return line;
      const sp = line.lastIndexOf(' ');
      return `${line.slice(0, sp)}${context}${line.slice(sp)}`;
    };
    // Restart de-duplication.
    /** The line, or null when it repeats the entity's last point as a re-announcement. */
    const deduplicated = (entityId: string, line: string, arrival: Arrival): string | null => {
      if (seen === null) return line;
      const verdict = seen.note(entityId, line, arrival, job.session, latin1);
      if (!verdict.skip) return line;
      // Counted once: the same point skipped again (in the snapshot, then the backfill) is not new.
      if (verdict.kind === 'renewed') r.reannounced++;
      return null;
    };
    const encodeLine = (state: unknown, timeNs?: string): string | null => {
      try {
        const line = encoder.encodeState(state as HaState, timeNs);
        if (line === null) r.skipped++;
        return line;
      } catch (err) {
        if (!(err instanceof InvalidStateError)) throw err;
        fail(err.message);
        return null;
      }
    };
    const encodeState = (state: unknown, arrival: Arrival, timeNs?: string): void => {
      const line = encodeLine(state, timeNs);
      if (line === null) return;
      const kept = deduplicated((state as HaState).entity_id, line, arrival);
      if (kept !== null) add(kept);
    };
    const encodeStates = (id: number, kind: StateResultKind, result: unknown): StatesSummary => {
      const before = r.lines;
      const reannouncedBefore = r.reannounced;
      const entityIds: string[] = [];
      let states = 0;
      let haRestarted = false;
      let deferred = 0;
      // A recorded state may be a re-announcement only when HA restarted in the gap (the
      // session's snapshot said so), and only when HA created it anew: last_changed equal to
      // last_updated. Otherwise a repeat is written (a force_update).
      const restarted = job.haRestarted === true;
      if (kind === 'history') {
        // {"sensor.x":[{"s":"21.4","a":{…},"lu":1714566000.123456}, …]}; "a" may be left out
        // when unchanged, so the last attributes seen carry forward; "lc" is there only when it
        // differs from "lu".
        for (const [entityId, rows] of Object.entries((result ?? {}) as Record<string, unknown>)) {
          entityIds.push(entityId);
          let attributes: Record<string, unknown> = {};
          for (const row of Array.isArray(rows) ? (rows as { s?: unknown; a?: Record<string, unknown>; lu?: unknown; lc?: unknown }[]) : []) {
            states++;
            if (row.a !== undefined) attributes = row.a;
            if (typeof row.lu !== 'number') {
              fail(`${entityId}: history row without lu`);
              continue;
            }
            const arrival: Arrival = restarted && (row.lc === undefined || row.lc === row.lu) ? 'recorded' : 'change';
            encodeState({ entity_id: entityId, state: row.s, attributes }, arrival, epochSecondsToNs(row.lu));
          }
        }
      } else if (kind === 'rest') {
        const ids = new Set<string>();
        for (const state of (result as unknown[][]).flat()) {
          states++;
          encodeState(state, restarted && createdAnew(state) ? 'recorded' : 'change');
          const entityId = (state as { entity_id?: unknown } | null)?.entity_id;
          if (typeof entityId === 'string') ids.add(entityId);
        }
        entityIds.push(...ids);
      } else {
        const list = result as unknown[];
        const lines = list.map((state) => encodeLine(state));
        // HA re-creates every state when it starts: after a restart (almost) no state keeps the
        // time of our last point for its entity, and some, created anew, repeat that point at a
        // newer time. Without a restart, the entities nothing happened to keep their time.
        const kinds = lines.map((line, i) => (seen === null || line === null ? 'none' : seen.compare((list[i] as HaState).entity_id, line, latin1, job.session)));
        if (seen !== null) {
          let compared = 0;
          let renewed = 0;
          let unchanged = 0;
          kinds.forEach((k, i) => {
            if (k === 'none') return;
            compared++;
            if (k === 'renewed' && createdAnew(list[i])) renewed++;
            else if (k === 'same') unchanged++;
          });
          haRestarted = renewed > 0 && unchanged <= compared * RESTART_MAX_UNCHANGED;
        }
        list.forEach((state, i) => {
          states++;
          const line = lines[i];
          if (line !== null && line !== undefined) {
            if (!haRestarted || kinds[i] === 'same' || kinds[i] === 'older') {
              // No restart, or a point seen before: written (again), unless it was left out then.
              const kept = deduplicated((state as HaState).entity_id, line, 'change');
              if (kept !== null) add(kept);
            } else if (createdAnew(state)) {
              // A re-announcement, a return to the last point's state, or a change that HA then
              // re-announced: only the gap's points, in time order, tell. Judged after the
              // backfill (src/pipeline/held-back.ts).
              deferred++;
              r.heldBack.push({ entityId: (state as HaState).entity_id, line, out: line, arrival: 'recorded' });
            } else {
              // Not created anew (an attribute change): never a re-announcement. Written, not
              // recorded: the backfill records the gap's points in time order.
              add(line);
            }
          }
          const entityId = (state as { entity_id?: unknown } | null)?.entity_id;
          if (typeof entityId !== 'string') return;
          observe(state as HaState);
          entityIds.push(entityId);
        });
      }
      const reannounced = r.reannounced - reannouncedBefore;
      for (const entityId of entityIds) noteEntity(entityId);
      let newest: { entityId: string; haMs: number } | null = null;
      if (kind === 'snapshot') {
        for (const st of result as (HaState | null)[]) {
          const ms = isoToMs(st?.last_updated);
          if (ms >= 0 && typeof st?.entity_id === 'string' && (newest === null || ms > newest.haMs)) newest = { entityId: st.entity_id, haMs: ms };
        }
      }
      return { id, type: 'result', success: true, encoded: { kind, states, points: r.lines - before, entityIds, reannounced, deferred, haRestarted, newest } };
    };
    /** HA time of a live event, for the watermark and the resync's anchor. */
    const noteLive = (ev: HaEvent): void => {
      const state = ev.event_type === 'state_changed' ? ev.data?.new_state : null;
      const ms = isoToMs(state?.last_updated ?? ev.time_fired);
      if (ms > r.liveHaMaxMs) r.liveHaMaxMs = ms;
      if (state == null || typeof state.entity_id !== 'string') return;
      noteEntity(state.entity_id);
      if (r.liveFirst.length < LIVE_FIRST_MAX && ms >= 0) r.liveFirst.push({ entityId: state.entity_id, haMs: ms });
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
        noteLive(ev);
        if (ev.event_type === 'state_changed') {
          const state = ev.data?.new_state;
          if (state === null) r.removed++;
          else if (state === undefined) throw new InvalidStateError('state_changed without new_state');
          else {
            const line = encoder.encodeState(state, undefined, typeof ev.time_fired === 'string' ? ev.time_fired : undefined);
            if (line === null) r.skipped++;
            else if (ev.data?.old_state !== null) {
              const kept = deduplicated(state.entity_id, line, 'change');
              if (kept !== null) add(withContext(kept));
            } else if (seen !== null && job.backfillPending === true && !['new', 'none'].includes(seen.compare(state.entity_id, line, latin1))) {
              // Appeared while the gap is not filled yet: judged after the backfill.
              r.heldBack.push({ entityId: state.entity_id, line, out: withContext(line), arrival: 'announce' });
            } else {
              const kept = deduplicated(state.entity_id, line, 'announce');
              if (kept !== null) add(withContext(kept));
            }
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
      r.heldBack = r.heldBack.map((h) => ({ ...h, entityId: fromLatin1Form(h.entityId), line: fromLatin1Form(h.line), out: fromLatin1Form(h.out) }));
      r.observed = r.observed.map((o) => ({ ...o, id: fromLatin1Form(o.id), state: fromLatin1Form(o.state) }));
      r.liveFirst = r.liveFirst.map((f) => ({ ...f, entityId: fromLatin1Form(f.entityId) }));
      r.newEntityIds = r.newEntityIds.map(fromLatin1Form);
      r.control = r.control.map((c) =>
        'encoded' in c ? { ...c, encoded: { ...c.encoded, entityIds: c.encoded.entityIds.map(fromLatin1Form), newest: c.encoded.newest && { ...c.encoded.newest, entityId: fromLatin1Form(c.encoded.newest.entityId) } } } : (JSON.parse(fromLatin1Form(JSON.stringify(c))) as ControlMessage),
      );
    } else {
      r.lp = textEncoder.encode(out);
    }
    return r;
  }

  return { encode };
}

export type BatchEncoder = ReturnType<typeof createBatchEncoder>;
