/**
 * The watermark holds the writer owns, and how many of each hold's lines are not settled yet.
 * Lines of one hold may travel in several batches (the line batcher cuts where it must); a hold
 * is released when the last of its lines is settled (written, spooled or dead-lettered), and only
 * then, exactly once.
 */
import type { Hold } from '../pipeline/watermark.js';

export class HoldLedger {
  private readonly lines = new Map<Hold, number>();

  /** Holds with lines not yet settled. */
  get size(): number {
    return this.lines.size;
  }

  /** The writer takes `lines` more lines of `hold` (and owns the hold from here). */
  add(hold: Hold, lines: number): void {
    this.lines.set(hold, (this.lines.get(hold) ?? 0) + lines);
  }

  /** Those lines are settled: a hold none of whose lines is left is released. */
  settle(holds: ReadonlyMap<Hold, number>): void {
    for (const [hold, n] of holds) {
      const left = (this.lines.get(hold) ?? 0) - n;
      if (left > 0) {
        this.lines.set(hold, left);
      } else {
        this.lines.delete(hold);
        hold.release();
      }
    }
  }
}
