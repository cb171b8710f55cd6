// The consumer's hot path: the records of a pull body straight into MessageExt objects. Same result
// as decodeStoredRecord + toMessageExt, without their intermediate objects: fields are read from
// the buffer once, host strings and offset-id prefixes come from a small cache (a consumer sees few
// distinct hosts), and properties go straight into the object. Every length is still checked by
// checkStoredRecord first.
import { inflateSync } from 'node:zlib';
import { checkStoredRecord, RecordField, RecordFormatError, storeTimestampOffset } from '@orbit/common/message-record';
import { PropertyKey, SysFlag } from '@orbit/common/message-const';
import { readInt64BE } from '@orbit/common/int64';
import { createOffsetMessageId } from '@orbit/common/message-id';
import { formatSocketAddress } from '@orbit/common/socket-address';
import { COMPRESSION_TYPE_MASK, COMPRESSION_TYPE_SHIFT, CompressionType, type MessageExt } from './message.js';

/** Distinct IPv4 hosts remembered; past it the cache starts over (bounded memory). */
const HOST_CACHE_MAX_ENTRIES = 4096;
const hostText = new Map<number, string>();
const hostHex = new Map<number, string>();

function v4Key(buf: Buffer, at: number): number {
  return buf.readUInt32BE(at) * 65536 + (buf.readInt32BE(at + 4) & 0xffff);
}

function remember(cache: Map<number, string>, key: number, value: string): string {
  if (cache.size >= HOST_CACHE_MAX_ENTRIES) cache.clear();
  cache.set(key, value);
  return value;
}

/** "ip:port" of the host at `at` (IPv4: 4 + 4 bytes, IPv6: 16 + 4). */
function hostAt(buf: Buffer, at: number, v6: boolean): string {
  if (v6) return formatSocketAddress({ ip: Buffer.from(buf.subarray(at, at + 16)), port: buf.readInt32BE(at + 16) });
  const port = buf.readInt32BE(at + 4);
  if (port < 0 || port > 0xffff) return `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}:${port}`;
  const key = v4Key(buf, at);
  return hostText.get(key) ?? remember(hostText, key, `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}:${port}`);
}

/** The offset message id: store host and physical offset in upper-case hex (facts §4.5). */
function offsetMsgIdAt(buf: Buffer, storeHostAt: number, v6: boolean, physicalOffset: number): string {
  const port = buf.readInt32BE(storeHostAt + (v6 ? 16 : 4));
  if (v6 || port < 0 || port > 0xffff || physicalOffset < 0) {
    return createOffsetMessageId({ ip: Buffer.from(buf.subarray(storeHostAt, storeHostAt + (v6 ? 16 : 4))), port }, physicalOffset);
  }
  const key = v4Key(buf, storeHostAt);
  const prefix = hostHex.get(key) ?? remember(hostHex, key, buf.toString('hex', storeHostAt, storeHostAt + 8).toUpperCase());
  return prefix + physicalOffset.toString(16).toUpperCase().padStart(16, '0');
}

/** RocketMQ's string2messageProperties, into a plain object: chunks under 3 chars and keys or values that are empty are skipped. */
export function propertiesObject(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let from = 0;
  while (from < text.length) {
    let end = text.indexOf('\u0002', from);
    if (end < 0) end = text.length;
    if (end - from >= 3) {
      const sep = text.indexOf('\u0001', from);
      if (sep > from && sep < end - 1) {
        const key = text.slice(from, sep);
        const value = text.slice(sep + 1, end);
        // "__proto__" from outside must stay a plain key, not set the prototype.
        if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
        else out[key] = value;
      }
    }
    from = end + 1;
  }
  return out;
}

/** Decodes the record at `at` (bounded by `limit`); throws RecordFormatError on garbage. */
export function decodeMessageExt(buf: Buffer, at: number, limit: number, brokerName: string): MessageExt {
  const check = checkStoredRecord(buf, at, limit, false);
  if (check.kind !== 'message') throw new RecordFormatError(at, check.kind === 'invalid' ? check.reason : `no message (${check.kind})`);
  const sysFlag = buf.readInt32BE(at + RecordField.SYSFLAG);
  const bornV6 = (sysFlag & SysFlag.BORNHOST_V6) !== 0;
  const storeV6 = (sysFlag & SysFlag.STOREHOST_V6) !== 0;
  const storeTimestampAt = at + storeTimestampOffset(sysFlag);
  const storeHostAt = storeTimestampAt + 8;
  const afterStoreHost = storeHostAt + (storeV6 ? 20 : 8);
  const bodyLenAt = afterStoreHost + 12;
  const bodyStart = bodyLenAt + 4;
  const physicalOffset = readInt64BE(buf, at + RecordField.PHYSICALOFFSET);
  const properties = propertiesObject(buf.toString('utf8', check.propertiesStart, check.propertiesStart + check.propertiesBytes));
  const offsetMsgId = offsetMsgIdAt(buf, storeHostAt, storeV6, physicalOffset);
  let body = buf.subarray(bodyStart, bodyStart + buf.readInt32BE(bodyLenAt));
  let bodyCompressed = false;
  if ((sysFlag & SysFlag.COMPRESSED) !== 0) {
    const type = (sysFlag & COMPRESSION_TYPE_MASK) >> COMPRESSION_TYPE_SHIFT;
    if (type === 0 || type === CompressionType.ZLIB) body = inflateSync(body);
    else bodyCompressed = true;
  }
  return {
    topic: buf.toString('utf8', check.topicStart, check.topicStart + check.topicBytes),
    body,
    tags: properties[PropertyKey.TAGS],
    keys: properties[PropertyKey.KEYS],
    properties,
    flag: buf.readInt32BE(at + RecordField.FLAG),
    msgId: properties[PropertyKey.UNIQ_KEY] ?? offsetMsgId,
    offsetMsgId,
    brokerName,
    queueId: buf.readInt32BE(at + RecordField.QUEUEID),
    queueOffset: readInt64BE(buf, at + RecordField.QUEUEOFFSET),
    commitLogOffset: physicalOffset,
    sysFlag,
    bornTimestamp: readInt64BE(buf, at + RecordField.BORNTIMESTAMP),
    bornHost: hostAt(buf, at + RecordField.BORNHOST, bornV6),
    storeTimestamp: readInt64BE(buf, storeTimestampAt),
    storeHost: hostAt(buf, storeHostAt, storeV6),
    reconsumeTimes: buf.readInt32BE(afterStoreHost),
    preparedTransactionOffset: readInt64BE(buf, afterStoreHost + 4),
    bodyCRC: buf.readInt32BE(at + RecordField.BODYCRC),
    storeSize: check.sizeBytes,
    bodyCompressed,
  };
}
