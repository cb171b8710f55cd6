// One memory-mapped file of fixed size: a commit-log segment or a consume-queue file. Named by the
// 20-digit offset of its first byte. Readers on other threads map the same file read-only; the page
// cache makes the writer's bytes visible to them.
import { closeSync, fdatasync, openSync, promises as fsp, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileNameToOffset, offsetToFileName } from '@orbit/common';
import { mapReadOnly, mapReadWrite, syncRange } from './mmap.js';

const ZERO_CHUNK_BYTES = 4 * 1024 * 1024;
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
  static async prepare(path: string, sizeBytes: number, warm: boolean): Promise<void> {
    const tmp = join(dirname(path), `.${basename(path)}.preparing`);
    const handle = await fsp.open(tmp, 'w');
    try {
      await handle.truncate(sizeBytes);
      if (warm) {
        zeroChunk ??= Buffer.alloc(ZERO_CHUNK_BYTES);
        // A write near a full disk may be short without failing; only the next one says ENOSPC.
        for (let at = 0; at < sizeBytes; ) {
          const { bytesWritten } = await handle.write(zeroChunk, 0, Math.min(ZERO_CHUNK_BYTES, sizeBytes - at), at);
          if (bytesWritten <= 0) throw Object.assign(new Error(`no space to prepare ${path}`), { code: 'ENOSPC' });
          at += bytesWritten;
        }
      }
      await handle.datasync();
    } catch (err) {
      await handle.close().catch(() => {});
      await fsp.rm(tmp, { force: true });
      throw err;
    }
    await handle.close();
    await fsp.rename(tmp, path);
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

  /** fdatasync on the libuv pool: mapped writes are dirty page-cache pages of this file, so this
   *  makes them durable without blocking the calling thread (msync would block it). */
  flushAsync(): Promise<void> {
    const fd = this.fd;
    if (fd < 0) return Promise.resolve();
    return new Promise((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));
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
