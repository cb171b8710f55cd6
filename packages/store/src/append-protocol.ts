// The byte layouts that cross the rings between the caller (MessageStore) and the writer thread.
//
// Append ring, one record per request:
//   u8 type | u8 flags | u16 count | u32 queueSlot | u32 seq | then `count` stored-message records
//   (APPEND), or a flatbuffers QueueRegistration (REGISTER_QUEUE).
// Completion ring, one fixed record per APPEND, matched to its request by seq:
//   u8 status | u8 0 | u16 count | u32 seq | u32 wroteBytes | u32 0 | f64 physicalOffset
//   f64 queueOffset | f64 storeTimestamp
export const RequestType = { APPEND: 1, REGISTER_QUEUE: 2 } as const;
export const AppendFlags = { WAIT_STORE_OK: 1 } as const;
export const APPEND_HEADER_BYTES = 12;
export const COMPLETION_BYTES = 40;

/** PutMessageStatus, RocketMQ's names. The broker maps them to response codes (facts §2.3). */
export const PutStatus = {
  PUT_OK: 0,
  FLUSH_DISK_TIMEOUT: 1,
  CREATE_MAPPED_FILE_FAILED: 2,
  MESSAGE_ILLEGAL: 3,
  SERVICE_NOT_AVAILABLE: 4,
  UNKNOWN_ERROR: 5,
  /** SYNC_MASTER: stored here, but no slave acknowledged it within syncFlushTimeout. */
  FLUSH_SLAVE_TIMEOUT: 6,
  /** SYNC_MASTER: stored here; no slave connected, or the slave lags past haSlaveFallbehindMax. */
  SLAVE_NOT_AVAILABLE: 7,
} as const;
export type PutStatusName = keyof typeof PutStatus;
const PUT_STATUS_NAMES: PutStatusName[] = [];
for (const [name, code] of Object.entries(PutStatus)) PUT_STATUS_NAMES[code] = name as PutStatusName;
/** Called once per completion: an array lookup, not a search. */
export const putStatusName = (code: number): PutStatusName => PUT_STATUS_NAMES[code] ?? 'UNKNOWN_ERROR';

export function writeCompletion(
  buf: Buffer,
  at: number,
  status: number,
  seq: number,
  count: number,
  wroteBytes: number,
  physicalOffset: number,
  queueOffset: number,
  storeTimestamp: number,
): void {
  buf.writeUInt8(status, at);
  buf.writeUInt8(0, at + 1);
  buf.writeUInt16LE(count, at + 2);
  buf.writeUInt32LE(seq, at + 4);
  buf.writeUInt32LE(wroteBytes, at + 8);
  buf.writeUInt32LE(0, at + 12);
  buf.writeDoubleLE(physicalOffset, at + 16);
  buf.writeDoubleLE(queueOffset, at + 24);
  buf.writeDoubleLE(storeTimestamp, at + 32);
}
