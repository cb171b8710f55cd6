// One RocketMQ index file (IndexFile/IndexHeader): a hash table on disk from "topic#key" to
// commit-log offsets, byte for byte RocketMQ's layout so an index/ folder can be moved between
// brokers.
//
//   header  40 B  beginTimestamp@0 endTimestamp@8 beginPhyOffset@16 endPhyOffset@24 (int64 BE)
//                 hashSlotCount@32 indexCount@36 (int32 BE)
//   slots   maxHashSlotNum × 4 B: the newest entry number of that slot, 0 = empty
//   entries maxIndexNum × 20 B: keyHash(int) phyOffset(long) timeDiff(int, seconds since
//           beginTimestamp) prevIndex(int, the previous entry of the same slot, 0 = end of chain)
//
// Entry numbers start at 1 (indexCount starts at 1, entry 0 is never used).
//
// Concurrency: ONE writer (the store's dispatcher thread) and any number of readers on other
// threads, each with its own mapping of the same file. The writer publishes an entry in this order:
// the 20 entry bytes, then the slot, then the header (indexCount, endPhyOffset, endTimestamp). Slot
// and indexCount are 4-byte aligned words, stored and loaded with Atomics (sequentially consistent),
// so a reader that sees a slot value also sees the entry it points to, and never reads a half-written
// word. Readers still bounds-check every number they read (a crashed writer or a corrupt disk may
// have left anything in the file): slot values must be ≤ indexCount, chains must strictly descend,
// so a walk ends after at most indexCount steps and never leaves the mapping.
import { closeSync, ftruncateSync, fstatSync, openSync, rmSync, writeSync } from 'node:fs';
import { endianness } from 'node:os';
import m from '@riaskov/mmap-io';
import { continueJavaStringHash, javaStringHash, readInt64BE, setInt64, writeInt64BE } from '@orbit/common';

const mmap = m as unknown as typeof m.default;
type Protection = Parameters<typeof mmap.map>[1];
const PROT_READ_WRITE = (mmap.PROT_READ | mmap.PROT_WRITE) as Protection;
const PROT_READ_ONLY: Protection = mmap.PROT_READ;

export interface IndexConfig {
  /** Slots of the hash table (RocketMQ maxHashSlotNum). */
  maxHashSlotNum: number;
  /** Entries per file, entry 0 included, so a file holds maxIndexNum − 1 keys (RocketMQ maxIndexNum). */
  maxIndexNum: number;
}

export const DEFAULT_INDEX_CONFIG: IndexConfig = Object.freeze({
  maxHashSlotNum: 5_000_000,
  maxIndexNum: 20_000_000,
});

export const INDEX_HEADER_BYTES = 40;
export const INDEX_SLOT_BYTES = 4;
export const INDEX_ENTRY_BYTES = 20;
/** mmap-io passes sizes and offsets as C ints. */
export const INDEX_FILE_MAX_BYTES = 0x7fff_ffff;

const HEADER_BEGIN_TIMESTAMP = 0;
const HEADER_END_TIMESTAMP = 8;
const HEADER_BEGIN_PHY_OFFSET = 16;
const HEADER_END_PHY_OFFSET = 24;
const HEADER_HASH_SLOT_COUNT = 32;
const HEADER_INDEX_COUNT = 36;

const ENTRY_KEY_HASH = 0;
const ENTRY_PHY_OFFSET = 4;
const ENTRY_TIME_DIFF = 12;
const ENTRY_PREV_INDEX = 16;

const INVALID_INDEX = 0;
const INT32_MAX = 0x7fff_ffff;
const INT32_MIN = -0x8000_0000;
/** timeDiff is stored in whole seconds, so an entry's true time lies in [timeRead, timeRead + 999]. */
const TIME_DIFF_UNIT_MS = 1000;

const LITTLE_ENDIAN_HOST = endianness() === 'LE';

function toBigEndianWord(value: number): number {
  if (!LITTLE_ENDIAN_HOST) return value | 0;
  return (
    ((value & 0xff) << 24) | ((value & 0xff00) << 8) | ((value >>> 8) & 0xff00) | ((value >>> 24) & 0xff)
  );
}

export function validateIndexConfig(config: IndexConfig): void {
  const { maxHashSlotNum, maxIndexNum } = config;
  if (!Number.isInteger(maxHashSlotNum) || maxHashSlotNum < 1) {
    throw new RangeError(`maxHashSlotNum must be a positive integer, got ${maxHashSlotNum}`);
  }
  if (!Number.isInteger(maxIndexNum) || maxIndexNum < 2) {
    throw new RangeError(`maxIndexNum must be an integer ≥ 2 (entry 0 is never used), got ${maxIndexNum}`);
  }
  const size = INDEX_HEADER_BYTES + maxHashSlotNum * INDEX_SLOT_BYTES + maxIndexNum * INDEX_ENTRY_BYTES;
  if (size > INDEX_FILE_MAX_BYTES) {
    throw new RangeError(`index file of ${size} bytes exceeds the mmap limit of ${INDEX_FILE_MAX_BYTES}`);
  }
}

/** 40 + slots×4 + entries×20 (420,000,040 bytes with the defaults). */
export function indexFileSizeBytes(config: IndexConfig): number {
  validateIndexConfig(config);
  return INDEX_HEADER_BYTES + config.maxHashSlotNum * INDEX_SLOT_BYTES + config.maxIndexNum * INDEX_ENTRY_BYTES;
}

/** RocketMQ's indexKeyHashMethod: Math.abs(key.hashCode()), and abs(Integer.MIN_VALUE) (still negative in Java) → 0. */
export function indexKeyHash(key: string): number {
  return slotHash(javaStringHash(key));
}

/** indexKeyHash(`${topic}#${key}`), without building that string. */
export function topicKeyHash(topic: string, key: string): number {
  return slotHash(continueJavaStringHash(continueJavaStringHash(javaStringHash(topic), '#'), key));
}

function slotHash(hash: number): number {
  return hash === INT32_MIN ? 0 : Math.abs(hash);
}

export type IndexFileMode = 'write' | 'read';

export class IndexFile {
  readonly path: string;
  readonly mode: IndexFileMode;
  readonly config: IndexConfig;
  private map: Buffer | undefined;
  /** The same mapping as 32-bit words, for atomic slot and indexCount access. */
  private words: Int32Array | undefined;
  /** Over the same bytes as map: the per-key entry writes (see @orbit/common byte-view). */
  private view: DataView | undefined;
  private readonly slotNum: number;
  private readonly indexNum: number;
  private readonly entriesStart: number;
  private dirty = false;
  /** Write mode: bytes below this have disk blocks (written with zeros or data); no entry lies above. */
  private reservedBytes = 0;

  private constructor(path: string, config: IndexConfig, mode: IndexFileMode, map: Buffer) {
    this.path = path;
    this.mode = mode;
    this.config = { maxHashSlotNum: config.maxHashSlotNum, maxIndexNum: config.maxIndexNum };
    this.map = map;
    if (map.byteOffset % 4 !== 0) throw new Error(`index mapping of ${path} is not word aligned`);
    this.words = new Int32Array(map.buffer, map.byteOffset, map.length >>> 2);
    this.view = new DataView(map.buffer, map.byteOffset, map.length);
    this.slotNum = config.maxHashSlotNum;
    this.indexNum = config.maxIndexNum;
    this.entriesStart = INDEX_HEADER_BYTES + this.slotNum * INDEX_SLOT_BYTES;
  }

  /**
   * Creates the file (it must not exist), sizes it and maps it read-write. The begin/end marks start
   * at the given values (RocketMQ passes the previous file's end marks); the first key put replaces
   * the begin marks with its own offset and timestamp.
   */
  static create(path: string, config: IndexConfig, beginPhyOffset: number, beginTimestamp: number): IndexFile {
    const size = indexFileSizeBytes(config);
    assertOffset(beginPhyOffset, 'beginPhyOffset');
    assertOffset(beginTimestamp, 'beginTimestamp');
    const fd = openSync(path, 'wx+');
    let map: Buffer;
    try {
      ftruncateSync(fd, size);
      // Header and hash slots (written anywhere) get their blocks now; the entries, written in
      // order, get theirs a chunk at a time ahead of the writer (reserveThrough), so creating a
      // 420 MB file does not stall dispatch for the time it takes to write it.
      preallocate(fd, 0, Math.min(size, indexEntriesStart(config) + ENTRY_RESERVE_CHUNK_BYTES));
      map = mmap.map(size, PROT_READ_WRITE, mmap.MAP_SHARED, fd, 0);
    } catch (err) {
      rmSync(path, { force: true }); // a half-made file must not be loaded later
      throw err;
    } finally {
      closeSync(fd); // the mapping keeps the file open
    }
    adviseRandom(map);
    const file = new IndexFile(path, config, 'write', map);
    file.reservedBytes = Math.min(size, file.entriesStart + ENTRY_RESERVE_CHUNK_BYTES);
    writeInt64BE(map, HEADER_BEGIN_TIMESTAMP, beginTimestamp);
    writeInt64BE(map, HEADER_END_TIMESTAMP, beginTimestamp);
    writeInt64BE(map, HEADER_BEGIN_PHY_OFFSET, beginPhyOffset);
    writeInt64BE(map, HEADER_END_PHY_OFFSET, beginPhyOffset);
    file.storeWord(HEADER_HASH_SLOT_COUNT, 0);
    file.storeWord(HEADER_INDEX_COUNT, 1);
    file.dirty = true;
    return file;
  }

  /**
   * Maps an existing file. The header does not record the table sizes, so the config must be the one
   * the file was written with; a file whose size does not match it is refused.
   */
  static open(path: string, config: IndexConfig, mode: IndexFileMode): IndexFile {
    const size = indexFileSizeBytes(config);
    const fd = openSync(path, mode === 'write' ? 'r+' : 'r');
    let map: Buffer;
    try {
      const actual = fstatSync(fd).size;
      if (actual !== size) {
        throw new Error(
          `index file ${path} has ${actual} bytes, expected ${size} for maxHashSlotNum=${config.maxHashSlotNum} maxIndexNum=${config.maxIndexNum}`,
        );
      }
      map = mmap.map(size, mode === 'write' ? PROT_READ_WRITE : PROT_READ_ONLY, mmap.MAP_SHARED, fd, 0);
    } finally {
      closeSync(fd);
    }
    adviseRandom(map);
    const file = new IndexFile(path, config, mode, map);
    // Blocks are certain only up to the last entry: zeros written ahead before a crash may not
    // have reached the disk. Reserving again from there only ever writes zeros over unused bytes.
    if (mode === 'write') file.reservedBytes = Math.min(size, file.entriesStart + Math.max(1, file.indexCount) * INDEX_ENTRY_BYTES);
    return file;
  }

  get beginTimestamp(): number {
    return readInt64BE(this.mapping(), HEADER_BEGIN_TIMESTAMP);
  }
  get endTimestamp(): number {
    return readInt64BE(this.mapping(), HEADER_END_TIMESTAMP);
  }
  get beginPhyOffset(): number {
    return readInt64BE(this.mapping(), HEADER_BEGIN_PHY_OFFSET);
  }
  get endPhyOffset(): number {
    return readInt64BE(this.mapping(), HEADER_END_PHY_OFFSET);
  }
  /** Slots that were empty when a key was put into them (RocketMQ's hashSlotCount). */
  get hashSlotCount(): number {
    return this.loadWord(HEADER_HASH_SLOT_COUNT);
  }
  /** The next entry number; entries 1 … indexCount−1 are written. */
  get indexCount(): number {
    return this.loadWord(HEADER_INDEX_COUNT);
  }
  get isFull(): boolean {
    return this.indexCount >= this.indexNum;
  }
  get isClosed(): boolean {
    return this.map === undefined;
  }

  /** Adds one key (already "topic#key"). Returns false when the file is full. Writer thread only. */
  putKey(key: string, phyOffset: number, storeTimestamp: number): boolean {
    return this.putKeyHash(indexKeyHash(key), phyOffset, storeTimestamp);
  }

  /** putKey with the key's indexKeyHash (or topicKeyHash) already computed. */
  putKeyHash(keyHash: number, phyOffset: number, storeTimestamp: number): boolean {
    this.assertWritable();
    assertOffset(phyOffset, 'phyOffset');
    assertOffset(storeTimestamp, 'storeTimestamp');
    const map = this.mapping();
    // A file never flushed by RocketMQ may hold indexCount 0 on disk; entry 0 stays unused either way.
    const indexCount = Math.max(1, this.indexCount);
    if (indexCount >= this.indexNum) return false;

    const slotPos = INDEX_HEADER_BYTES + (keyHash % this.slotNum) * INDEX_SLOT_BYTES;
    let slotValue = this.loadWord(slotPos);
    if (slotValue <= INVALID_INDEX || slotValue >= indexCount) slotValue = INVALID_INDEX;

    if (indexCount <= 1) {
      // No entry is visible yet, so moving the begin marks cannot mislead a reader.
      writeInt64BE(map, HEADER_BEGIN_PHY_OFFSET, phyOffset);
      writeInt64BE(map, HEADER_BEGIN_TIMESTAMP, storeTimestamp);
    }
    const beginTimestamp = this.beginTimestamp;
    let timeDiffSeconds = Math.floor((storeTimestamp - beginTimestamp) / TIME_DIFF_UNIT_MS);
    if (beginTimestamp <= 0 || timeDiffSeconds < 0) timeDiffSeconds = 0;
    else if (timeDiffSeconds > INT32_MAX) timeDiffSeconds = INT32_MAX;

    // 1. the entry, 2. the slot that publishes it, 3. the header.
    const entryPos = this.entriesStart + indexCount * INDEX_ENTRY_BYTES;
    this.reserveThrough(entryPos + INDEX_ENTRY_BYTES); // may throw ENOSPC; nothing is written then
    const view = this.view!;
    view.setInt32(entryPos + ENTRY_KEY_HASH, keyHash);
    setInt64(view, entryPos + ENTRY_PHY_OFFSET, phyOffset);
    view.setInt32(entryPos + ENTRY_TIME_DIFF, timeDiffSeconds);
    view.setInt32(entryPos + ENTRY_PREV_INDEX, slotValue);
    this.storeWord(slotPos, indexCount);
    if (slotValue === INVALID_INDEX) this.storeWord(HEADER_HASH_SLOT_COUNT, this.hashSlotCount + 1);
    this.storeWord(HEADER_INDEX_COUNT, indexCount + 1);
    setInt64(view, HEADER_END_PHY_OFFSET, phyOffset);
    setInt64(view, HEADER_END_TIMESTAMP, storeTimestamp);
    this.dirty = true;
    return true;
  }

  /**
   * Appends to `out` the offsets stored under `key` ("topic#key") whose time lies within
   * [beginMs, endMs], newest first, until `out` holds maxNum. Entries keep whole seconds, so an entry
   * matches when its second [t, t+999] overlaps the range; different keys with the same hash match
   * too (RocketMQ compares hashes only): callers verify the records. With `seen`, offsets already in
   * it are skipped and new ones added to it.
   */
  selectPhyOffsets(key: string, maxNum: number, beginMs: number, endMs: number, out: number[], seen?: Set<number>): void {
    const map = this.mapping();
    if (out.length >= maxNum) return;
    const keyHash = indexKeyHash(key);
    const slotPos = INDEX_HEADER_BYTES + (keyHash % this.slotNum) * INDEX_SLOT_BYTES;
    // The slot first, then indexCount: the writer raises indexCount after the slot, so a slot value
    // read here is ≤ the indexCount read next unless the file is corrupt.
    let next = this.loadWord(slotPos);
    const lastIndex = Math.min(this.loadWord(HEADER_INDEX_COUNT), this.indexNum - 1);
    if (next <= INVALID_INDEX || next > lastIndex) return;
    const beginTimestamp = this.beginTimestamp;

    // Chains strictly descend, so this loop runs at most lastIndex times.
    for (let steps = 0; steps < lastIndex; steps++) {
      const entryPos = this.entriesStart + next * INDEX_ENTRY_BYTES;
      const keyHashRead = map.readInt32BE(entryPos + ENTRY_KEY_HASH);
      const phyOffsetRead = readInt64BE(map, entryPos + ENTRY_PHY_OFFSET);
      const timeDiffSeconds = map.readInt32BE(entryPos + ENTRY_TIME_DIFF);
      const prev = map.readInt32BE(entryPos + ENTRY_PREV_INDEX);
      if (timeDiffSeconds < 0) break; // corrupt
      const timeRead = beginTimestamp + timeDiffSeconds * TIME_DIFF_UNIT_MS;
      if (keyHashRead === keyHash && phyOffsetRead >= 0 && timeRead <= endMs && timeRead + TIME_DIFF_UNIT_MS > beginMs) {
        if (seen === undefined) out.push(phyOffsetRead);
        else if (!seen.has(phyOffsetRead)) {
          seen.add(phyOffsetRead);
          out.push(phyOffsetRead);
        }
        if (out.length >= maxNum) break;
      }
      // Store timestamps never decrease along the log, so older entries are older still.
      if (timeRead + TIME_DIFF_UNIT_MS <= beginMs) break;
      if (prev <= INVALID_INDEX || prev >= next) break;
      next = prev;
    }
  }

  /** Lowers (or sets) the "indexed up to" mark; recovery uses it to make records be indexed again. */
  setEndPhyOffset(offset: number): void {
    this.assertWritable();
    assertOffset(offset, 'endPhyOffset');
    writeInt64BE(this.mapping(), HEADER_END_PHY_OFFSET, offset);
    this.dirty = true;
  }

  /** msync of header, slots and the entries written, when anything was written since the last flush. */
  flush(): void {
    if (this.mode !== 'write' || !this.dirty) return;
    const map = this.mapping();
    this.dirty = false;
    // Only the used part: an msync walks every page of the range, and most of the file is unused.
    const used = Math.min(map.length, this.entriesStart + Math.max(1, this.indexCount) * INDEX_ENTRY_BYTES);
    mmap.sync(map, 0, used, true, false);
  }

  /**
   * Makes sure bytes below `endByte` have disk blocks, writing zeros through the file (not the
   * mapping) a chunk ahead: a full disk is then ENOSPC here, never SIGBUS on a mapped write.
   */
  private reserveThrough(endByte: number): void {
    if (endByte <= this.reservedBytes) return;
    const target = Math.min(this.mapping().length, endByte + ENTRY_RESERVE_CHUNK_BYTES);
    const fd = openSync(this.path, 'r+');
    try {
      preallocate(fd, this.reservedBytes, target);
    } finally {
      closeSync(fd);
    }
    this.reservedBytes = target;
  }

  /** Drops the mapping; the memory is unmapped when the Buffer is garbage-collected. */
  close(): void {
    this.map = undefined;
    this.words = undefined;
    this.view = undefined;
  }

  private mapping(): Buffer {
    if (this.map === undefined) throw new Error(`index file ${this.path} is closed`);
    return this.map;
  }

  private assertWritable(): void {
    // Writing into a PROT_READ mapping would kill the process with SIGSEGV, not throw.
    if (this.mode !== 'write') throw new Error(`index file ${this.path} is open read-only`);
  }

  private loadWord(bytePos: number): number {
    const words = this.words;
    if (words === undefined) throw new Error(`index file ${this.path} is closed`);
    return toBigEndianWord(Atomics.load(words, bytePos >>> 2));
  }

  private storeWord(bytePos: number, value: number): void {
    const words = this.words;
    if (words === undefined) throw new Error(`index file ${this.path} is closed`);
    Atomics.store(words, bytePos >>> 2, toBigEndianWord(value));
  }
}

function assertOffset(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative safe integer, got ${value}`);
}

function adviseRandom(map: Buffer): void {
  try {
    mmap.advise(map, mmap.MADV_RANDOM);
  } catch {
    // advice only
  }
}

const ZERO_CHUNK_BYTES = 4 * 1024 * 1024;
/** Entries get disk blocks this far ahead of the next one written (about 52k entries). */
const ENTRY_RESERVE_CHUNK_BYTES = 1024 * 1024;

function indexEntriesStart(config: IndexConfig): number {
  return INDEX_HEADER_BYTES + config.maxHashSlotNum * INDEX_SLOT_BYTES;
}

/**
 * Writes zeros over [from, to) through the file, so those blocks exist before they are written
 * through the mapping: on a full disk this throws ENOSPC here, while a mapped write into a sparse
 * hole would kill the process with SIGBUS.
 */
function preallocate(fd: number, from: number, to: number): void {
  const zeros = Buffer.alloc(Math.max(0, Math.min(ZERO_CHUNK_BYTES, to - from)));
  // A write near a full disk may be short without failing; only the next one says ENOSPC.
  for (let at = from; at < to; ) {
    const written = writeSync(fd, zeros, 0, Math.min(zeros.length, to - at), at);
    if (written <= 0) throw Object.assign(new Error(`no space to preallocate the index file`), { code: 'ENOSPC' });
    at += written;
  }
}
