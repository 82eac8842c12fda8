/**
 * The disk spool: write batches that could not be delivered yet, kept as their request bodies
 * (already gzipped), replayed oldest first, surviving restarts and crashes.
 *
 * On disk: segment files `<dir>/<sequence, 16 digits>.spool`, each a run of records:
 *
 *   "HAS1" | body length (u32 BE) | lines (u32 BE) | flags (u32 BE, bit 0 = gzipped) | crc32(body) (u32 BE) | body
 *
 * Rules:
 * - A record is handed off only after write + fdatasync: `append` resolves after both.
 * - Records are replayed oldest first; a segment is deleted only when every record in it was
 *   acknowledged (written, or settled as rejected / dead-lettered).
 * - Reading keeps every intact record: a record counts when its magic, its length (within the
 *   file) and the CRC-32 of its body hold. Where one does not, reading resynchronises on the next
 *   offset where all three hold, and the bytes in between are skipped and counted: "cut short"
 *   when they are the file's last record begun and not finished (a crash while writing), else
 *   "damaged" (the disk or someone changed bytes). A damaged header or a huge length field loses
 *   only the damaged part. Records inside a skipped part whose header survived (magic and a
 *   length that frames it exactly) are counted with the points their header names.
 * - The disk used is bounded by `maxBytes`: past it the oldest segment is dropped, with an
 *   error log and a metric. Never silently.
 */
import { constants } from 'node:fs';
import { access, mkdir, open, readdir, readFile, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { Logger } from 'pino';
import { IngestorError } from '../errors.js';
import type { Counter, Gauge } from '../metrics.js';
import { countDurableBytes, syncFile } from '../state/durable-write.js';

const MAGIC = 0x48415331; // "HAS1"
const HEADER_BYTES = 20;
export const SEGMENT_BYTES = 8 * 1024 * 1024;

export interface SpoolRecord {
  readonly body: Buffer;
  readonly lines: number;
  readonly gzipped: boolean;
  readonly segment: number;
}

interface Segment {
  readonly seq: number;
  readonly path: string;
  bytes: number;
  lines: number;
  createdAt: number;
  /** Records not yet acknowledged (known once read; while writing, those appended). */
  outstanding: number;
  /** Records read into memory and not yet handed out. */
  unread: SpoolRecord[] | null;
}

export function encodeRecord(body: Buffer, lines: number, gzipped: boolean): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt32BE(MAGIC, 0);
  header.writeUInt32BE(body.length, 4);
  header.writeUInt32BE(lines, 8);
  header.writeUInt32BE(gzipped ? 1 : 0, 12);
  header.writeUInt32BE(crc32(body), 16);
  return Buffer.concat([header, body]);
}

/** What reading a segment found: its intact records and the parts it had to skip. */
export interface DecodedSegment {
  readonly records: SpoolRecord[];
  /** Bytes skipped as damaged (not a torn tail). */
  readonly damagedBytes: number;
  /** Skipped records whose header survived, and the points (items) those headers name. */
  readonly damagedRecords: number;
  readonly damagedItems: number;
  /** Bytes of a last record begun and not finished (a crash while writing). */
  readonly cutShortBytes: number;
}

const MAGIC_BYTES = Buffer.from('HAS1', 'latin1');
/** Far above any write batch or frame batch (both are bounded well below): only to tell damage from a torn tail. */
const MAX_PLAUSIBLE_RECORD = 1 << 30;

/** The end of the intact record at `offset`, or -1: magic, length within the data, checksum. */
function intactEnd(data: Buffer, offset: number): number {
  if (offset + HEADER_BYTES > data.length || data.readUInt32BE(offset) !== MAGIC) return -1;
  const end = offset + HEADER_BYTES + data.readUInt32BE(offset + 4);
  if (end > data.length) return -1;
  return crc32(data.subarray(offset + HEADER_BYTES, end)) === data.readUInt32BE(offset + 16) ? end : -1;
}

/** The next offset after `from` where an intact record starts, or the data's length. */
function resync(data: Buffer, from: number): number {
  for (let at = data.indexOf(MAGIC_BYTES, from); at !== -1; at = data.indexOf(MAGIC_BYTES, at + 1)) {
    if (intactEnd(data, at) !== -1) return at;
  }
  return data.length;
}

/** Every intact record of a segment's bytes, resynchronising after damage (see the rules above). */
export function decodeRecords(data: Buffer, segment: number): DecodedSegment {
  const records: SpoolRecord[] = [];
  const found = { damagedBytes: 0, damagedRecords: 0, damagedItems: 0, cutShortBytes: 0 };
  let offset = 0;
  while (offset < data.length) {
    const end = intactEnd(data, offset);
    if (end !== -1) {
      const body = data.subarray(offset + HEADER_BYTES, end);
      records.push({ body, lines: data.readUInt32BE(offset + 8), gzipped: (data.readUInt32BE(offset + 12) & 1) === 1, segment });
      offset = end;
      continue;
    }
    const next = resync(data, offset + 1);
    if (next === data.length && isTornTail(data, offset)) found.cutShortBytes += next - offset;
    else countDamage(data, offset, next, found);
    offset = next;
  }
  return { records, ...found };
}

/**
 * Whether the bytes from `offset` to the end are one record begun and not finished: a header cut
 * short, or a whole header whose body runs past the end. A crash while appending leaves that.
 */
function isTornTail(data: Buffer, offset: number): boolean {
  const rest = data.length - offset;
  if (rest < 4) return MAGIC_BYTES.subarray(0, rest).equals(data.subarray(offset));
  if (data.readUInt32BE(offset) !== MAGIC) return false;
  if (rest < HEADER_BYTES) return true;
  // A length beyond any batch the writer makes is a damaged field, not a record begun.
  const length = data.readUInt32BE(offset + 4);
  return length <= MAX_PLAUSIBLE_RECORD && offset + HEADER_BYTES + length > data.length;
}

/**
 * Counts the skipped part [from, to): its bytes, and the records in it whose header survived
 * (magic, and a length that ends within the part: the points it names are counted too).
 */
function countDamage(data: Buffer, from: number, to: number, found: { damagedBytes: number; damagedRecords: number; damagedItems: number }): void {
  found.damagedBytes += to - from;
  let at = data.indexOf(MAGIC_BYTES, from);
  while (at !== -1 && at + HEADER_BYTES <= to) {
    const end = at + HEADER_BYTES + data.readUInt32BE(at + 4);
    if (end <= to) {
      found.damagedRecords++;
      found.damagedItems += data.readUInt32BE(at + 8);
    }
    at = data.indexOf(MAGIC_BYTES, end <= to ? end : at + 1);
  }
}

/** The metrics of one spool; the batch spool and the frame overflow each have their own. */
export interface SpoolMetrics {
  readonly bytes: Gauge;
  readonly files: Gauge;
  /** Points (batch spool) or frames (frame overflow) waiting. */
  readonly items: Gauge;
  readonly oldestAge: Gauge;
  readonly appended: Counter;
  readonly replayed: Counter;
  readonly dropped: Counter;
  readonly corruptBytes: Counter;
}

/** The spool directory cannot be created, read or written: a start-up failure. */
export class SpoolOpenError extends IngestorError {
  readonly path: string;

  constructor(path: string, cause: unknown) {
    const reason = (cause as NodeJS.ErrnoException).code ?? (cause as Error).message;
    super('SPOOL_UNAVAILABLE', `cannot use the spool directory ${path}: ${reason} (check SPOOL_DIR and its permissions)`, false, { cause });
    this.path = path;
  }
}

export class Spool {
  private readonly segments: Segment[] = [];
  private writing: { segment: Segment; handle: FileHandle } | null = null;
  private nextSeq = 1;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly dir: string,
    private readonly maxBytes: number,
    private readonly log: Logger,
    private readonly metrics: SpoolMetrics,
  ) {
    metrics.bytes.collect(() => this.bytes);
    metrics.files.collect(() => this.files);
    metrics.items.collect(() => this.lines);
    metrics.oldestAge.collect(() => this.oldestAgeSeconds);
  }

  get bytes(): number {
    return this.segments.reduce((n, s) => n + s.bytes, 0);
  }

  get files(): number {
    return this.segments.length;
  }

  get oldestAgeSeconds(): number {
    return this.segments[0] ? (Date.now() - this.segments[0].createdAt) / 1000 : 0;
  }

  get lines(): number {
    return this.segments.reduce((n, s) => n + s.lines, 0);
  }

  /** Whether anything waits to be replayed. */
  get hasPending(): boolean {
    return this.segments.some((s) => s.outstanding > 0 || s.unread === null || s.unread.length > 0);
  }

  /** Finds the segments left by an earlier run. Rejects with SpoolOpenError when the directory is unusable. */
  async open(): Promise<void> {
    let all: string[];
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      await access(this.dir, constants.R_OK | constants.W_OK | constants.X_OK);
      all = await readdir(this.dir);
    } catch (err) {
      throw new SpoolOpenError(this.dir, err);
    }
    const names = all.filter((n) => /^\d{16}\.spool$/.test(n)).sort();
    for (const name of names) {
      const path = join(this.dir, name);
      const info = await stat(path);
      const seq = Number(name.slice(0, 16));
      // Lines are known once the segment is read; count the bytes now, lines when replayed.
      this.segments.push({ seq, path, bytes: info.size, lines: 0, createdAt: info.mtimeMs, outstanding: 0, unread: null });
      this.nextSeq = Math.max(this.nextSeq, seq + 1);
    }
    if (names.length > 0) this.log.info({ files: names.length, bytes: this.bytes }, 'spool has batches from an earlier run; replaying them');
  }

  /** Writes a batch durably. Resolves once it is on disk. */
  append(body: Buffer, lines: number, gzipped: boolean): Promise<void> {
    return this.serial(() => this.appendNow(body, lines, gzipped));
  }

  /**
   * The oldest record not yet handed out, or null when none is left. A record handed out must
   * come back through ack() (done with) or retryLater() (send again later).
   */
  next(): Promise<SpoolRecord | null> {
    return this.serial(() => this.nextNow());
  }

  /** The record is done with (written, or settled otherwise); its segment may go. */
  ack(record: SpoolRecord): Promise<void> {
    return this.serial(() => this.ackNow(record));
  }

  /** One operation at a time: appends, reads and deletions never interleave. */
  private serial<T>(op: () => Promise<T>): Promise<T> {
    const run = this.chain.then(op);
    this.chain = run.catch(() => {});
    return run;
  }

  private async nextNow(): Promise<SpoolRecord | null> {
    // A copy: load() removes an empty segment from the list while we walk it.
    for (const segment of [...this.segments]) {
      if (segment.unread === null) await this.load(segment);
      if (segment.unread !== null && segment.unread.length > 0) {
        return segment.unread.shift() as SpoolRecord;
      }
      if (segment === this.writing?.segment && segment.outstanding > 0) {
        // Everything written so far is read from the file: close it so that it can be read.
        await this.seal();
        await this.load(segment);
        if (segment.unread !== null && segment.unread.length > 0) return segment.unread.shift() as SpoolRecord;
      }
    }
    return null;
  }

  private async ackNow(record: SpoolRecord): Promise<void> {
    const segment = this.segments.find((s) => s.seq === record.segment);
    if (segment === undefined) return; // dropped while in flight (spool full)
    segment.outstanding--;
    segment.lines -= record.lines;
    this.metrics.replayed.inc(record.lines);
    if (segment.outstanding <= 0 && segment.unread !== null && segment.unread.length === 0 && segment !== this.writing?.segment) {
      await this.remove(segment);
    }
  }

  /** The record could not be delivered now: it goes back to the front of the queue. */
  retryLater(record: SpoolRecord): void {
    const segment = this.segments.find((s) => s.seq === record.segment);
    segment?.unread?.unshift(record);
  }

  async close(): Promise<void> {
    await this.chain;
    await this.writing?.handle.close();
    this.writing = null;
  }

  private async appendNow(body: Buffer, lines: number, gzipped: boolean): Promise<void> {
    const record = encodeRecord(body, lines, gzipped);
    await this.makeRoom(record.length);
    if (this.writing === null || this.writing.segment.bytes + record.length > SEGMENT_BYTES) {
      await this.seal();
      const seq = this.nextSeq++;
      const path = join(this.dir, `${String(seq).padStart(16, '0')}.spool`);
      const segment: Segment = { seq, path, bytes: 0, lines: 0, createdAt: Date.now(), outstanding: 0, unread: [] };
      this.writing = { segment, handle: await open(path, 'a') };
      this.segments.push(segment);
    }
    const { segment, handle } = this.writing;
    try {
      const { bytesWritten } = await handle.write(record);
      if (bytesWritten !== record.length) throw new Error(`short write to ${segment.path}: ${bytesWritten} of ${record.length} bytes (disk full?)`);
      countDurableBytes(bytesWritten);
      await syncFile(handle, true);
    } catch (err) {
      // Nothing after a torn record could be read back: cut it off and start a new segment.
      await handle.truncate(segment.bytes).catch(() => {});
      await this.seal().catch(() => {});
      throw err;
    }
    segment.bytes += record.length;
    segment.lines += lines;
    segment.outstanding++;
    this.metrics.appended.inc(lines);
  }

  /** Stops appending to the current segment; it becomes readable. */
  private async seal(): Promise<void> {
    if (this.writing === null) return;
    await this.writing.handle.close();
    // Re-read from disk when replayed: what is in the file is what counts.
    this.writing.segment.unread = null;
    this.writing = null;
  }

  private async load(segment: Segment): Promise<void> {
    if (segment === this.writing?.segment) return;
    let data: Buffer;
    try {
      data = await readFile(segment.path);
    } catch (err) {
      this.log.error({ file: segment.path, error: { message: (err as Error).message } }, 'cannot read a spool file; skipping it');
      segment.unread = [];
      return;
    }
    const decoded = decodeRecords(data, segment.seq);
    this.reportSkipped(segment, decoded);
    const { records } = decoded;
    segment.unread = records;
    segment.outstanding = records.length;
    segment.lines = records.reduce((n, r) => n + r.lines, 0);
    if (records.length === 0) await this.remove(segment);
  }

  /** Damage and a torn tail are told apart: only the second is what a crash leaves. */
  private reportSkipped(segment: Segment, d: DecodedSegment): void {
    const file = segment.path;
    if (d.damagedBytes > 0) {
      this.log.error(
        { file, intactRecords: d.records.length, skippedBytes: d.damagedBytes, damagedRecords: d.damagedRecords, damagedItems: d.damagedItems },
        'spool file has damaged bytes: they are skipped, every intact record before and after them is kept (damagedItems: what the headers of the damaged records name)',
      );
      this.metrics.corruptBytes.inc(d.damagedBytes, { cause: 'damaged' });
      this.metrics.dropped.inc(d.damagedItems, { reason: 'damaged' });
    }
    if (d.cutShortBytes > 0) {
      this.log.warn(
        { file, intactRecords: d.records.length, cutShortBytes: d.cutShortBytes },
        'spool file was cut short at the end (a crash while writing its last record, never acknowledged): its intact records are kept',
      );
      this.metrics.corruptBytes.inc(d.cutShortBytes, { cause: 'cut_short' });
    }
  }

  private async makeRoom(incoming: number): Promise<void> {
    while (this.bytes + incoming > this.maxBytes && this.segments.length > 0) {
      const oldest = this.segments[0] as Segment;
      if (oldest === this.writing?.segment) await this.seal();
      if (oldest.unread === null) await this.load(oldest).catch(() => {});
      if (!this.segments.includes(oldest)) continue; // it was empty and is gone
      this.log.error(
        { file: oldest.path, points: oldest.lines, bytes: oldest.bytes, maxBytes: this.maxBytes },
        'spool is full (SPOOL_MAX_BYTES): the oldest spooled batches are dropped',
      );
      this.metrics.dropped.inc(oldest.lines);
      await this.remove(oldest);
    }
  }

  private async remove(segment: Segment): Promise<void> {
    const i = this.segments.indexOf(segment);
    if (i !== -1) this.segments.splice(i, 1);
    await unlink(segment.path).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') this.log.error({ file: segment.path, error: { message: err.message } }, 'cannot delete a replayed spool file');
    });
  }
}
