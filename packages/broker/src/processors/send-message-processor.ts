// SEND_MESSAGE (10), SEND_MESSAGE_V2 (310) and SEND_BATCH_MESSAGE (320): check the request like
// RocketMQ's msgCheck, create the topic from its template on first use, hand the message to the
// store's writer and answer with the offset message id, queue id and queue offset (facts §2.3, §4.4).
// A DELAY=<level> message is parked in SCHEDULE_TOPIC_XXXX until due (schedule/); a send to
// %RETRY%<group> past its maxReconsumeTimes goes to %DLQ%<group> (facts §7.4).
import {
  createOffsetMessageId,
  findProperty,
  isNotAllowedSendTopic,
  isRetryTopic,
  isWriteable,
  MessageLimits,
  decodeProperties,
  encodeProperties,
  parseSocketAddress,
  PropertyKey,
  RequestCode,
  ResponseCode,
  topicNameProblem,
  UniqKeyGenerator,
  type MessageToStore,
  type SocketAddress,
} from '@orbit/common';
import { createResponse, optionalBool, optionalInt, optionalString, requireInt, requireLong, requireString, type RemotingCommand, type RemotingConnection } from '@orbit/remoting';
import { delayLevelOf, parseDelayLevels, StoreError, type PutResult } from '@orbit/store';
import type { BrokerContext } from '../broker-context.js';
import { isSentCode, putStatusToCode } from '../put-status.js';
import { toScheduleMessage } from '../schedule/schedule-message.js';
import { deadLetterIfExhausted } from './consumer-send-msg-back-processor.js';
import { isTransactionPrepare, toHalfMessage } from '../transaction/half-message.js';

interface SendHeader {
  producerGroup: string;
  topic: string;
  defaultTopic: string;
  defaultTopicQueueNums: number;
  queueId: number;
  sysFlag: number;
  bornTimestamp: number;
  flag: number;
  properties: string;
  reconsumeTimes: number;
  /** Sent with %RETRY% sends; absent means the group's retryMaxTimes. */
  maxReconsumeTimes: number | undefined;
  batch: boolean;
}

/** V2 sends short keys (a..n); V1 the field names (facts §2.3). */
const V2_KEYS = { producerGroup: 'a', topic: 'b', defaultTopic: 'c', defaultTopicQueueNums: 'd', queueId: 'e', sysFlag: 'f', bornTimestamp: 'g', flag: 'h', properties: 'i', reconsumeTimes: 'j', maxReconsumeTimes: 'l', batch: 'm' } as const;
const V1_KEYS = { producerGroup: 'producerGroup', topic: 'topic', defaultTopic: 'defaultTopic', defaultTopicQueueNums: 'defaultTopicQueueNums', queueId: 'queueId', sysFlag: 'sysFlag', bornTimestamp: 'bornTimestamp', flag: 'flag', properties: 'properties', reconsumeTimes: 'reconsumeTimes', maxReconsumeTimes: 'maxReconsumeTimes', batch: 'batch' } as const;

function parseSendHeader(req: RemotingCommand): SendHeader {
  // No closure per request here: this runs for every send (and tsx wraps each closure it creates).
  const k = req.code === RequestCode.SEND_MESSAGE_V2 || req.code === RequestCode.SEND_BATCH_MESSAGE ? V2_KEYS : V1_KEYS;
  return {
    producerGroup: requireString(req, k.producerGroup),
    topic: requireString(req, k.topic),
    defaultTopic: optionalString(req, k.defaultTopic, 'TBW102'),
    defaultTopicQueueNums: optionalInt(req, k.defaultTopicQueueNums, 4),
    queueId: requireInt(req, k.queueId),
    sysFlag: optionalInt(req, k.sysFlag, 0),
    bornTimestamp: requireLong(req, k.bornTimestamp),
    flag: optionalInt(req, k.flag, 0),
    properties: optionalString(req, k.properties, ''),
    reconsumeTimes: optionalInt(req, k.reconsumeTimes, 0),
    maxReconsumeTimes: optionalInt(req, k.maxReconsumeTimes),
    batch: req.code === RequestCode.SEND_BATCH_MESSAGE || optionalBool(req, k.batch, false),
  };
}

const fail = (req: RemotingCommand, code: number, remark: string) => createResponse(req, code, remark, {});

export class SendMessageProcessor {
  private readonly uniqKeys: UniqKeyGenerator;
  private readonly delayLevelCount: number;

  constructor(private readonly ctx: BrokerContext) {
    this.delayLevelCount = parseDelayLevels(ctx.storeConfig.messageDelayLevel).length;
    this.uniqKeys = new UniqKeyGenerator({ ip: ctx.config.brokerIP1 });
  }

  async process(req: RemotingCommand, conn: RemotingConnection): Promise<RemotingCommand> {
    const header = parseSendHeader(req);
    const { ctx } = this;
    if (ctx.config.brokerRole === 'SLAVE') return fail(req, ResponseCode.SERVICE_NOT_AVAILABLE, `the broker[${ctx.config.brokerName}] is a slave and refuses writes`);
    if (!isWriteable(ctx.config.brokerPermission)) return fail(req, ResponseCode.NO_PERMISSION, `the broker[${ctx.config.brokerName}] sending message is forbidden`);
    const problem = topicNameProblem(header.topic);
    if (problem) return fail(req, ResponseCode.INVALID_PARAMETER, problem);
    if (isNotAllowedSendTopic(header.topic)) return fail(req, ResponseCode.NO_PERMISSION, `Sending message to topic[${header.topic}] is forbidden.`);

    let topicConfig = ctx.topics.get(header.topic);
    if (!topicConfig) {
      topicConfig = ctx.config.autoCreateTopicEnable || isRetryTopic(header.topic)
        ? isRetryTopic(header.topic)
          ? ctx.topics.createIfMissing(header.topic, 1, 6).config
          : ctx.topics.createFromTemplate(header.topic, header.defaultTopic, header.defaultTopicQueueNums, 0)
        : undefined;
      if (!topicConfig) {
        return fail(req, ResponseCode.TOPIC_NOT_EXIST, `topic[${header.topic}] not exist, apply first please!`);
      }
      ctx.registerBrokerSoon();
    }
    if (!isWriteable(topicConfig.perm)) return fail(req, ResponseCode.NO_PERMISSION, `the topic[${header.topic}] sending message is forbidden`);

    let queueId = header.queueId;
    const queueNums = Math.max(topicConfig.readQueueNums, topicConfig.writeQueueNums);
    if (queueId < 0) queueId = Math.floor(Math.random() * 0x7fffffff) % Math.max(1, topicConfig.writeQueueNums);
    if (queueId >= queueNums) {
      return fail(req, ResponseCode.INVALID_PARAMETER, `request queueId[${queueId}] is illegal, topic: ${header.topic} topicConfig.writeQueueNums: ${topicConfig.writeQueueNums} producer: ${conn.remoteAddress}`);
    }
    const body = req.body ?? Buffer.alloc(0);
    if (body.length > ctx.storeConfig.maxMessageSize) {
      return fail(req, ResponseCode.MESSAGE_ILLEGAL, `the message body size ${body.length} is over the limit ${ctx.storeConfig.maxMessageSize}`);
    }
    const bornHost = bornHostOf(conn);
    if (header.batch) return this.sendBatch(req, header, queueId, body, bornHost);

    const properties = this.completeProperties(header.properties);
    if (Buffer.byteLength(properties) > MessageLimits.maxPropertiesBytes) {
      return fail(req, ResponseCode.MESSAGE_ILLEGAL, `the message properties are ${Buffer.byteLength(properties)} bytes, more than ${MessageLimits.maxPropertiesBytes}`);
    }
    let msg = this.toStore(header, queueId, body, properties, header.flag, bornHost);
    if (isRetryTopic(header.topic)) {
      const exhausted = deadLetterIfExhausted(ctx, req, header.topic, header.reconsumeTimes, header.maxReconsumeTimes, { whenGroupHoldsLocks: true });
      if (exhausted && 'error' in exhausted) return exhausted.error;
      if (exhausted) msg = { ...msg, ...exhausted.deadLetter, properties: withoutDelay(msg.properties) };
    }
    // A transaction's prepare is stored as a half message, and never delayed (transaction/half-message.ts).
    if (isTransactionPrepare(properties, header.sysFlag, header.reconsumeTimes)) {
      if (ctx.config.rejectTransactionMessage) return fail(req, ResponseCode.NO_PERMISSION, `the broker[${ctx.config.brokerName}] sending transaction message is forbidden`);
      msg = toHalfMessage(msg);
    } else msg = toScheduleMessage(msg, this.delayLevelCount);
    const waitStoreOk = findProperty(properties, PropertyKey.WAIT) !== 'false';
    let result: PutResult;
    try {
      result = await ctx.store.putMessage(msg, { waitStoreOk });
    } catch (err) {
      return storeErrorResponse(req, err);
    }
    const code = putStatusToCode(result.status);
    // The caveats (disk flush or slave timed out, no slave) still carry the ids: the message is stored.
    if (!isSentCode(code)) return fail(req, code, `store rejected the message: ${result.status}`);
    ctx.stats.putMessages++;
    ctx.stats.putBytes += result.wroteBytes;
    return createResponse(req, code, code === ResponseCode.SUCCESS ? undefined : result.status, {
      msgId: createOffsetMessageId(ctx.storeHost, result.physicalOffset),
      queueId,
      queueOffset: result.queueOffset,
      transactionId: findProperty(properties, PropertyKey.UNIQ_KEY),
    });
  }

  private async sendBatch(req: RemotingCommand, header: SendHeader, queueId: number, body: Buffer, bornHost: SocketAddress): Promise<RemotingCommand> {
    const { ctx } = this;
    if (isRetryTopic(header.topic)) return fail(req, ResponseCode.MESSAGE_ILLEGAL, `batch request does not support retry group ${header.topic}`);
    let entries: { flag: number; body: Buffer; properties: string }[];
    try {
      entries = decodeBatchBody(body);
    } catch (err) {
      return fail(req, ResponseCode.MESSAGE_ILLEGAL, `bad batch body: ${(err as Error).message}`);
    }
    if (entries.length === 0) return fail(req, ResponseCode.MESSAGE_ILLEGAL, 'the batch is empty');
    // RocketMQ does not delay batches (its clients refuse them; its store answers MESSAGE_ILLEGAL).
    for (const e of [{ properties: header.properties }, ...entries]) {
      if (delayLevelOf(findProperty(e.properties, PropertyKey.DELAY), this.delayLevelCount) > 0) return fail(req, ResponseCode.MESSAGE_ILLEGAL, 'TimeDelayLevel is not supported for batching');
    }
    const messages = entries.map((e) => this.toStore(header, queueId, e.body, this.completeProperties(e.properties), e.flag, bornHost));
    let result: PutResult;
    try {
      result = await ctx.store.putMessages(messages, { waitStoreOk: true });
    } catch (err) {
      return storeErrorResponse(req, err);
    }
    const code = putStatusToCode(result.status);
    if (!isSentCode(code)) return fail(req, code, `store rejected the batch: ${result.status}`);
    ctx.stats.putMessages += result.count;
    ctx.stats.putBytes += result.wroteBytes;
    const ids: string[] = [];
    let physical = result.physicalOffset;
    for (const size of result.recordSizes) {
      ids.push(createOffsetMessageId(ctx.storeHost, physical));
      physical += size;
    }
    return createResponse(req, code, code === ResponseCode.SUCCESS ? undefined : result.status, { msgId: ids.join(','), queueId, queueOffset: result.queueOffset });
  }

  /** Adds UNIQ_KEY when the client sent none, and CLUSTER, as the broker does. */
  private completeProperties(properties: string): string {
    let out = properties;
    if (out.length > 0 && !out.endsWith('\u0002')) out += '\u0002';
    if (findProperty(out, PropertyKey.UNIQ_KEY) === undefined) out += `${PropertyKey.UNIQ_KEY}\u0001${this.uniqKeys.next()}\u0002`;
    if (findProperty(out, PropertyKey.CLUSTER) === undefined) out += `${PropertyKey.CLUSTER}\u0001${this.ctx.config.brokerClusterName}\u0002`;
    return out;
  }

  private toStore(header: SendHeader, queueId: number, body: Buffer, properties: string, flag: number, bornHost: SocketAddress): MessageToStore {
    return {
      topic: header.topic,
      queueId,
      flag,
      sysFlag: header.sysFlag,
      bornTimestamp: header.bornTimestamp,
      bornHost,
      storeHost: this.ctx.storeHost,
      reconsumeTimes: header.reconsumeTimes,
      preparedTransactionOffset: 0,
      body,
      properties,
    };
  }
}

/** SEND_BATCH_MESSAGE body (facts §4.4), every length checked against what is left. */
export function decodeBatchBody(body: Buffer): { flag: number; body: Buffer; properties: string }[] {
  const out: { flag: number; body: Buffer; properties: string }[] = [];
  let at = 0;
  while (at < body.length) {
    if (body.length - at < 22) throw new Error(`entry at ${at}: ${body.length - at} bytes left, an entry needs at least 22`);
    const totalSize = body.readInt32BE(at);
    if (totalSize < 22 || totalSize > body.length - at) throw new Error(`entry at ${at}: total size ${totalSize} with ${body.length - at} bytes left`);
    const flag = body.readInt32BE(at + 12);
    const bodyLength = body.readInt32BE(at + 16);
    if (bodyLength < 0 || 20 + bodyLength + 2 > totalSize) throw new Error(`entry at ${at}: body length ${bodyLength} past its total size ${totalSize}`);
    const propertiesLength = body.readInt16BE(at + 20 + bodyLength);
    if (propertiesLength < 0 || 22 + bodyLength + propertiesLength !== totalSize) {
      throw new Error(`entry at ${at}: lengths add up to ${22 + bodyLength + propertiesLength}, total size says ${totalSize}`);
    }
    out.push({
      flag,
      body: body.subarray(at + 20, at + 20 + bodyLength),
      properties: body.toString('utf8', at + 22 + bodyLength, at + 22 + bodyLength + propertiesLength),
    });
    at += totalSize;
  }
  return out;
}

function withoutDelay(properties: string): string {
  if (findProperty(properties, PropertyKey.DELAY) === undefined) return properties;
  const map = decodeProperties(properties);
  map.delete(PropertyKey.DELAY);
  return encodeProperties(map);
}

// A connection's peer address never changes: parsed once, not per message.
const bornHosts = new WeakMap<RemotingConnection, SocketAddress>();

function bornHostOf(conn: RemotingConnection): SocketAddress {
  let address = bornHosts.get(conn);
  if (address === undefined) {
    address = safeAddress(conn.remoteAddress);
    bornHosts.set(conn, address);
  }
  return address;
}

function safeAddress(text: string): SocketAddress {
  try {
    return parseSocketAddress(text);
  } catch {
    return parseSocketAddress('127.0.0.1:0');
  }
}

function storeErrorResponse(req: RemotingCommand, err: unknown): RemotingCommand {
  if (err instanceof StoreError) {
    const code =
      err.code === 'MESSAGE_ILLEGAL' || err.code === 'PROPERTIES_SIZE_EXCEEDED'
        ? ResponseCode.MESSAGE_ILLEGAL
        : err.code === 'SYSTEM_BUSY'
          ? ResponseCode.SYSTEM_BUSY
          : err.code === 'SERVICE_NOT_AVAILABLE' || err.code === 'STORE_CLOSED'
            ? ResponseCode.SERVICE_NOT_AVAILABLE
            : ResponseCode.SYSTEM_ERROR;
    return fail(req, code, err.message);
  }
  return fail(req, ResponseCode.SYSTEM_ERROR, (err as Error).message);
}
