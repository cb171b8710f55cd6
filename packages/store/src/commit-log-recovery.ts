// Finds the true end of the commit log at start-up. After a clean shutdown the checkpoint says where
// it is and nothing is scanned. After a crash (the abort file was left behind) records are verified
// from the last checkpointed point forward; the first record that fails (torn write, bad CRC, lengths
// that do not add up) is where the log ends: the rest of that segment is zeroed and synced, and later
// segments are deleted, so no torn record can ever be read or mistaken for data later.
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { checkStoredRecord, fileNameToOffset, readInt64BE, RecordField } from '@orbit/common';
import type { Checkpoint } from './checkpoint.js';
import { MappedFile } from './mapped-file.js';

export interface CommitLogRecovery {
  /** The recovered end of the log: the next append goes here. */
  writtenOffset: number;
  /** Where scanning started (undefined when a clean shutdown made a scan unnecessary). */
  scannedFrom?: number;
  recordsScanned: number;
  /** Set when garbage was cut: why the record at writtenOffset was rejected. */
  truncatedReason?: string;
  lastStoreTimestamp: number;
  /** Start offsets of the segments kept, ascending. */
  segments: number[];
}

const ZERO_PROBE_BYTES = 64 * 1024;

/** Segment start offsets present in dir, ascending; half-prepared temporaries are removed. */
export function listSegments(dir: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync(dir)) {
    if (name.endsWith('.preparing')) {
      rmSync(join(dir, name), { force: true });
      continue;
    }
    const offset = fileNameToOffset(name);
    if (offset !== undefined) out.push(offset);
  }
  return out.sort((a, b) => a - b);
}

export function recoverCommitLog(
  dir: string,
  segmentSizeBytes: number,
  checkpoint: Checkpoint | undefined,
  crashed: boolean,
  verifyCrc: boolean,
): CommitLogRecovery {
  const segments = listSegments(dir);
  if (segments.length === 0) return { writtenOffset: 0, recordsScanned: 0, lastStoreTimestamp: 0, segments };
  for (const s of segments) {
    if (s % segmentSizeBytes !== 0) throw new Error(`commit log segment ${s} is not aligned to mappedFileSizeCommitLog ${segmentSizeBytes}`);
  }
  const first = segments[0]!;
  const last = segments[segments.length - 1]!;

  if (!crashed && checkpoint && checkpoint.shutdownWrittenOffset >= first && checkpoint.shutdownWrittenOffset <= last + segmentSizeBytes) {
    return {
      writtenOffset: checkpoint.shutdownWrittenOffset,
      recordsScanned: 0,
      lastStoreTimestamp: checkpoint.physicMsgTimestamp,
      segments,
    };
  }

  // Start from a point known to be a record boundary and durable: the checkpoint's flushed and
  // dispatch-flushed offsets are both record ends. Without a checkpoint, scan everything.
  let position = checkpoint ? Math.min(checkpoint.flushedOffset, checkpoint.dispatchFlushedOffset) : first;
  if (position < first || position > last + segmentSizeBytes) position = first;
  const scannedFrom = position;
  let recordsScanned = 0;
  let lastStoreTimestamp = checkpoint?.physicMsgTimestamp ?? 0;
  let truncatedReason: string | undefined;

  for (;;) {
    const segmentStart = position - (position % segmentSizeBytes);
    if (!segments.includes(segmentStart)) break; // ran off the last segment: the end is here
    const file = MappedFile.openReadWrite(MappedFile.pathFor(dir, segmentStart), segmentSizeBytes);
    let at = position - segmentStart;
    let rolled = false;
    try {
      while (at < segmentSizeBytes) {
        const check = checkStoredRecord(file.map, at, segmentSizeBytes, verifyCrc);
        if (check.kind === 'message') {
          const storedOffset = readInt64BE(file.map, at + RecordField.PHYSICALOFFSET);
          if (storedOffset !== segmentStart + at) {
            truncatedReason = `record at ${segmentStart + at} says it is at ${storedOffset}`;
            break;
          }
          lastStoreTimestamp = readStoreTimestamp(file.map, at);
          at += check.sizeBytes;
          recordsScanned++;
        } else if (check.kind === 'blank') {
          rolled = true;
          break;
        } else {
          if (check.kind === 'invalid') truncatedReason = check.reason;
          break;
        }
      }
      if (rolled) {
        position = segmentStart + segmentSizeBytes;
        continue;
      }
      position = segmentStart + at;
      zeroTail(file, at);
    } finally {
      file.close();
    }
    break;
  }

  // Segments wholly after the end hold nothing we can trust.
  const endSegment = position - (position % segmentSizeBytes);
  const kept: number[] = [];
  for (const s of segments) {
    if (s > endSegment) rmSync(MappedFile.pathFor(dir, s), { force: true });
    else kept.push(s);
  }
  return { writtenOffset: position, scannedFrom, recordsScanned, truncatedReason, lastStoreTimestamp, segments: kept };
}

function readStoreTimestamp(map: Buffer, at: number): number {
  const sysFlag = map.readInt32BE(at + RecordField.SYSFLAG);
  const bornHostBytes = sysFlag & 0x10 ? 20 : 8;
  return readInt64BE(map, at + RecordField.BORNHOST + bornHostBytes);
}

/** Zeroes every non-zero stretch after `from` and syncs it before anything new is written. */
function zeroTail(file: MappedFile, from: number): void {
  const map = file.map;
  let dirtyFrom = -1;
  let dirtyTo = -1;
  for (let at = from; at < map.length; at += ZERO_PROBE_BYTES) {
    const end = Math.min(map.length, at + ZERO_PROBE_BYTES);
    if (!isAllZero(map, at, end)) {
      map.fill(0, at, end);
      if (dirtyFrom < 0) dirtyFrom = at;
      dirtyTo = end;
    }
  }
  if (dirtyFrom >= 0) file.flushRangeSync(dirtyFrom, dirtyTo);
}

const zeroProbe = Buffer.alloc(ZERO_PROBE_BYTES);

function isAllZero(buf: Buffer, from: number, to: number): boolean {
  return buf.compare(zeroProbe, 0, to - from, from, to) === 0;
}
