// Constants of RocketMQ's message model (MessageDecoder, MessageSysFlag, MessageConst).

export const MessageMagic = {
  /** V1 record: one-byte topic length. */
  V1: -626843481, // 0xDAA320A7
  /** V2 record: two-byte topic length, used when the topic is longer than 127 bytes. */
  V2: -626843477, // 0xDAA320AB
  /** End-of-segment filler: [int remaining][int BLANK]. */
  BLANK: -875286124, // 0xCBD43194
} as const;

export const SysFlag = {
  COMPRESSED: 0x1,
  MULTI_TAGS: 0x2,
  TRANSACTION_NOT_TYPE: 0x0,
  TRANSACTION_PREPARED_TYPE: 0x4,
  TRANSACTION_COMMIT_TYPE: 0x8,
  TRANSACTION_ROLLBACK_TYPE: 0xc,
  BORNHOST_V6: 0x10,
  STOREHOST_V6: 0x20,
  NEED_UNWRAP: 0x40,
  INNER_BATCH: 0x80,
} as const;

export function transactionType(sysFlag: number): number {
  return sysFlag & 0xc;
}

export const PropertyKey = {
  KEYS: 'KEYS',
  TAGS: 'TAGS',
  UNIQ_KEY: 'UNIQ_KEY',
  WAIT: 'WAIT',
  DELAY: 'DELAY',
  RETRY_TOPIC: 'RETRY_TOPIC',
  REAL_TOPIC: 'REAL_TOPIC',
  REAL_QID: 'REAL_QID',
  TRAN_MSG: 'TRAN_MSG',
  PGROUP: 'PGROUP',
  MIN_OFFSET: 'MIN_OFFSET',
  MAX_OFFSET: 'MAX_OFFSET',
  RECONSUME_TIME: 'RECONSUME_TIME',
  MAX_RECONSUME_TIMES: 'MAX_RECONSUME_TIMES',
  ORIGIN_MESSAGE_ID: 'ORIGIN_MESSAGE_ID',
  TRANSACTION_CHECK_TIMES: 'TRANSACTION_CHECK_TIMES',
  CHECK_IMMUNITY_TIME_IN_SECONDS: 'CHECK_IMMUNITY_TIME_IN_SECONDS',
  TRAN_PREPARED_QUEUE_OFFSET: 'TRAN_PREPARED_QUEUE_OFFSET',
  TRANSACTION_ID: '__transactionId__',
  CLUSTER: 'CLUSTER',
  DLQ_ORIGIN_TOPIC: 'DLQ_ORIGIN_TOPIC',
  DLQ_ORIGIN_MESSAGE_ID: 'DLQ_ORIGIN_MESSAGE_ID',
} as const;

/** Separators of the properties string: name 0x01 value 0x02. */
export const NAME_VALUE_SEPARATOR = '\u0001';
export const PROPERTY_SEPARATOR = '\u0002';

export const MessageLimits = {
  /** Longest topic name accepted from a producer (TopicValidator). */
  maxTopicBytes: 127,
  /** Properties length is a Java short on disk. */
  maxPropertiesBytes: 32767,
  /** Default maxMessageSize (body). */
  defaultMaxMessageBytes: 4 * 1024 * 1024,
} as const;

/** Valid topic names match ^[%|a-zA-Z0-9_-]+$ (TopicValidator). */
export const TOPIC_NAME_PATTERN = /^[%|a-zA-Z0-9_-]+$/;
