/**
 * One batch being encoded: the output text, the counts, the de-duplication records and what is
 * reported back. The message-kind modules (live-event, snapshot, ws-history, rest-history) add
 * to it; `finish` turns it into the EncodeResult.
 *
 * On the Latin-1 fast path (frames.ts) every string here is in Latin-1 form (UTF-8 bytes, one per
 * character): the output is written back as Latin-1 (the input bytes unchanged), and strings that
 * leave the worker otherwise (entity ids, replies, errors) are re-read as UTF-8 in `finish`.
 */
import type { ControlMessage } from '../../src/ha/messages.js';
import { fromLatin1Form } from '../latin1.js';
import { isoToNs } from '../timestamp.js';
import { InvalidStateError, type HaState, type StateEncoder } from '../typed-schema.js';
import { lineTimeUs, type RecordBuilder } from './records.js';
import { escaperFor, type Escaper } from '../line-protocol.js';
import type { EncodeJob, EncodeResult } from './result.js';

const MAX_ERRORS_KEPT = 5;
const OBSERVED_DOMAINS = /^(person|device_tracker|weather)\./;

/** What a worker thread keeps across batches. */
export interface ThreadState {
  /** Entity ids reported in newEntityIds so far (non-ASCII ones in both forms). */
  readonly reportedIds: Set<string>;
  /** Escaped event_type tags. */
  readonly eventTypeTags: Map<string, string>;
  /** The target's spelling (INFLUX_FLAVOR) for the lines this module writes itself (ha_event). */
  readonly escaper: Escaper;
}

export function createThreadState(escaper: Escaper = escaperFor('influxdb')): ThreadState {
  return { reportedIds: new Set(), eventTypeTags: new Map(), escaper };
}

export class Batch {
  readonly r: EncodeResult;
  private out = '';
  private contextLength: number | undefined;

  constructor(
    readonly job: EncodeJob,
    readonly encoder: StateEncoder,
    readonly latin1: boolean,
    /** The enrichment context, in the batch's string form. */
    private readonly context: string,
    readonly thread: ThreadState,
    private readonly records: RecordBuilder | null,
  ) {
    this.r = {
      lp: new Uint8Array(0),
      lines: 0,
      session: job.session,
      events: 0,
      removed: 0,
      skipped: 0,
      invalid: 0,
      errors: [],
      control: [],
      observed: [],
      liveHaMaxMs: -1,
      liveFirst: [],
      newEntityIds: [],
    };
  }

  /** The context's length in lp's bytes (Latin-1 form: one byte per character). */
  private contextBytes(): number {
    this.contextLength ??= this.latin1 ? this.context.length : Buffer.byteLength(this.context);
    return this.contextLength;
  }

  fail(reason: string): void {
    this.r.invalid++;
    if (this.r.errors.length < MAX_ERRORS_KEPT) this.r.errors.push(reason);
  }

  /** A line that is no state (an ha_event point). */
  addLine(line: string): void {
    this.out += line;
    this.r.lines++;
  }

  /**
   * A state's line, recorded for restart de-duplication with `flags` (ArrivalKind | CREATED_ANEW)
   * and the result it came from (0: live). `live`: the enrichment context goes in. Returns the
   * line's time in µs.
   */
  addState(entityId: string, line: string, flags: number, resultId: number, live: boolean): number {
    const withCtx = live && this.context !== '';
    const us =
      this.records === null
        ? lineTimeUs(line, line.lastIndexOf(' '))
        : this.records.add(entityId, line, flags, resultId, this.r.lines, this.latin1, withCtx ? this.contextBytes() : 0);
    this.out += withCtx ? withContext(line, this.context) : line;
    this.r.lines++;
    return us;
  }

  /** The state's line, or null (skipped by the schema, or invalid: counted). `timeNs` replaces last_updated. */
  encodeLine(state: unknown, timeNs?: string): string | null {
    try {
      const line = this.encoder.encodeState(state as HaState, timeNs);
      if (line === null) this.r.skipped++;
      return line;
    } catch (err) {
      // RangeError: a limit of the engine reached anyway (a state value nested past the bound).
      if (!(err instanceof InvalidStateError) && !(err instanceof RangeError)) throw err;
      this.fail(err instanceof RangeError ? `a state could not be encoded (${(err as Error).message}): refused` : (err as Error).message);
      return null;
    }
  }

  /**
   * An entity id seen in a state: reported once per thread, as UTF-8 text. Both forms of a
   * non-ASCII id are remembered, so the Latin-1 and the UTF-8 path do not report it twice.
   */
  seeEntity(entityId: string): void {
    const ids = this.thread.reportedIds;
    if (ids.has(entityId)) return;
    ids.add(entityId);
    const text = this.latin1 ? fromLatin1Form(entityId) : entityId;
    if (text !== entityId) {
      if (ids.has(text)) return;
      ids.add(text);
    }
    this.r.newEntityIds.push(text);
  }

  /** Person, device tracker and weather states go to the main thread's context. */
  observe(state: HaState): void {
    if (!OBSERVED_DOMAINS.test(state.entity_id)) return;
    const a = (state.attributes ?? {}) as { temperature?: unknown; humidity?: unknown };
    this.r.observed.push({
      id: state.entity_id,
      state: String(state.state),
      timeNs: (typeof state.last_updated === 'string' ? isoToNs(state.last_updated) : null) ?? '',
      ...(typeof a.temperature === 'number' ? { temperature: a.temperature } : {}),
      ...(typeof a.humidity === 'number' ? { humidity: a.humidity } : {}),
    });
  }

  finish(textEncoder: { encode(s: string): Uint8Array }): EncodeResult {
    const r = this.r;
    if (this.latin1) {
      const lp = Buffer.allocUnsafeSlow(this.out.length);
      lp.write(this.out, 0, 'latin1');
      r.lp = lp;
      this.toUtf8Strings();
    } else {
      r.lp = textEncoder.encode(this.out);
    }
    if (this.records !== null) r.dedup = this.records.finish(r.lp);
    return r;
  }

  private toUtf8Strings(): void {
    const r = this.r;
    r.errors = r.errors.map(fromLatin1Form);
    r.observed = r.observed.map((o) => ({ ...o, id: fromLatin1Form(o.id), state: fromLatin1Form(o.state) }));
    r.liveFirst = r.liveFirst.map((f) => ({ ...f, entityId: fromLatin1Form(f.entityId) }));
    r.control = r.control.map((c) =>
      'encoded' in c
        ? {
            ...c,
            encoded: {
              ...c.encoded,
              entityIds: c.encoded.entityIds.map(fromLatin1Form),
              newest: c.encoded.newest && { ...c.encoded.newest, entityId: fromLatin1Form(c.encoded.newest.entityId) },
            },
          }
        : (JSON.parse(fromLatin1Form(JSON.stringify(c))) as ControlMessage),
    );
  }
}

/** The line with the context fields before its timestamp. */
function withContext(line: string, context: string): string {
  const sp = line.lastIndexOf(' ');
  return `${line.slice(0, sp)}${context}${line.slice(sp)}`;
}
