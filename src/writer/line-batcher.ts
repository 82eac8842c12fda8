/**
 * Cuts the stream of encoded chunks into write batches of at most `maxLines` lines and
 * `maxBytes` bytes, sealed at the latest `maxDelayMs` after their first line. Chunks are cut at
 * line boundaries; a single line longer than `maxBytes` travels alone.
 */
import type { Hold } from '../pipeline/watermark.js';
import { lineEnd } from '../../workers/line-protocol.js';

export interface LineBatch {
  readonly chunks: readonly Uint8Array[];
  readonly lines: number;
  readonly bytes: number;
  /** Lines in this batch per watermark hold given to push() (src/pipeline/watermark.ts). */
  readonly holds: ReadonlyMap<Hold, number>;
}

export interface LineBatcherOptions {
  readonly maxLines: number;
  readonly maxBytes: number;
  readonly maxDelayMs: number;
}

export class LineBatcher {
  private chunks: Uint8Array[] = [];
  private holds = new Map<Hold, number>();
  private lines = 0;
  private bytes = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly opts: LineBatcherOptions,
    private readonly seal: (batch: LineBatch) => void,
  ) {}

  get pendingLines(): number {
    return this.lines;
  }

  get pendingBytes(): number {
    return this.bytes;
  }

  push(chunk: Uint8Array, lines: number, hold?: Hold): void {
    const { maxLines, maxBytes } = this.opts;
    while (lines > 0) {
      if (this.lines + lines <= maxLines && this.bytes + chunk.length <= maxBytes) {
        this.append(chunk, lines, hold);
        break;
      }
      const roomLines = maxLines - this.lines;
      const roomBytes = maxBytes - this.bytes;
      let cut = 0;
      let taken = 0;
      while (taken < roomLines) {
        const nl = lineEnd(chunk, cut);
        if (nl === -1 || nl + 1 > roomBytes) break;
        cut = nl + 1;
        taken++;
      }
      if (taken === 0 && this.lines === 0) {
        cut = lineEnd(chunk, 0) + 1 || chunk.length;
        taken = 1;
      }
      if (taken > 0) this.append(chunk.subarray(0, cut), taken, hold);
      this.flush();
      chunk = chunk.subarray(cut);
      lines -= taken;
    }
    if (this.lines >= maxLines || this.bytes >= maxBytes) this.flush();
    else if (this.lines > 0 && this.timer === undefined) this.timer = setTimeout(() => this.flush(), this.opts.maxDelayMs);
  }

  /** Seals the current batch now, if it has anything. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.lines === 0) return;
    const batch: LineBatch = { chunks: this.chunks, lines: this.lines, bytes: this.bytes, holds: this.holds };
    this.chunks = [];
    this.holds = new Map();
    this.lines = 0;
    this.bytes = 0;
    this.seal(batch);
  }

  private append(chunk: Uint8Array, lines: number, hold: Hold | undefined): void {
    this.chunks.push(chunk);
    if (hold !== undefined) this.holds.set(hold, (this.holds.get(hold) ?? 0) + lines);
    this.lines += lines;
    this.bytes += chunk.length;
  }
}
