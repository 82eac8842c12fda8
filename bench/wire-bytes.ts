/**
 * What each subscription puts on the wire per state change, on the simulator's event mix:
 * `subscribe_events` (state_changed: old_state and new_state in full, what the ingestor uses) and
 * `subscribe_entities` (compressed diffs, what HA's frontend uses; src/sim/entity-diff.ts), plus
 * the one-off initial state (get_states against subscribe_entities' first message). Bytes are
 * exact and deterministic (seeded simulator, no compression: the ingestor negotiates none).
 *
 * It also times the serialising work each shape makes HA do, twice, as PROXIES (no Home
 * Assistant runs on this machine): in Python with orjson, following HA's code paths
 * (bench/ha-side-proxy.py; skipped when python3 or orjson is missing), and in Node.
 *
 *   node dist/bench/wire-bytes.js           print the tables
 *   node dist/bench/wire-bytes.js --docs    also regenerate its part of docs/benchmarks.md and
 *                                           bench/results/wire-bytes.json
 * `npm run bench` runs it too (bench/run.ts).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { eventMessage, initialEntitiesMessage, stateDiffEvent } from '../src/sim/entity-diff.js';
import { HaSimulator, type SimState } from '../src/sim/server.js';

interface StateChanged {
  event_type: string;
  data: { entity_id: string; old_state: SimState | null; new_state: SimState | null };
  origin: string;
  time_fired: string;
  context: SimState['context'];
}

export interface WireBytesRow {
  readonly kind: string;
  readonly events: number;
  /** Mean bytes of one subscribe_events message (state_changed). */
  readonly eventsBytes: number;
  /** Mean bytes of one subscribe_entities message. */
  readonly entitiesBytes: number;
}

export interface WireBytesResult {
  readonly entities: number;
  readonly rows: WireBytesRow[];
  readonly initial: { readonly getStatesBytes: number; readonly entitiesBytes: number; readonly states: number };
  /** Node proxy of the serialising work, ns per event (see the module comment). */
  readonly proxyNs: Record<ProxyStep, number>;
  /** The Python proxy (bench/ha-side-proxy.py), µs per event; null when it could not run. */
  readonly pythonUs: (Record<ProxyStep, number> & { python: string; orjson: string }) | null;
}

export type ProxyStep = 'events0.96' | 'eventsNow' | 'entitiesNow' | 'joinEvents' | 'joinEntities';

const PROXY_LABELS: Record<ProxyStep, string> = {
  'events0.96': 'subscribe_events as HA 0.96 did it: the whole event rebuilt and serialised (stdlib json, HA 0.96 encoder) for each subscriber',
  eventsNow: 'subscribe_events on current HA: new_state serialised once (old_state cached from the change before), wrapped',
  entitiesNow: 'subscribe_entities on current HA: diff of old and new state, serialised once',
  joinEvents: 'each subscriber on current HA, subscribe_events: cached bytes + its id',
  joinEntities: 'each subscriber on current HA, subscribe_entities: cached bytes + its id',
};

const SUB_ID = 2;
const WARM_UP = 2_000;
const MEASURED = 5_000;

function kindOf(entityId: string): string {
  const domain = entityId.slice(0, entityId.indexOf('.'));
  return ['sensor', 'binary_sensor', 'light', 'switch'].includes(domain) ? domain : 'climate, person, weather, sun, tracker';
}

/** ns per call of `fn(i)` over `n` items, the best of `runs` passes (less noise from the shared cores). */
function timePerItem(n: number, runs: number, fn: (i: number) => unknown): number {
  let best = Number.POSITIVE_INFINITY;
  let sink = 0;
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) sink += (fn(i) as { length: number }).length;
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / n);
  }
  if (sink < 0) console.log(sink);
  return best;
}

export function measureWireBytes(entities = 300, seed = 42): WireBytesResult {
  const sim = new HaSimulator({ token: 'x', entities, seed, record: false });
  const warm = sim.generate(WARM_UP).map((e) => JSON.parse(e) as StateChanged);
  const texts = sim.generate(MEASURED);
  const events = texts.map((e) => JSON.parse(e) as StateChanged);
  const latest = new Map<string, SimState>();
  for (const ev of [...warm, ...events]) if (ev.data.new_state !== null) latest.set(ev.data.entity_id, ev.data.new_state);

  const byKind = new Map<string, { events: number; eventsBytes: number; entitiesBytes: number }>();
  const all = { events: 0, eventsBytes: 0, entitiesBytes: 0 };
  const diffTexts: string[] = [];
  events.forEach((ev, i) => {
    const { entity_id, old_state, new_state } = ev.data;
    const diff = JSON.stringify(stateDiffEvent(entity_id, old_state, new_state));
    diffTexts.push(diff);
    const eventsBytes = Buffer.byteLength(eventMessage(SUB_ID, texts[i] as string));
    const entitiesBytes = Buffer.byteLength(eventMessage(SUB_ID, diff));
    const kind = kindOf(entity_id);
    const k = byKind.get(kind) ?? { events: 0, eventsBytes: 0, entitiesBytes: 0 };
    for (const acc of [k, all]) {
      acc.events++;
      acc.eventsBytes += eventsBytes;
      acc.entitiesBytes += entitiesBytes;
    }
    byKind.set(kind, k);
  });
  const row = (kind: string, a: typeof all): WireBytesRow => ({
    kind,
    events: a.events,
    eventsBytes: Math.round(a.eventsBytes / a.events),
    entitiesBytes: Math.round(a.entitiesBytes / a.events),
  });
  const rows = [row('all (the simulator’s mix)', all), ...[...byKind].sort((a, b) => b[1].events - a[1].events).map(([k, a]) => row(k, a))];

  const states = [...latest.values()];
  const getStatesBytes = Buffer.byteLength(`{"id":${SUB_ID},"type":"result","success":true,"result":[${states.map((s) => JSON.stringify(s)).join(',')}]}`);
  const initialBytes = Buffer.byteLength(initialEntitiesMessage(SUB_ID, states));

  // The proxy. Current HA keeps each State's JSON on the State (as_dict_json) and each event's
  // message in an LRU cache shared by every subscriber; old_state was serialised as the
  // new_state of the change before, so only new_state is new work.
  const previousJson = new Map<string, string>();
  for (const ev of warm) if (ev.data.new_state !== null) previousJson.set(ev.data.entity_id, JSON.stringify(ev.data.new_state));
  const oldJson = events.map((ev) => previousJson.get(ev.data.entity_id) ?? JSON.stringify(ev.data.old_state));
  const eventCached = texts.map((t) => Buffer.from(`{"type":"event","event":${t}`));
  const entitiesCached = diffTexts.map((t) => Buffer.from(`{"type":"event","event":${t}`));
  const idTail = Buffer.from(`,"id":${SUB_ID}}`);
  const n = events.length;
  const ev = (i: number): StateChanged => events[i] as StateChanged;
  const proxyNs: Record<ProxyStep, number> = {
    'events0.96': timePerItem(n, 9, (i) => eventMessage(SUB_ID, JSON.stringify(ev(i)))),
    eventsNow: timePerItem(n, 9, (i) => {
      const e = ev(i);
      const data = `{"entity_id":${JSON.stringify(e.data.entity_id)},"old_state":${oldJson[i]},"new_state":${JSON.stringify(e.data.new_state)}}`;
      return `{"type":"event","event":{"event_type":"state_changed","data":${data},"origin":"LOCAL","time_fired":"${e.time_fired}","context":${JSON.stringify(e.context)}}`;
    }),
    entitiesNow: timePerItem(
      n,
      9,
      (i) => `{"type":"event","event":${JSON.stringify(stateDiffEvent(ev(i).data.entity_id, ev(i).data.old_state, ev(i).data.new_state))}`,
    ),
    joinEvents: timePerItem(n, 9, (i) => Buffer.concat([eventCached[i] as Buffer, idTail])),
    joinEntities: timePerItem(n, 9, (i) => Buffer.concat([entitiesCached[i] as Buffer, idTail])),
  };
  return { entities, rows, initial: { getStatesBytes, entitiesBytes: initialBytes, states: states.length }, proxyNs, pythonUs: pythonProxy(texts) };
}

/** Runs bench/ha-side-proxy.py on the same state changes; null (and why, on stderr) when it cannot. */
function pythonProxy(eventTexts: readonly string[]): WireBytesResult['pythonUs'] {
  const dir = mkdtempSync(`${tmpdir()}/wire-bytes-`);
  try {
    const file = `${dir}/events.jsonl`;
    writeFileSync(file, `${eventTexts.join('\n')}\n`);
    const script = fileURLToPath(new URL('../../bench/ha-side-proxy.py', import.meta.url));
    const run = spawnSync('python3', [script, file], { encoding: 'utf8', timeout: 120_000 });
    if (run.status !== 0) {
      console.error(`bench/ha-side-proxy.py did not run (python3 with orjson needed): ${run.error?.message ?? run.stderr.trim().split('\n').pop()}`);
      return null;
    }
    return JSON.parse(run.stdout) as NonNullable<WireBytesResult['pythonUs']>;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

export function wireBytesMarkdown(r: WireBytesResult, at: string): string {
  const ratio = (a: number, b: number): string => (b / a).toFixed(2);
  return [
    `Measured on ${at}: the simulator (${r.entities} entities, seed 42), ${fmt(MEASURED)} state changes after ${fmt(WARM_UP)} of warm-up; one message per change as HA sends it with \`coalesce_messages\` off, no compression (the ingestor negotiates none). Bytes are exact and deterministic.`,
    '',
    '| state changes of | changes | subscribe_events (bytes per change) | subscribe_entities (bytes per change) | entities ÷ events |',
    '|---|---:|---:|---:|---:|',
    ...r.rows.map((w) => `| ${w.kind} | ${fmt(w.events)} | ${fmt(w.eventsBytes)} | ${fmt(w.entitiesBytes)} | ${ratio(w.eventsBytes, w.entitiesBytes)} |`),
    `| initial state, once per connection (${fmt(r.initial.states)} entities): get_states answer vs subscribe_entities' first message | 1 | ${fmt(r.initial.getStatesBytes)} | ${fmt(r.initial.entitiesBytes)} | ${ratio(r.initial.getStatesBytes, r.initial.entitiesBytes)} |`,
    '',
    `Serialising work per change that each subscription makes HA do, timed as **proxies** — no Home Assistant runs on this machine: Python ${r.pythonUs ? `${r.pythonUs.python} with orjson ${r.pythonUs.orjson}` : '(not run: python3 with orjson missing)'} replaying HA's code paths on stand-ins for its State and Event objects (bench/ha-side-proxy.py), and Node's JSON.stringify. Best of several passes on shared cores; HA's own machine and Python differ, the ratios are what to read.`,
    '',
    '| work in HA per state change | Python + orjson proxy (µs) | Node proxy (µs) |',
    '|---|---:|---:|',
    ...(Object.keys(PROXY_LABELS) as ProxyStep[]).map(
      (k) => `| ${PROXY_LABELS[k]} | ${r.pythonUs ? r.pythonUs[k].toFixed(2) : '—'} | ${(r.proxyNs[k] / 1000).toFixed(2)} |`,
    ),
  ].join('\n');
}

export function writeWireBytesDoc(docPath: string, body: string): void {
  const start = '<!-- wire-bytes:start -->';
  const end = '<!-- wire-bytes:end -->';
  const doc = readFileSync(docPath, 'utf8');
  const i = doc.indexOf(start);
  const j = doc.indexOf(end);
  if (i === -1 || j === -1) throw new Error(`${docPath} lacks the ${start} … ${end} markers`);
  writeFileSync(docPath, `${doc.slice(0, i + start.length)}\n${body}\n${doc.slice(j)}`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const at = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`;
  const result = measureWireBytes();
  const md = wireBytesMarkdown(result, at);
  console.log(md);
  if (process.argv.includes('--docs')) {
    writeWireBytesDoc(fileURLToPath(new URL('../../docs/benchmarks.md', import.meta.url)), md);
    const json = fileURLToPath(new URL('../../bench/results/wire-bytes.json', import.meta.url));
    writeFileSync(json, `${JSON.stringify({ machine: at, ...result }, null, 2)}\n`);
    console.log('docs/benchmarks.md (wire-bytes) and bench/results/wire-bytes.json regenerated');
  }
}
