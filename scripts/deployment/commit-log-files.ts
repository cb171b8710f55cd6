// Byte comparison of two stores' commit logs, read straight from their segment files: a slave's log
// must be byte-identical to its master's (facts §6.2: the master ships raw commit-log bytes and the
// slave appends them at the same offsets). Segment files are named by their 20-digit start offset.
import { closeSync, existsSync, openSync, readdirSync, readSync } from 'node:fs';
import { join } from 'node:path';

const CHUNK_BYTES = 1024 * 1024;
const SEGMENT_NAME = /^\d{20}$/;

export interface CommitLogComparison {
  /** True when both logs hold the same bytes over [start of the master's first segment, endOffset). */
  identical: boolean;
  /** Bytes compared. */
  comparedBytes: number;
  /** First commit-log offset where they differ, or where the slave's file ends or is missing. */
  firstDifferenceAt?: number;
}

function segments(storeDir: string): { start: number; path: string }[] {
  const dir = join(storeDir, 'commitlog');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => SEGMENT_NAME.test(n))
    .map((n) => ({ start: Number(n), path: join(dir, n) }))
    .sort((a, b) => a.start - b.start);
}

/** Reads up to `length` bytes at `position`; fewer when the file is shorter. */
function readAt(fd: number, buf: Buffer, length: number, position: number): number {
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

/** Compares the master's commit log with the slave's up to `endOffset` (the master's max offset). */
export function compareCommitLogs(masterStoreDir: string, slaveStoreDir: string, endOffset: number): CommitLogComparison {
  const masterSegments = segments(masterStoreDir);
  const slaveByStart = new Map(segments(slaveStoreDir).map((s) => [s.start, s.path]));
  const a = Buffer.allocUnsafe(CHUNK_BYTES);
  const b = Buffer.allocUnsafe(CHUNK_BYTES);
  let compared = 0;
  for (const [i, seg] of masterSegments.entries()) {
    if (seg.start >= endOffset) break;
    const segmentEnd = Math.min(endOffset, masterSegments[i + 1]?.start ?? endOffset);
    const slavePath = slaveByStart.get(seg.start);
    if (!slavePath) return { identical: false, comparedBytes: compared, firstDifferenceAt: seg.start };
    const fa = openSync(seg.path, 'r');
    const fb = openSync(slavePath, 'r');
    try {
      for (let pos = 0; seg.start + pos < segmentEnd; pos += CHUNK_BYTES) {
        const want = Math.min(CHUNK_BYTES, segmentEnd - seg.start - pos);
        const na = readAt(fa, a, want, pos);
        const nb = readAt(fb, b, want, pos);
        if (na < want) throw new Error(`master segment ${seg.path} ends before offset ${segmentEnd}`);
        const n = Math.min(na, nb);
        if (a.compare(b, 0, n, 0, n) !== 0 || nb < want) {
          let k = 0;
          while (k < n && a[k] === b[k]) k++;
          return { identical: false, comparedBytes: compared + k, firstDifferenceAt: seg.start + pos + k };
        }
        compared += want;
      }
    } finally {
      closeSync(fa);
      closeSync(fb);
    }
  }
  return { identical: true, comparedBytes: compared };
}
