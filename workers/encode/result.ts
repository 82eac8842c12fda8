/**
 * The pool's unit of work and what comes back: the types shared by the encoder (workers/encode/),
 * the pool (src/pipeline/encoder-pool.ts), the frame overflow and the main thread's consumers.
 *
 * Job format: the frames back to back in `bytes`, `ends[i]` the offset just past frame i. A frame
 * is one message object or, with coalescing, a JSON array of them. A result whose id is listed in
 * `stateResults` holds states to write (a get_states snapshot, a history/history_during_period
 * answer, or a REST history answer): its states are encoded as points and only a summary goes
 * back, not the megabytes of states.
 */
import type { ControlMessage } from '../../src/ha/messages.js';

export interface EncodeJob {
  readonly bytes: Uint8Array;
  readonly ends: Uint32Array;
  /** Which HA connection the frames came from; echoed back so stale replies can be ignored. */
  readonly session: number;
  /** Ids of commands whose answer is states to write, and the answer's shape. */
  readonly stateResults: readonly (readonly [number, StateResultKind])[];
  /** Enrichment fields appended to every live event point (src/enrich/context.ts); '' = none. */
  readonly context?: string;
  /** Event types reported in `observed` as {id: `event:<type>`} (registry updates). */
  readonly observeEventTypes?: readonly string[];
  /** Of those, the ones not written as ha_event points (subscribed for our own use only). */
  readonly silentEventTypes?: readonly string[];
}

/**
 * snapshot: get_states, a list of states. history: history/history_during_period's compressed
 * `{"<entity_id>":[{"s","a","lu","lc"}]}`. rest: /api/history/period's list of lists of states.
 * statistics-hour / statistics-5minute: recorder/statistics_during_period's
 * `{"<statistic_id>":[{"start","end","mean",…}]}` for that period (the answer does not say it),
 * written as ha_statistics points (workers/encode/statistics.ts).
 */
export type StateResultKind = 'snapshot' | 'history' | 'rest' | StatisticsResultKind;
export type StatisticsResultKind = 'statistics-hour' | 'statistics-5minute';

/**
 * A person, device tracker or weather state seen in the batch, for the main thread's context;
 * or (id `event:<type>`) an event of an observed type.
 */
export interface Observed {
  readonly id: string;
  readonly state: string;
  /** HA's last_updated, ns digits ('' when unreadable). */
  readonly timeNs: string;
  readonly temperature?: number;
  readonly humidity?: number;
}

/** What an answer full of states is reduced to. */
export interface StatesSummary {
  readonly id: number;
  readonly type: 'result';
  readonly success: true;
  readonly encoded: {
    readonly kind: StateResultKind;
    readonly states: number;
    /** Points to write; restart de-duplication lowers it by what it leaves out or holds back. */
    points: number;
    readonly entityIds: string[];
    /** Re-announcements left out (restart de-duplication, filled in on the main thread). */
    reannounced: number;
    /** Snapshot states held back for the backfill (restart de-duplication, main thread). */
    deferred: number;
    /** The snapshot shows that HA has started since our last points (main thread). */
    haRestarted: boolean;
    /**
     * A snapshot's newest state (last_updated in HA ms): the resync's anchor (src/ha/resync.ts).
     * A statistics answer: its newest row (the row's start).
     */
    readonly newest: { readonly entityId: string; readonly haMs: number } | null;
  };
}

/**
 * How a state line arrived, for restart de-duplication (src/pipeline/restart-dedup/policy.ts).
 * Stored in the low bits of a record's flags.
 */
export const ARRIVAL = {
  /** A live state_changed with old_state set. */
  liveChange: 0,
  /** A live state_changed with old_state null: HA announces the entity (at its start, or new). */
  liveAnnounce: 1,
  /** A state of a get_states snapshot. */
  snapshot: 2,
  /** A history row (WebSocket or REST). */
  history: 3,
} as const;
export type ArrivalKind = (typeof ARRIVAL)[keyof typeof ARRIVAL];

/**
 * Restart de-duplication records, one per state line of `lp`, in line order. `ints` holds
 * RECORD_INTS Int32 per record (fields at the REC offsets), `timesUs` one Float64 per record.
 * Both are transferred, not copied.
 */
export interface DedupRecords {
  readonly count: number;
  readonly ints: Int32Array;
  readonly timesUs: Float64Array;
}

/** The fields of one record in DedupRecords.ints. */
export const REC = {
  /** 64-bit hash of the entity id's UTF-8 bytes. */
  keyHi: 0,
  keyLo: 1,
  /** 64-bit hash of the line's UTF-8 bytes without its timestamp and the enrichment context. */
  hashHi: 2,
  hashLo: 3,
  /** ArrivalKind | CREATED_ANEW. */
  flags: 4,
  /** The command result the line came from (its id); 0 for live events. */
  resultId: 5,
  /** The line's bytes in lp: [start, end), end just past its newline. */
  start: 6,
  end: 7,
} as const;
export const RECORD_INTS = 8;
export const ARRIVAL_MASK = 0x3;
/** HA created the state anew (last_changed = last_updated; WS history: no `lc`). */
export const CREATED_ANEW = 0x4;

export interface EncodeResult {
  /** UTF-8 line protocol, one point per line, each line ending in \n. */
  lp: Uint8Array;
  lines: number;
  session: number;
  /** Event messages seen (state_changed and others). */
  events: number;
  /** state_changed with new_state null: the entity was removed; nothing to write. */
  removed: number;
  /** States the schema leaves out (SCHEMA=ha skips unknown, unavailable and empty states). */
  skipped: number;
  /** Events, states or frames that could not be read or encoded. */
  invalid: number;
  /** The first few reasons for `invalid`, for the log. */
  errors: string[];
  /** Results and pongs, for the HA connection; state answers as StatesSummary. */
  control: (ControlMessage | StatesSummary)[];
  /** Person, device tracker and weather states, in order; observed event types. */
  observed: Observed[];
  /**
   * Newest HA time (ms) of a live event message in the batch (state_changed:
   * new_state.last_updated, else time_fired); -1 if none.
   */
  liveHaMaxMs: number;
  /** The first ≤ 5 live state_changed with a new_state: entity id and new_state.last_updated (HA ms). */
  liveFirst: { entityId: string; haMs: number }[];
  /** Entity ids (live, snapshot or history) this worker thread has not reported before. */
  newEntityIds: string[];
  /** Restart de-duplication records (when the encoder was built with it). */
  dedup?: DedupRecords;
}
