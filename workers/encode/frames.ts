/**
 * The batch encoder: a job's frames → line protocol, counts, the non-event messages found in the
 * frames, and (with restart de-duplication) one record per state line. After auth the main thread
 * parses no frame at all: results and pongs travel in the same frames as events, so the worker
 * that parses the frame anyway hands them back in `control`. Each message goes to the module of
 * its kind: live-event, snapshot, ws-history, rest-history, statistics.
 *
 * Decoding: UTF-8 text with any non-ASCII byte becomes a two-byte V8 string, which is slow to
 * build and to parse. Line protocol only needs the bytes back, so when a job has no `\u` escape
 * beyond ASCII, frames are read as Latin-1 (one character per byte, a one-byte string) and the
 * output is written back as Latin-1: every byte of the input comes out unchanged, and nothing we
 * add is beyond ASCII. Strings that leave the worker otherwise are re-read as UTF-8 (batch.ts).
 */
import { isAscii } from 'node:buffer';
import { isControlMessage } from '../../src/ha/messages.js';
import { toLatin1Form } from '../latin1.js';
import { InvalidStateError, MAX_NESTING, NestingTooDeepError, nestsDeeperThan } from '../invalid.js';
import type { StateEncoder } from '../typed-schema.js';
import { mayHoldFloatSpelling, parseKeepingFloats } from '../float-spelling.js';
import { escaperFor, type Flavor } from '../line-protocol.js';
import { Batch, createThreadState } from './batch.js';
import { encodeEvent, type HaEvent } from './live-event.js';
import { RecordBuilder } from './records.js';
import { encodeRestHistory } from './rest-history.js';
import type { EncodeJob, EncodeResult, StateResultKind, StatesSummary } from './result.js';
import { encodeSnapshot } from './snapshot.js';
import { encodeStatistics } from './statistics.js';
import { encodeWsHistory } from './ws-history.js';

const BACKSLASH_U = Buffer.from('\\u');
/** Levels above a value in a result message ({"result": [{"attributes": {…}}]}). */
const CONTROL_ENVELOPE = 4;

/** Whether every `\uXXXX` escape in the bytes is ASCII (\u0000–\u007f). */
export function escapesAreAscii(bytes: Buffer): boolean {
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

export interface BatchEncoderOptions {
  /** Restart de-duplication: return records for the main thread's judge (EncodeResult.dedup). */
  readonly dedup?: boolean;
  /** INFLUX_FLAVOR, for the ha_event lines (the state encoders have their own). */
  readonly flavor?: Flavor;
  /**
   * SCHEMA=ha: keep which integral numbers HA spelled as floats (workers/float-spelling.ts), inside
   * nested lists and dicts, or everywhere (tags_attributes prints attributes as tags).
   */
  readonly keepFloatSpelling?: 'nested' | 'everywhere';
}

/**
 * `latin1Encoder` is the same schema built for the Latin-1 fast path (its configuration strings
 * in Latin-1 form, workers/latin1.ts); without it every frame is decoded as UTF-8. One encoder per
 * thread: it remembers which entity ids it has reported (EncodeResult.newEntityIds).
 */
export function createBatchEncoder(utf8Encoder: StateEncoder, latin1Encoder?: StateEncoder, options: BatchEncoderOptions = {}) {
  const thread = createThreadState(escaperFor(options.flavor));
  const textEncoder = new TextEncoder();
  const records = options.dedup === true ? new RecordBuilder() : null;

  const everywhere = options.keepFloatSpelling === 'everywhere';
  const parse = options.keepFloatSpelling === undefined ? JSON.parse : (text: string) => parseFrameKeepingFloats(text, everywhere);

  function encode(job: EncodeJob): EncodeResult {
    const text = Buffer.from(job.bytes.buffer, job.bytes.byteOffset, job.bytes.byteLength);
    const latin1 = latin1Encoder !== undefined && !isAscii(text) && escapesAreAscii(text);
    const context = latin1 ? toLatin1Form(job.context ?? '') : (job.context ?? '');
    const b = new Batch(job, latin1 ? latin1Encoder : utf8Encoder, latin1, context, thread, records);
    let start = 0;
    for (const end of job.ends) {
      let parsed: unknown;
      try {
        parsed = parse(latin1 ? text.toString('latin1', start, end) : text.toString('utf8', start, end));
      } catch (err) {
        b.fail(`frame of ${end - start} bytes is not JSON: ${(err as Error).message}`);
        start = end;
        continue;
      }
      start = end;
      if (Array.isArray(parsed)) for (const msg of parsed) encodeMessage(b, msg);
      else encodeMessage(b, parsed);
    }
    return b.finish(textEncoder);
  }

  return { encode };
}

export type BatchEncoder = ReturnType<typeof createBatchEncoder>;

/**
 * JSON.parse, or the float-keeping parser when the text has a float-spelled number where it
 * matters. A frame nested beyond that parser's recursion (HA's orjson stops at 255 levels, so not
 * HA's) is JSON.parse's: one frame's spelling is worth less than its messages.
 */
function parseFrameKeepingFloats(text: string, everywhere: boolean): unknown {
  if (!mayHoldFloatSpelling(text, everywhere)) return JSON.parse(text);
  try {
    return parseKeepingFloats(text);
  } catch (err) {
    if (err instanceof SyntaxError) throw err;
    return JSON.parse(text);
  }
}

interface Message {
  type?: unknown;
  id?: unknown;
  success?: unknown;
  result?: unknown;
  event?: HaEvent;
}

/**
 * One message, alone: whatever it holds, it ends as its points or as one invalid event (counted,
 * with its reason), never as the failure of its batch. The bounds (workers/invalid.ts) keep the
 * encoders' recursion shallow; a RangeError (a stack or string limit reached anyway) is caught
 * here as the last line.
 */
function encodeMessage(b: Batch, msg: unknown): void {
  try {
    encodeMessageUnguarded(b, msg);
  } catch (err) {
    if (!(err instanceof InvalidStateError) && !(err instanceof RangeError)) throw err;
    const reason = (err as Error).message;
    b.fail(err instanceof RangeError ? `message could not be encoded (${reason}): refused` : reason);
  }
}

function encodeMessageUnguarded(b: Batch, msg: unknown): void {
  const m = msg as Message | null;
  if (typeof m !== 'object' || m === null) {
    b.fail(`message is not an object: ${JSON.stringify(msg)?.slice(0, 80)}`);
    return;
  }
  if (m.type !== 'event') {
    encodeReply(b, m);
    return;
  }
  b.r.events++;
  encodeEvent(b, m.event);
}

/** A result or a pong: states to write are encoded, anything else goes back as it is. */
function encodeReply(b: Batch, m: Message): void {
  const kind = m.type === 'result' && m.success === true ? b.job.stateResults.find(([id]) => id === m.id)?.[1] : undefined;
  if (kind !== undefined && typeof m.result === 'object' && m.result !== null) {
    b.r.control.push(encodeStates(b, m.id as number, kind, m.result));
  } else if (isControlMessage(m)) {
    // It travels back to the main thread (structured clone) and may be re-encoded: bounded too.
    if (nestsDeeperThan(m, MAX_NESTING + CONTROL_ENVELOPE)) throw new NestingTooDeepError(`result ${String(m.id)}`);
    b.r.control.push(m);
  } else {
    b.fail(`unexpected message type ${JSON.stringify(m.type)}`);
  }
}

function encodeStates(b: Batch, id: number, kind: StateResultKind, result: object): StatesSummary {
  if (kind === 'history') return encodeWsHistory(b, id, result as Record<string, unknown>);
  if (kind === 'statistics-hour' || kind === 'statistics-5minute') return encodeStatistics(b, id, kind, result as Record<string, unknown>);
  const list = Array.isArray(result) ? (result as unknown[]) : [];
  return kind === 'rest' ? encodeRestHistory(b, id, list) : encodeSnapshot(b, id, list);
}
