/**
 * Groups raw frames into one transferable batch for the encoder pool: the frames copied back to
 * back into a fresh buffer, with the end offset of each. A batch is sealed when it reaches
 * `maxBytes` or `maxFrames`, or `maxDelayMs` after its first frame. Per frame the main thread only
 * keeps a reference; the one copy happens when the batch is sealed.
 *
 * A frame of `maxBytes` or more is not copied at all: what is pending is sealed first (order
 * kept), then the frame goes on as a batch of its own, its bytes handed over as they are — when
 * the Buffer owns its whole ArrayBuffer (ws allocates one per large message), which the pool then
 * transfers to a worker. A Buffer that is a view into a shared (pooled) ArrayBuffer is copied:
 * transferring it would detach memory that is not ours. A maximal frame thus costs the main
 * thread its one buffer, never two.
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
    if (frame.length >= this.opts.maxBytes && ownsItsMemory(frame)) {
      this.flush();
      this.seal({ bytes: new Uint8Array(frame.buffer, 0, frame.length), ends: Uint32Array.of(frame.length), firstAt: Date.now() });
      return;
    }
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

/** The Buffer is the whole of its ArrayBuffer (not a slice of Node's pool or of a socket chunk). */
function ownsItsMemory(b: Buffer): boolean {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && !(b.buffer instanceof SharedArrayBuffer);
}
