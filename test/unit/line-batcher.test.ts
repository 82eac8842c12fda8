import { describe, expect, it, vi } from 'vitest';
import { LineBatcher, type LineBatch } from '../../src/writer/line-batcher.js';

const lines = (from: number, n: number) => Buffer.from(Array.from({ length: n }, (_, i) => `m v=${from + i} ${from + i}\n`).join(''));
const text = (b: LineBatch) => Buffer.concat(b.chunks).toString();

describe('LineBatcher', () => {
  it('seals at maxLines, cutting a chunk at a line boundary', () => {
    const sealed: LineBatch[] = [];
    const b = new LineBatcher({ maxLines: 3, maxBytes: 1 << 20, maxDelayMs: 1000 }, (x) => sealed.push(x));
    b.push(lines(0, 2), 2);
    b.push(lines(2, 5), 5);
    expect(sealed.map((s) => s.lines)).toEqual([3, 3]);
    expect(text(sealed[0] as LineBatch)).toBe(lines(0, 3).toString());
    expect(text(sealed[1] as LineBatch)).toBe(lines(3, 3).toString());
    expect(b.pendingLines).toBe(1);
    b.flush();
    expect(text(sealed[2] as LineBatch)).toBe(lines(6, 1).toString());
  });

  it('seals at maxBytes; a line longer than maxBytes goes alone', () => {
    const sealed: LineBatch[] = [];
    const b = new LineBatcher({ maxLines: 100, maxBytes: 20, maxDelayMs: 1000 }, (x) => sealed.push(x));
    b.push(Buffer.from('a v=1 1\nb v=2 2\n'), 2); // 16 bytes
    b.push(Buffer.from(`long v="${'x'.repeat(40)}" 3\nc v=3 4\n`), 2);
    b.flush();
    expect(sealed.map(text)).toEqual(['a v=1 1\nb v=2 2\n', `long v="${'x'.repeat(40)}" 3\n`, 'c v=3 4\n']);
    expect(sealed.map((s) => s.lines)).toEqual([2, 1, 1]);
    for (const s of sealed) expect(s.bytes).toBe(text(s).length);
  });

  it('a line feed inside a string value is not a line boundary', () => {
    const sealed: LineBatch[] = [];
    const b = new LineBatcher({ maxLines: 2, maxBytes: 1 << 20, maxDelayMs: 1000 }, (x) => sealed.push(x));
    const three = 'a s="one\ntwo" 1\nb s="x 2\n" 2\nc v=3 3\n';
    b.push(Buffer.from(three), 3);
    b.flush();
    expect(sealed.map(text)).toEqual(['a s="one\ntwo" 1\nb s="x 2\n" 2\n', 'c v=3 3\n']);
    expect(sealed.map((s) => s.lines)).toEqual([2, 1]);
  });

  it('seals after maxDelayMs', () => {
    vi.useFakeTimers();
    try {
      const sealed: LineBatch[] = [];
      const b = new LineBatcher({ maxLines: 100, maxBytes: 1 << 20, maxDelayMs: 1000 }, (x) => sealed.push(x));
      b.push(lines(0, 1), 1);
      vi.advanceTimersByTime(999);
      expect(sealed).toHaveLength(0);
      b.push(lines(1, 1), 1);
      vi.advanceTimersByTime(1);
      expect(sealed.map((s) => s.lines)).toEqual([2]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('loses no line whatever the cut points', () => {
    const sealed: LineBatch[] = [];
    const b = new LineBatcher({ maxLines: 7, maxBytes: 97, maxDelayMs: 1000 }, (x) => sealed.push(x));
    let n = 0;
    for (const size of [1, 13, 2, 40, 7, 3, 100]) {
      b.push(lines(n, size), size);
      n += size;
    }
    b.flush();
    expect(sealed.map(text).join('')).toBe(lines(0, n).toString());
    expect(sealed.reduce((a, s) => a + s.lines, 0)).toBe(n);
    for (const s of sealed) {
      expect(s.lines).toBeLessThanOrEqual(7);
      expect(s.bytes).toBeLessThanOrEqual(97);
    }
  });
});
