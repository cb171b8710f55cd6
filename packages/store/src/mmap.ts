// The one place that touches the native mmap addon. mmap-io itself does not build on Node 20 nor
// load in worker threads; its maintained fork @riaskov/mmap-io has the same API and does both.
import m from '@riaskov/mmap-io';

export const mmap = m as unknown as typeof m.default;
export const PAGE_SIZE_BYTES = 4096;

export function mapReadWrite(fd: number, sizeBytes: number): Buffer {
  return mmap.map(sizeBytes, (mmap.PROT_READ | mmap.PROT_WRITE) as 3, mmap.MAP_SHARED, fd, 0);
}

export function mapReadOnly(fd: number, sizeBytes: number): Buffer {
  return mmap.map(sizeBytes, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0);
}

/** msync of [from, to): mmap-io passes the offset straight to msync, which needs page alignment. */
export function syncRange(map: Buffer, fromByte: number, toByte: number): void {
  const start = fromByte - (fromByte % PAGE_SIZE_BYTES);
  const end = Math.min(map.length, toByte);
  if (end > start) mmap.sync(map, start, end - start, true, false);
}
