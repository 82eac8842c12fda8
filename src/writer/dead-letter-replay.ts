/**
 * `--replay-dead-letters`: sends the dead letters again, once their cause is fixed (a field type
 * planted by another writer dropped, a retention policy widened), through the writer's own path
 * (gzip, the answer table, bisection, dead-lettering), with their original timestamps — a point
 * written twice is the same point.
 *
 * Rules:
 * - `DEAD_LETTER_DIR/dead-letter.jsonl` is first renamed to `dead-letter.replaying.jsonl`, so the
 *   running ingestor (if any) starts a new file beside it, and a replay cut short is taken up by
 *   the next one (its writes are idempotent).
 * - A line the database refuses again, as a line, goes back to `dead-letter.jsonl` with the new
 *   reason. A line that could not be sent (the database is away, a proxy refuses) goes back
 *   unchanged. A line written is gone from the file: a second replay sends nothing twice.
 * - Nothing goes to the ingestor's spool: the replay is run by hand, and says what it did.
 */
import { mkdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { appendDurably } from '../state/durable-write.js';
import { gunzipSync } from 'node:zlib';
import { type Logger, pino } from 'pino';
import type { Config } from '../config.js';
import { createMetrics } from '../metrics.js';
import type { Redact } from '../redact.js';
import { createFileWriteClient } from '../sinks/file.js';
import { createHttpWriteClient, influxWriteTarget, type WriteClient } from '../sinks/influx.js';
import { DeadLetters } from './dead-letter.js';
import type { SpoolRecord } from './spool.js';
import { Writer, type WriterSpool } from './writer.js';
import { splitLines } from '../../workers/line-protocol.js';

export interface ReplayOptions {
  /** DEAD_LETTER_DIR. */
  readonly dir: string;
  readonly client: WriteClient;
  readonly log: Logger;
  /** How long the writer may take to settle everything before what is left is kept. */
  readonly timeoutMs?: number;
}

export interface ReplayResult {
  /** Dead letters read. */
  readonly letters: number;
  readonly written: number;
  /** Refused again by the database as lines: back in the file with the new reason. */
  readonly refused: number;
  /** Not sent (the database did not take writes): back in the file unchanged. */
  readonly kept: number;
}

/** Stands in for the spool: what the writer would keep, it hands back to the replay. */
class KeptBodies implements WriterSpool {
  readonly bodies: { body: Buffer; gzipped: boolean }[] = [];
  lines = 0;
  readonly hasPending = false;
  async append(body: Buffer, lines: number, gzipped: boolean): Promise<void> {
    this.bodies.push({ body, gzipped });
    this.lines += lines;
  }
  async next(): Promise<SpoolRecord | null> {
    return null;
  }
  async ack(): Promise<void> {}
  retryLater(): void {}
  async close(): Promise<void> {}
}

export function deadLetterFiles(dir: string): { file: string; replaying: string } {
  return { file: join(dir, 'dead-letter.jsonl'), replaying: join(dir, 'dead-letter.replaying.jsonl') };
}

/**
 * The entries to replay, as raw JSON lines: those of a replay cut short, then the file's. The file
 * is renamed first (atomic): a running ingestor's next dead letter starts a new file.
 */
async function takeLetters(dir: string): Promise<string[]> {
  const { file, replaying } = deadLetterFiles(dir);
  const taking = join(dir, 'dead-letter.taking.jsonl');
  await rename(file, taking).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
  const taken = await readFile(taking, 'utf8').catch(() => null);
  if (taken !== null) {
    await appendDurably(replaying, taken.endsWith('\n') || taken === '' ? taken : `${taken}\n`);
    await unlink(taking);
  }
  const all = await readFile(replaying, 'utf8').catch(() => '');
  return all.split('\n').filter((l) => l.trim() !== '');
}

export async function replayDeadLetters(opts: ReplayOptions): Promise<ReplayResult> {
  await mkdir(opts.dir, { recursive: true });
  const entries = await takeLetters(opts.dir);
  const byLine = new Map<string, string[]>();
  const unreadable: string[] = [];
  for (const entry of entries) {
    const line = lineOf(entry);
    if (line === undefined) unreadable.push(entry);
    else byLine.set(line, [...(byLine.get(line) ?? []), entry]);
  }
  const lines = [...byLine.keys()];
  const metrics = createMetrics();
  const kept = new KeptBodies();
  const writer = new Writer({
    client: opts.client,
    spool: kept,
    deadLetters: new DeadLetters(opts.dir),
    maxLines: 5000,
    maxBytes: 4 * 1024 * 1024,
    flushIntervalMs: 10,
    gzipLevel: 1,
    concurrency: 1,
    maxQueueBytes: 64 * 1024 * 1024,
    retryBaseMs: 500,
    retryMaxMs: 5_000,
    retriesBeforeSpool: 3,
    log: opts.log,
    metrics,
  });
  if (lines.length > 0) writer.accept(Buffer.from(`${lines.join('\n')}\n`), lines.length);
  await writer.close(opts.timeoutMs ?? 120_000);
  // What was not sent goes back as it was (an unreadable entry too: it is not ours to drop).
  const keptLines = keptLinesOf(kept);
  const back = [...unreadable, ...keptLines.flatMap((l) => byLine.get(l) ?? [])];
  const { file, replaying } = deadLetterFiles(opts.dir);
  await appendDurably(file, back.map((e) => `${e}\n`).join(''));
  await unlink(replaying).catch(() => {});
  return { letters: entries.length, written: metrics.pointsWritten.total(), refused: metrics.deadLetterPoints.total(), kept: keptLines.length };
}

function lineOf(entry: string): string | undefined {
  try {
    const j = JSON.parse(entry) as { line?: unknown };
    return typeof j.line === 'string' && j.line !== '' ? j.line : undefined;
  } catch {
    return undefined;
  }
}

function keptLinesOf(kept: KeptBodies): string[] {
  return kept.bodies.flatMap(({ body, gzipped }) => splitLines(gzipped ? gunzipSync(body) : body));
}

/**
 * The command: the configured sink, a log through the redaction, one summary line. Exit code 0
 * when every dead letter was written or refused again as a line, 1 when some could not be sent.
 */
export async function replayDeadLettersCommand(config: Config, redact: Redact): Promise<number> {
  const log = pino({ level: config.logLevel, base: undefined, hooks: { streamWrite: redact } });
  const client =
    config.influx === null
      ? createFileWriteClient(join(config.dataDir, 'out'))
      : createHttpWriteClient(influxWriteTarget(config.influx), { connections: 1, timeoutMs: 30_000 });
  const result = await replayDeadLetters({ dir: config.deadLetterDir, client, log });
  log[result.kept === 0 ? 'info' : 'error'](
    { ...result, file: deadLetterFiles(config.deadLetterDir).file },
    `dead letters replayed: ${result.written} written, ${result.refused} refused again (back in the file with the reason), ${result.kept} not sent (the database did not take writes; back in the file)`,
  );
  return result.kept === 0 ? 0 : 1;
}
