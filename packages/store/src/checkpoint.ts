// The 4 KiB checkpoint file. Bytes 0..40 are RocketMQ's StoreCheckpoint fields; Orbit adds its own
// after a magic at 64, so a clean restart knows the exact end of the log without scanning and a
// crash restart knows from where consume queues and the index must be rebuilt.
import { existsSync, openSync, closeSync, writeSync, readSync, fdatasyncSync, renameSync, statSync, promises as fsp } from 'node:fs';
import { readInt64BE, writeInt64BE } from '@orbit/common';

export const CHECKPOINT_BYTES = 4096;
const ORBIT_MAGIC = 0x4f524231; // "ORB1"

export interface Checkpoint {
  physicMsgTimestamp: number;
  logicsMsgTimestamp: number;
  indexMsgTimestamp: number;
  /** Commit log durable up to here. */
  flushedOffset: number;
  /** Consume queues and index durable up to here (a record boundary). */
  dispatchFlushedOffset: number;
  /** End of the log at the last clean shutdown; -1 while running. */
  shutdownWrittenOffset: number;
}

export const EMPTY_CHECKPOINT: Checkpoint = {
  physicMsgTimestamp: 0,
  logicsMsgTimestamp: 0,
  indexMsgTimestamp: 0,
  flushedOffset: 0,
  dispatchFlushedOffset: 0,
  shutdownWrittenOffset: -1,
};

/** Returns undefined when there is no checkpoint or it is not one of ours. */
export function readCheckpoint(path: string): Checkpoint | undefined {
  if (!existsSync(path)) return undefined;
  const buf = Buffer.alloc(CHECKPOINT_BYTES);
  const fd = openSync(path, 'r');
  try {
    if (readSync(fd, buf, 0, CHECKPOINT_BYTES, 0) < 96) return undefined;
  } finally {
    closeSync(fd);
  }
  if (buf.readInt32BE(64) !== ORBIT_MAGIC) return undefined;
  return {
    physicMsgTimestamp: readInt64BE(buf, 0),
    logicsMsgTimestamp: readInt64BE(buf, 8),
    indexMsgTimestamp: readInt64BE(buf, 16),
    flushedOffset: readInt64BE(buf, 72),
    dispatchFlushedOffset: readInt64BE(buf, 80),
    shutdownWrittenOffset: readInt64BE(buf, 88),
  };
}

function encodeCheckpoint(cp: Checkpoint): Buffer {
  const buf = Buffer.alloc(CHECKPOINT_BYTES);
  writeInt64BE(buf, 0, cp.physicMsgTimestamp);
  writeInt64BE(buf, 8, cp.logicsMsgTimestamp);
  writeInt64BE(buf, 16, cp.indexMsgTimestamp);
  writeInt64BE(buf, 24, cp.flushedOffset); // masterFlushedOffset
  writeInt64BE(buf, 32, cp.flushedOffset); // confirmPhyOffset
  buf.writeInt32BE(ORBIT_MAGIC, 64);
  writeInt64BE(buf, 72, cp.flushedOffset);
  writeInt64BE(buf, 80, cp.dispatchFlushedOffset);
  writeInt64BE(buf, 88, cp.shutdownWrittenOffset);
  return buf;
}

/**
 * Writes the checkpoint and syncs it. An existing 4 KiB file is overwritten in place (as RocketMQ's
 * mapped checkpoint is): that needs no new disk blocks, so it still works on a full disk, and the
 * fields all sit in the first 512-byte sector, which a device writes whole. Only the very first
 * checkpoint is created, through a temporary file and a rename.
 */
export function writeCheckpoint(path: string, cp: Checkpoint): void {
  const buf = encodeCheckpoint(cp);
  const inPlace = existsSync(path) && statSync(path).size === CHECKPOINT_BYTES;
  const target = inPlace ? path : `${path}.tmp`;
  const fd = openSync(target, inPlace ? 'r+' : 'w');
  try {
    writeSync(fd, buf, 0, CHECKPOINT_BYTES, 0);
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
  if (!inPlace) renameSync(target, path);
}

/**
 * writeCheckpoint on the libuv pool, for the periodic checkpoint: its fdatasync took 0.5–1.6 ms on
 * the writer's thread here (and longer while the commit log was being synced), a stall for every
 * append waiting behind it. The caller runs one at a time.
 */
export async function writeCheckpointAsync(path: string, cp: Checkpoint): Promise<void> {
  const buf = encodeCheckpoint(cp);
  const size = await fsp.stat(path).then((s) => s.size, () => -1);
  const inPlace = size === CHECKPOINT_BYTES;
  const target = inPlace ? path : `${path}.tmp`;
  const handle = await fsp.open(target, inPlace ? 'r+' : 'w');
  try {
    await handle.write(buf, 0, CHECKPOINT_BYTES, 0);
    await handle.datasync();
  } finally {
    await handle.close();
  }
  if (!inPlace) await fsp.rename(target, path);
}
