// How a delayed message is parked and brought back. Parking is RocketMQ's CommitLog.putMessage
// delay branch (HookUtils.handleScheduleMessage in 5.x): DELAY=<level> sends the message to
// SCHEDULE_TOPIC_XXXX, queue level−1, with its real topic and queue kept in REAL_TOPIC / REAL_QID.
// Bringing back is ScheduleMessageService.messageTimeup: the real topic and queue again, DELAY
// removed, every other property (REAL_TOPIC and REAL_QID included) kept.
import {
  decodeProperties,
  encodeProperties,
  findProperty,
  PropertyKey,
  SysFlag,
  SystemTopic,
  transactionType,
  type DecodedRecord,
  type MessageToStore,
} from '@orbit/common';
import { delayLevelOf } from '@orbit/store';

/** The message as it is stored: parked in SCHEDULE_TOPIC_XXXX when it asks for a delay level. */
export function toScheduleMessage(msg: MessageToStore, levelCount: number): MessageToStore {
  // Prepared and rolled-back transaction records are not delayed (they are not consumable at all).
  const tranType = transactionType(msg.sysFlag);
  if (tranType !== SysFlag.TRANSACTION_NOT_TYPE && tranType !== SysFlag.TRANSACTION_COMMIT_TYPE) return msg;
  const level = delayLevelOf(findProperty(msg.properties, PropertyKey.DELAY), levelCount);
  if (level === 0) return msg;
  const properties = decodeProperties(msg.properties);
  properties.set(PropertyKey.DELAY, String(level)); // clamped to the last level, as RocketMQ does
  properties.set(PropertyKey.REAL_TOPIC, msg.topic);
  properties.set(PropertyKey.REAL_QID, String(msg.queueId));
  return { ...msg, topic: SystemTopic.SCHEDULE_TOPIC, queueId: level - 1, properties: encodeProperties(properties) };
}

/** The message to put when a parked one is due; throws when the record names no real topic/queue. */
export function fromScheduleRecord(record: DecodedRecord): MessageToStore {
  const properties = decodeProperties(record.properties);
  const topic = properties.get(PropertyKey.REAL_TOPIC);
  const queueIdText = properties.get(PropertyKey.REAL_QID);
  const queueId = Number(queueIdText);
  if (!topic || queueIdText === undefined || !Number.isInteger(queueId) || queueId < 0) {
    throw new Error(`the delayed message at ${record.physicalOffset} has no usable REAL_TOPIC/REAL_QID (${topic}/${queueIdText})`);
  }
  properties.delete(PropertyKey.DELAY);
  return {
    topic,
    queueId,
    flag: record.flag,
    sysFlag: record.sysFlag,
    bornTimestamp: record.bornTimestamp,
    bornHost: record.bornHost,
    storeHost: record.storeHost,
    reconsumeTimes: record.reconsumeTimes,
    preparedTransactionOffset: 0,
    body: record.body,
    properties: encodeProperties(properties),
  };
}
