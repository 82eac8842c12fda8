/**
 * The simulator's recorder statistics: `recorder/list_statistic_ids` and
 * `recorder/statistics_during_period` (history/… for releases before 2022.11) answered in HA's
 * shapes, from statistics computed on demand — nothing is stored, so 2 years × 100 sensors
 * (1.75 M hourly rows) cost no memory until asked for.
 *
 * Shapes (home-assistant/core, homeassistant/components/recorder/):
 * - list_statistic_ids, current (statistics.py _flatten_list_statistic_ids_metadata_result,
 *   d3be3f4737f0942256ba688a145b67aa035de084): statistic_id, display_unit_of_measurement,
 *   has_mean, mean_type, has_sum, name, source, statistics_unit_of_measurement, unit_class.
 *   The ISO form (older releases): statistic_id, name, source, unit_of_measurement.
 * - statistics_during_period (websocket_api.py dfbe53eb8ea80795f6b033a6d3c3054b7a496fde): without
 *   `types` every type, {"<id>":[{"start","end","mean","min","max","last_reset","state","sum",
 *   "change"}]}, null where a statistic has none; start/end/last_reset integer ms, or ISO strings
 *   in the "iso" form. Rows with start_time ≤ start < end_time (statistics.py
 *   _generate_statistics_during_period_stmt); ids without rows are left out.
 * - A period's row exists once HA compiled it: at its end + 10 s (recorder/core.py compiles at
 *   every 5th minute + 10 s), on the simulator's HA clock, so rows appear as its clock passes.
 * - "month" (the importer's probe) answers one row per UTC month holding rows, with the values
 *   of its first hour (HA reduces the month; the ingestor reads only `start`).
 *
 * Values are a pure function of (seed, statistic, period start): measurement sensors have
 * mean/min/max; counters have state/sum (sum rises every period), every third one a last_reset.
 */
import { createRng } from './home.js';

export interface SimStatisticsOptions {
  /** Measurement sensors (mean, min, max). */
  readonly sensors: number;
  /** Counters such as energy (state, sum). */
  readonly counters: number;
  /** Hourly statistics back this far from the simulator's start (days; default 730). */
  readonly days?: number;
  /** 5-minute statistics kept (days; HA's purge_keep_days default 10). */
  readonly shortTermDays?: number;
  /** Time form of the answers: integer ms (current HA) or ISO strings (HA before 2023). */
  readonly timeForm?: 'ms' | 'iso';
}

interface SimStatistic {
  readonly id: string;
  readonly counter: boolean;
  /** First hourly row (ms). */
  readonly firstMs: number;
  readonly base: number;
  readonly rate: number;
  readonly lastResetMs: number | null;
}

const HOUR = 3_600_000;
const FIVE_MIN = 300_000;
const COMPILE_DELAY_MS = 10_000;

export class SimStatistics {
  readonly list: readonly SimStatistic[];
  private readonly byId: Map<string, SimStatistic>;
  private readonly shortTermMs: number;
  readonly timeForm: 'ms' | 'iso';
  /** Statistics requests answered and bytes of their answers (the bench's HA-side cost). */
  requests = 0;
  bytes = 0;
  /** The largest answer so far (bytes). */
  largest = 0;
  /** Every statistics_during_period asked (tests: which windows came twice). */
  readonly asked: { readonly period: string; readonly startMs: number; readonly endMs: number; readonly ids: number }[] = [];

  constructor(options: SimStatisticsOptions, seed: number, startMs: number) {
    const rng = createRng(seed ^ 0x5717);
    const days = options.days ?? 730;
    const oldest = Math.floor(startMs / HOUR) * HOUR - days * 24 * HOUR;
    const list: SimStatistic[] = [];
    for (let i = 0; i < options.sensors + options.counters; i++) {
      const counter = i >= options.sensors;
      // Staggered starts: the first ids have the whole range, later ones began up to a quarter later.
      const firstMs = oldest + Math.floor(rng() * (i % 4 === 0 ? 0 : days / 4)) * 24 * HOUR;
      list.push({
        id: counter ? `sensor.energy_${i}` : `sensor.temperature_${i}`,
        counter,
        firstMs,
        base: Math.round(rng() * 300) / 10,
        rate: 0.5 + Math.round(rng() * 2000) / 1000,
        lastResetMs: counter && i % 3 === 0 ? firstMs : null,
      });
    }
    this.list = list;
    this.byId = new Map(list.map((s) => [s.id, s]));
    this.shortTermMs = (options.shortTermDays ?? 10) * 24 * HOUR;
    this.timeForm = options.timeForm ?? 'ms';
  }

  /** list_statistic_ids's answer. */
  listIds(): unknown[] {
    return this.list.map((s) => {
      const unit = s.counter ? 'kWh' : '°C';
      const name = s.id.slice('sensor.'.length).replace('_', ' ');
      if (this.timeForm === 'iso') return { statistic_id: s.id, name, source: 'recorder', unit_of_measurement: unit };
      return {
        statistic_id: s.id,
        display_unit_of_measurement: unit,
        has_mean: !s.counter,
        mean_type: s.counter ? 0 : 1,
        has_sum: s.counter,
        name,
        source: 'recorder',
        statistics_unit_of_measurement: unit,
        unit_class: s.counter ? 'energy' : 'temperature',
      };
    });
  }

  /** statistics_during_period's answer, or an error code. */
  during(msg: Record<string, unknown>, haNowMs: number): Record<string, unknown[]> | { error: string } {
    const start = Date.parse(String(msg.start_time));
    const end = msg.end_time === undefined ? Number.POSITIVE_INFINITY : Date.parse(String(msg.end_time));
    if (Number.isNaN(start) || Number.isNaN(end)) return { error: 'invalid_start_time' };
    const ids = msg.statistic_ids;
    if (!Array.isArray(ids) || ids.length === 0) return { error: 'invalid_format' };
    this.asked.push({ period: String(msg.period), startMs: start, endMs: end, ids: ids.length });
    const out: Record<string, unknown[]> = {};
    for (const id of ids) {
      const s = this.byId.get(String(id));
      if (s === undefined) continue;
      const rows = msg.period === 'month' ? this.months(s, start, end, haNowMs) : this.rows(s, String(msg.period), start, end, haNowMs);
      if (rows === null) return { error: 'invalid_format' };
      if (rows.length > 0) out[s.id] = rows;
    }
    return out;
  }

  /** Every row a test expects for `period` with start in [fromMs, toMs), as the ingestor should write it. */
  expected(period: 'hour' | '5minute', fromMs: number, toMs: number, haNowMs: number): { id: string; startMs: number; row: Record<string, unknown> }[] {
    const out: { id: string; startMs: number; row: Record<string, unknown> }[] = [];
    for (const s of this.list)
      for (const row of this.rows(s, period, fromMs, toMs, haNowMs, 'ms') ?? []) out.push({ id: s.id, startMs: row.start as number, row });
    return out;
  }

  /** How many rows `expected` would list, without making them (benchmarks: 1.75 M rows). */
  count(period: 'hour' | '5minute', fromMs: number, toMs: number, haNowMs: number): number {
    const p = period === 'hour' ? HOUR : FIVE_MIN;
    const compiledEnd = Math.floor((haNowMs - COMPILE_DELAY_MS) / FIVE_MIN) * FIVE_MIN;
    let n = 0;
    for (const s of this.list) {
      const oldest = p === HOUR ? s.firstMs : Math.max(s.firstMs, compiledEnd - this.shortTermMs);
      const first = Math.max(oldest, Math.ceil(fromMs / p) * p);
      const end = Math.min(toMs, compiledEnd - p + 1);
      if (end > first) n += Math.ceil((end - first) / p);
    }
    return n;
  }

  private rows(s: SimStatistic, period: string, start: number, end: number, haNowMs: number, form = this.timeForm): Record<string, unknown>[] | null {
    const p = period === 'hour' ? HOUR : period === '5minute' ? FIVE_MIN : 0;
    if (p === 0) return null;
    const compiledEnd = Math.floor((haNowMs - COMPILE_DELAY_MS) / FIVE_MIN) * FIVE_MIN;
    const oldest = p === HOUR ? s.firstMs : Math.max(s.firstMs, compiledEnd - this.shortTermMs);
    const out: Record<string, unknown>[] = [];
    for (let t = Math.max(oldest, Math.ceil(start / p) * p); t < end && t + p <= compiledEnd; t += p) out.push(this.row(s, t, p, form));
    return out;
  }

  private months(s: SimStatistic, start: number, end: number, haNowMs: number): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    const compiledEnd = Math.floor((haNowMs - COMPILE_DELAY_MS) / HOUR) * HOUR;
    const d = new Date(Math.max(start, s.firstMs));
    let month = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
    while (month < Math.min(end, compiledEnd)) {
      const m = new Date(month);
      const next = Date.UTC(m.getUTCFullYear(), m.getUTCMonth() + 1, 1);
      out.push({ ...this.row(s, Math.max(month, s.firstMs), HOUR, this.timeForm), start: this.time(month), end: this.time(next) });
      month = next;
    }
    return out;
  }

  /** One row: the values at period start `t` (a pure function of the statistic and t). */
  private row(s: SimStatistic, t: number, p: number, form: 'ms' | 'iso'): Record<string, unknown> {
    const h = (t - s.firstMs) / HOUR;
    const time = (ms: number): number | string => (form === 'ms' ? ms : isoOf(ms));
    if (!s.counter) {
      const mean = round3(s.base + 5 * Math.sin(h / 3.82) + ((hash(s.firstMs + t) % 1000) - 500) / 1000);
      const spread = round3(0.1 + (hash(t ^ 0x55) % 700) / 1000);
      return {
        start: time(t),
        end: time(t + p),
        mean,
        min: round3(mean - spread),
        max: round3(mean + spread),
        last_reset: null,
        state: null,
        sum: null,
        change: null,
      };
    }
    const sum = sumAt(s, h);
    const change = round3(sum - sumAt(s, h - p / HOUR));
    const lastReset = s.lastResetMs === null ? null : time(s.lastResetMs);
    return { start: time(t), end: time(t + p), mean: null, min: null, max: null, last_reset: lastReset, state: round3(sum + 1000), sum, change };
  }

  private time(ms: number): number | string {
    return this.timeForm === 'ms' ? ms : isoOf(ms);
  }
}

/** A counter's sum after `h` hours: rises at least 0.42 an hour (rate ≥ 0.5, the wave's slope ≤ 0.08). */
function sumAt(s: SimStatistic, h: number): number {
  return round3(s.rate * h + 0.4 * Math.sin(h / 5) ** 2);
}

const round3 = (v: number): number => Math.round(v * 1000) / 1000;

/** HA's JSON encoder: isoformat() with +00:00, no fraction at whole seconds. */
function isoOf(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', '+00:00').replace('Z', '+00:00');
}

/** A 32-bit integer hash (deterministic noise). */
function hash(n: number): number {
  let x = Math.floor(n / 1000) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x45d9f3b);
  x = Math.imul(x ^ (x >>> 16), 0x45d9f3b);
  return (x ^ (x >>> 16)) >>> 0;
}
