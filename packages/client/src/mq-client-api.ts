// Every request the client sends, one method each (MQClientAPIImpl): it builds the custom header
// exactly as RocketMQ's Java client does (facts §2), sends it, and turns non-success codes into
// MQBrokerError. No state beyond the NameServer list and which NameServer answered last.
import { RequestCode } from '@orbit/common/request-code';
import { ResponseCode } from '@orbit/common/response-code';
import {
  createOnewayRequest,
  createRequest,
  optionalLong,
  parseLenientJson,
  RemotingConnectError,
  RemotingTimeoutError,
  type ExtFieldValue,
  type RemotingClient,
  type RemotingCommand,
} from '@orbit/remoting';
import type { ClientConfig } from './client-config.js';
import { parseNamesrvAddr } from './client-config.js';
import { MQBrokerError, MQClientError } from './errors.js';
import { encodeHeartbeatData, type HeartbeatData } from './heartbeat-data.js';
import type { MessageExt } from './message.js';
import type { MessageQueue } from './message-queue.js';
import type { SubscriptionData } from './subscription.js';
import { parseTopicRouteData, type TopicRouteData } from './topic-route.js';

/** SendMessageRequestHeader (facts §2.3), by its V1 field names. */
export interface SendMessageRequestHeader {
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
  unitMode: boolean;
  maxReconsumeTimes?: number;
  batch: boolean;
  brokerName: string;
}

/** SendMessageRequestHeaderV2.createSendMessageRequestHeaderV2: the one-letter keys of codes 310/320. */
export function buildSendMessageHeaderV2(h: SendMessageRequestHeader): Record<string, ExtFieldValue> {
  return {
    a: h.producerGroup,
    b: h.topic,
    c: h.defaultTopic,
    d: h.defaultTopicQueueNums,
    e: h.queueId,
    f: h.sysFlag,
    g: h.bornTimestamp,
    h: h.flag,
    i: h.properties,
    j: h.reconsumeTimes,
    k: h.unitMode,
    l: h.maxReconsumeTimes,
    m: h.batch,
    n: h.brokerName,
  };
}

/** PullMessageRequestHeader (facts §2.4). */
export interface PullMessageRequestHeader {
  consumerGroup: string;
  topic: string;
  queueId: number;
  queueOffset: number;
  maxMsgNums: number;
  sysFlag: number;
  commitOffset: number;
  suspendTimeoutMillis: number;
  subscription?: string;
  subVersion: number;
  expressionType?: string;
  brokerName: string;
}

export function buildPullMessageHeader(h: PullMessageRequestHeader): Record<string, ExtFieldValue> {
  return {
    consumerGroup: h.consumerGroup,
    topic: h.topic,
    queueId: h.queueId,
    queueOffset: h.queueOffset,
    maxMsgNums: h.maxMsgNums,
    sysFlag: h.sysFlag,
    commitOffset: h.commitOffset,
    suspendTimeoutMillis: h.suspendTimeoutMillis,
    subscription: h.subscription,
    subVersion: h.subVersion,
    expressionType: h.expressionType,
    bname: h.brokerName,
  };
}

export interface CreateTopicOptions {
  topic: string;
  readQueueNums: number;
  writeQueueNums: number;
  /** 6 = read+write (facts §3.1). */
  perm: number;
  topicFilterType: 'SINGLE_TAG' | 'MULTI_TAG';
  topicSysFlag: number;
  order: boolean;
  /** The template topic (TBW102). */
  defaultTopic: string;
  /** e.g. "+message.type=NORMAL". */
  attributes?: string;
}

export interface ClusterInfo {
  brokerAddrTable: Record<string, { cluster: string; brokerName: string; brokerAddrs: Record<string, string> }>;
  clusterAddrTable: Record<string, string[]>;
}

/** Most records one QUERY_MESSAGE may ask for (the broker caps it further). */
export const MAX_QUERY_MESSAGE_NUM = 64 * 1024;

export class MQClientApi {
  private readonly namesrvAddrs: string[];
  /** Index of the NameServer in use; moves on when one fails (getAndCreateNameserverChannel). */
  private namesrvIndex: number;

  constructor(
    readonly remoting: RemotingClient,
    private readonly config: ClientConfig,
  ) {
    this.namesrvAddrs = parseNamesrvAddr(config.namesrvAddr);
    this.namesrvIndex = Math.floor(Math.random() * this.namesrvAddrs.length);
  }

  get timeoutMs(): number {
    return this.config.requestTimeoutMs;
  }

  /** A request with the configured language and version. */
  request(code: number, fields: Record<string, ExtFieldValue> = {}, body?: Buffer): RemotingCommand {
    const cmd = createRequest(code, fields, body);
    cmd.language = this.config.language;
    cmd.version = this.config.version;
    return cmd;
  }

  onewayRequest(code: number, fields: Record<string, ExtFieldValue> = {}, body?: Buffer): RemotingCommand {
    const cmd = createOnewayRequest(code, fields, body);
    cmd.language = this.config.language;
    cmd.version = this.config.version;
    return cmd;
  }

  /** Sends to the NameServer in use; on a connect failure or timeout, moves to the next one. */
  async invokeNameServer(request: RemotingCommand, timeoutMs = this.config.requestTimeoutMs): Promise<RemotingCommand> {
    let lastError: unknown;
    for (let tried = 0; tried < this.namesrvAddrs.length; tried++) {
      const addr = this.namesrvAddrs[this.namesrvIndex % this.namesrvAddrs.length]!;
      try {
        return await this.remoting.invoke(addr, { ...request }, timeoutMs);
      } catch (error) {
        lastError = error;
        this.namesrvIndex = (this.namesrvIndex + 1) % this.namesrvAddrs.length;
        if (!(error instanceof RemotingConnectError)) break; // a timeout used the caller's time already
      }
    }
    throw lastError instanceof Error ? lastError : new MQClientError(`no NameServer answered: ${String(lastError)}`);
  }

  /** The route of a topic, or undefined when the NameServer says TOPIC_NOT_EXIST. */
  async getTopicRouteInfoFromNameServer(topic: string, timeoutMs = this.config.requestTimeoutMs): Promise<TopicRouteData | undefined> {
    const response = await this.invokeNameServer(this.request(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic }), timeoutMs);
    if (response.code === ResponseCode.TOPIC_NOT_EXIST) return undefined;
    if (response.code !== ResponseCode.SUCCESS) throw new MQBrokerError(response.code, response.remark ?? '');
    if (response.body === undefined || response.body.length === 0) return undefined;
    return parseTopicRouteData(response.body);
  }

  async getBrokerClusterInfo(timeoutMs = this.config.requestTimeoutMs): Promise<ClusterInfo> {
    const response = await this.invokeNameServer(this.request(RequestCode.GET_BROKER_CLUSTER_INFO), timeoutMs);
    if (response.code !== ResponseCode.SUCCESS) throw new MQBrokerError(response.code, response.remark ?? '');
    const parsed = parseLenientJson(response.body?.toString('utf8') ?? '{}') as Partial<ClusterInfo> | null;
    return { brokerAddrTable: parsed?.brokerAddrTable ?? {}, clusterAddrTable: parsed?.clusterAddrTable ?? {} };
  }

  // --- send --------------------------------------------------------------------------------------

  sendMessageRequest(header: SendMessageRequestHeader, body: Buffer): RemotingCommand {
    return this.request(header.batch ? RequestCode.SEND_BATCH_MESSAGE : RequestCode.SEND_MESSAGE_V2, buildSendMessageHeaderV2(header), body);
  }

  // --- pull and offsets -------------------------------------------------------------------------

  pullMessage(addr: string, header: PullMessageRequestHeader, timeoutMs: number): Promise<RemotingCommand> {
    return this.remoting.invoke(addr, this.request(RequestCode.PULL_MESSAGE, buildPullMessageHeader(header)), timeoutMs);
  }

  /** The broker's stored offset of a group on a queue, or -1 when it has none (QUERY_NOT_FOUND). */
  async queryConsumerOffset(addr: string, group: string, mq: MessageQueue, timeoutMs = this.config.requestTimeoutMs): Promise<number> {
    const response = await this.remoting.invoke(
      addr,
      this.request(RequestCode.QUERY_CONSUMER_OFFSET, { consumerGroup: group, topic: mq.topic, queueId: mq.queueId, bname: mq.brokerName }),
      timeoutMs,
    );
    if (response.code === ResponseCode.QUERY_NOT_FOUND) return -1;
    return this.offsetFrom(response, addr);
  }

  async updateConsumerOffset(addr: string, group: string, mq: MessageQueue, offset: number, oneway: boolean, timeoutMs = this.config.requestTimeoutMs): Promise<void> {
    const fields = { consumerGroup: group, topic: mq.topic, queueId: mq.queueId, commitOffset: offset, bname: mq.brokerName };
    if (oneway) {
      await this.remoting.invokeOneway(addr, this.onewayRequest(RequestCode.UPDATE_CONSUMER_OFFSET, fields));
      return;
    }
    const response = await this.remoting.invoke(addr, this.request(RequestCode.UPDATE_CONSUMER_OFFSET, fields), timeoutMs);
    if (response.code !== ResponseCode.SUCCESS) throw new MQBrokerError(response.code, response.remark ?? '', addr);
  }

  async getMaxOffset(addr: string, mq: MessageQueue, timeoutMs = this.config.requestTimeoutMs): Promise<number> {
    const response = await this.remoting.invoke(addr, this.request(RequestCode.GET_MAX_OFFSET, { topic: mq.topic, queueId: mq.queueId, bname: mq.brokerName }), timeoutMs);
    return this.offsetFrom(response, addr);
  }

  async getMinOffset(addr: string, mq: MessageQueue, timeoutMs = this.config.requestTimeoutMs): Promise<number> {
    const response = await this.remoting.invoke(addr, this.request(RequestCode.GET_MIN_OFFSET, { topic: mq.topic, queueId: mq.queueId, bname: mq.brokerName }), timeoutMs);
    return this.offsetFrom(response, addr);
  }

  async searchOffset(addr: string, mq: MessageQueue, timestampMs: number, timeoutMs = this.config.requestTimeoutMs): Promise<number> {
    const response = await this.remoting.invoke(
      addr,
      this.request(RequestCode.SEARCH_OFFSET_BY_TIMESTAMP, { topic: mq.topic, queueId: mq.queueId, timestamp: timestampMs, boundaryType: 'LOWER', bname: mq.brokerName }),
      timeoutMs,
    );
    return this.offsetFrom(response, addr);
  }

  private offsetFrom(response: RemotingCommand, addr: string): number {
    if (response.code !== ResponseCode.SUCCESS) throw new MQBrokerError(response.code, response.remark ?? '', addr);
    const offset = optionalLong(response, 'offset');
    if (offset === undefined) throw new MQClientError(`response from ${addr} has no offset`);
    return offset;
  }

  // --- membership -------------------------------------------------------------------------------

  async getConsumerIdListByGroup(addr: string, group: string, timeoutMs = this.config.requestTimeoutMs): Promise<string[]> {
    const response = await this.remoting.invoke(addr, this.request(RequestCode.GET_CONSUMER_LIST_BY_GROUP, { consumerGroup: group }), timeoutMs);
    if (response.code !== ResponseCode.SUCCESS) throw new MQBrokerError(response.code, response.remark ?? '', addr);
    const parsed = parseLenientJson(response.body?.toString('utf8') ?? '{}') as { consumerIdList?: unknown } | null;
    const list = parsed?.consumerIdList;
    if (!Array.isArray(list)) return [];
    return list.filter((id): id is string => typeof id === 'string');
  }

  async sendHeartbeat(addr: string, data: HeartbeatData, timeoutMs = this.config.requestTimeoutMs): Promise<RemotingCommand> {
    const response = await this.remoting.invoke(addr, this.request(RequestCode.HEART_BEAT, {}, encodeHeartbeatData(data)), timeoutMs);
    if (response.code !== ResponseCode.SUCCESS) throw new MQBrokerError(response.code, response.remark ?? '', addr);
    return response;
  }

  async unregisterClient(addr: string, clientId: string, groups: { producerGroup?: string; consumerGroup?: string }, timeoutMs = this.config.requestTimeoutMs): Promise<void> {
    const response = await this.remoting.invoke(
      addr,
      this.request(RequestCode.UNREGISTER_CLIENT, { clientID: clientId, producerGroup: groups.producerGroup, consumerGroup: groups.consumerGroup }),
      timeoutMs,
    );
    if (response.code !== ResponseCode.SUCCESS) throw new MQBrokerError(response.code, response.remark ?? '', addr);
  }

  /**
   * CHECK_CLIENT_CONFIG (46, MQClientAPIImpl.checkClientInBroker): can the broker serve this
   * subscription (SQL92 needs enablePropertyFilter and an expression that compiles)? Throws
   * MQBrokerError with the broker's code and remark when it cannot.
   */
  async checkClientInBroker(addr: string, group: string, clientId: string, subscriptionData: SubscriptionData, timeoutMs = this.config.requestTimeoutMs): Promise<void> {
    const body = Buffer.from(JSON.stringify({ clientId, group, subscriptionData }));
    const response = await this.remoting.invoke(addr, this.request(RequestCode.CHECK_CLIENT_CONFIG, {}, body), timeoutMs);
    if (response.code !== ResponseCode.SUCCESS) throw new MQBrokerError(response.code, response.remark ?? '', addr);
  }

  /** CONSUMER_SEND_MSG_BACK (facts §2.7): the broker puts the message on %RETRY%<group> or the DLQ. */
  async consumerSendMessageBack(addr: string, msg: MessageExt, group: string, delayLevel: number, maxReconsumeTimes: number, timeoutMs = 5_000): Promise<void> {
    const response = await this.remoting.invoke(
      addr,
      this.request(RequestCode.CONSUMER_SEND_MSG_BACK, {
        offset: msg.commitLogOffset,
        group,
        delayLevel,
        originMsgId: msg.msgId,
        originTopic: msg.topic,
        unitMode: false,
        maxReconsumeTimes,
        bname: msg.brokerName,
      }),
      timeoutMs,
    );
    if (response.code !== ResponseCode.SUCCESS) throw new MQBrokerError(response.code, response.remark ?? '', addr);
  }

  // --- queue locks (orderly consumers) ----------------------------------------------------------

  /**
   * LOCK_BATCH_MQ (facts §2.7, §7.5): asks the broker for the locks of `mqs` (one broker's queues)
   * on behalf of `clientId`; resolves with the queues the client now holds.
   */
  async lockBatchMQ(addr: string, group: string, clientId: string, mqs: readonly MessageQueue[], timeoutMs = 1_000): Promise<MessageQueue[]> {
    const response = await this.remoting.invoke(addr, this.request(RequestCode.LOCK_BATCH_MQ, {}, lockBatchBody(group, clientId, mqs)), timeoutMs);
    if (response.code !== ResponseCode.SUCCESS) throw new MQBrokerError(response.code, response.remark ?? '', addr);
    const parsed = parseLenientJson(response.body?.toString('utf8') ?? '{}') as { lockOKMQSet?: unknown } | null;
    const set = parsed?.lockOKMQSet;
    if (!Array.isArray(set)) return [];
    const out: MessageQueue[] = [];
    for (const q of set as { topic?: unknown; brokerName?: unknown; queueId?: unknown }[]) {
      if (typeof q?.topic === 'string' && typeof q.brokerName === 'string' && Number.isInteger(q.queueId)) out.push({ topic: q.topic, brokerName: q.brokerName, queueId: q.queueId as number });
    }
    return out;
  }

  /** UNLOCK_BATCH_MQ: gives up the locks of `mqs` this client holds on that broker. */
  async unlockBatchMQ(addr: string, group: string, clientId: string, mqs: readonly MessageQueue[], oneway: boolean, timeoutMs = 1_000): Promise<void> {
    const body = lockBatchBody(group, clientId, mqs);
    if (oneway) {
      await this.remoting.invokeOneway(addr, this.onewayRequest(RequestCode.UNLOCK_BATCH_MQ, {}, body));
      return;
    }
    const response = await this.remoting.invoke(addr, this.request(RequestCode.UNLOCK_BATCH_MQ, {}, body), timeoutMs);
    if (response.code !== ResponseCode.SUCCESS) throw new MQBrokerError(response.code, response.remark ?? '', addr);
  }

  // --- admin --------------------------------------------------------------------------------------

  async createTopic(addr: string, options: CreateTopicOptions, timeoutMs = this.config.requestTimeoutMs): Promise<void> {
    const response = await this.remoting.invoke(
      addr,
      this.request(RequestCode.UPDATE_AND_CREATE_TOPIC, {
        topic: options.topic,
        defaultTopic: options.defaultTopic,
        readQueueNums: options.readQueueNums,
        writeQueueNums: options.writeQueueNums,
        perm: options.perm,
        topicFilterType: options.topicFilterType,
        topicSysFlag: options.topicSysFlag,
        order: options.order,
        attributes: options.attributes,
      }),
      timeoutMs,
    );
    if (response.code !== ResponseCode.SUCCESS) throw new MQBrokerError(response.code, response.remark ?? '', addr);
  }

  /** VIEW_MESSAGE_BY_ID: the stored record at a commit-log offset (the body of the response). */
  async viewMessage(addr: string, physicalOffset: number, timeoutMs = this.config.requestTimeoutMs): Promise<Buffer> {
    const response = await this.remoting.invoke(addr, this.request(RequestCode.VIEW_MESSAGE_BY_ID, { offset: physicalOffset }), timeoutMs);
    if (response.code !== ResponseCode.SUCCESS) throw new MQBrokerError(response.code, response.remark ?? '', addr);
    return response.body ?? Buffer.alloc(0);
  }

  /** QUERY_MESSAGE by key (or by UNIQ_KEY with `uniqKey`); an empty buffer when nothing matched. */
  async queryMessage(
    addr: string,
    query: { topic: string; key: string; maxNum: number; beginTimestamp: number; endTimestamp: number; uniqKey?: boolean },
    timeoutMs = this.config.requestTimeoutMs,
  ): Promise<Buffer> {
    const fields: Record<string, ExtFieldValue> = {
      topic: query.topic,
      key: query.key,
      maxNum: Math.min(Math.max(1, query.maxNum), MAX_QUERY_MESSAGE_NUM),
      beginTimestamp: query.beginTimestamp,
      endTimestamp: query.endTimestamp,
    };
    if (query.uniqKey) fields._UNIQUE_KEY_QUERY = 'true';
    const response = await this.remoting.invoke(addr, this.request(RequestCode.QUERY_MESSAGE, fields), timeoutMs);
    if (response.code === ResponseCode.QUERY_NOT_FOUND) return Buffer.alloc(0);
    if (response.code !== ResponseCode.SUCCESS) throw new MQBrokerError(response.code, response.remark ?? '', addr);
    return response.body ?? Buffer.alloc(0);
  }
}

/** LockBatchRequestBody / UnlockBatchRequestBody JSON, in fastjson's field order (facts §2.7). */
export function lockBatchBody(group: string, clientId: string, mqs: readonly MessageQueue[]): Buffer {
  const mqSet = mqs.map((mq) => ({ brokerName: mq.brokerName, queueId: mq.queueId, topic: mq.topic }));
  return Buffer.from(JSON.stringify({ consumerGroup: group, clientId, onlyThisBroker: false, mqSet }));
}

/** True for failures of the network path (connect, timeout, overload), which sends retry on another broker. */
export function isRemotingError(error: unknown): boolean {
  return error instanceof RemotingConnectError || error instanceof RemotingTimeoutError || (error instanceof Error && error.name === 'RemotingOverloadError');
}
