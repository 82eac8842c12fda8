/**
 * What the database must hold for what the simulator emitted, computed here independently of the
 * encoder (the typed schema as docs/schema.md states it), and readers of both databases.
 */
import { expect } from 'vitest';
import type { EmittedState, SimState } from '../../src/sim/server.js';
import { influxQuery } from './influxql.js';

const BINARY: Record<string, number> = { on: 1, off: 0, home: 1, not_home: 0, open: 1, closed: 0, above_horizon: 1, below_horizon: 0, locked: 1, unlocked: 0 };

export interface ExpectedPoint {
  measurement: string;
  entityId: string;
  /** Nanoseconds since the epoch, decimal. */
  time: string;
  value: number | null;
  state: string | null;
  friendlyName: string | null;
}

/** RFC 3339 / ISO 8601 with any fraction and offset → ns (independent of workers/timestamp.ts). */
export function nsOf(iso: string): string {
  const m = /^(.{19})(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$/.exec(iso);
  if (!m) throw new Error(`bad time ${iso}`);
  const zone = m[3] === undefined || m[3] === 'Z' ? 'Z' : m[3];
  const ms = Date.parse(`${m[1]}${zone}`);
  return (BigInt(ms) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'))).toString();
}

const HA_ON: Record<string, number> = { on: 1, locked: 1, above_horizon: 1, open: 1, home: 1, off: 0, unlocked: 0, below_horizon: 0, closed: 0, not_home: 0 };

/** SCHEMA=ha: the `value` and `state` fields HA's integration writes for a state (its rules, not our encoder). */
export function haValueState(state: string, attributes: Record<string, unknown>): [number | null, string | null] {
  const n = Number(state.trim());
  const isNumber = state.trim() !== '' && !/[a-df-z]/i.test(state) && Number.isFinite(n);
  // With a text state the value field is free, so an attribute named "value" takes it (HA does
  // so); a state Python reads as inf or nan takes it but is not written.
  const pythonNumber = /^[+-]?(inf|infinity|nan)$/i.test(state.trim());
  const attrValue = typeof attributes.value === 'number' && !pythonNumber ? attributes.value : null;
  return [isNumber ? n : (HA_ON[state] ?? attrValue), isNumber || pythonNumber ? null : state];
}

function numeric(s: string): number | null {
  const t = s.trim();
  if (t === '' || /[a-df-z]/i.test(t) || /^[-+]?(nan|inf)/i.test(t)) return null;
  const n = Number(t);
  return Number.isFinite(n) ? n : null;
}

export function expectedPoint(entityId: string, state: string, attributes: Record<string, unknown>, lastUpdated: string): ExpectedPoint {
  const n = numeric(state);
  const binary = BINARY[state];
  const friendly = attributes.friendly_name;
  return {
    measurement: entityId.slice(0, entityId.indexOf('.')),
    entityId,
    time: nsOf(lastUpdated),
    value: n ?? (binary === undefined ? null : binary),
    // Exact: InfluxDB reads a line feed inside a string field back as it was.
    state: n === null ? state : null,
    friendlyName: typeof friendly === 'string' ? friendly : null,
  };
}

/** One point per entity and time: a snapshot repeats the state of the entity's last change. */
export function expectedPoints(snapshot: SimState[], emitted: EmittedState[]): ExpectedPoint[] {
  const points = new Map<string, ExpectedPoint>();
  for (const s of snapshot) points.set(`${s.entity_id}\u0000${s.last_updated}`, expectedPoint(s.entity_id, s.state, s.attributes, s.last_updated));
  for (const e of emitted) points.set(`${e.entityId}\u0000${e.lastUpdated}`, expectedPoint(e.entityId, e.state, e.attributes, e.lastUpdated));
  return [...points.values()];
}

const keyOf = (p: { measurement: string; entityId: string; time: string }) => `${p.measurement}\u0000${p.entityId}\u0000${p.time}`;

/** Asserts the two sets are equal point by point; reports the first differences readably. */
export function expectSamePoints(actual: ExpectedPoint[], expected: ExpectedPoint[]): void {
  const want = new Map(expected.map((p) => [keyOf(p), p]));
  const have = new Map<string, ExpectedPoint>();
  const duplicates: string[] = [];
  for (const p of actual) {
    if (have.has(keyOf(p))) duplicates.push(keyOf(p));
    have.set(keyOf(p), p);
  }
  const missing = [...want.keys()].filter((k) => !have.has(k));
  const extra = [...have.keys()].filter((k) => !want.has(k));
  const different = [...want.entries()].filter(([k, p]) => have.has(k) && JSON.stringify(have.get(k)) !== JSON.stringify(p));
  expect({
    missing: missing.length,
    extra: extra.length,
    duplicates: duplicates.length,
    different: different.length,
    firstMissing: missing.slice(0, 3),
    firstExtra: extra.slice(0, 3),
    firstDifferent: different.slice(0, 2).map(([k, p]) => ({ want: p, have: have.get(k) })),
  }).toEqual({
    missing: 0,
    extra: 0,
    duplicates: 0,
    different: 0,
    firstMissing: [],
    firstExtra: [],
    firstDifferent: [],
  });
  expect(have.size).toBe(expected.length);
}

/** InfluxDB 1.x: every point of the measurements, read back through /query. */
export async function readInfluxV1(url: string, db: string, auth?: { user: string; password: string }): Promise<ExpectedPoint[]> {
  const q = (query: string) => influxQuery(url, db, query, { auth });
  // The ingestor's own health and the points it derives (presence, weather) are not HA states.
  const derived = new Set(['ha_ingestor', 'home_presence', 'weather_observation']);
  const measurements = (await q('SHOW MEASUREMENTS')).flatMap((s) => s.values.map((v) => String(v[0]))).filter((m) => !derived.has(m));
  const points: ExpectedPoint[] = [];
  for (const m of measurements) {
    const fields = new Set((await q(`SHOW FIELD KEYS FROM "${m}"`)).flatMap((s) => s.values.map((v) => String(v[0]))));
    const cols = ['value', 'state', 'friendly_name_str'].filter((f) => fields.has(f)).map((f) => `"${f}"`);
    // InfluxDB 1.6.7 can list a measurement a moment before its field keys: a poll looks again.
    if (cols.length === 0) continue;
    for (const s of await q(`SELECT ${cols.join(',')},"entity_id" FROM "${m}"`)) {
      const at = (c: string) => s.columns.indexOf(c);
      for (const row of s.values) {
        const get = (c: string) => (at(c) === -1 ? null : (row[at(c)] ?? null));
        points.push({
          measurement: m,
          entityId: String(get('entity_id')),
          time: nsOf(String(get('time'))),
          value: get('value') as number | null,
          state: get('state') as string | null,
          friendlyName: get('friendly_name_str') as string | null,
        });
      }
    }
  }
  return points;
}

export async function createInfluxV1Database(url: string, db: string): Promise<void> {
  const res = await fetch(`${url}/query`, { method: 'POST', body: new URLSearchParams({ q: `DROP DATABASE "${db}"; CREATE DATABASE "${db}"` }) });
  if (!res.ok) throw new Error(`CREATE DATABASE: ${res.status}`);
}

/** VictoriaMetrics keeps numeric fields only, as `<measurement>_<field>`, in ms. */
export interface VmSample {
  metric: string;
  entityId: string;
  ms: number;
  value: number;
}

export async function readVm(url: string): Promise<VmSample[]> {
  await fetch(`${url}/internal/force_flush`);
  const text = await (await fetch(`${url}/api/v1/export?${new URLSearchParams({ 'match[]': '{__name__=~".+_value"}' })}`)).text();
  const out: VmSample[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const s = JSON.parse(line) as { metric: Record<string, string>; values: number[]; timestamps: number[] };
    if (String(s.metric.__name__).endsWith('_attr_value')) continue; // an attribute named "value"
    for (const [i, ms] of s.timestamps.entries())
      out.push({ metric: String(s.metric.__name__), entityId: String(s.metric.entity_id), ms, value: s.values[i] as number });
  }
  return out;
}

export function vmExpected(points: ExpectedPoint[]): VmSample[] {
  return points
    .filter((p) => p.value !== null)
    .map((p) => ({ metric: `${p.measurement}_value`, entityId: p.entityId, ms: Number(BigInt(p.time) / 1_000_000n), value: p.value as number }));
}

/** Multiset equality of samples (VictoriaMetrics keeps duplicates, so count matters). */
export function expectSameSamples(actual: VmSample[], expected: VmSample[]): void {
  const key = (s: VmSample) => `${s.metric}\u0000${s.entityId}\u0000${s.ms}\u0000${s.value}`;
  const count = (list: VmSample[]) => {
    const m = new Map<string, number>();
    for (const s of list) m.set(key(s), (m.get(key(s)) ?? 0) + 1);
    return m;
  };
  const have = count(actual);
  const want = count(expected);
  const missing = [...want].filter(([k, n]) => (have.get(k) ?? 0) < n).map(([k]) => k);
  const extra = [...have].filter(([k, n]) => (want.get(k) ?? 0) < n).map(([k]) => k);
  expect({ missing: missing.length, extra: extra.length, firstMissing: missing.slice(0, 3), firstExtra: extra.slice(0, 3) }).toEqual({
    missing: 0,
    extra: 0,
    firstMissing: [],
    firstExtra: [],
  });
  expect(actual.length).toBe(expected.length);
}
