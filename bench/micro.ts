/**
 * Micro-benchmarks of every hot-path step, per event, on the simulator's realistic event mix,
 * each beside the alternative it was chosen over. Run: `npm run bench` (all) or
 * `node dist/bench/micro.js`. Writes bench/results/micro.json.
 */
import { gzipSync } from 'node:zlib';
import { Piscina } from 'piscina';
import { Bench } from 'tinybench';
import { WORKER_FILE } from '../src/pipeline/encoder-pool.js';
import { FrameBatcher } from '../src/pipeline/frame-batcher.js';
import { RestartDedup } from '../src/pipeline/restart-dedup/index.js';
import type { Hold } from '../src/pipeline/watermark.js';
import { HaSimulator } from '../src/sim/server.js';
import { pino } from 'pino';
import type { EncodeJob, EncodeResult } from '../workers/encode-batch.js';
import { mayHoldFloatSpelling, parseKeepingFloats } from '../workers/float-spelling.js';
import { createSchemaBatchEncoder } from '../workers/schema.js';
import { escapeKey, escapeStringValue } from '../workers/line-protocol.js';
import { isoToNs } from '../workers/timestamp.js';
import { createTypedEncoder, type HaState } from '../workers/typed-schema.js';

export interface MicroResult {
  readonly name: string;
  readonly group: string;
  /** Nanoseconds per event (or per call where the name says so). */
  readonly nsPerEvent: number;
  readonly samples: number;
}

const FRAME_EVENTS = 500;

function framesJob(frames: Buffer[]): EncodeJob {
  let job: EncodeJob | undefined;
  const batcher = new FrameBatcher(
    { maxBytes: Number.MAX_SAFE_INTEGER, maxFrames: Number.MAX_SAFE_INTEGER, maxDelayMs: 1e9 },
    (b) => (job = { bytes: b.bytes, ends: b.ends, session: 1, stateResults: [] }),
  );
  for (const f of frames) batcher.push(f);
  batcher.flush();
  return job as EncodeJob;
}

/**
 * The main thread's share of restart de-duplication: one worker result's records judged against
 * the table. Each call moves the batch's times forward, so every event updates its entity's
 * points as a live change does (not the cheaper 'same point again' path).
 */
function verdictBench(result: EncodeResult): () => unknown {
  const dedup = new RestartDedup({
    log: pino({ level: 'silent' }),
    metrics: { reannouncementsSkipped: { inc: () => {} }, seenEntities: { collect: () => {} } },
    write: (_lp, _n, hold) => hold.release(),
  });
  const hold: Hold = { seq: 0, arrivedAtMs: 0, noteHaTime: () => {}, share: () => hold, release: () => {} };
  const times = (result.dedup as NonNullable<EncodeResult['dedup']>).timesUs;
  return () => {
    for (let i = 0; i < times.length; i++) times[i] = (times[i] as number) + 1_000_000;
    return dedup.filter(result, hold);
  };
}

export async function runMicro(timeMs = 400): Promise<MicroResult[]> {
  const sim = new HaSimulator({ token: 'x', entities: 300, seed: 42, record: false });
  const events = sim.generate(FRAME_EVENTS * 10);
  const messages = events.map((e) => `{"type":"event","event":${e},"id":2}`);
  const frames: Buffer[] = [];
  for (let i = 0; i < messages.length; i += FRAME_EVENTS) frames.push(Buffer.from(`[${messages.slice(i, i + FRAME_EVENTS).join(',')}]`));
  const frame = frames[0] as Buffer;
  const frameText = frame.toString();
  const parsed = JSON.parse(frameText) as { event: { data: { new_state: HaState } } }[];
  const states = parsed.map((m) => m.event.data.new_state);
  const stamps = states.map((s) => s.last_updated);
  const typed = createTypedEncoder();
  const batchEncoder = createSchemaBatchEncoder({ schema: 'typed' });
  const dedupEncoder = createSchemaBatchEncoder({ schema: 'typed' }, { dedup: true });
  const verdicts = verdictBench(dedupEncoder.encode(framesJob([frame])));
  const oneFrameJob = () => framesJob([frame]);
  const lp = Buffer.from(batchEncoder.encode(framesJob(frames)).lp);
  const lpLines = FRAME_EVENTS * 10;
  const singleFrames = messages.slice(0, FRAME_EVENTS).map((m) => Buffer.from(m));

  const results: MicroResult[] = [];
  const bench = new Bench({ time: timeMs, warmup: true });
  const perEvent = new Map<string, { group: string; events: number }>();
  const add = (group: string, name: string, eventsPerCall: number, fn: () => unknown): void => {
    perEvent.set(name, { group, events: eventsPerCall });
    bench.add(name, fn);
  };

  // Worker side: what one event costs to turn into a line.
  add('worker', 'JSON.parse of a coalesced frame', FRAME_EVENTS, () => JSON.parse(frameText));
  add('worker', 'typed encode (parsed state → line)', FRAME_EVENTS, () => {
    let s = '';
    for (const st of states) s += typed.encodeState(st);
    return s;
  });
  add('worker', 'whole worker job: parse + encode + UTF-8', FRAME_EVENTS, () => batchEncoder.encode(oneFrameJob()));
  add('worker', 'whole worker job with restart de-duplication (the default)', FRAME_EVENTS, () => dedupEncoder.encode(oneFrameJob()));
  add('worker', 'isoToNs (exact ns from ISO text)', FRAME_EVENTS, () => {
    let n = 0;
    for (const t of stamps) n += (isoToNs(t) as string).length;
    return n;
  });
  add('worker', 'baseline: Date.parse (ms only, inexact)', FRAME_EVENTS, () => {
    let n = 0;
    for (const t of stamps) n += Date.parse(t);
    return n;
  });
  // SCHEMA=ha keeps HA's float spelling (workers/float-spelling.ts): every frame pays the scan; a
  // frame with `5.0` inside brackets (here: every integer spelled as a float) the slower parse.
  const floatText = frameText.replace(/([:[,])(-?\d+)(?=[,\]}])/g, '$1$2.0');
  add('worker', 'SCHEMA=ha: float-spelling scan of a frame (every frame)', FRAME_EVENTS, () => mayHoldFloatSpelling(frameText));
  add('worker', 'SCHEMA=ha: float-keeping parse (a frame with 5.0 in brackets)', FRAME_EVENTS, () => parseKeepingFloats(floatText));
  add('worker', 'baseline: JSON.parse of that frame', FRAME_EVENTS, () => JSON.parse(floatText));
  add('worker', 'escapeKey, nothing to escape (per call)', 1, () => escapeKey('friendly_name'));
  add('worker', 'escapeKey, special characters (per call)', 1, () => escapeKey('key with space, comma = equals'));
  add('worker', 'escapeStringValue, quotes (per call)', 1, () => escapeStringValue('Bob\'s "Office" lamp'));

  // Main thread: what one event costs before it leaves for a worker.
  add('main thread', 'chosen: batch copy of a coalesced frame into a transferable buffer', FRAME_EVENTS, () => oneFrameJob());
  add('main thread', 'chosen: batch copy, one event per frame (old HA)', FRAME_EVENTS, () => framesJob(singleFrames));
  add(
    'main thread',
    'rejected: scan each frame for results/pongs (2 × Buffer.indexOf)',
    FRAME_EVENTS,
    () => frame.indexOf('"result"') + frame.indexOf('"pong"'),
  );
  add('main thread', 'rejected: JSON.parse on the main thread', FRAME_EVENTS, () => JSON.parse(frameText));
  add('main thread', 'restart de-duplication: verdicts applied in job order (RestartDedup.filter)', FRAME_EVENTS, verdicts);
  add('main thread', 'rejected: structuredClone of parsed events (postMessage of objects)', FRAME_EVENTS, () => structuredClone(parsed));

  // Writer: gzip of encoded lines, per event, by level.
  for (const level of [1, 3, 6, 9]) add('writer', `gzip level ${level}`, lpLines, () => gzipSync(lp, { level }));

  await bench.run();
  for (const task of bench.tasks) {
    const meta = perEvent.get(task.name);
    const r = task.result as { latency?: { mean: number }; state?: string; samplesCount?: number } | undefined;
    if (!meta || !r?.latency) continue;
    results.push({ group: meta.group, name: task.name, nsPerEvent: (r.latency.mean * 1e6) / meta.events, samples: r.samplesCount ?? 0 });
  }

  // Worker round trip: what handing a batch to a Piscina thread and back costs, by batch size.
  const pool = new Piscina({ filename: WORKER_FILE, minThreads: 1, maxThreads: 1 });
  for (const framesPerBatch of [1, 4, 10]) {
    const batchFrames = frames.slice(0, framesPerBatch);
    const n = framesPerBatch * FRAME_EVENTS;
    const rounds = 40;
    for (let i = 0; i < 5; i++) await pool.run(framesJob(batchFrames));
    const started = process.hrtime.bigint();
    for (let i = 0; i < rounds; i++) {
      const job = framesJob(batchFrames);
      await pool.run(job, { transferList: [job.bytes.buffer as ArrayBuffer, job.ends.buffer as ArrayBuffer] });
    }
    const ns = Number(process.hrtime.bigint() - started) / rounds / n;
    results.push({ group: 'pool', name: `worker round trip, ${n} events per batch (encode included)`, nsPerEvent: ns, samples: rounds });
  }
  await pool.destroy();
  return results;
}
