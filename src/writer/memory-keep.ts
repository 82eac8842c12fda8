/**
 * Batches that neither the database nor the disk would take (the database is away and the spool
 * cannot write: DATA_DIR full or read-only). Rules:
 *
 * - They wait here, in memory, within the writer's byte bound (shared with its queue), and the
 *   writer tries them again (the database first, then the spool) until one takes them.
 * - Beyond the bound a batch is dropped — counted exactly, logged — and its watermark holds are
 *   never released in this run: the watermark stays before its oldest point, so the backfill
 *   from HA's history at the next start brings it back. Nothing is dropped silently.
 * - `state` says which of the two is true now, for /health and the log.
 */

/** What the writer keeps here: anything with a body size and a line count. */
export interface Sized {
  readonly body: Buffer;
  readonly lines: number;
}

export class MemoryKeep<T extends Sized> {
  private readonly items: T[] = [];
  private keptBytes = 0;
  private keptLines = 0;
  /** Points dropped because they fit neither here nor anywhere else (holds kept: backfilled later). */
  droppedPoints = 0;
  /** Why the disk refused, while it does. */
  cause: string | null = null;

  get bytes(): number {
    return this.keptBytes;
  }

  get lines(): number {
    return this.keptLines;
  }

  get size(): number {
    return this.items.length;
  }

  /** Keeps `item` when `room` bytes allow it; false: dropped (counted). */
  keep(item: T, room: number, cause: string): boolean {
    this.cause = cause;
    if (item.body.length > room) {
      this.droppedPoints += item.lines;
      return false;
    }
    this.items.push(item);
    this.keptBytes += item.body.length;
    this.keptLines += item.lines;
    return true;
  }

  /** The oldest batch kept, taken out (put back with keep() if it still cannot go anywhere). */
  take(): T | undefined {
    const item = this.items.shift();
    if (item !== undefined) {
      this.keptBytes -= item.body.length;
      this.keptLines -= item.lines;
    }
    return item;
  }

  /** The disk took a batch again. */
  diskWorks(): void {
    this.cause = null;
  }

  /** For /health: "disk" when batches go to the spool as they should, else what is at risk. */
  get state(): string {
    if (this.cause === null && this.droppedPoints === 0) return 'disk';
    const parts: string[] = [];
    if (this.cause !== null) parts.push(`memory only: the spool cannot write (${this.cause}); ${this.keptLines} points wait in memory`);
    if (this.droppedPoints > 0)
      parts.push(
        `${this.droppedPoints} points dropped beyond the memory bound; the watermark stays before them, so the next start backfills them from HA's history`,
      );
    return parts.join('; ');
  }
}
