// CONSUMER_SEND_MSG_BACK (36): a consumer could not handle a message (RECONSUME_LATER or an
// exception) and hands it back (facts §2.7, §7.4; RocketMQ's SendMessageProcessor.consumerSendMsgBack).
// The broker finds the original by commit-log offset and stores a copy for the group:
//   - on %RETRY%<group> (a random one of the group's retryQueueNums queues), delayed by the
//     request's level, or 3 + reconsumeTimes when that is 0, so it comes back after 10 s, 30 s, 1 m…;
//   - on %DLQ%<group> (1 queue, write-only: consumers cannot pull it) once it has been reconsumed
//     maxReconsumeTimes times (the request's, else the group's retryMaxTimes, 16), or when the
//     request's level is negative.
// The copy carries RETRY_TOPIC (the original topic, set once), reconsumeTimes + 1, ORIGIN_MESSAGE_ID
// (the first id across retries) and, in the DLQ, DLQ_ORIGIN_TOPIC / DLQ_ORIGIN_MESSAGE_ID.
// Sends straight to %RETRY%<group> (a client whose send-back failed re-publishes itself) go
// through deadLetterIfExhausted() from the send processor.
import {
  createOffsetMessageId,
  decodeProperties,
  decodeStoredRecord,
  dlqTopic,
  encodeProperties,
  isWriteable,
  Perm,
  PropertyKey,
  ResponseCode,
  RETRY_GROUP_TOPIC_PREFIX,
  retryTopic,
  type MessageToStore,
} from '@orbit/common';
import { createResponse, optionalInt, requireInt, requireLong, requireString, type RemotingCommand } from '@orbit/remoting';
import { parseDelayLevels, StoreError } from '@orbit/store';
import type { BrokerContext } from '../broker-context.js';
import { isStoredStatus } from '../put-status.js';
import { toScheduleMessage } from '../schedule/schedule-message.js';
import type { SubscriptionGroupConfig } from '../subscription-group-manager.js';
import type { TopicConfig } from '../topic-config-manager.js';

/** Queues of a %DLQ% topic (MixAll.DLQ_NUMS_PER_GROUP). */
export const DLQ_NUMS_PER_GROUP = 1;
/** The first retry waits level 3 (10 s by default); each further one a level more. */
const FIRST_RETRY_DELAY_LEVEL = 3;

const fail = (req: RemotingCommand, code: number, remark: string) => createResponse(req, code, remark, {});

/** %DLQ%<group>, created on first use with perm WRITE only (as RocketMQ 4.x), so consumers cannot read it. */
export function deadLetterTopicConfig(ctx: BrokerContext, group: string): TopicConfig {
  const { config, created } = ctx.topics.createIfMissing(dlqTopic(group), DLQ_NUMS_PER_GROUP, Perm.WRITE);
  if (created) ctx.registerBrokerSoon();
  return config;
}

/** %RETRY%<group>, created on first use with the group's retryQueueNums queues, readable and writable. */
export function retryTopicConfig(ctx: BrokerContext, group: string, groupConfig: SubscriptionGroupConfig): TopicConfig {
  const { config, created } = ctx.topics.createIfMissing(retryTopic(group), Math.max(1, groupConfig.retryQueueNums), Perm.READ | Perm.WRITE);
  if (created) ctx.registerBrokerSoon();
  return config;
}

/**
 * A send to %RETRY%<group> whose reconsumeTimes reached the limit (the request's maxReconsumeTimes,
 * else the group's retryMaxTimes) goes to %DLQ%<group> instead (handleRetryAndDLQ). Returns the new
 * topic and queue, nothing when the message stays where it was sent, or an error response.
 */
export function deadLetterIfExhausted(
  ctx: BrokerContext,
  req: RemotingCommand,
  topic: string,
  reconsumeTimes: number,
  maxReconsumeTimes: number | undefined,
  options: { whenGroupHoldsLocks?: boolean } = {},
): { deadLetter: { topic: string; queueId: number } } | { error: RemotingCommand } | undefined {
  const group = topic.slice(RETRY_GROUP_TOPIC_PREFIX.length);
  const groupConfig = ctx.groups.findOrCreate(group);
  if (!groupConfig) return { error: fail(req, ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST, `subscription group not exist, ${group}`) };
  // A group holding live queue locks consumes orderly: its messages must not come back later out
  // of order through %RETRY%, so a send there goes to the DLQ at once (SendMessageProcessor).
  const orderlyGroup = options.whenGroupHoldsLocks === true && !ctx.rebalanceLocks.isLockAllExpired(group);
  if (!orderlyGroup && reconsumeTimes < (maxReconsumeTimes ?? groupConfig.retryMaxTimes)) return undefined;
  const dlq = deadLetterTopicConfig(ctx, group);
  return { deadLetter: { topic: dlq.topicName, queueId: randomQueue(DLQ_NUMS_PER_GROUP) } };
}

function randomQueue(queueNums: number): number {
  return Math.floor(Math.random() * 99_999_999) % Math.max(1, queueNums);
}

export class ConsumerSendMsgBackProcessor {
  private readonly delayLevelCount: number;

  constructor(private readonly ctx: BrokerContext) {
    this.delayLevelCount = parseDelayLevels(ctx.storeConfig.messageDelayLevel).length;
  }

  async process(req: RemotingCommand): Promise<RemotingCommand> {
    const { ctx } = this;
    const offset = requireLong(req, 'offset');
    const group = requireString(req, 'group');
    let delayLevel = requireInt(req, 'delayLevel');
    const requestedMax = optionalInt(req, 'maxReconsumeTimes');

    // Before anything is created: a slave's topics and groups come from its master.
    if (ctx.config.brokerRole === 'SLAVE') return fail(req, ResponseCode.SERVICE_NOT_AVAILABLE, `the broker[${ctx.config.brokerName}] is a slave and refuses writes`);
    const groupConfig = ctx.groups.findOrCreate(group);
    if (!groupConfig) return fail(req, ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST, `subscription group not exist, ${group}`);
    if (!isWriteable(ctx.config.brokerPermission)) return fail(req, ResponseCode.NO_PERMISSION, `the broker[${ctx.config.brokerIP1}] sending message is forbidden`);
    // A group without retry queues drops failed messages (RocketMQ answers SUCCESS too).
    if (groupConfig.retryQueueNums <= 0) return createResponse(req, ResponseCode.SUCCESS, undefined, {});

    let topicConfig = retryTopicConfig(ctx, group, groupConfig);
    if (!isWriteable(topicConfig.perm)) return fail(req, ResponseCode.NO_PERMISSION, `the topic[${topicConfig.topicName}] sending message is forbidden`);

    const raw = offset >= 0 ? ctx.store.getMessageByPhysicalOffset(offset) : undefined;
    if (!raw) return fail(req, ResponseCode.SYSTEM_ERROR, `look message by offset failed, ${offset}`);
    const original = decodeStoredRecord(raw, 0);
    const properties = decodeProperties(original.properties);
    if (!properties.has(PropertyKey.RETRY_TOPIC)) properties.set(PropertyKey.RETRY_TOPIC, original.topic);
    if (!properties.has(PropertyKey.ORIGIN_MESSAGE_ID)) properties.set(PropertyKey.ORIGIN_MESSAGE_ID, createOffsetMessageId(original.storeHost, original.physicalOffset));

    const maxReconsumeTimes = requestedMax ?? groupConfig.retryMaxTimes;
    let queueId: number;
    if (original.reconsumeTimes >= maxReconsumeTimes || delayLevel < 0) {
      topicConfig = deadLetterTopicConfig(ctx, group);
      queueId = randomQueue(DLQ_NUMS_PER_GROUP);
      properties.delete(PropertyKey.DELAY);
      properties.set(PropertyKey.DLQ_ORIGIN_TOPIC, properties.get(PropertyKey.RETRY_TOPIC)!);
      properties.set(PropertyKey.DLQ_ORIGIN_MESSAGE_ID, properties.get(PropertyKey.UNIQ_KEY) ?? properties.get(PropertyKey.ORIGIN_MESSAGE_ID)!);
    } else {
      queueId = randomQueue(topicConfig.writeQueueNums);
      if (delayLevel === 0) delayLevel = FIRST_RETRY_DELAY_LEVEL + original.reconsumeTimes;
      properties.set(PropertyKey.DELAY, String(delayLevel));
    }

    const retry: MessageToStore = {
      topic: topicConfig.topicName,
      queueId,
      flag: original.flag,
      sysFlag: original.sysFlag,
      bornTimestamp: original.bornTimestamp,
      bornHost: original.bornHost,
      storeHost: ctx.storeHost,
      reconsumeTimes: original.reconsumeTimes + 1,
      preparedTransactionOffset: 0,
      body: original.body,
      properties: encodeProperties(properties),
    };
    try {
      // Stored as a send is: a delay level parks it in SCHEDULE_TOPIC_XXXX. RocketMQ does not wait
      // for the flush here (waitStoreMsgOK false).
      const result = await ctx.store.putMessage(toScheduleMessage(retry, this.delayLevelCount), { waitStoreOk: false });
      if (!isStoredStatus(result.status)) return fail(req, ResponseCode.SYSTEM_ERROR, result.status);
      ctx.stats.putMessages++;
      ctx.stats.putBytes += result.wroteBytes;
    } catch (err) {
      const code = err instanceof StoreError && (err.code === 'SERVICE_NOT_AVAILABLE' || err.code === 'STORE_CLOSED') ? ResponseCode.SERVICE_NOT_AVAILABLE : ResponseCode.SYSTEM_ERROR;
      return fail(req, code, (err as Error).message);
    }
    return createResponse(req, ResponseCode.SUCCESS, undefined, {});
  }
}
