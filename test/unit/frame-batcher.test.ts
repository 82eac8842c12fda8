/** The frame batcher: small frames copied into one batch, a frame of the batch bound or more handed on as it is. */
import { describe, expect, it } from 'vitest';
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
});
