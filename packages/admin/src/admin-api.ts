// The requests mqadmin sends (DefaultMQAdminExt's part it needs). Calls AdminClient already has
// (create topic, routes, cluster info, offsets, view/query messages) go through it; the others are
// built here with @orbit/remoting's createRequest and sent on AdminClient's RemotingClient, with the
// header fields and bodies of RocketMQ's MQClientAPIImpl (facts §2). Every non-success answer
// becomes an MQBrokerError carrying the code, the remark and the address that answered.
import {
  AdminClient,
  MASTER_ID,
  MQBrokerError,
  MQClientError,
  parseNamesrvAddr,
  parseQueueKeyedTable,
  processPullResponse,
  silentLogger,
  type ClusterInfo,
  type MessageExt,
  type MessageQueue,
  type PullResult,
  type QueueEntry,
  type TopicRouteData,
} from '@orbit/client';
import { parsePropertiesFile, RequestCode, ResponseCode } from '@orbit/common';
import { createRequest, parseLenientJson, type ExtFieldValue, type JsonValue, type RemotingCommand } from '@orbit/remoting';

/** TopicStatsTable entry (GET_TOPIC_STATS_INFO). */
export interface TopicOffset {
  minOffset: number;
  maxOffset: number;
  lastUpdateTimestamp: number;
}

/** ConsumeStats entry (GET_CONSUME_STATS). */
export interface OffsetWrapper {
  brokerOffset: number;
  consumerOffset: number;
  pullOffset: number;
  lastTimestamp: number;
}

export { parseQueueKeyedTable, type QueueEntry };

export interface ConsumeStats {
  consumeTps: number;
  offsetTable: QueueEntry<OffsetWrapper>[];
}

export interface Connection {
  clientId: string;
  clientAddr: string;
  language: string;
  version: number;
}

export interface ConsumerConnection {
  connectionSet: Connection[];
  subscriptionTable: Record<string, { topic: string; subString: string; expressionType?: string }>;
  consumeType: string;
  messageModel: string;
  consumeFromWhere: string;
}

/** SubscriptionGroupConfig (facts §3.5) as UPDATE_AND_CREATE_SUBSCRIPTIONGROUP carries it. */
export interface SubscriptionGroupConfig {
  groupName: string;
  consumeEnable: boolean;
  consumeFromMinEnable: boolean;
  consumeBroadcastEnable: boolean;
  consumeMessageOrderly: boolean;
  retryQueueNums: number;
  retryMaxTimes: number;
  groupRetryPolicy: Record<string, unknown>;
  brokerId: number;
  whichBrokerWhenConsumeSlowly: number;
  notifyConsumerIdsChangedEnable: boolean;
  groupSysFlag: number;
  consumeTimeoutMinute: number;
  attributes: Record<string, string>;
}

/** The consumer group TOOLS_CONSUMER that RocketMQ's tools pull with. */
export const TOOLS_CONSUMER_GROUP = 'TOOLS_CONSUMER';
/** KV namespace of order-topic configs on the NameServer. */
export const ORDER_TOPIC_CONFIG_NAMESPACE = 'ORDER_TOPIC_CONFIG';

const num = (v: unknown, fallback = 0): number => (typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : fallback);


function jsonBody(response: RemotingCommand): JsonValue {
  const text = response.body?.toString('utf8') ?? '';
  if (text.trim() === '') return null;
  return parseLenientJson(text);
}

export class AdminApi {
  readonly client: AdminClient;
  readonly namesrvAddrs: string[];
  private clusterInfoCache: ClusterInfo | undefined;

  constructor(
    readonly namesrvAddr: string,
    readonly timeoutMs = 3_000,
  ) {
    this.namesrvAddrs = parseNamesrvAddr(namesrvAddr);
    this.client = new AdminClient({ namesrvAddr, logger: silentLogger, requestTimeoutMs: timeoutMs, connectTimeoutMs: timeoutMs });
  }

  async close(): Promise<void> {
    await this.client.shutdown();
  }

  /** Sends a request built with createRequest and returns the answer, whatever its code. */
  async call(addr: string, code: number, fields: Record<string, ExtFieldValue> = {}, body?: Buffer, timeoutMs = this.timeoutMs): Promise<RemotingCommand> {
    return this.client.remoting.invoke(addr, createRequest(code, fields, body), timeoutMs);
  }

  /** Like call, but a code other than SUCCESS throws MQBrokerError. */
  async callOk(addr: string, code: number, fields: Record<string, ExtFieldValue> = {}, body?: Buffer, timeoutMs = this.timeoutMs): Promise<RemotingCommand> {
    const response = await this.call(addr, code, fields, body, timeoutMs);
    if (response.code !== ResponseCode.SUCCESS) throw new MQBrokerError(response.code, response.remark ?? '', addr);
    return response;
  }

  /** A NameServer request, moving to the next NameServer when one cannot be reached. */
  async callNameServer(code: number, fields: Record<string, ExtFieldValue> = {}): Promise<RemotingCommand> {
    const response = await this.client.api.invokeNameServer(createRequest(code, fields), this.timeoutMs);
    if (response.code !== ResponseCode.SUCCESS) throw new MQBrokerError(response.code, response.remark ?? '', this.namesrvAddr);
    return response;
  }

  // --- routes and the cluster -------------------------------------------------------------------

  route(topic: string): Promise<TopicRouteData> {
    return this.client.getTopicRoute(topic);
  }

  /** The route, or undefined when the NameServer does not know the topic. */
  async routeIfExists(topic: string): Promise<TopicRouteData | undefined> {
    return this.client.api.getTopicRouteInfoFromNameServer(topic, this.timeoutMs);
  }

  async clusterInfo(): Promise<ClusterInfo> {
    this.clusterInfoCache ??= await this.client.getClusterInfo();
    return this.clusterInfoCache;
  }

  /** Forget the cached cluster info (a command that repeats reads it again). */
  clearClusterInfoCache(): void {
    this.clusterInfoCache = undefined;
  }

  /** Broker names of a cluster, sorted; throws when the NameServer does not know the cluster. */
  async brokerNamesOfCluster(cluster: string): Promise<string[]> {
    const info = await this.clusterInfo();
    const names = info.clusterAddrTable[cluster];
    if (names === undefined) throw new MQClientError(`Make sure the specified clusterName exists or the name server connected to is correct. cluster: ${cluster}`);
    return [...names].sort();
  }

  /** Master addresses of a cluster (CommandUtil.fetchMasterAddrByClusterName). */
  async masterAddrsOfCluster(cluster: string): Promise<string[]> {
    const info = await this.clusterInfo();
    const out: string[] = [];
    for (const name of await this.brokerNamesOfCluster(cluster)) {
      const addr = info.brokerAddrTable[name]?.brokerAddrs[String(MASTER_ID)];
      if (addr !== undefined) out.push(addr);
    }
    return out;
  }

  /** Every address (masters first, then slaves by id) of a cluster's brokers. */
  async allAddrsOfCluster(cluster: string): Promise<{ brokerName: string; brokerId: number; addr: string }[]> {
    const info = await this.clusterInfo();
    const out: { brokerName: string; brokerId: number; addr: string }[] = [];
    for (const name of await this.brokerNamesOfCluster(cluster)) {
      const addrs = info.brokerAddrTable[name]?.brokerAddrs ?? {};
      for (const id of Object.keys(addrs).map(Number).sort((a, b) => a - b)) out.push({ brokerName: name, brokerId: id, addr: addrs[String(id)]! });
    }
    return out;
  }

  /** The broker name an address belongs to, from the cluster info. */
  async brokerNameOfAddr(addr: string): Promise<string | undefined> {
    const info = await this.clusterInfo();
    for (const [name, data] of Object.entries(info.brokerAddrTable)) {
      if (Object.values(data.brokerAddrs).includes(addr)) return name;
    }
    return undefined;
  }

  /** The master address of a broker in a route, or any address when it has no master. */
  static addrOf(route: TopicRouteData, brokerName: string): string | undefined {
    const broker = route.brokerDatas.find((b) => b.brokerName === brokerName);
    if (!broker) return undefined;
    return broker.brokerAddrs[String(MASTER_ID)] ?? Object.values(broker.brokerAddrs)[0];
  }

  // --- topics -----------------------------------------------------------------------------------

  async topicList(): Promise<string[]> {
    const response = await this.callNameServer(RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER);
    const parsed = jsonBody(response) as { topicList?: unknown } | null;
    return Array.isArray(parsed?.topicList) ? parsed.topicList.filter((t): t is string => typeof t === 'string') : [];
  }

  async deleteTopicInBroker(addr: string, topic: string): Promise<void> {
    await this.callOk(addr, RequestCode.DELETE_TOPIC_IN_BROKER, { topic });
  }

  /** DELETE_TOPIC_IN_NAMESRV to every NameServer of the list. */
  async deleteTopicInNameServers(topic: string, clusterName?: string): Promise<void> {
    for (const addr of this.namesrvAddrs) await this.callOk(addr, RequestCode.DELETE_TOPIC_IN_NAMESRV, { topic, clusterName });
  }

  /** PUT_KV_CONFIG ORDER_TOPIC_CONFIG topic=orderConf to every NameServer (createOrUpdateOrderConf). */
  async putOrderConf(topic: string, orderConf: string): Promise<void> {
    for (const addr of this.namesrvAddrs) await this.callOk(addr, RequestCode.PUT_KV_CONFIG, { namespace: ORDER_TOPIC_CONFIG_NAMESPACE, key: topic, value: orderConf });
  }

  async topicStats(addr: string, topic: string): Promise<{ offsetTable: QueueEntry<TopicOffset>[]; topicPutTps: number }> {
    const response = await this.callOk(addr, RequestCode.GET_TOPIC_STATS_INFO, { topic });
    const parsed = jsonBody(response) as { offsetTable?: unknown; topicPutTps?: unknown } | null;
    return {
      offsetTable: parseQueueKeyedTable(parsed?.offsetTable).map(({ mq, value }) => ({
        mq,
        value: { minOffset: num(value.minOffset), maxOffset: num(value.maxOffset), lastUpdateTimestamp: num(value.lastUpdateTimestamp) },
      })),
      topicPutTps: num(parsed?.topicPutTps),
    };
  }

  /** Groups consuming a topic (QUERY_TOPIC_CONSUME_BY_WHO); empty when the broker cannot tell. */
  async topicConsumedBy(addr: string, topic: string): Promise<string[]> {
    const response = await this.callOk(addr, RequestCode.QUERY_TOPIC_CONSUME_BY_WHO, { topic });
    const parsed = jsonBody(response) as { groupList?: unknown } | null;
    return Array.isArray(parsed?.groupList) ? parsed.groupList.filter((g): g is string => typeof g === 'string') : [];
  }

  // --- brokers ----------------------------------------------------------------------------------

  /** GET_BROKER_RUNTIME_INFO: the KVTable. */
  async runtimeInfo(addr: string): Promise<Record<string, string>> {
    const response = await this.callOk(addr, RequestCode.GET_BROKER_RUNTIME_INFO);
    const parsed = jsonBody(response) as { table?: Record<string, unknown> } | null;
    return Object.fromEntries(Object.entries(parsed?.table ?? {}).map(([k, v]) => [k, String(v)]));
  }

  /** GET_BROKER_CONFIG: no header; the answer's body is a properties text. */
  async brokerConfig(addr: string): Promise<Map<string, string>> {
    const response = await this.callOk(addr, RequestCode.GET_BROKER_CONFIG);
    return parsePropertiesFile(response.body?.toString('utf8') ?? '');
  }

  /** UPDATE_BROKER_CONFIG: no header; the body is "key=value\n" lines (MixAll.properties2String). */
  async updateBrokerConfig(addr: string, properties: Record<string, string>): Promise<void> {
    const text = Object.entries(properties).map(([k, v]) => `${k}=${v}\n`).join('');
    await this.callOk(addr, RequestCode.UPDATE_BROKER_CONFIG, {}, Buffer.from(text, 'utf8'));
  }

  // --- subscription groups and consumers --------------------------------------------------------

  async createSubscriptionGroup(addr: string, config: SubscriptionGroupConfig): Promise<void> {
    await this.callOk(addr, RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, {}, Buffer.from(JSON.stringify(config), 'utf8'));
  }

  async deleteSubscriptionGroup(addr: string, groupName: string, cleanOffset: boolean): Promise<void> {
    await this.callOk(addr, RequestCode.DELETE_SUBSCRIPTIONGROUP, { groupName, cleanOffset });
  }

  async consumeStats(addr: string, consumerGroup: string, topic?: string): Promise<ConsumeStats> {
    const response = await this.callOk(addr, RequestCode.GET_CONSUME_STATS, { consumerGroup, topic }, undefined, this.timeoutMs * 3);
    const parsed = jsonBody(response) as { consumeTps?: unknown; offsetTable?: unknown } | null;
    return {
      consumeTps: num(parsed?.consumeTps),
      offsetTable: parseQueueKeyedTable(parsed?.offsetTable).map(({ mq, value }) => ({
        mq,
        value: { brokerOffset: num(value.brokerOffset), consumerOffset: num(value.consumerOffset), pullOffset: num(value.pullOffset, num(value.consumerOffset)), lastTimestamp: num(value.lastTimestamp) },
      })),
    };
  }

  async consumerConnection(addr: string, consumerGroup: string): Promise<ConsumerConnection> {
    const response = await this.callOk(addr, RequestCode.GET_CONSUMER_CONNECTION_LIST, { consumerGroup });
    const parsed = (jsonBody(response) ?? {}) as Record<string, unknown>;
    const connections = Array.isArray(parsed.connectionSet) ? (parsed.connectionSet as Record<string, unknown>[]) : [];
    const subs = parsed.subscriptionTable !== null && typeof parsed.subscriptionTable === 'object' ? (parsed.subscriptionTable as Record<string, Record<string, unknown>>) : {};
    return {
      connectionSet: connections.map((c) => ({ clientId: String(c.clientId ?? ''), clientAddr: String(c.clientAddr ?? ''), language: String(c.language ?? ''), version: num(c.version) })),
      subscriptionTable: Object.fromEntries(
        Object.entries(subs).map(([topic, s]) => [topic, { topic: String(s.topic ?? topic), subString: String(s.subString ?? ''), expressionType: s.expressionType === undefined ? undefined : String(s.expressionType) }]),
      ),
      consumeType: String(parsed.consumeType ?? ''),
      messageModel: String(parsed.messageModel ?? ''),
      consumeFromWhere: String(parsed.consumeFromWhere ?? ''),
    };
  }

  /** The queues a client holds (GET_CONSUMER_RUNNING_INFO's mqTable), through a broker. */
  async consumerRunningQueues(addr: string, consumerGroup: string, clientId: string): Promise<MessageQueue[]> {
    const response = await this.callOk(addr, RequestCode.GET_CONSUMER_RUNNING_INFO, { consumerGroup, clientId, jstackEnable: false });
    const parsed = jsonBody(response) as { mqTable?: unknown } | null;
    return parseQueueKeyedTable(parsed?.mqTable).map((e) => e.mq);
  }

  /**
   * INVOKE_BROKER_TO_RESET_OFFSET: the broker resets the group's offsets of the topic to the
   * timestamp (or to `offset` on one queue) and tells online consumers. Answers ResetOffsetBody.
   */
  async resetOffsetOnBroker(addr: string, topic: string, group: string, timestamp: number, options: { force?: boolean; queueId?: number; offset?: number } = {}): Promise<QueueEntry<number>[]> {
    const fields: Record<string, ExtFieldValue> = { topic, group, timestamp, isForce: options.force ?? true, offset: options.offset ?? -1 };
    if (options.queueId !== undefined) fields.queueId = options.queueId;
    const response = await this.callOk(addr, RequestCode.INVOKE_BROKER_TO_RESET_OFFSET, fields);
    const parsed = jsonBody(response) as { offsetTable?: unknown } | null;
    return parseQueueKeyedTable(parsed?.offsetTable).map(({ mq, value }) => ({ mq, value: num('value' in value ? value.value : undefined, -1) }));
  }

  // --- offsets and messages ---------------------------------------------------------------------

  minOffset(addr: string, mq: MessageQueue): Promise<number> {
    return this.client.api.getMinOffset(addr, mq, this.timeoutMs);
  }

  maxOffset(addr: string, mq: MessageQueue): Promise<number> {
    return this.client.api.getMaxOffset(addr, mq, this.timeoutMs);
  }

  searchOffset(addr: string, mq: MessageQueue, timestampMs: number): Promise<number> {
    return this.client.api.searchOffset(addr, mq, timestampMs, this.timeoutMs);
  }

  updateConsumerOffset(addr: string, group: string, mq: MessageQueue, offset: number): Promise<void> {
    return this.client.api.updateConsumerOffset(addr, group, mq, offset, false, this.timeoutMs);
  }

  /** One PULL_MESSAGE without long polling or commit, subscription "*" (DefaultMQPullConsumer.pull). */
  async pull(addr: string, mq: MessageQueue, offset: number, maxNums: number, group = TOOLS_CONSUMER_GROUP): Promise<PullResult> {
    const response = await this.client.api.pullMessage(
      addr,
      {
        consumerGroup: group,
        topic: mq.topic,
        queueId: mq.queueId,
        queueOffset: offset,
        maxMsgNums: maxNums,
        sysFlag: 0x4, // SUBSCRIPTION
        commitOffset: 0,
        suspendTimeoutMillis: 0,
        subscription: '*',
        subVersion: 0,
        expressionType: 'TAG',
        brokerName: mq.brokerName,
      },
      this.timeoutMs,
    );
    return processPullResponse(response, mq, undefined, addr);
  }

  viewMessageById(offsetMsgId: string, brokerName = ''): Promise<MessageExt> {
    return this.client.viewMessageById(offsetMsgId, brokerName);
  }

  queryMessageByKey(topic: string, key: string, options: { maxNum?: number; beginTimestampMs?: number; endTimestampMs?: number; uniqKey?: boolean }): Promise<MessageExt[]> {
    return this.client.queryMessageByKey(topic, key, options);
  }
}
