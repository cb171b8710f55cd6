// RocketMQ's stored-message record (facts §4.1): the same bytes live in a commit-log segment, go out
// in a PULL body and are decoded by every RocketMQ client. Big-endian throughout.
//
//   0 TOTALSIZE 4 | 4 MAGICCODE 4 | 8 BODYCRC 4 | 12 QUEUEID 4 | 16 FLAG 4 | 20 QUEUEOFFSET 8
//  28 PHYSICALOFFSET 8 | 36 SYSFLAG 4 | 40 BORNTIMESTAMP 8 | 48 BORNHOST 8|20 | STORETIMESTAMP 8
//   STOREHOST 8|20 | RECONSUMETIMES 4 | PREPAREDTRANSACTIONOFFSET 8 | BODYLEN 4 + BODY
//   TOPICLEN 1 (V1) or 2 (V2) + TOPIC | PROPERTIESLEN 2 + PROPERTIES
import { setInt64, viewOf, writeText } from './byte-view.js';
import { rocketmqCrc32 } from './crc32.js';
import { readInt64BE } from './int64.js';
import { MessageLimits, MessageMagic, SysFlag } from './message-const.js';
import type { SocketAddress } from './socket-address.js';

export const RecordField = {
  TOTALSIZE: 0,
  MAGICCODE: 4,
  BODYCRC: 8,
  QUEUEID: 12,
  FLAG: 16,
  QUEUEOFFSET: 20,
  PHYSICALOFFSET: 28,
  SYSFLAG: 36,
  BORNTIMESTAMP: 40,
  BORNHOST: 48,
} as const;

/** Smallest possible record: IPv4 hosts, empty body, 1-char topic, no properties. */
export const MIN_RECORD_BYTES = 91 + 1;
/** A BLANK end-of-segment marker is [int remaining][int BLANK_MAGIC]. */
export const BLANK_MARKER_BYTES = 8;

export function hostBytes(sysFlag: number, v6Bit: number): number {
  return sysFlag & v6Bit ? 20 : 8;
}

/** Offset of STORETIMESTAMP, which depends on the born host's width. */
export function storeTimestampOffset(sysFlag: number): number {
  return RecordField.BORNHOST + hostBytes(sysFlag, SysFlag.BORNHOST_V6);
}

/** Offset of the BODYLEN field. */
export function bodyLengthOffset(sysFlag: number): number {
  return storeTimestampOffset(sysFlag) + 8 + hostBytes(sysFlag, SysFlag.STOREHOST_V6) + 4 + 8;
}

export function storedRecordSize(
  bodyBytes: number,
  topicBytes: number,
  propertiesBytes: number,
  sysFlag: number,
): number {
  const topicLengthBytes = topicBytes > 127 ? 2 : 1;
  return bodyLengthOffset(sysFlag) + 4 + bodyBytes + topicLengthBytes + topicBytes + 2 + propertiesBytes;
}

/** What a producer hands the store; the store fills the offsets, store time and CRC. */
export interface MessageToStore {
  topic: string;
  queueId: number;
  flag: number;
  /** Compression, transaction type and similar bits; host width bits are derived from the hosts. */
  sysFlag: number;
  bornTimestamp: number;
  bornHost: SocketAddress;
  storeHost: SocketAddress;
  reconsumeTimes: number;
  preparedTransactionOffset: number;
  body: Uint8Array;
  /** The properties string (key 0x01 value 0x02 ...). */
  properties: string;
}

export function effectiveSysFlag(msg: Pick<MessageToStore, 'sysFlag' | 'bornHost' | 'storeHost'>): number {
  let sysFlag = msg.sysFlag & ~(SysFlag.BORNHOST_V6 | SysFlag.STOREHOST_V6);
  if (msg.bornHost.ip.length === 16) sysFlag |= SysFlag.BORNHOST_V6;
  if (msg.storeHost.ip.length === 16) sysFlag |= SysFlag.STOREHOST_V6;
  return sysFlag;
}

/** Sizes needed before a record can be placed; computing them once avoids encoding twice. */
export interface RecordPlan {
  sizeBytes: number;
  sysFlag: number;
  topicBytes: number;
  propertiesBytes: number;
}

export function planRecord(msg: MessageToStore): RecordPlan {
  const sysFlag = effectiveSysFlag(msg);
  const topicBytes = Buffer.byteLength(msg.topic, 'utf8');
  const propertiesBytes = Buffer.byteLength(msg.properties, 'utf8');
  return {
    sysFlag,
    topicBytes,
    propertiesBytes,
    sizeBytes: storedRecordSize(msg.body.length, topicBytes, propertiesBytes, sysFlag),
  };
}

function writeHost(buf: Buffer, view: DataView, offset: number, host: SocketAddress): number {
  buf.set(host.ip, offset);
  view.setInt32(offset + host.ip.length, host.port);
  return offset + host.ip.length + 4;
}

/**
 * Writes a whole record at `offset`. Queue offset, physical offset, store timestamp and body CRC are
 * written as given: the commit-log writer patches the first three in place with `stampRecord`.
 */
export function encodeStoredRecord(
  buf: Buffer,
  offset: number,
  msg: MessageToStore,
  plan: RecordPlan,
  fields: { queueOffset: number; physicalOffset: number; storeTimestamp: number; bodyCrc: number },
): number {
  const { sysFlag, topicBytes, propertiesBytes, sizeBytes } = plan;
  if (offset < 0 || offset + sizeBytes > buf.length) throw new RangeError(`a ${sizeBytes}-byte record at ${offset} does not fit in ${buf.length} bytes`);
  // DataView stores (see byte-view.ts): this runs once per message on the broker's main thread.
  const view = viewOf(buf);
  let at = offset;
  view.setInt32(at, sizeBytes);
  view.setInt32(at + 4, topicBytes > 127 ? MessageMagic.V2 : MessageMagic.V1);
  view.setInt32(at + 8, fields.bodyCrc);
  view.setInt32(at + 12, msg.queueId);
  view.setInt32(at + 16, msg.flag);
  setInt64(view, at + 20, fields.queueOffset);
  setInt64(view, at + 28, fields.physicalOffset);
  view.setInt32(at + 36, sysFlag);
  setInt64(view, at + 40, msg.bornTimestamp);
  at = writeHost(buf, view, at + 48, msg.bornHost);
  setInt64(view, at, fields.storeTimestamp);
  at = writeHost(buf, view, at + 8, msg.storeHost);
  view.setInt32(at, msg.reconsumeTimes);
  setInt64(view, at + 4, msg.preparedTransactionOffset);
  view.setInt32(at + 12, msg.body.length);
  buf.set(msg.body, at + 16);
  at += 16 + msg.body.length;
  if (topicBytes > 127) {
    view.setInt16(at, topicBytes);
    at += 2;
  } else {
    view.setInt8(at, topicBytes);
    at += 1;
  }
  at += writeText(buf, at, msg.topic, topicBytes);
  view.setInt16(at, propertiesBytes);
  at += 2;
  at += writeText(buf, at, msg.properties, propertiesBytes);
  if (at - offset !== sizeBytes) throw new Error(`invariant violated: encoded ${at - offset} bytes, planned ${sizeBytes}`);
  return at;
}

/** Fills the fields only the writer knows, in place. */
export function stampRecord(
  buf: Buffer,
  offset: number,
  queueOffset: number,
  physicalOffset: number,
  storeTimestamp: number,
): void {
  const view = viewOf(buf);
  setInt64(view, offset + RecordField.QUEUEOFFSET, queueOffset);
  setInt64(view, offset + RecordField.PHYSICALOFFSET, physicalOffset);
  const sysFlag = view.getInt32(offset + RecordField.SYSFLAG);
  setInt64(view, offset + storeTimestampOffset(sysFlag), storeTimestamp);
}

/** Computes and writes BODYCRC from the body already in place. */
export function stampBodyCrc(buf: Buffer, offset: number): number {
  const sysFlag = buf.readInt32BE(offset + RecordField.SYSFLAG);
  const bodyLenAt = offset + bodyLengthOffset(sysFlag);
  const bodyLength = buf.readInt32BE(bodyLenAt);
  const crc = rocketmqCrc32(buf.subarray(bodyLenAt + 4, bodyLenAt + 4 + bodyLength));
  buf.writeInt32BE(crc, offset + RecordField.BODYCRC);
  return crc;
}

export interface DecodedRecord {
  sizeBytes: number;
  magic: number;
  bodyCrc: number;
  queueId: number;
  flag: number;
  queueOffset: number;
  physicalOffset: number;
  sysFlag: number;
  bornTimestamp: number;
  bornHost: SocketAddress;
  storeTimestamp: number;
  storeHost: SocketAddress;
  reconsumeTimes: number;
  preparedTransactionOffset: number;
  /** A view into the source buffer, not a copy. */
  body: Buffer;
  topic: string;
  properties: string;
}

export class RecordFormatError extends Error {
  constructor(
    readonly offset: number,
    reason: string,
  ) {
    super(`bad message record at ${offset}: ${reason}`);
    this.name = 'RecordFormatError';
  }
}

/**
 * Checks one record without trusting any length in it. Returns its size, or an outcome telling the
 * scanner what stands at `offset`: unwritten space, a BLANK end-of-segment marker, or garbage.
 */
export type RecordCheck =
  | { kind: 'message'; sizeBytes: number; topicStart: number; topicBytes: number; propertiesStart: number; propertiesBytes: number }
  | { kind: 'blank'; sizeBytes: number }
  | { kind: 'end' }
  | { kind: 'invalid'; reason: string };

export function checkStoredRecord(buf: Buffer, offset: number, limit: number, verifyCrc: boolean): RecordCheck {
  const available = limit - offset;
  if (available < 8) {
    return isZero(buf, offset, limit) ? { kind: 'end' } : { kind: 'invalid', reason: 'fewer than 8 bytes left' };
  }
  const sizeBytes = buf.readInt32BE(offset);
  const magic = buf.readInt32BE(offset + 4);
  if (sizeBytes === 0 && magic === 0) return { kind: 'end' };
  if (magic === MessageMagic.BLANK) {
    if (sizeBytes !== available) return { kind: 'invalid', reason: `blank marker of ${sizeBytes} bytes but ${available} left` };
    return { kind: 'blank', sizeBytes };
  }
  if (magic !== MessageMagic.V1 && magic !== MessageMagic.V2) return { kind: 'invalid', reason: `unknown magic ${magic}` };
  if (sizeBytes < MIN_RECORD_BYTES || sizeBytes > available) return { kind: 'invalid', reason: `total size ${sizeBytes} with ${available} bytes left` };
  const end = offset + sizeBytes;
  const sysFlag = buf.readInt32BE(offset + RecordField.SYSFLAG);
  const bodyLenAt = offset + bodyLengthOffset(sysFlag);
  if (bodyLenAt + 4 > end) return { kind: 'invalid', reason: 'header past total size' };
  const bodyLength = buf.readInt32BE(bodyLenAt);
  const bodyStart = bodyLenAt + 4;
  if (bodyLength < 0 || bodyStart + bodyLength > end) return { kind: 'invalid', reason: `body length ${bodyLength} past total size` };
  const topicLenAt = bodyStart + bodyLength;
  const topicLengthBytes = magic === MessageMagic.V2 ? 2 : 1;
  if (topicLenAt + topicLengthBytes > end) return { kind: 'invalid', reason: 'topic length past total size' };
  const topicBytes = topicLengthBytes === 2 ? buf.readInt16BE(topicLenAt) : buf.readInt8(topicLenAt);
  const topicStart = topicLenAt + topicLengthBytes;
  if (topicBytes <= 0 || topicStart + topicBytes + 2 > end) return { kind: 'invalid', reason: `topic length ${topicBytes} past total size` };
  const propertiesBytes = buf.readInt16BE(topicStart + topicBytes);
  const propertiesStart = topicStart + topicBytes + 2;
  if (propertiesBytes < 0 || propertiesStart + propertiesBytes !== end) {
    return { kind: 'invalid', reason: `lengths add up to ${propertiesStart + propertiesBytes - offset}, total size says ${sizeBytes}` };
  }
  if (verifyCrc) {
    const crc = rocketmqCrc32(buf.subarray(bodyStart, bodyStart + bodyLength));
    if (crc !== buf.readInt32BE(offset + RecordField.BODYCRC)) return { kind: 'invalid', reason: 'body CRC mismatch' };
  }
  return { kind: 'message', sizeBytes, topicStart, topicBytes, propertiesStart, propertiesBytes };
}

function isZero(buf: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (buf[i] !== 0) return false;
  return true;
}

function readHost(buf: Buffer, offset: number, v6: boolean): SocketAddress {
  const ipBytes = v6 ? 16 : 4;
  return { ip: Buffer.from(buf.subarray(offset, offset + ipBytes)), port: buf.readInt32BE(offset + ipBytes) };
}

/** Decodes one record with every length bounds-checked; throws RecordFormatError on garbage. */
export function decodeStoredRecord(buf: Buffer, offset: number, limit = buf.length): DecodedRecord {
  const check = checkStoredRecord(buf, offset, limit, false);
  if (check.kind !== 'message') {
    throw new RecordFormatError(offset, check.kind === 'invalid' ? check.reason : `no message (${check.kind})`);
  }
  const sysFlag = buf.readInt32BE(offset + RecordField.SYSFLAG);
  const bornV6 = (sysFlag & SysFlag.BORNHOST_V6) !== 0;
  const storeV6 = (sysFlag & SysFlag.STOREHOST_V6) !== 0;
  const storeTimestampAt = storeTimestampOffset(sysFlag) + offset;
  const storeHostAt = storeTimestampAt + 8;
  const afterStoreHost = storeHostAt + (storeV6 ? 20 : 8);
  const bodyLenAt = afterStoreHost + 12;
  const bodyLength = buf.readInt32BE(bodyLenAt);
  return {
    sizeBytes: check.sizeBytes,
    magic: buf.readInt32BE(offset + 4),
    bodyCrc: buf.readInt32BE(offset + 8),
    queueId: buf.readInt32BE(offset + 12),
    flag: buf.readInt32BE(offset + 16),
    queueOffset: readInt64BE(buf, offset + 20),
    physicalOffset: readInt64BE(buf, offset + 28),
    sysFlag,
    bornTimestamp: readInt64BE(buf, offset + 40),
    bornHost: readHost(buf, offset + 48, bornV6),
    storeTimestamp: readInt64BE(buf, storeTimestampAt),
    storeHost: readHost(buf, storeHostAt, storeV6),
    reconsumeTimes: buf.readInt32BE(afterStoreHost),
    preparedTransactionOffset: readInt64BE(buf, afterStoreHost + 4),
    body: buf.subarray(bodyLenAt + 4, bodyLenAt + 4 + bodyLength),
    topic: buf.toString('utf8', check.topicStart, check.topicStart + check.topicBytes),
    properties: buf.toString('utf8', check.propertiesStart, check.propertiesStart + check.propertiesBytes),
  };
}

/** Decodes a PULL body: records back to back until the buffer ends. */
export function decodeStoredRecords(buf: Buffer): DecodedRecord[] {
  const out: DecodedRecord[] = [];
  let at = 0;
  while (at < buf.length) {
    const record = decodeStoredRecord(buf, at);
    out.push(record);
    at += record.sizeBytes;
  }
  return out;
}

/**
 * Checks what a producer sends before anything is written (MessageStore.checkMessage). Pass the
 * record's plan when there is one, so the string sizes are not measured twice.
 */
const INT32_MIN = -0x8000_0000;
const INT32_MAX = 0x7fff_ffff;

function isInt32(value: number): boolean {
  return Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX;
}

export function validateMessage(msg: MessageToStore, maxMessageBytes: number, plan?: RecordPlan): string | undefined {
  const topicBytes = plan ? plan.topicBytes : Buffer.byteLength(msg.topic, 'utf8');
  if (topicBytes === 0) return 'topic is empty';
  if (topicBytes > MessageLimits.maxTopicBytes) return `topic is ${topicBytes} bytes, more than ${MessageLimits.maxTopicBytes}`;
  if (!Number.isInteger(msg.queueId) || msg.queueId < 0) return `queue id ${msg.queueId} is negative or not an integer`;
  if (msg.queueId > INT32_MAX) return `queue id ${msg.queueId} is larger than a Java int`;
  // The record stores these as Java ints and longs; DataView stores would wrap a value that does not fit.
  if (!isInt32(msg.flag)) return `flag ${msg.flag} is not a 32-bit integer`;
  if (!isInt32(msg.sysFlag)) return `sysFlag ${msg.sysFlag} is not a 32-bit integer`;
  if (!isInt32(msg.reconsumeTimes)) return `reconsumeTimes ${msg.reconsumeTimes} is not a 32-bit integer`;
  if (!Number.isSafeInteger(msg.bornTimestamp)) return `bornTimestamp ${msg.bornTimestamp} is not a safe integer`;
  if (!Number.isSafeInteger(msg.preparedTransactionOffset)) return `preparedTransactionOffset ${msg.preparedTransactionOffset} is not a safe integer`;
  if (msg.body.length > maxMessageBytes) return `message body is ${msg.body.length} bytes, more than maxMessageSize ${maxMessageBytes}`;
  const propertiesBytes = plan ? plan.propertiesBytes : Buffer.byteLength(msg.properties, 'utf8');
  if (propertiesBytes > MessageLimits.maxPropertiesBytes) {
    return `properties are ${propertiesBytes} bytes, more than ${MessageLimits.maxPropertiesBytes}`;
  }
  return undefined;
}
