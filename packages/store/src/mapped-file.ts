// One memory-mapped file of fixed size: a commit-log segment or a consume-queue file. Named by the
// 20-digit offset of its first byte. Readers on other threads map the same file read-only; the page
// cache makes the writer's bytes visible to them.
import { closeSync, existsSync, fdatasync, fdatasyncSync, ftruncateSync, linkSync, openSync, promises as fsp, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileNameToOffset, offsetToFileName } from '@orbit/common';
import { mapReadOnly, mapReadWrite, syncRange } from './mmap.js';

/** Large writes also give the file large page-cache folios: a segment filled in 64 KiB steps made
 *  batched appends into it ~8 % slower and their p99 ~40 % higher (benchmarks/README.md). */
export const ZERO_CHUNK_BYTES = 4 * 1024 * 1024;
let zeroChunk: Buffer | undefined;

export class MappedFile {
  private constructor(
    readonly path: string,
    readonly startOffset: number,
    readonly sizeBytes: number,
    private fd: number,
    /** The mapping. Writable only when opened with openReadWrite. */
    readonly map: Buffer,
  ) {}

  private dataView: DataView | undefined;

  /** A DataView over the whole mapping, made once: per-unit writes use it (see @orbit/common byte-view). */
  get view(): DataView {
    this.dataView ??= new DataView(this.map.buffer, this.map.byteOffset, this.map.byteLength);
    return this.dataView;
  }

  get endOffset(): number {
    return this.startOffset + this.sizeBytes;
  }

  static pathFor(dir: string, startOffset: number): string {
    return join(dir, offsetToFileName(startOffset));
  }

  /**
   * Creates a file of exactly sizeBytes. With `warm`, every block is written with zeros first: a
   * full disk then fails here, as an error to the caller, instead of as SIGBUS on a mapped write
   * into a sparse hole. Written under a temporary name and renamed, so a crash mid-way never leaves
   * a short file under a real name.
   */
  static prepare(path: string, sizeBytes: number, warm: boolean): Promise<void> {
    return MappedFile.create(path, sizeBytes, warm ? sizeBytes : 0);
  }

  /**
   * Creates a sparse file of exactly sizeBytes whose first `reservedBytes` only are written with
   * zeros (so have disk blocks). For files that reserve the rest as they fill, ahead of every mapped
   * write (consume queues: see writeZerosSync). Same temporary name and rename as prepare.
   */
  static prepareSparse(path: string, sizeBytes: number, reservedBytes: number): Promise<void> {
    if (reservedBytes < 0 || reservedBytes > sizeBytes) throw new Error(`invariant violated: reserve ${reservedBytes} of a ${sizeBytes}-byte file`);
    return MappedFile.create(path, sizeBytes, reservedBytes);
  }

  /**
   * prepare() on the calling thread, with blocking calls, in chunks of the size `beforeChunk` returns
   * (called ahead of each, at most ZERO_CHUNK_BYTES): for the segment filler's own thread
   * (segment-filler-thread.ts), which paces the filling there (the async version runs it on the
   * shared libuv pool).
   */
  static prepareSync(path: string, sizeBytes: number, warm: boolean, beforeChunk: () => number = () => ZERO_CHUNK_BYTES): void {
    const tmp = preparingPathFor(path);
    const fd = openSync(tmp, 'w');
    try {
      ftruncateSync(fd, sizeBytes);
      if (warm) {
        zeroChunk ??= Buffer.alloc(ZERO_CHUNK_BYTES);
        for (let at = 0; at < sizeBytes; ) {
          const chunkBytes = Math.min(beforeChunk(), ZERO_CHUNK_BYTES, sizeBytes - at);
          if (!(chunkBytes > 0)) throw new Error(`invariant violated: a fill step of ${chunkBytes} bytes`);
          const written = writeSync(fd, zeroChunk, 0, chunkBytes, at);
          if (written <= 0) throw noSpace(`no space to prepare ${path}`);
          at += written;
        }
      }
      fdatasyncSync(fd);
    } catch (err) {
      closeSync(fd);
      rmSync(tmp, { force: true });
      throw err;
    }
    closeSync(fd);
    publishPrepared(tmp, path);
  }

  private static async create(path: string, sizeBytes: number, zeroBytes: number): Promise<void> {
    const tmp = preparingPathFor(path);
    const handle = await fsp.open(tmp, 'w');
    try {
      await handle.truncate(sizeBytes);
      zeroChunk ??= Buffer.alloc(ZERO_CHUNK_BYTES);
      // A write near a full disk may be short without failing; only the next one says ENOSPC.
      for (let at = 0; at < zeroBytes; ) {
        const { bytesWritten } = await handle.write(zeroChunk, 0, Math.min(ZERO_CHUNK_BYTES, zeroBytes - at), at);
        if (bytesWritten <= 0) throw noSpace(`no space to prepare ${path}`);
        at += bytesWritten;
      }
      await handle.datasync();
    } catch (err) {
      await handle.close().catch(() => {});
      await fsp.rm(tmp, { force: true });
      throw err;
    }
    await handle.close();
    publishPrepared(tmp, path);
  }

  static openReadWrite(path: string, sizeBytes: number): MappedFile {
    const startOffset = MappedFile.offsetOf(path);
    const actual = statSync(path).size;
    if (actual !== sizeBytes) throw new Error(`${path} is ${actual} bytes, expected ${sizeBytes}`);
    const fd = openSync(path, 'r+');
    try {
      return new MappedFile(path, startOffset, sizeBytes, fd, mapReadWrite(fd, sizeBytes));
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  /** Maps an existing file read-only, at its current size. */
  static openReadOnly(path: string): MappedFile {
    const startOffset = MappedFile.offsetOf(path);
    const fd = openSync(path, 'r');
    try {
      const sizeBytes = statSync(path).size;
      // The mapping stays valid after the descriptor is closed, and readers need nothing else:
      // fd -1 says there is nothing left to close.
      return new MappedFile(path, startOffset, sizeBytes, -1, mapReadOnly(fd, sizeBytes));
    } finally {
      closeSync(fd);
    }
  }

  static offsetOf(path: string): number {
    const offset = fileNameToOffset(basename(path));
    if (offset === undefined) throw new Error(`${path} is not named by a 20-digit offset`);
    return offset;
  }

  /** pwrite of bytes[from, from+length) at `position`, through the descriptor (not the mapping). */
  writeThrough(bytes: Buffer, from: number, length: number, position: number): void {
    if (this.fd < 0) throw new Error(`invariant violated: ${this.path} is not open for writing`);
    if (position < 0 || position + length > this.sizeBytes) throw new Error(`invariant violated: write of ${length} bytes at ${position} of ${this.path} (${this.sizeBytes} bytes)`);
    for (let done = 0; done < length; ) {
      const n = writeSync(this.fd, bytes, from + done, length - done, position + done);
      if (n <= 0) throw noSpace(`no space to write ${length - done} bytes at ${position + done} of ${this.path}`);
      done += n;
    }
  }

  /** fdatasync on the calling thread: for small group commits (see the writer's flushBlocking). */
  flushSync(): void {
    if (this.fd >= 0) fdatasyncSync(this.fd);
  }

  /** fdatasync on the libuv pool: mapped writes are dirty page-cache pages of this file, so this
   *  makes them durable without blocking the calling thread (msync would block it). */
  flushAsync(): Promise<void> {
    const fd = this.fd;
    if (fd < 0) return Promise.resolve();
    return new Promise((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));
  }

  /**
   * Writes zeros over [fromByte, toByte) through the descriptor (not the mapping), synchronously:
   * the blocks get allocated by an ordinary write, so a full disk is an ENOSPC exception here rather
   * than SIGBUS on a later mapped write into a hole. The caller bounds the range and must know that
   * nothing live lies in it. Only for files opened with openReadWrite.
   */
  writeZerosSync(fromByte: number, toByte: number): void {
    if (this.fd < 0) throw new Error(`invariant violated: ${this.path} is not open for writing`);
    if (fromByte < 0 || fromByte > toByte || toByte > this.sizeBytes) throw new Error(`invariant violated: zeros at [${fromByte}, ${toByte}) of ${this.path} (${this.sizeBytes} bytes)`);
    zeroChunk ??= Buffer.alloc(ZERO_CHUNK_BYTES);
    for (let at = fromByte; at < toByte; ) {
      const written = writeSync(this.fd, zeroChunk, 0, Math.min(ZERO_CHUNK_BYTES, toByte - at), at);
      if (written <= 0) throw noSpace(`no space to reserve [${at}, ${toByte}) of ${this.path}`);
      at += written;
    }
  }

  /** Blocking msync of a range, for small files (consume queues, checkpoint). */
  flushRangeSync(fromByte: number, toByte: number): void {
    syncRange(this.map, fromByte, toByte);
  }

  close(): void {
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = -1;
    }
  }
}

/** The temporary name a file is prepared under (recovery removes leftovers of a crash). */
function preparingPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.preparing`);
}

/**
 * Gives a prepared file its real name, never over an existing file: a hard link fails with EEXIST
 * where a rename would silently replace a segment that already holds records. The temporary name is
 * then removed. Throws when the name is taken (two preparations of one segment are a bug).
 */
function publishPrepared(tmp: string, path: string): void {
  try {
    linkSync(tmp, path);
  } catch (err) {
    const taken = (err as NodeJS.ErrnoException).code === 'EEXIST' || existsSync(path);
    if (taken) {
      rmSync(tmp, { force: true });
      throw new Error(`invariant violated: ${path} was prepared twice`);
    }
    // A file system without hard links: rename, after the check above (not atomic with it).
    renameSync(tmp, path);
    return;
  }
  rmSync(tmp, { force: true });
}

function noSpace(message: string): Error {
  return Object.assign(new Error(message), { code: 'ENOSPC' });
}
