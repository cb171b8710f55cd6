// Test fixture: CpuPool task module used by cpu-pool.test.ts.
import { crc32 } from 'node:zlib';
import { threadId } from 'node:worker_threads';

export interface Crc32SliceTask {
  buffer: SharedArrayBuffer;
  offset: number;
  length: number;
}

/** CRC32 (zlib) of a slice of shared memory: the bytes are read in place, never copied. */
export default function crc32Slice(task: Crc32SliceTask): number {
  return crc32(new Uint8Array(task.buffer, task.offset, task.length));
}

export function whichThread(): number {
  return threadId;
}

export function fail(message: string): never {
  throw new Error(message);
}

export async function sleep(ms: number): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return ms;
}
