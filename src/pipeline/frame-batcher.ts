/**
 * Groups raw frames into one transferable batch for the encoder pool: the frames copied back to
 * back into a fresh buffer, with the end offset of each. A batch is sealed when it reaches
 * `maxBytes` or `maxFrames`, or a delay after its first frame. Per frame the main thread only
 * keeps a reference; the one copy happens when the batch is sealed.
 *
 * The delay adapts to the rate (each batch is one pool task, about 0.4 ms of main-thread CPU
 * against a real HA that sends one event per frame): a batch aims at `targetFrames` frames, so
 * after a batch sealed by its delay the next delay is `targetFrames` × (that delay / its frames),
 * kept between `maxDelayMs` (bursts: as before) and `sparseDelayMs` (home rates: a few frames a
 * second make one task per `sparseDelayMs`, not one per frame). A batch sealed by size or count
 * sets it back to `maxDelayMs`. While `urgent()` says so (commands waiting for their answers:
 * replies ride in frames and are decoded by the workers) the delay is `maxDelayMs`, and a frame
 * pushed into a batch armed with a longer delay brings the seal forward to `maxDelayMs` after
 * it, so no reply waits longer than before.
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
  /** When the last frame of the batch arrived (ms since the epoch): its newest event's arrival. */
  readonly lastAt: number;
}

export interface FrameBatcherOptions {
  readonly maxBytes: number;
  readonly maxFrames: number;
  /** Delay after a batch's first frame when frames come fast (and the shortest delay). */
  readonly maxDelayMs: number;
  /** Longest delay, when frames are sparse (default maxDelayMs: no adaptation). */
  readonly sparseDelayMs?: number;
  /** Frames a batch aims at when the delay adapts. */
  readonly targetFrames?: number;
  /** True while a sparse delay must not apply (commands waiting for their answers). */
  readonly urgent?: () => boolean;
}

/** sparseDelayMs stays below a quarter of the writer's FLUSH_INTERVAL_MS (app.ts). */
export const DEFAULT_FRAME_BATCH = { maxBytes: 1024 * 1024, maxFrames: 4096, maxDelayMs: 20, sparseDelayMs: 250, targetFrames: 16 } as const;

export class FrameBatcher {
  private frames: Buffer[] = [];
  private bytes = 0;
  private firstAt = 0;
  private lastAt = 0;
  private timer: NodeJS.Timeout | undefined;
  /** The delay of the next batch (adapted after each batch sealed by its delay). */
  private delayMs: number;
  /** The delay the pending batch's timer was set with. */
  private armedMs = 0;

  constructor(
    private readonly opts: FrameBatcherOptions,
    private readonly seal: (batch: FrameBatch) => void,
  ) {
    this.delayMs = opts.maxDelayMs;
  }

  /** The delay a batch begun now would get (ms). */
  get currentDelayMs(): number {
    return this.opts.urgent?.() === true ? this.opts.maxDelayMs : this.delayMs;
  }

  push(frame: Buffer): void {
    if (frame.length >= this.opts.maxBytes && ownsItsMemory(frame)) {
      this.flush();
      this.seal({ bytes: new Uint8Array(frame.buffer, 0, frame.length), ends: Uint32Array.of(frame.length), lastAt: Date.now() });
      return;
    }
    const now = Date.now();
    if (this.frames.length === 0) this.firstAt = now;
    this.lastAt = now;
    this.frames.push(frame);
    this.bytes += frame.length;
    if (this.bytes >= this.opts.maxBytes || this.frames.length >= this.opts.maxFrames) {
      this.delayMs = this.opts.maxDelayMs; // a burst
      this.flush();
    } else if (this.timer === undefined) {
      this.arm(this.currentDelayMs, this.currentDelayMs);
    } else if (this.firstAt + this.armedMs - now > this.opts.maxDelayMs && this.opts.urgent?.() === true) {
      // This frame may hold a reply: it waits no longer than maxDelayMs, whatever was armed before.
      clearTimeout(this.timer);
      this.arm(now - this.firstAt + this.opts.maxDelayMs, this.opts.maxDelayMs);
    }
  }

  /** Seals the pending batch in `inMs`; `ageMs` is its age then (the rate estimate's time span). */
  private arm(ageMs: number, inMs: number): void {
    this.armedMs = ageMs;
    this.timer = setTimeout(() => this.sealOnTime(), Math.max(0, inMs));
  }

  private sealOnTime(): void {
    const { maxDelayMs, sparseDelayMs = maxDelayMs, targetFrames = 1 } = this.opts;
    const wanted = (targetFrames * this.armedMs) / Math.max(1, this.frames.length);
    this.delayMs = Math.min(sparseDelayMs, Math.max(maxDelayMs, Math.round(wanted)));
    this.flush();
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
    this.seal({ bytes, ends, lastAt: this.lastAt });
  }
}

/** The Buffer is the whole of its ArrayBuffer (not a slice of Node's pool or of a socket chunk). */
function ownsItsMemory(b: Buffer): boolean {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && !(b.buffer instanceof SharedArrayBuffer);
}
