// Messages as producers build them (Message) and as consumers receive them (MessageExt, decoded from
// the stored records of a pull body, facts §4.1). Properties travel as RocketMQ's properties string
// (facts §4.3); TAGS, KEYS, DELAY and UNIQ_KEY are properties too.
import { NAME_VALUE_SEPARATOR, PROPERTY_SEPARATOR, PropertyKey } from '@orbit/common/message-const';
import { RETRY_GROUP_TOPIC_PREFIX } from './names.js';

export interface Message {
  topic: string;
  /** A string is sent as UTF-8. */
  body: Buffer | Uint8Array | string;
  /** One tag; consumers filter on it ("TagA || TagB"). */
  tags?: string;
  /** Business keys, indexed by the broker; several are sent space-separated. */
  keys?: string | readonly string[];
  /** User properties. Keys of system properties (TAGS, KEYS, DELAY, UNIQ_KEY, WAIT) set here are overridden by the fields above. */
  properties?: Record<string, string>;
  /** Delay level 1..18 (1s 5s 10s 30s 1m … 2h); 0 or absent = no delay. */
  delayTimeLevel?: number;
  /** User flag, stored with the message. */
  flag?: number;
  /** WAIT property: true (default) = the broker answers once the store is done (sync flush/replication). */
  waitStoreMsgOK?: boolean;
}

/** A consumed message, decoded from a stored record. */
export interface MessageExt {
  /** The topic the consumer sees (a retried message shows its original topic again). */
  topic: string;
  body: Buffer;
  tags: string | undefined;
  keys: string | undefined;
  properties: Record<string, string>;
  flag: number;
  /** UNIQ_KEY (the SDK's msgId); the offsetMsgId when the producer set none. */
  msgId: string;
  /** Upper-case hex of store host + commit-log offset (facts §4.5). */
  offsetMsgId: string;
  brokerName: string;
  queueId: number;
  queueOffset: number;
  commitLogOffset: number;
  sysFlag: number;
  bornTimestamp: number;
  /** "ip:port". */
  bornHost: string;
  storeTimestamp: number;
  /** "ip:port". */
  storeHost: string;
  reconsumeTimes: number;
  preparedTransactionOffset: number;
  bodyCRC: number;
  storeSize: number;
  /** True when the body is still compressed (LZ4/ZSTD, which this client cannot inflate). */
  bodyCompressed: boolean;
}

/** Compression type in sysFlag bits 8-10 (facts §4.2); 0 means ZLIB for old producers. */
export const CompressionType = { ZLIB: 3, LZ4: 1, ZSTD: 2 } as const;
export const COMPRESSION_TYPE_MASK = 0x700;
export const COMPRESSION_TYPE_SHIFT = 8;

export function messageBodyBytes(body: Message['body']): Buffer {
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  return Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

export function keysText(keys: Message['keys']): string | undefined {
  if (keys === undefined) return undefined;
  const text = typeof keys === 'string' ? keys : keys.join(' ');
  return text.length > 0 ? text : undefined;
}

/**
 * The properties text a message is sent with (once for every message a producer sends), in the
 * order the Java client builds them: UNIQ_KEY, WAIT, TAGS, KEYS, DELAY, then the user's own, except
 * those the fields before already set and null ones. Written straight into the text: no Map.
 */
export function sendPropertiesText(msg: Message, uniqKey: string | undefined): string {
  let out = uniqKey !== undefined ? PropertyKey.UNIQ_KEY + NAME_VALUE_SEPARATOR + uniqKey + PROPERTY_SEPARATOR : '';
  out += PropertyKey.WAIT + NAME_VALUE_SEPARATOR + (msg.waitStoreMsgOK === false ? 'false' : 'true') + PROPERTY_SEPARATOR;
  const tags = msg.tags ? msg.tags : undefined;
  if (tags !== undefined) out += PropertyKey.TAGS + NAME_VALUE_SEPARATOR + tags + PROPERTY_SEPARATOR;
  const keys = keysText(msg.keys);
  if (keys !== undefined) out += PropertyKey.KEYS + NAME_VALUE_SEPARATOR + keys + PROPERTY_SEPARATOR;
  const delay = msg.delayTimeLevel !== undefined && msg.delayTimeLevel > 0 ? String(msg.delayTimeLevel) : undefined;
  if (delay !== undefined) out += PropertyKey.DELAY + NAME_VALUE_SEPARATOR + delay + PROPERTY_SEPARATOR;
  const user = msg.properties;
  if (user) {
    for (const key of Object.keys(user)) {
      const value: unknown = user[key];
      if (value === undefined || value === null) continue;
      const setAbove =
        key === PropertyKey.WAIT ||
        (key === PropertyKey.UNIQ_KEY && uniqKey !== undefined) ||
        (key === PropertyKey.TAGS && tags !== undefined) ||
        (key === PropertyKey.KEYS && keys !== undefined) ||
        (key === PropertyKey.DELAY && delay !== undefined);
      if (!setAbove) out += key + NAME_VALUE_SEPARATOR + String(value) + PROPERTY_SEPARATOR;
    }
  }
  return out;
}

/**
 * A message read from %RETRY%<group> is shown with its original topic (RETRY_TOPIC), as the Java
 * client's resetRetryAndNamespace does. Other messages' properties are not read.
 */
export function restoreRetryTopics(msgs: readonly MessageExt[], consumerGroup: string): void {
  const groupTopic = RETRY_GROUP_TOPIC_PREFIX + consumerGroup;
  for (const msg of msgs) {
    if (msg.topic !== groupTopic) continue;
    const original = msg.properties[PropertyKey.RETRY_TOPIC];
    if (original !== undefined) msg.topic = original;
  }
}
