// The per-clientId hub (MQClientInstance): one RemotingClient, the topic route cache (refreshed
// from the NameServer every 30 s), the broker address table, heartbeats to every broker every 30 s,
// the rebalance service (every 20 s, and at once on NOTIFY_CONSUMER_IDS_CHANGED), and the periodic
// offset commit. Producers and consumers with the same clientId share one instance; it shuts down
// when the last of them leaves.
import { RequestCode } from '@orbit/common/request-code';
import { AUTO_CREATE_TOPIC_KEY, isRetryTopic } from './names.js';
import { createResponse, parseLenientJson, RemotingClient, type RemotingCommand, type RemotingConnection } from '@orbit/remoting';
import { ResponseCode } from '@orbit/common/response-code';
import { parseQueueKeyedTable } from './queue-keyed-table.js';
import { PropertyKey } from '@orbit/common/message-const';
import { errorText, PeriodicTask, sleep, Wakeup } from './async-util.js';
import type { ClientConfig } from './client-config.js';
import { buildClientId, resolveInstanceName } from './client-id.js';
import { MQClientError } from './errors.js';
import { buildHeartbeatData, type ConsumerData } from './heartbeat-data.js';
import type { MessageQueue } from './message-queue.js';
import type { MessageExt } from './message.js';
import { decodeMessageExt } from './message-decoder.js';
import { MQClientApi } from './mq-client-api.js';
import { autoCreateRouteFromTemplate, MASTER_ID, routeFingerprint, toTopicSubscribeInfo, type TopicRouteData } from './topic-route.js';

/** What the instance needs from a producer. */
export interface ProducerInner {
  readonly groupName: string;
  /** Topics whose routes the instance keeps fresh for it. */
  publishTopics(): string[];
  updateTopicPublishInfo(topic: string, route: TopicRouteData): void;
  /**
   * Transactional producers: a broker asks what became of a half message (CHECK_TRANSACTION_STATE,
   * `msg` decoded from its body); the answer goes back on `conn` as END_TRANSACTION.
   */
  checkTransactionState?(request: RemotingCommand, conn: RemotingConnection, msg: MessageExt): void;
}

/** What the instance needs from a consumer. */
export interface ConsumerInner {
  readonly groupName: string;
  consumerData(): ConsumerData;
  subscribedTopics(): string[];
  updateTopicSubscribeInfo(topic: string, mqs: MessageQueue[]): void;
  doRebalance(): Promise<void>;
  persistConsumerOffset(): Promise<void>;
  /** GET_CONSUMER_RUNNING_INFO: ConsumerRunningInfo as JSON (mqadmin consumerProgress -s, consumerStatus). */
  runningInfoJson?(): string;
  /** RESET_CONSUMER_CLIENT_OFFSET: start the topic's queues again from these offsets. */
  resetOffset?(topic: string, offsets: readonly { mq: MessageQueue; offset: number }[]): Promise<void>;
}

export interface FindBrokerResult {
  brokerAddr: string;
  slave: boolean;
  brokerId: number;
}

/** Rebalances are at least this far apart, however often they are asked for. */
export const MIN_REBALANCE_SPACING_MS = 1_000;
/** Topics whose routes are kept at most (bounds the route cache). */
export const MAX_CACHED_ROUTES = 65_536;

const instances = new Map<string, MQClientInstance>();

/**
 * The instance for this config's clientId, created on first use. `instanceName` "DEFAULT" becomes
 * pid#nanoTime first, so each such client gets its own instance, as in RocketMQ 5.x.
 */
export function getOrCreateMQClientInstance(config: ClientConfig): MQClientInstance {
  const instanceName = resolveInstanceName(config.instanceName);
  const clientId = buildClientId(config.clientIP, instanceName, config.unitName);
  let instance = instances.get(clientId);
  if (instance === undefined || instance.isShutdown) {
    instance = new MQClientInstance({ ...config, instanceName }, clientId);
    instances.set(clientId, instance);
  }
  return instance;
}

export class MQClientInstance {
  readonly remoting: RemotingClient;
  readonly api: MQClientApi;
  private readonly producers = new Map<string, ProducerInner>();
  private readonly consumers = new Map<string, ConsumerInner>();
  private readonly topicRouteTable = new Map<string, TopicRouteData>();
  private readonly routeFingerprints = new Map<string, string>();
  /** brokerName → brokerId → address. */
  private brokerAddrTable = new Map<string, Map<number, string>>();
  private readonly routeUpdates = new Map<string, Promise<TopicRouteData | undefined>>();
  private readonly tasks: PeriodicTask[] = [];
  private readonly rebalanceWakeup = new Wakeup();
  private readonly stopping = new AbortController();
  private rebalanceLoop: Promise<void> | undefined;
  private state: 'created' | 'running' | 'shutdown' = 'created';
  private shuttingDown: Promise<void> | undefined;

  constructor(
    readonly config: ClientConfig,
    readonly clientId: string,
  ) {
    this.remoting = new RemotingClient({ connectTimeoutMs: config.connectTimeoutMs, requestTimeoutMs: config.requestTimeoutMs });
    this.api = new MQClientApi(this.remoting, config);
    // Broker → client: the group's membership changed, rebalance now (facts §2.6). Oneway: no answer.
    this.remoting.registerProcessor(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED, (request) => {
      this.config.logger.info(`receive broker's notification, the consumer group ${request.extFields.consumerGroup ?? '?'} changed, rebalance immediately`);
      this.rebalanceImmediately();
      return null;
    });
    // Broker → consumer: what this client holds and how it consumes (mqadmin, through the broker).
    this.remoting.registerProcessor(RequestCode.GET_CONSUMER_RUNNING_INFO, (request) => {
      const group = request.extFields.consumerGroup ?? '';
      const consumer = this.consumers.get(group);
      if (consumer?.runningInfoJson === undefined) return createResponse(request, ResponseCode.SYSTEM_ERROR, `The Consumer Group <${group}> not exist in this consumer`, {});
      const res = createResponse(request, ResponseCode.SUCCESS, undefined, {});
      res.body = Buffer.from(consumer.runningInfoJson());
      return res;
    });
    // Broker → consumer: an operator reset the group's offsets (mqadmin resetOffsetByTime). Oneway.
    this.remoting.registerProcessor(RequestCode.RESET_CONSUMER_CLIENT_OFFSET, (request, conn) => {
      this.resetOffset(request, conn);
      return null;
    });
    // Broker → producer: what became of a half message's local transaction (facts §7.8). Oneway.
    this.remoting.registerProcessor(RequestCode.CHECK_TRANSACTION_STATE, (request, conn) => {
      this.checkTransactionState(request, conn);
      return null;
    });
  }

  /** ClientRemotingProcessor.resetOffset: the body is ResetOffsetBody, `{"offsetTable":{<mq>:<offset>,…}}`. */
  private resetOffset(request: RemotingCommand, conn: RemotingConnection): void {
    const group = request.extFields.group;
    const topic = request.extFields.topic;
    const consumer = group === undefined ? undefined : this.consumers.get(group);
    if (topic === undefined || consumer?.resetOffset === undefined) {
      this.config.logger.warn(`RESET_CONSUMER_CLIENT_OFFSET from ${conn.remoteAddress} for group ${group ?? '(none)'}: no consumer here that can reset`);
      return;
    }
    let offsets: { mq: MessageQueue; offset: number }[];
    try {
      const body = parseLenientJson(request.body?.toString('utf8') ?? '') as { offsetTable?: unknown } | null;
      offsets = parseQueueKeyedTable(body?.offsetTable)
        .map(({ mq, value }) => ({ mq, offset: Number(value.value) }))
        .filter((e) => e.mq.topic === topic && Number.isSafeInteger(e.offset) && e.offset >= 0);
    } catch (error) {
      this.config.logger.warn(`RESET_CONSUMER_CLIENT_OFFSET from ${conn.remoteAddress} has a bad body: ${errorText(error)}`);
      return;
    }
    this.config.logger.info(`reset offsets of ${group} on ${topic} (${offsets.length} queues), asked by ${conn.remoteAddress}`);
    consumer.resetOffset(topic, offsets).catch((error: unknown) => this.config.logger.warn(`reset offsets of ${group} on ${topic} failed: ${errorText(error)}`));
  }

  /** ClientRemotingProcessor.checkTransactionState: hands the check to the producer of the message's PGROUP. */
  private checkTransactionState(request: RemotingCommand, conn: RemotingConnection): void {
    let msg: MessageExt;
    try {
      const body = request.body ?? Buffer.alloc(0);
      msg = decodeMessageExt(body, 0, body.length, request.extFields.bname ?? '').toJSON();
    } catch (error) {
      this.logger.warn(`CHECK_TRANSACTION_STATE from ${conn.remoteAddress} has a bad body: ${errorText(error)}`);
      return;
    }
    const group = msg.properties[PropertyKey.PGROUP];
    const producer = group === undefined ? undefined : this.producers.get(group);
    if (producer?.checkTransactionState === undefined) {
      this.logger.debug(`CHECK_TRANSACTION_STATE for group ${group ?? '(none)'}: no transactional producer of that group here`);
      return;
    }
    producer.checkTransactionState(request, conn, msg);
  }

  get isShutdown(): boolean {
    return this.state === 'shutdown' || this.shuttingDown !== undefined;
  }

  get logger() {
    return this.config.logger;
  }

  /** Starts the background tasks (once). */
  start(): void {
    if (this.state !== 'created') {
      if (this.state === 'shutdown') throw new MQClientError(`client instance ${this.clientId} is shut down`);
      return;
    }
    this.state = 'running';
    const onError = (name: string, error: unknown) => this.logger.warn(`${name} failed: ${errorText(error)}`);
    const c = this.config;
    const routes = new PeriodicTask('updateTopicRouteInfoFromNameServer', c.pollNameServerIntervalMs, () => this.updateAllTopicRoutes(), onError);
    const heartbeat = new PeriodicTask('sendHeartbeatToAllBroker', c.heartbeatBrokerIntervalMs, () => this.sendHeartbeatToAllBrokers(), onError);
    const offsets = new PeriodicTask('persistAllConsumerOffset', c.persistConsumerOffsetIntervalMs, () => this.persistAllConsumerOffset(), onError);
    routes.start(Math.min(10, c.pollNameServerIntervalMs));
    heartbeat.start(Math.min(1_000, c.heartbeatBrokerIntervalMs));
    offsets.start(c.persistConsumerOffsetIntervalMs);
    this.tasks.push(routes, heartbeat, offsets);
    this.rebalanceLoop = this.runRebalanceService();
  }

  // --- membership ---------------------------------------------------------------------------------

  registerProducer(producer: ProducerInner): void {
    if (this.producers.has(producer.groupName)) throw new MQClientError(`the producer group[${producer.groupName}] has been created before, specify another name please.`);
    this.producers.set(producer.groupName, producer);
  }

  registerConsumer(consumer: ConsumerInner): void {
    if (this.consumers.has(consumer.groupName)) throw new MQClientError(`the consumer group[${consumer.groupName}] has been created before, specify another name please.`);
    this.consumers.set(consumer.groupName, consumer);
  }

  /** Tells every broker the producer left (UNREGISTER_CLIENT); shuts down when nobody is left. */
  async unregisterProducer(groupName: string): Promise<void> {
    if (!this.producers.delete(groupName)) return;
    await this.unregisterClient({ producerGroup: groupName });
    await this.shutdownIfUnused();
  }

  async unregisterConsumer(groupName: string): Promise<void> {
    if (!this.consumers.delete(groupName)) return;
    await this.unregisterClient({ consumerGroup: groupName });
    await this.shutdownIfUnused();
  }

  private async unregisterClient(groups: { producerGroup?: string; consumerGroup?: string }): Promise<void> {
    await Promise.all(
      this.allBrokerAddrs().map(({ addr }) =>
        this.api.unregisterClient(addr, this.clientId, groups).catch((error: unknown) => this.logger.warn(`unregister client ${JSON.stringify(groups)} at ${addr} failed: ${errorText(error)}`)),
      ),
    );
  }

  private async shutdownIfUnused(): Promise<void> {
    if (this.producers.size === 0 && this.consumers.size === 0) await this.shutdown();
  }

  /** Stops the tasks and closes every connection. */
  shutdown(): Promise<void> {
    this.shuttingDown ??= (async () => {
      this.stopping.abort();
      await Promise.all(this.tasks.map((t) => t.stop()));
      await this.rebalanceLoop;
      await this.remoting.close();
      this.state = 'shutdown';
      if (instances.get(this.clientId) === this) instances.delete(this.clientId);
    })();
    return this.shuttingDown;
  }

  // --- routes ---------------------------------------------------------------------------------

  getTopicRoute(topic: string): TopicRouteData | undefined {
    return this.topicRouteTable.get(topic);
  }

  /**
   * Reads a topic's route from the NameServer and, when it changed, hands it to every producer and
   * consumer. With `fromTemplate`, a topic the NameServer does not know takes the template topic's
   * brokers (auto-create, facts §3.3). Resolves with the route in use, or undefined when there is none.
   * Concurrent calls for one topic share one request.
   */
  updateTopicRoute(topic: string, fromTemplate?: { templateTopic: string; queueNums: number }): Promise<TopicRouteData | undefined> {
    const key = fromTemplate ? `${topic}\u0000${fromTemplate.templateTopic}` : topic;
    let pending = this.routeUpdates.get(key);
    if (pending === undefined) {
      pending = this.fetchAndApplyRoute(topic, fromTemplate).finally(() => this.routeUpdates.delete(key));
      this.routeUpdates.set(key, pending);
    }
    return pending;
  }

  private async fetchAndApplyRoute(topic: string, fromTemplate?: { templateTopic: string; queueNums: number }): Promise<TopicRouteData | undefined> {
    let route = await this.api.getTopicRouteInfoFromNameServer(topic);
    if (route === undefined && fromTemplate !== undefined) {
      const template = await this.api.getTopicRouteInfoFromNameServer(fromTemplate.templateTopic);
      if (template !== undefined) route = autoCreateRouteFromTemplate(template, fromTemplate.queueNums);
    }
    if (route === undefined) {
      if (!isRetryTopic(topic)) this.logger.debug(`no route of topic ${topic} on the NameServer`);
      // Keep what we had (e.g. an auto-create route) and hand it to newcomers.
      const cached = this.topicRouteTable.get(topic);
      if (cached !== undefined) this.applyRoute(topic, cached);
      return cached;
    }
    this.applyRoute(topic, route);
    return route;
  }

  private applyRoute(topic: string, route: TopicRouteData): void {
    const fingerprint = routeFingerprint(route);
    const changed = this.routeFingerprints.get(topic) !== fingerprint;
    if (!this.topicRouteTable.has(topic) && this.topicRouteTable.size >= MAX_CACHED_ROUTES) {
      const oldest = this.topicRouteTable.keys().next().value!;
      this.topicRouteTable.delete(oldest);
      this.routeFingerprints.delete(oldest);
    }
    this.topicRouteTable.set(topic, route);
    this.routeFingerprints.set(topic, fingerprint);
    if (changed) this.rebuildBrokerAddrTable();
    // Hand the route over even when unchanged: a producer or consumer may have just started.
    for (const producer of this.producers.values()) {
      if (producer.publishTopics().includes(topic)) producer.updateTopicPublishInfo(topic, route);
    }
    const subscribeInfo = toTopicSubscribeInfo(topic, route);
    for (const consumer of this.consumers.values()) {
      if (consumer.subscribedTopics().includes(topic)) consumer.updateTopicSubscribeInfo(topic, subscribeInfo);
    }
  }

  private rebuildBrokerAddrTable(): void {
    const table = new Map<string, Map<number, string>>();
    for (const route of this.topicRouteTable.values()) {
      for (const broker of route.brokerDatas) {
        let ids = table.get(broker.brokerName);
        if (ids === undefined) table.set(broker.brokerName, (ids = new Map()));
        for (const [id, addr] of Object.entries(broker.brokerAddrs)) ids.set(Number(id), addr);
      }
    }
    this.brokerAddrTable = table;
  }

  /** The periodic refresh: every topic a producer publishes to or a consumer subscribes to. */
  async updateAllTopicRoutes(): Promise<void> {
    const topics = new Set<string>();
    for (const consumer of this.consumers.values()) for (const t of consumer.subscribedTopics()) topics.add(t);
    for (const producer of this.producers.values()) for (const t of producer.publishTopics()) topics.add(t);
    topics.delete(AUTO_CREATE_TOPIC_KEY);
    await Promise.all(
      [...topics].map((topic) =>
        this.updateTopicRoute(topic).catch((error: unknown) => this.logger.warn(`update route of ${topic} failed: ${errorText(error)}`)),
      ),
    );
  }

  // --- broker addresses -----------------------------------------------------------------------

  /** The master's address (producers only write to masters). */
  findBrokerAddressInPublish(brokerName: string): string | undefined {
    return this.brokerAddrTable.get(brokerName)?.get(MASTER_ID);
  }

  /**
   * The address of `brokerId` of a broker; when it is missing and `onlyThisBroker` is false, any
   * address of that broker (facts §3.3).
   */
  findBrokerAddressInSubscribe(brokerName: string, brokerId: number, onlyThisBroker: boolean): FindBrokerResult | undefined {
    const ids = this.brokerAddrTable.get(brokerName);
    if (ids === undefined || ids.size === 0) return undefined;
    const addr = ids.get(brokerId);
    if (addr !== undefined) return { brokerAddr: addr, slave: brokerId !== MASTER_ID, brokerId };
    if (onlyThisBroker) return undefined;
    const sortedIds = [...ids.keys()].sort((a, b) => a - b);
    const id = sortedIds[0]!;
    return { brokerAddr: ids.get(id)!, slave: id !== MASTER_ID, brokerId: id };
  }

  brokerIdsOf(brokerName: string): number[] {
    return [...(this.brokerAddrTable.get(brokerName)?.keys() ?? [])];
  }

  /** Master first, then any: where admin-like calls (offsets) go. */
  findBrokerAddressInAdmin(brokerName: string): string | undefined {
    return this.findBrokerAddressInSubscribe(brokerName, MASTER_ID, false)?.brokerAddr;
  }

  /** Like findBrokerAddressInAdmin, refreshing `topic`'s route once when the broker is unknown. */
  async findBrokerAddressOrRefresh(brokerName: string, topic: string): Promise<string> {
    let addr = this.findBrokerAddressInAdmin(brokerName);
    if (addr === undefined) {
      await this.updateTopicRoute(topic);
      addr = this.findBrokerAddressInAdmin(brokerName);
    }
    if (addr === undefined) throw new MQClientError(`the broker[${brokerName}] not exist`);
    return addr;
  }

  /** A broker hosting the topic, master preferred: where the consumer list is asked for. */
  findBrokerAddrByTopic(topic: string): string | undefined {
    const route = this.topicRouteTable.get(topic);
    if (route === undefined || route.brokerDatas.length === 0) return undefined;
    const broker = route.brokerDatas[Math.floor(Math.random() * route.brokerDatas.length)]!;
    const master = broker.brokerAddrs[String(MASTER_ID)];
    if (master !== undefined) return master;
    const any = Object.values(broker.brokerAddrs);
    return any.length > 0 ? any[Math.floor(Math.random() * any.length)] : undefined;
  }

  /** GET_CONSUMER_LIST_BY_GROUP at a broker of the topic; undefined when no broker answered. */
  async findConsumerIdList(topic: string, group: string): Promise<string[] | undefined> {
    let addr = this.findBrokerAddrByTopic(topic);
    if (addr === undefined) {
      await this.updateTopicRoute(topic);
      addr = this.findBrokerAddrByTopic(topic);
    }
    if (addr === undefined) return undefined;
    try {
      return await this.api.getConsumerIdListByGroup(addr, group);
    } catch (error) {
      this.logger.warn(`getConsumerIdListByGroup ${group} at ${addr} failed: ${errorText(error)}`);
      return undefined;
    }
  }

  /** Every known broker address, with its broker name and id. */
  allBrokerAddrs(): { brokerName: string; brokerId: number; addr: string }[] {
    const out: { brokerName: string; brokerId: number; addr: string }[] = [];
    for (const [brokerName, ids] of this.brokerAddrTable) for (const [brokerId, addr] of ids) out.push({ brokerName, brokerId, addr });
    return out;
  }

  // --- heartbeat, rebalance, offsets ------------------------------------------------------------

  /**
   * HEART_BEAT to every master, and to slaves as well when there are consumers (they may pull
   * from slaves). The body lists every producer and consumer group of this instance.
   */
  async sendHeartbeatToAllBrokers(): Promise<void> {
    if (this.producers.size === 0 && this.consumers.size === 0) return;
    const consumers: ConsumerData[] = [...this.consumers.values()].map((c) => c.consumerData());
    const data = buildHeartbeatData(this.clientId, [...this.producers.keys()], consumers);
    const targets = this.allBrokerAddrs().filter(({ brokerId }) => consumers.length > 0 || brokerId === MASTER_ID);
    await Promise.all(
      targets.map(({ addr }) => this.api.sendHeartbeat(addr, data).catch((error: unknown) => this.logger.warn(`send heart beat to broker ${addr} failed: ${errorText(error)}`))),
    );
  }

  /** Wakes the rebalance service now (consumer start, NOTIFY_CONSUMER_IDS_CHANGED). */
  rebalanceImmediately(): void {
    this.rebalanceWakeup.signal();
  }

  /** Runs one rebalance of every consumer now (used by tests and by the service). */
  async doRebalance(): Promise<void> {
    for (const consumer of [...this.consumers.values()]) {
      try {
        await consumer.doRebalance();
      } catch (error) {
        this.logger.warn(`rebalance of ${consumer.groupName} failed: ${errorText(error)}`);
      }
    }
  }

  private async runRebalanceService(): Promise<void> {
    const signal = this.stopping.signal;
    let lastRunMs = 0;
    while (!signal.aborted) {
      await this.rebalanceWakeup.wait(this.config.rebalanceIntervalMs, signal);
      if (signal.aborted) break;
      const sinceLastMs = Date.now() - lastRunMs;
      if (sinceLastMs < MIN_REBALANCE_SPACING_MS) {
        await sleep(MIN_REBALANCE_SPACING_MS - sinceLastMs, signal); // removes its abort listener, so none pile up
        if (signal.aborted) break;
      }
      lastRunMs = Date.now();
      await this.doRebalance();
    }
  }

  async persistAllConsumerOffset(): Promise<void> {
    for (const consumer of [...this.consumers.values()]) {
      try {
        await consumer.persistConsumerOffset();
      } catch (error) {
        this.logger.warn(`persist offsets of ${consumer.groupName} failed: ${errorText(error)}`);
      }
    }
  }
}
