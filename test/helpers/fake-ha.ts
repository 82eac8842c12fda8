/**
 * A fake Home Assistant for the resync's unit tests: a recorder whose rows are visible once
 * committed (HA reads history as last_updated > start and < end), and history answers that
 * become watermark holds until the test says the pipeline made them durable.
 */
import { HaCommandError, HaConnectionLostError } from '../../src/errors.js';
import type { StatesEncoded } from '../../src/ha/connection.js';
import type { Hold, Watermark } from '../../src/pipeline/watermark.js';

/** HA's side: a recorder whose rows are visible once committed; history answers become holds. */
export class FakeHa {
  readonly rows = new Map<string, { ms: number; committed: boolean }[]>();
  readonly fetches: { start: string; end: string | undefined; ids: string[] }[] = [];
  probes = 0;
  /** Answers in the pipeline (arrived as frames, not durable yet). */
  readonly inFlight: Hold[] = [];
  /** Every request rejects: the connection is gone. */
  lost = false;
  failFetch: Error | null = null;
  /** Every probe (a one-entity history question) fails with this HA error code. */
  failProbe: string | null = null;
  /** Rows inside the windows fetched so far. */
  rowsFetched = 0;
  /** Fetches wait for this (a REST request: it does not end with the socket). */
  hang: Promise<void> | null = null;
  onProbe: (() => void) | null = null;
  /** Called with each history request before it is answered (a throw fails it). */
  onFetch: ((message: Record<string, unknown>) => void) | null = null;

  constructor(private readonly watermark: Watermark) {}

  row(entityId: string, ms: number, committed = true): void {
    const list = this.rows.get(entityId) ?? [];
    list.push({ ms, committed });
    this.rows.set(entityId, list);
  }

  commitAll(): void {
    for (const list of this.rows.values()) for (const r of list) r.committed = true;
  }

  async request(message: Record<string, unknown>): Promise<unknown> {
    this.probes++;
    this.onProbe?.();
    if (this.lost) throw new HaConnectionLostError(String(message.type), 'connection closed');
    if (this.failProbe !== null) throw new HaCommandError(String(message.type), this.failProbe, 'refused');
    return this.history(message);
  }

  /** The committed rows of the message's window, in HA's compressed shape. */
  history(message: Record<string, unknown>): Record<string, unknown[]> {
    const from = Date.parse(String(message.start_time));
    const to = message.end_time === undefined ? Number.POSITIVE_INFINITY : Date.parse(String(message.end_time));
    const out: Record<string, unknown[]> = {};
    for (const id of message.entity_ids as string[]) {
      const rows = (this.rows.get(id) ?? []).filter((r) => r.committed && r.ms > from && r.ms < to);
      if (rows.length > 0) out[id] = rows.map((r) => ({ s: 'x', lu: r.ms / 1000 }));
    }
    return out;
  }

  async requestStates(message: Record<string, unknown>): Promise<StatesEncoded> {
    if (this.lost) throw new HaConnectionLostError('history', 'connection closed');
    this.fetches.push({ start: String(message.start_time), end: message.end_time as string | undefined, ids: message.entity_ids as string[] });
    this.rowsFetched += Object.values(this.history(message)).flat().length;
    this.onFetch?.(message);
    if (this.failFetch !== null) throw this.failFetch;
    if (this.hang !== null) await this.hang;
    this.inFlight.push(this.watermark.hold());
    return { kind: 'history', states: 1, points: 1, entityIds: message.entity_ids as string[], reannounced: 0, deferred: 0, haRestarted: false, newest: null };
  }

  expectStates(): never {
    throw new Error('REST not expected');
  }

  /** The pipeline made the answers durable. */
  settleAnswers(): void {
    for (const h of this.inFlight.splice(0)) h.release();
  }
}
