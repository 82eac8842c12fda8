/**
 * Groups raw frames into one transferable batch for the encoder pool: the frames copied back to
 * back into a fresh buffer, with the end offset of each. A batch is sealed when it reaches
 * `maxBytes` or `maxFrames`, or `maxDelayMs` after its first frame. Per frame the main thread only
 * keeps a reference; the one copy happens when the batch is sealed.
 */

export interface FrameBatch {
  readonly bytes: Uint8Array;
  /** ends[i] = offset just past frame i. */
  readonly ends: Uint32Array;
  /** When the first frame of the batch arrived (ms since the epoch). */
  readonly firstAt: number;
}

export interface FrameBatcherOptions {
  readonly maxBytes: number;
  readonly maxFrames: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_FRAME_BATCH: FrameBatcherOptions = { maxBytes: 1024 * 1024, maxFrames: 4096, maxDelayMs: 20 };

export class FrameBatcher {
  private frames: Buffer[] = [];
  private bytes = 0;
  private firstAt = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly opts: FrameBatcherOptions,
    private readonly seal: (batch: FrameBatch) => void,
  ) {}

  push(frame: Buffer): void {
    if (this.frames.length === 0) this.firstAt = Date.now();
    this.frames.push(frame);
    this.bytes += frame.length;
    if (this.bytes >= this.opts.maxBytes || this.frames.length >= this.opts.maxFrames) this.flush();
    else if (this.timer === undefined) this.timer = setTimeout(() => this.flush(), this.opts.maxDelayMs);
  }

  /** Seals whatever is pending now. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.frames.length === 0) return;
    const bytes = new Uint8Array(this.bytes);
    const ends = new Uint32Array(this.frames.length);
    let offset = 0;
    for (let i = 0; i < this.frames.length; i++) {
      const f = this.frames[i] as Buffer;
      bytes.set(f, offset);
      offset += f.length;
      ends[i] = offset;
    }
    this.frames = [];
    this.bytes = 0;
    this.seal({ bytes, ends, firstAt: this.firstAt });
  }
}
