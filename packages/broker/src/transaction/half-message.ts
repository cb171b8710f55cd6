// The rewrites a transactional message goes through (RocketMQ's TransactionalMessageBridge,
// EndTransactionProcessor and DefaultTransactionalMessageCheckListener; facts §7.8). Pure functions
// from one message to the next, like schedule/schedule-message.ts:
//   prepare  → half:      REAL_TOPIC, REAL_QID, __transactionId__ = UNIQ_KEY, transaction bits NOT,
//                         RMQ_SYS_TRANS_HALF_TOPIC queue 0 (parseHalfMessageInner);
//   half     → committed: back on the real topic and queue, sysFlag COMMIT, preparedTransactionOffset
//                         = the half's physical offset, REAL_*/TRAN_MSG removed (endMessageTransaction);
//   half     → put back:  the same half appended again, TRANSACTION_CHECK_TIMES counted, and the
//                         first half's queue offset kept in TRAN_PREPARED_QUEUE_OFFSET (renewHalfMessageInner);
//   half     → discarded: TRANS_CHECK_MAX_TIME_TOPIC once the checks are used up (toMessageExtBrokerInner);
//   half     → check:     the record a CHECK_TRANSACTION_STATE carries, real topic and queue restored.
import {
  decodeProperties,
  encodeProperties,
  encodeStoredRecord,
  findProperty,
  planRecord,
  PropertyKey,
  SysFlag,
  SystemTopic,
  transactionType,
  type DecodedRecord,
  type MessageToStore,
} from '@orbit/common';

/** The one queue of RMQ_SYS_TRANS_HALF_TOPIC and RMQ_SYS_TRANS_OP_HALF_TOPIC (facts §7.9). */
export const HALF_QUEUE_ID = 0;
/** Queues of TRANS_CHECK_MAX_TIME_TOPIC (TCMT_QUEUE_NUMS). */
export const CHECK_MAX_TIME_QUEUE_NUMS = 1;

const TRANSACTION_BITS = 0xc;

export function withTransactionType(sysFlag: number, type: number): number {
  return (sysFlag & ~TRANSACTION_BITS) | type;
}

/**
 * Is this send the prepare of a transaction? TRAN_MSG=true (Boolean.parseBoolean, so any case), or
 * the PREPARED bit a raw client may set without the property. A consumer's own retry of a message
 * that still carries TRAN_MSG (reconsumeTimes > 0 with a DELAY) is not one, as in SendMessageProcessor.
 */
export function isTransactionPrepare(properties: string, sysFlag: number, reconsumeTimes: number): boolean {
  const tranMsg = findProperty(properties, PropertyKey.TRAN_MSG)?.toLowerCase() === 'true';
  if (!tranMsg && transactionType(sysFlag) !== SysFlag.TRANSACTION_PREPARED_TYPE) return false;
  return !(reconsumeTimes > 0 && Number(findProperty(properties, PropertyKey.DELAY) ?? 0) > 0);
}

/** parseHalfMessageInner: the half message stored in place of the prepared one. */
export function toHalfMessage(msg: MessageToStore): MessageToStore {
  const properties = decodeProperties(msg.properties);
  const uniqKey = properties.get(PropertyKey.UNIQ_KEY);
  if (uniqKey) properties.set(PropertyKey.TRANSACTION_ID, uniqKey);
  properties.set(PropertyKey.REAL_TOPIC, msg.topic);
  properties.set(PropertyKey.REAL_QID, String(msg.queueId));
  return {
    ...msg,
    topic: SystemTopic.TRANS_HALF_TOPIC,
    queueId: HALF_QUEUE_ID,
    sysFlag: withTransactionType(msg.sysFlag, SysFlag.TRANSACTION_NOT_TYPE),
    preparedTransactionOffset: 0,
    properties: encodeProperties(properties),
  };
}

/** The real topic and queue a half message was sent to; throws when the record names none. */
export function realDestination(properties: Map<string, string>, physicalOffset: number): { topic: string; queueId: number } {
  const topic = properties.get(PropertyKey.REAL_TOPIC);
  const queueIdText = properties.get(PropertyKey.REAL_QID);
  const queueId = Number(queueIdText);
  if (!topic || queueIdText === undefined || !Number.isInteger(queueId) || queueId < 0) {
    throw new Error(`the half message at ${physicalOffset} has no usable REAL_TOPIC/REAL_QID (${topic}/${queueIdText})`);
  }
  return { topic, queueId };
}

/**
 * endMessageTransaction: the committed message, on the real topic and queue, with the half's body,
 * flag, born time and hosts; sysFlag COMMIT and preparedTransactionOffset = the half's offset. The
 * store stamps a new store time, as RocketMQ's CommitLog does under its put lock.
 */
export function toCommittedMessage(half: DecodedRecord): MessageToStore {
  const properties = decodeProperties(half.properties);
  const { topic, queueId } = realDestination(properties, half.physicalOffset);
  properties.delete(PropertyKey.REAL_TOPIC);
  properties.delete(PropertyKey.REAL_QID);
  properties.delete(PropertyKey.TRAN_MSG);
  return {
    topic,
    queueId,
    flag: half.flag,
    sysFlag: withTransactionType(half.sysFlag, SysFlag.TRANSACTION_COMMIT_TYPE),
    bornTimestamp: half.bornTimestamp,
    bornHost: half.bornHost,
    storeHost: half.storeHost,
    reconsumeTimes: half.reconsumeTimes,
    preparedTransactionOffset: half.physicalOffset,
    body: half.body,
    properties: encodeProperties(properties),
  };
}

/** TRANSACTION_CHECK_TIMES of a half message (0 before its first check). */
export function checkTimesOf(half: DecodedRecord): number {
  const n = Number(findProperty(half.properties, PropertyKey.TRANSACTION_CHECK_TIMES) ?? 0);
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}

/**
 * The queue offset of the first half of this transaction (TRAN_PREPARED_QUEUE_OFFSET, set when a
 * half is put back), or undefined on a first half.
 */
export function firstHalfOffsetOf(half: DecodedRecord): number | undefined {
  const text = findProperty(half.properties, PropertyKey.TRAN_PREPARED_QUEUE_OFFSET);
  const n = Number(text);
  return text !== undefined && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/**
 * The half appended again at the end of the half queue (renewHalfMessageInner): with the check
 * count given (unchanged for an immunity put-back) and TRAN_PREPARED_QUEUE_OFFSET = the first half's
 * queue offset, so ending any copy ends them all.
 */
export function toPutBackHalf(half: DecodedRecord, checkTimes: number | undefined): MessageToStore {
  const properties = decodeProperties(half.properties);
  if (checkTimes !== undefined) properties.set(PropertyKey.TRANSACTION_CHECK_TIMES, String(checkTimes));
  if (firstHalfOffsetOf(half) === undefined) properties.set(PropertyKey.TRAN_PREPARED_QUEUE_OFFSET, String(half.queueOffset));
  return copyOfHalf(half, SystemTopic.TRANS_HALF_TOPIC, HALF_QUEUE_ID, encodeProperties(properties));
}

/** A half whose checks are used up, moved to TRANS_CHECK_MAX_TIME_TOPIC with every property kept. */
export function toCheckMaxTimeMessage(half: DecodedRecord, queueId: number): MessageToStore {
  return copyOfHalf(half, SystemTopic.TRANS_CHECK_MAX_TIME_TOPIC, queueId, half.properties);
}

/** The half as it is, on another topic and queue, with these properties. */
function copyOfHalf(half: DecodedRecord, topic: string, queueId: number, properties: string): MessageToStore {
  return {
    topic,
    queueId,
    flag: half.flag,
    sysFlag: half.sysFlag,
    bornTimestamp: half.bornTimestamp,
    bornHost: half.bornHost,
    storeHost: half.storeHost,
    reconsumeTimes: half.reconsumeTimes,
    preparedTransactionOffset: 0,
    body: half.body,
    properties,
  };
}

/**
 * The body of CHECK_TRANSACTION_STATE (MessageDecoder.encode): the stored half `stored` (what was
 * just put back: its offsets and store time) as one record, topic and queue set back to the real ones.
 */
export function encodeCheckBody(
  half: MessageToStore,
  stored: { queueOffset: number; physicalOffset: number; storeTimestamp: number; bodyCrc: number },
): Buffer {
  const properties = decodeProperties(half.properties);
  const { topic, queueId } = realDestination(properties, stored.physicalOffset);
  const msg: MessageToStore = { ...half, topic, queueId };
  const plan = planRecord(msg);
  const buf = Buffer.allocUnsafe(plan.sizeBytes);
  encodeStoredRecord(buf, 0, msg, plan, stored);
  return buf;
}
