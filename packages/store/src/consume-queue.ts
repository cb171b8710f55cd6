// A consume queue: the index of one (topic, queueId) into the commit log. Unit N (logical offset N)
// lives at byte N*20 of the queue's files: commitLogOffset (8) | size (4) | tagsCode (8). Files are
// fixed-size and named by the byte offset of their first unit (RocketMQ's layout).
//
// One dispatcher thread writes a queue; readers on other threads map the same files read-only. A
// unit is written offset and tag first and size last, and readers treat size > 0 as "present", then
// verify the record it points to (see store-reader.ts), so a half-visible unit is never served.
//
// Files are created sparse, and disk blocks are reserved as the queue fills: each open file has a
// watermark below which every byte has blocks, and before a unit is written past (or within
// RESERVE_AHEAD_BYTES of) it, the next chunk is written with zeros through the descriptor. A full
// disk is then an ENOSPC exception from that write, before any unit is written, never SIGBUS from a
// mapped write into a hole. Zeros are only written above the highest unit written (or, for a file
// opened from disk, the end of its units), so never over a live unit. Readers only look at units up
// to the first empty one, which lies below the watermark, so they never touch a hole either.
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileNameToOffset, readInt64BE, setInt64 } from '@orbit/common';
import { MappedFile } from './mapped-file.js';

export const CQ_UNIT_BYTES = 20;
/** Disk blocks are reserved in chunks of this many bytes: one synchronous write (~12 µs here), once
 *  per 3 276 units. */
export const RESERVE_CHUNK_BYTES = 64 * 1024;
/** A unit ending closer than this to the watermark reserves the next chunk first, so units never
 *  catch up with the watermark and the slot after the last unit (where readers look) is reserved. */
const RESERVE_AHEAD_BYTES = RESERVE_CHUNK_BYTES;

export function consumeQueueDir(rootDir: string, topic: string, queueId: number): string {
  return join(rootDir, topic, String(queueId));
}

/**
 * Start offsets of a queue's files. Only the queue's writer may remove half-prepared temporaries
 * (at load, when none can be in progress); a reader on another thread must leave them alone, since
 * one may be the file the dispatcher is preparing right now.
 */
function listFileStarts(dir: string, removeTemporaries = false): number[] {
  if (!existsSync(dir)) return [];
  const out: number[] = [];
  for (const name of readdirSync(dir)) {
    if (name.endsWith('.preparing')) {
      if (removeTemporaries) rmSync(join(dir, name), { force: true });
      continue;
    }
    const o = fileNameToOffset(name);
    if (o !== undefined) out.push(o);
  }
  return out.sort((a, b) => a - b);
}

export interface CqUnit {
  physicalOffset: number;
  sizeBytes: number;
  tagsCode: number;
}

/** The writing side, owned by one queue actor on a dispatcher thread. */
export class ConsumeQueueWriter {
  private readonly files = new Map<number, MappedFile>();
  private readonly dirtyRanges = new Map<MappedFile, [number, number]>();
  /** Per open file: bytes below this have disk blocks, and no unit lies above it (see top). */
  private readonly reservedBytes = new Map<MappedFile, number>();
  /** Next logical offset to be written (the queue's max offset). */
  maxOffset = 0;
  /** First logical offset still on disk. */
  minOffset = 0;
  /** Commit-log offset just past the last unit written. */
  maxPhysicalEnd = 0;

  constructor(
    readonly topic: string,
    readonly queueId: number,
    readonly dir: string,
    readonly fileSizeBytes: number,
  ) {}

  /** Opens what is on disk and finds the max offset: the first empty unit of the last file. */
  load(): void {
    const starts = listFileStarts(this.dir, true);
    if (starts.length === 0) return;
    this.minOffset = starts[0]! / CQ_UNIT_BYTES;
    const lastStart = starts[starts.length - 1]!;
    const file = this.open(lastStart);
    const at = presentUnitsEnd(file.map);
    if (at > 0) this.maxPhysicalEnd = readInt64BE(file.map, at - CQ_UNIT_BYTES) + file.map.readInt32BE(at - CQ_UNIT_BYTES + 8);
    // Zeros written ahead before a crash may not have reached the disk: reserve again from the end
    // of the units.
    this.reservedBytes.set(file, at);
    this.maxOffset = (lastStart + at) / CQ_UNIT_BYTES;
    if (at === 0 && starts.length > 1) {
      // An empty last file: the previous one holds the tail.
      this.maxOffset = lastStart / CQ_UNIT_BYTES;
    }
  }

  /** Crash recovery: units pointing at or past the recovered end of the commit log are removed. */
  truncatePhysical(commitLogEnd: number): void {
    const starts = listFileStarts(this.dir);
    for (let i = starts.length - 1; i >= 0; i--) {
      const file = this.open(starts[i]!);
      const end = presentUnitsEnd(file.map);
      let firstBad = -1;
      for (let at = 0; at < end; at += CQ_UNIT_BYTES) {
        if (readInt64BE(file.map, at) + file.map.readInt32BE(at + 8) > commitLogEnd) {
          firstBad = at;
          break;
        }
      }
      if (firstBad < 0) break;
      // Only the units are zeroed (their blocks exist), through the descriptor like every write past
      // the watermark; what lies after them is zeros or a hole, reserved again before use.
      file.writeZerosSync(firstBad, end);
      file.flushRangeSync(firstBad, end);
      this.reservedBytes.set(file, firstBad);
      if (firstBad === 0 && i > 0) this.forget(starts[i]!, file, true);
    }
    this.maxOffset = 0;
    this.maxPhysicalEnd = 0;
    this.load();
  }

  hasFileFor(logicalOffset: number): boolean {
    const byteOffset = logicalOffset * CQ_UNIT_BYTES;
    return this.files.has(byteOffset - (byteOffset % this.fileSizeBytes));
  }

  /**
   * Creates (or opens) the file holding unit `logicalOffset`, with disk blocks reserved up to that
   * unit and a chunk beyond. The file joins the queue only once that reservation succeeded, so a
   * failure (disk full) leaves nothing half-done: the caller retries the whole call.
   */
  async createFileFor(logicalOffset: number): Promise<void> {
    const byteOffset = logicalOffset * CQ_UNIT_BYTES;
    const start = byteOffset - (byteOffset % this.fileSizeBytes);
    if (this.files.has(start)) return;
    const unitEnd = byteOffset - start + CQ_UNIT_BYTES;
    mkdirSync(this.dir, { recursive: true });
    const path = MappedFile.pathFor(this.dir, start);
    const firstFile = this.files.size === 0 && this.maxOffset === 0;
    // The first chunk is reserved before the file gets its real name: a reader may map it at once.
    const reservedAtCreation = existsSync(path) ? undefined : this.reserveTarget(unitEnd);
    if (reservedAtCreation !== undefined) await MappedFile.prepareSparse(path, this.fileSizeBytes, reservedAtCreation);
    const file = MappedFile.openReadWrite(path, this.fileSizeBytes);
    if (reservedAtCreation !== undefined) this.reservedBytes.set(file, reservedAtCreation);
    try {
      this.reserve(file, unitEnd); // a file that was already there (an earlier attempt) reserves here
    } catch (err) {
      this.reservedBytes.delete(file);
      file.close();
      throw err;
    }
    this.files.set(start, file);
    if (this.maxOffset === 0 && this.minOffset === 0) this.minOffset = start / CQ_UNIT_BYTES;
    // A queue whose first unit is not at a file start (a slave that copied only the newer part of
    // its master's log) gets placeholder units before it, as RocketMQ's fillPreBlank does: readers
    // walk units contiguously, and the placeholders point at offset 0, below every live record, so
    // the minimum offset skips them. They lie below the reservation just made.
    if (firstFile) {
      for (let o = start / CQ_UNIT_BYTES; o < logicalOffset; o++) this.putUnit(o, 0, PRE_BLANK_UNIT_SIZE, 0);
      this.maxOffset = 0;
      this.maxPhysicalEnd = 0;
    }
  }

  private open(start: number): MappedFile {
    let file = this.files.get(start);
    if (!file) {
      file = MappedFile.openReadWrite(MappedFile.pathFor(this.dir, start), this.fileSizeBytes);
      this.files.set(start, file);
    }
    return file;
  }

  /** Closes a file this writer no longer writes, and deletes it when asked. */
  private forget(start: number, file: MappedFile, remove: boolean): void {
    file.close();
    this.files.delete(start);
    this.reservedBytes.delete(file);
    this.dirtyRanges.delete(file);
    if (remove) rmSync(file.path, { force: true });
  }

  /**
   * Reserves disk blocks for unit `logicalOffset` (and a chunk ahead) in its file, which must exist.
   * Throws (ENOSPC on a full disk) before anything is written; putUnit calls it too, so calling it
   * first lets a caller wait and retry without a unit half-handled.
   */
  ensureReserved(logicalOffset: number): void {
    const byteOffset = logicalOffset * CQ_UNIT_BYTES;
    const start = byteOffset - (byteOffset % this.fileSizeBytes);
    const file = this.files.get(start);
    if (!file) throw new Error(`invariant violated: no consume-queue file for ${this.topic}:${this.queueId} offset ${logicalOffset}`);
    this.reserve(file, byteOffset - start + CQ_UNIT_BYTES);
  }

  /** The watermark of the (open) file holding unit `logicalOffset`: bytes below it have disk blocks,
   *  and no unit lies above it. Undefined when that file is not open or not yet reserved in. */
  reservedBytesOf(logicalOffset: number): number | undefined {
    const byteOffset = logicalOffset * CQ_UNIT_BYTES;
    const file = this.files.get(byteOffset - (byteOffset % this.fileSizeBytes));
    return file && this.reservedBytes.get(file);
  }

  /** Where a reservation for a unit ending at `unitEnd` stops: a chunk boundary a chunk beyond it. */
  private reserveTarget(unitEnd: number): number {
    const wanted = unitEnd + RESERVE_AHEAD_BYTES;
    return Math.min(this.fileSizeBytes, wanted + ((RESERVE_CHUNK_BYTES - (wanted % RESERVE_CHUNK_BYTES)) % RESERVE_CHUNK_BYTES));
  }

  private reserve(file: MappedFile, unitEnd: number): void {
    let reserved = this.reservedBytes.get(file);
    if (reserved === undefined) {
      // A file opened from disk: everything up to the end of its units has blocks (they were
      // written); nothing live lies past it.
      reserved = presentUnitsEnd(file.map);
      this.reservedBytes.set(file, reserved);
    }
    if (unitEnd + RESERVE_AHEAD_BYTES <= reserved || reserved === this.fileSizeBytes) return;
    // One chunk on the common path; more only when a unit lands far past the watermark (placeholders
    // of a new slave queue, a gap): at most the file, 6 MB by default.
    const target = this.reserveTarget(unitEnd);
    file.writeZerosSync(reserved, target);
    this.reservedBytes.set(file, target);
  }

  /** Writes unit `logicalOffset`. The file must exist (hasFileFor / createFileFor). Idempotent.
   *  Reserves blocks first (see ensureReserved): when that throws, nothing was written. */
  putUnit(logicalOffset: number, physicalOffset: number, sizeBytes: number, tagsCode: number): void {
    const byteOffset = logicalOffset * CQ_UNIT_BYTES;
    const start = byteOffset - (byteOffset % this.fileSizeBytes);
    const file = this.files.get(start);
    if (!file) throw new Error(`invariant violated: no consume-queue file for ${this.topic}:${this.queueId} offset ${logicalOffset}`);
    const at = byteOffset - start;
    this.reserve(file, at + CQ_UNIT_BYTES);
    const view = file.view;
    setInt64(view, at, physicalOffset);
    setInt64(view, at + 12, tagsCode);
    view.setInt32(at + 8, sizeBytes); // last: size > 0 marks the unit present
    const range = this.dirtyRanges.get(file);
    if (range) {
      range[0] = Math.min(range[0], at);
      range[1] = Math.max(range[1], at + CQ_UNIT_BYTES);
    } else this.dirtyRanges.set(file, [at, at + CQ_UNIT_BYTES]);
    if (logicalOffset + 1 > this.maxOffset) this.maxOffset = logicalOffset + 1;
    if (physicalOffset + sizeBytes > this.maxPhysicalEnd) this.maxPhysicalEnd = physicalOffset + sizeBytes;
  }

  /** Makes written units durable (small ranges, so a blocking msync is cheap). */
  flush(): void {
    for (const [file, [from, to]] of this.dirtyRanges) file.flushRangeSync(from, to);
    this.dirtyRanges.clear();
    // Keep only the newest file open; older ones are never written again.
    if (this.files.size > 2) {
      const starts = [...this.files.keys()].sort((a, b) => a - b);
      for (const s of starts.slice(0, -2)) this.forget(s, this.files.get(s)!, false);
    }
  }

  /** Retention: deletes files whose every unit points below the commit log's min offset. */
  deleteBelow(minPhysicalOffset: number): number {
    const starts = listFileStarts(this.dir);
    let deleted = 0;
    for (let i = 0; i < starts.length - 1; i++) {
      const path = MappedFile.pathFor(this.dir, starts[i]!);
      const file = this.files.get(starts[i]!) ?? MappedFile.openReadOnly(path);
      const lastUnitAt = this.fileSizeBytes - CQ_UNIT_BYTES;
      const lastPhysical = readInt64BE(file.map, lastUnitAt) + file.map.readInt32BE(lastUnitAt + 8);
      if (lastPhysical > minPhysicalOffset) break;
      this.forget(starts[i]!, file, true);
      deleted++;
      this.minOffset = starts[i + 1]! / CQ_UNIT_BYTES;
    }
    return deleted;
  }

  close(): void {
    this.flush();
    for (const f of this.files.values()) f.close();
    this.files.clear();
    this.reservedBytes.clear();
  }
}

/** Byte end of the units present from the start of a file (up to the first empty slot). */
function presentUnitsEnd(map: Buffer): number {
  let at = 0;
  while (at + CQ_UNIT_BYTES <= map.length && map.readInt32BE(at + 8) > 0) at += CQ_UNIT_BYTES;
  return at;
}

/** The reading side: read-only mappings on the caller's thread. */
/** RocketMQ's placeholder size (Integer.MAX_VALUE) for units before a queue's first real one. */
const PRE_BLANK_UNIT_SIZE = 0x7fffffff;

export class ConsumeQueueReader {
  private readonly files = new Map<number, MappedFile>();
  private fileStarts: number[] = [];
  private cachedMax = 0;
  private listedEpoch = -1;

  constructor(
    readonly dir: string,
    readonly fileSizeBytes: number,
  ) {}

  /** Re-lists files when retention may have removed some, dropping stale mappings. */
  refresh(retentionEpoch: number): void {
    if (retentionEpoch === this.listedEpoch) return;
    this.listedEpoch = retentionEpoch;
    this.fileStarts = listFileStarts(this.dir);
    for (const start of [...this.files.keys()]) if (!this.fileStarts.includes(start)) this.files.delete(start);
  }

  exists(): boolean {
    if (this.fileStarts.length === 0) this.fileStarts = listFileStarts(this.dir);
    return this.fileStarts.length > 0;
  }

  minOffset(): number {
    return this.fileStarts.length > 0 ? this.fileStarts[0]! / CQ_UNIT_BYTES : 0;
  }

  /** The next offset to be written: walks forward from the last known max over present units. */
  maxOffset(): number {
    if (this.cachedMax < this.minOffset()) this.cachedMax = this.minOffset();
    for (let guard = 0; guard < 1_000_000; guard++) {
      const byteOffset = this.cachedMax * CQ_UNIT_BYTES;
      const map = this.mapFor(byteOffset);
      if (!map) break;
      const at = byteOffset % this.fileSizeBytes;
      if (map.readInt32BE(at + 8) <= 0) break;
      this.cachedMax++;
    }
    return this.cachedMax;
  }

  private mapFor(byteOffset: number): Buffer | undefined {
    const start = byteOffset - (byteOffset % this.fileSizeBytes);
    let file = this.files.get(start);
    if (!file) {
      const path = MappedFile.pathFor(this.dir, start);
      if (!existsSync(path)) return undefined;
      try {
        file = MappedFile.openReadOnly(path);
      } catch {
        return undefined; // being prepared or just deleted
      }
      if (file.sizeBytes !== this.fileSizeBytes) return undefined;
      this.files.set(start, file);
      if (!this.fileStarts.includes(start)) this.fileStarts = [...this.fileStarts, start].sort((a, b) => a - b);
    }
    return file.map;
  }

  /** Reads unit `logicalOffset` into `out`; false when it is not (yet) there. */
  readUnit(logicalOffset: number, out: CqUnit): boolean {
    const byteOffset = logicalOffset * CQ_UNIT_BYTES;
    const map = this.mapFor(byteOffset);
    if (!map) return false;
    const at = byteOffset % this.fileSizeBytes;
    const size = map.readInt32BE(at + 8);
    if (size <= 0) return false;
    out.sizeBytes = size;
    out.physicalOffset = readInt64BE(map, at);
    out.tagsCode = readInt64BE(map, at + 12);
    return true;
  }
}
