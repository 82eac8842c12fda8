/**
 * A stand-in for the HA connection of the statistics import and follower: answers come from the
 * simulator's statistics (src/sim/statistics.ts) and go through the real batch encoder, as they
 * would in a worker; the lines land in `points` (series and timestamp → line, and how often
 * each was written).
 */
import { HaCommandError, HaConnectionLostError } from '../../src/errors.js';
import type { StatesEncoded } from '../../src/ha/connection.js';
import type { Command } from '../../src/ha/messages.js';
import { SimStatistics, type SimStatisticsOptions } from '../../src/sim/statistics.js';
import type { StateResultKind, StatesSummary } from '../../workers/encode-batch.js';
import { createSchemaBatchEncoder } from '../../workers/schema.js';

export class StatisticsHa {
  readonly sim: SimStatistics;
  readonly encoder = createSchemaBatchEncoder({ schema: 'typed' });
  /** `<series> <timestamp>` → the line's fields, and how many times it was written. */
  readonly points = new Map<string, { fields: string; writes: number }>();
  readonly commands: Command[] = [];
  haVersion = '2025.11.0';
  /** An HA whose recorder is not loaded: every statistics command is unknown. */
  noRecorder = false;
  /** The request with this number (1-based) loses the connection. */
  loseAt = 0;
  private nextId = 1;

  constructor(
    options: SimStatisticsOptions,
    public nowMs: number,
  ) {
    this.sim = new SimStatistics(options, 1, nowMs);
  }

  async request(message: Command): Promise<unknown> {
    this.take(message);
    const answer = message.type.endsWith('list_statistic_ids') ? this.sim.listIds() : this.sim.during(message, this.nowMs);
    return JSON.parse(JSON.stringify(answer));
  }

  async requestStates(message: Command, kind: StateResultKind): Promise<StatesEncoded> {
    this.take(message);
    const id = this.nextId++;
    const frame = Buffer.from(JSON.stringify({ id, type: 'result', success: true, result: this.sim.during(message, this.nowMs) }));
    const r = this.encoder.encode({ bytes: new Uint8Array(frame), ends: Uint32Array.of(frame.length), session: 1, stateResults: [[id, kind]] });
    for (const line of Buffer.from(r.lp).toString('utf8').split('\n')) {
      if (line === '') continue;
      const [series, fields, ts] = line.split(' ');
      const key = `${series} ${ts}`;
      const seen = this.points.get(key);
      this.points.set(key, { fields: fields as string, writes: (seen?.writes ?? 0) + 1 });
    }
    return (r.control[0] as StatesSummary).encoded;
  }

  private take(message: Command): void {
    this.commands.push(message);
    if (this.commands.length === this.loseAt) throw new HaConnectionLostError(message.type, 'connection closed');
    // As the simulator: the ISO form plays a release with the history/ commands only.
    const prefix = this.sim.timeForm === 'iso' ? 'history/' : 'recorder/';
    if (this.noRecorder || !message.type.startsWith(prefix)) throw new HaCommandError(message.type, 'unknown_command', 'Unknown command.');
  }
}
