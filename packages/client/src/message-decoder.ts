// Stored records (facts §4.1) into MessageExt objects, the one decoder the client has. On the
// consumer's hot path, without intermediate objects: fields are read from the buffer once, host
// strings and offset-id prefixes come from a small cache (a consumer sees few distinct hosts), and
// the strings are decoded only when read. Every length is still checked by checkStoredRecord first.
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
const EMPTY_BODY = Buffer.alloc(0);
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

/**
 * A pulled message. Numbers and the body are read at once; the strings (properties, tags, keys, the
 * two ids, the hosts) are decoded on first use, from the pull body the message already holds a
 * slice of, so a listener that reads only the body pays for none of them. Every field can be set,
 * as on a plain MessageExt.
 */
export class PulledMessageExt implements MessageExt {
  topic: string;
  body: Buffer;
  flag: number;
  brokerName: string;
  queueId: number;
  queueOffset: number;
  commitLogOffset: number;
  sysFlag: number;
  bornTimestamp: number;
  storeTimestamp: number;
  reconsumeTimes: number;
  preparedTransactionOffset: number;
  bodyCRC: number;
  storeSize: number;
  bodyCompressed: boolean;
  private lazyProperties: Record<string, string> | undefined;
  private lazyTags: string | undefined | null = null;
  private lazyKeys: string | undefined | null = null;
  private lazyMsgId: string | undefined;
  private lazyOffsetMsgId: string | undefined;
  private lazyBornHost: string | undefined;
  private lazyStoreHost: string | undefined;
  /** Properties the pull adds (MIN_OFFSET, MAX_OFFSET), merged in when the properties are read. */
  private pullProperties: [string, string][] | undefined;

  /** Fields other than the lazy strings are set by decodeMessageExt right after construction. */
  constructor(
    private readonly raw: Buffer,
    private readonly at: number,
    private readonly propertiesStart: number,
    private readonly propertiesBytes: number,
    private readonly storeHostAt: number,
  ) {
    this.topic = '';
    this.body = EMPTY_BODY;
    this.flag = 0;
    this.brokerName = '';
    this.queueId = 0;
    this.queueOffset = 0;
    this.commitLogOffset = 0;
    this.sysFlag = 0;
    this.bornTimestamp = 0;
    this.storeTimestamp = 0;
    this.reconsumeTimes = 0;
    this.preparedTransactionOffset = 0;
    this.bodyCRC = 0;
    this.storeSize = 0;
    this.bodyCompressed = false;
  }

  get properties(): Record<string, string> {
    if (this.lazyProperties === undefined) {
      const props = propertiesObject(this.raw.toString('utf8', this.propertiesStart, this.propertiesStart + this.propertiesBytes));
      for (const [key, value] of this.pullProperties ?? []) props[key] = value;
      this.lazyProperties = props;
    }
    return this.lazyProperties;
  }
  set properties(value: Record<string, string>) {
    this.lazyProperties = value;
  }

  /** Adds a property without decoding the others now (the pull's MIN_OFFSET / MAX_OFFSET). */
  addPullProperty(key: string, value: string): void {
    if (this.lazyProperties !== undefined) this.lazyProperties[key] = value;
    else (this.pullProperties ??= []).push([key, value]);
  }

  get tags(): string | undefined {
    return this.lazyTags === null ? this.properties[PropertyKey.TAGS] : this.lazyTags;
  }
  set tags(value: string | undefined) {
    this.lazyTags = value;
  }

  get keys(): string | undefined {
    return this.lazyKeys === null ? this.properties[PropertyKey.KEYS] : this.lazyKeys;
  }
  set keys(value: string | undefined) {
    this.lazyKeys = value;
  }

  get offsetMsgId(): string {
    return (this.lazyOffsetMsgId ??= offsetMsgIdAt(this.raw, this.storeHostAt, (this.sysFlag & SysFlag.STOREHOST_V6) !== 0, this.commitLogOffset));
  }
  set offsetMsgId(value: string) {
    this.lazyOffsetMsgId = value;
  }

  get msgId(): string {
    return (this.lazyMsgId ??= this.properties[PropertyKey.UNIQ_KEY] ?? this.offsetMsgId);
  }
  set msgId(value: string) {
    this.lazyMsgId = value;
  }

  get bornHost(): string {
    return (this.lazyBornHost ??= hostAt(this.raw, this.at + RecordField.BORNHOST, (this.sysFlag & SysFlag.BORNHOST_V6) !== 0));
  }
  set bornHost(value: string) {
    this.lazyBornHost = value;
  }

  get storeHost(): string {
    return (this.lazyStoreHost ??= hostAt(this.raw, this.storeHostAt, (this.sysFlag & SysFlag.STOREHOST_V6) !== 0));
  }
  set storeHost(value: string) {
    this.lazyStoreHost = value;
  }

  /** A plain MessageExt with every field decoded (for logs, JSON and copies). */
  toJSON(): MessageExt {
    return {
      topic: this.topic,
      body: this.body,
      tags: this.tags,
      keys: this.keys,
      properties: this.properties,
      flag: this.flag,
      msgId: this.msgId,
      offsetMsgId: this.offsetMsgId,
      brokerName: this.brokerName,
      queueId: this.queueId,
      queueOffset: this.queueOffset,
      commitLogOffset: this.commitLogOffset,
      sysFlag: this.sysFlag,
      bornTimestamp: this.bornTimestamp,
      bornHost: this.bornHost,
      storeTimestamp: this.storeTimestamp,
      storeHost: this.storeHost,
      reconsumeTimes: this.reconsumeTimes,
      preparedTransactionOffset: this.preparedTransactionOffset,
      bodyCRC: this.bodyCRC,
      storeSize: this.storeSize,
      bodyCompressed: this.bodyCompressed,
    };
  }
}

/** Decodes the record at `at` (bounded by `limit`); throws RecordFormatError on garbage. */
export function decodeMessageExt(buf: Buffer, at: number, limit: number, brokerName: string): PulledMessageExt {
  const check = checkStoredRecord(buf, at, limit, false);
  if (check.kind !== 'message') throw new RecordFormatError(at, check.kind === 'invalid' ? check.reason : `no message (${check.kind})`);
  const sysFlag = buf.readInt32BE(at + RecordField.SYSFLAG);
  const storeV6 = (sysFlag & SysFlag.STOREHOST_V6) !== 0;
  const storeTimestampAt = at + storeTimestampOffset(sysFlag);
  const storeHostAt = storeTimestampAt + 8;
  const afterStoreHost = storeHostAt + (storeV6 ? 20 : 8);
  const bodyLenAt = afterStoreHost + 12;
  const bodyStart = bodyLenAt + 4;
  let body = buf.subarray(bodyStart, bodyStart + buf.readInt32BE(bodyLenAt));
  let bodyCompressed = false;
  if ((sysFlag & SysFlag.COMPRESSED) !== 0) {
    const type = (sysFlag & COMPRESSION_TYPE_MASK) >> COMPRESSION_TYPE_SHIFT;
    if (type === 0 || type === CompressionType.ZLIB) body = inflateSync(body);
    else bodyCompressed = true;
  }
  const m = new PulledMessageExt(buf, at, check.propertiesStart, check.propertiesBytes, storeHostAt);
  m.topic = topicAt(buf, check.topicStart, check.topicBytes);
  m.body = body;
  m.flag = buf.readInt32BE(at + RecordField.FLAG);
  m.brokerName = brokerName;
  m.queueId = buf.readInt32BE(at + RecordField.QUEUEID);
  m.queueOffset = readInt64BE(buf, at + RecordField.QUEUEOFFSET);
  m.commitLogOffset = readInt64BE(buf, at + RecordField.PHYSICALOFFSET);
  m.sysFlag = sysFlag;
  m.bornTimestamp = readInt64BE(buf, at + RecordField.BORNTIMESTAMP);
  m.storeTimestamp = readInt64BE(buf, storeTimestampAt);
  m.reconsumeTimes = buf.readInt32BE(afterStoreHost);
  m.preparedTransactionOffset = readInt64BE(buf, afterStoreHost + 4);
  m.bodyCRC = buf.readInt32BE(at + RecordField.BODYCRC);
  m.storeSize = check.sizeBytes;
  m.bodyCompressed = bodyCompressed;
  return m;
}

/** The last topic decoded, reused while the bytes are the same (a pull body is one queue's messages). */
let lastTopicBytes: Buffer = Buffer.alloc(0);
let lastTopic = '';

function topicAt(buf: Buffer, start: number, length: number): string {
  if (length === lastTopicBytes.length && buf.compare(lastTopicBytes, 0, length, start, start + length) === 0) return lastTopic;
  lastTopicBytes = Buffer.from(buf.subarray(start, start + length));
  lastTopic = buf.toString('utf8', start, start + length);
  return lastTopic;
}

/**
 * Every record of a body (VIEW_MESSAGE, QUERY_MESSAGE, CHECK_TRANSACTION_STATE) as plain MessageExt
 * objects: callers may copy them with a spread. Throws RecordFormatError on garbage.
 */
export function decodeMessageExts(body: Buffer, brokerName: string): MessageExt[] {
  const out: MessageExt[] = [];
  for (let at = 0; at < body.length; ) {
    const msg = decodeMessageExt(body, at, body.length, brokerName);
    at += msg.storeSize;
    out.push(msg.toJSON());
  }
  return out;
}
