/** The frame batcher: small frames copied into one batch, a frame of the batch bound or more handed on as it is. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type FrameBatch, FrameBatcher } from '../../src/pipeline/frame-batcher.js';

const text = (b: FrameBatch): string[] => {
  const out: string[] = [];
  let start = 0;
  for (const end of b.ends) {
    out.push(Buffer.from(b.bytes.subarray(start, end)).toString());
    start = end;
  }
  return out;
};

describe('FrameBatcher', () => {
  it('copies small frames back to back into one batch', () => {
    const batches: FrameBatch[] = [];
    const b = new FrameBatcher({ maxBytes: 1024, maxFrames: 10, maxDelayMs: 1000 }, (x) => batches.push(x));
    b.push(Buffer.from('a'));
    b.push(Buffer.from('bc'));
    b.flush();
    expect(batches.map(text)).toEqual([['a', 'bc']]);
  });

  it('a big frame that owns its memory is not copied: pending frames are sealed first, then the frame itself', () => {
    const batches: FrameBatch[] = [];
    const b = new FrameBatcher({ maxBytes: 1024, maxFrames: 10, maxDelayMs: 1000 }, (x) => batches.push(x));
    b.push(Buffer.from('small'));
    const big = Buffer.alloc(64 * 1024, 'x'); // over Node's pool size: its own ArrayBuffer
    b.push(big);
    expect(batches.map((x) => x.ends.length)).toEqual([1, 1]);
    expect(text(batches[0] as FrameBatch)).toEqual(['small']);
    expect(batches[1]?.bytes.buffer).toBe(big.buffer); // the same memory: handed on, not copied
    expect(batches[1]?.bytes.byteLength).toBe(big.length);
  });

  it('a big frame that is a view into shared memory is copied (transferring it would detach memory not ours)', () => {
    const batches: FrameBatch[] = [];
    const b = new FrameBatcher({ maxBytes: 1024, maxFrames: 10, maxDelayMs: 1000 }, (x) => batches.push(x));
    const chunk = Buffer.alloc(8 * 1024, 'y');
    const view = chunk.subarray(100, 4100);
    b.push(view);
    expect(batches).toHaveLength(1);
    expect(batches[0]?.bytes.buffer).not.toBe(chunk.buffer);
    expect(text(batches[0] as FrameBatch)).toEqual([view.toString()]);
  });

  describe('the delay adapts to the rate', () => {
    afterEach(() => vi.useRealTimers());
    const opts = { maxBytes: 1024 * 1024, maxFrames: 4096, maxDelayMs: 20, sparseDelayMs: 250, targetFrames: 16 };

    it('sparse frames (8 a second) wait up to sparseDelayMs and share a task; the first one waits maxDelayMs', async () => {
      vi.useFakeTimers();
      const batches: { frames: number; at: number }[] = [];
      const b = new FrameBatcher(opts, (x) => batches.push({ frames: x.ends.length, at: Date.now() }));
      const t0 = Date.now();
      b.push(Buffer.from('a'));
      await vi.advanceTimersByTimeAsync(20);
      expect(batches).toEqual([{ frames: 1, at: t0 + 20 }]); // no history yet: the burst delay
      expect(b.currentDelayMs).toBe(250); // 1 frame in 20 ms: 16 frames would take longer than 250 ms
      for (let i = 0; i < 8; i++) {
        b.push(Buffer.from('b'));
        await vi.advanceTimersByTimeAsync(125);
      }
      // 8 frames, 125 ms apart: each batch waits 250 ms and takes 2 of them (4 tasks, not 8).
      expect(batches.slice(1).map((x) => x.frames)).toEqual([2, 2, 2, 2]);
      expect(batches.slice(1).map((x) => x.at - t0)).toEqual([20 + 250, 20 + 500, 20 + 750, 20 + 1000]);
    });

    it('a burst (a batch sealed by size or count) sets the delay back to maxDelayMs; a steady rate aims at targetFrames', async () => {
      vi.useFakeTimers();
      const sizes: number[] = [];
      const b = new FrameBatcher({ ...opts, maxFrames: 64 }, (x) => sizes.push(x.ends.length));
      b.push(Buffer.from('a'));
      await vi.advanceTimersByTimeAsync(20);
      expect(b.currentDelayMs).toBe(250);
      for (let i = 0; i < 64; i++) b.push(Buffer.from('x'));
      expect(sizes).toEqual([1, 64]);
      expect(b.currentDelayMs).toBe(20);
      // 400 frames a second (one every 2.5 ms, here 2 every 5 ms): 16 frames take 40 ms.
      for (let i = 0; i < 200; i++) {
        b.push(Buffer.from('y'));
        b.push(Buffer.from('y'));
        await vi.advanceTimersByTimeAsync(5);
      }
      expect(b.currentDelayMs).toBe(40);
      expect(sizes.slice(-5).every((n) => n >= 14 && n <= 18)).toBe(true);
    });

    it('while urgent() (a command waits for its answer) a batch waits maxDelayMs', async () => {
      vi.useFakeTimers();
      let urgent = false;
      const at: number[] = [];
      const b = new FrameBatcher({ ...opts, urgent: () => urgent }, () => at.push(Date.now()));
      b.push(Buffer.from('a'));
      await vi.advanceTimersByTimeAsync(20);
      expect(b.currentDelayMs).toBe(250);
      urgent = true;
      const t = Date.now();
      b.push(Buffer.from('reply'));
      await vi.advanceTimersByTimeAsync(20);
      expect(at.at(-1)).toBe(t + 20);
      urgent = false;
      expect(b.currentDelayMs).toBe(250);
    });

    it('a reply pushed into a batch armed with the sparse delay is sealed maxDelayMs after it, not at the old deadline', async () => {
      vi.useFakeTimers();
      let urgent = false;
      const batches: { frames: string[]; at: number }[] = [];
      const b = new FrameBatcher({ ...opts, urgent: () => urgent }, (x) => batches.push({ frames: text(x), at: Date.now() }));
      b.push(Buffer.from('a'));
      await vi.advanceTimersByTimeAsync(20);
      expect(b.currentDelayMs).toBe(250);
      const t = Date.now();
      b.push(Buffer.from('event')); // armed for 250 ms
      await vi.advanceTimersByTimeAsync(5);
      urgent = true; // a command was sent; its answer comes next
      b.push(Buffer.from('pong'));
      await vi.advanceTimersByTimeAsync(20);
      expect(batches.at(-1)).toEqual({ frames: ['event', 'pong'], at: t + 25 });
    });

    it("a batch's lastAt is when its last frame arrived", async () => {
      vi.useFakeTimers();
      const last: number[] = [];
      const b = new FrameBatcher({ maxBytes: 1024, maxFrames: 10, maxDelayMs: 100 }, (x) => last.push(x.lastAt));
      const t = Date.now();
      b.push(Buffer.from('a'));
      await vi.advanceTimersByTimeAsync(30);
      b.push(Buffer.from('b'));
      await vi.advanceTimersByTimeAsync(100);
      expect(last).toEqual([t + 30]);
    });

    it('without sparseDelayMs the delay is maxDelayMs, as before', async () => {
      vi.useFakeTimers();
      const at: number[] = [];
      const b = new FrameBatcher({ maxBytes: 1024, maxFrames: 10, maxDelayMs: 20 }, () => at.push(Date.now()));
      const t = Date.now();
      for (let i = 0; i < 3; i++) {
        b.push(Buffer.from('a'));
        await vi.advanceTimersByTimeAsync(500);
      }
      expect(at).toEqual([t + 20, t + 520, t + 1020]);
    });
  });
});
