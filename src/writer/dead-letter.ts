/**
 * Dead letters: points the database refused one by one (400/422 for that single line), kept in
 * `<dir>/dead-letter.jsonl`, one JSON object per line:
 *
 *   {"at":"2024-05-01T12:00:00.000Z","status":400,"error":"<server message>","line":"<line protocol>"}
 *
 * Appended and fsync'd before the point counts as settled.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { appendDurably } from '../state/durable-write.js';

export class DeadLetters {
  readonly path: string;
  private ready: Promise<void> | null = null;

  constructor(private readonly dir: string) {
    this.path = join(dir, 'dead-letter.jsonl');
  }

  async add(line: string, status: number | undefined, error: string): Promise<void> {
    this.ready ??= mkdir(this.dir, { recursive: true }).then(() => undefined);
    await this.ready;
    await appendDurably(this.path, `${JSON.stringify({ at: new Date().toISOString(), status, error, line })}\n`);
  }
}
