// The push consumer (DefaultMQPushConsumer): subscribes to topics, takes a share of their queues by
// rebalance (clustering) or all of them (broadcasting), runs one long-polling pull loop per owned
// queue and feeds the messages to the listener. Consumed offsets are committed every 5 s, with
// each pull, and at shutdown (facts §7.1–§7.3, §7.7).
// With registerMessageListenerOrderly() it consumes orderly (facts §7.5): in clustering mode each
// queue is locked on its broker before it is pulled, and consumed one call at a time, in offset
// order, only while the lock holds (consume-message-orderly.ts).
import { queueKeyedJson } from './queue-keyed-table.js';
import { ResponseCode } from '@orbit/common/response-code';
import { errorText, sleep, waitAtMost } from './async-util.js';
import { computePullFromWhere, CONSUME_TIMESTAMP_AGO_MS, parseConsumeTimestamp } from './consume-from-where.js';
import { allocateMessageQueueAveragely, type AllocateMessageQueueStrategy } from './allocate-strategy.js';
import { resolveClientConfig, type ClientConfig } from './client-config.js';
import {
  ConsumeMessageConcurrentlyService,
  type MessageListenerConcurrently,
} from './consume-message-concurrently.js';
import { ConsumeMessageOrderlyService, ORDERLY_MAX_RECONSUME_TIMES, type MessageListenerOrderly } from './consume-message-orderly.js';
import { MQBrokerError, MQClientError } from './errors.js';
import type { ConsumeFromWhere, ConsumerData, MessageModel } from './heartbeat-data.js';
import type { MessageExt } from './message.js';
import { formatMessageQueue, mqKey, type MessageQueue } from './message-queue.js';
import { getOrCreateMQClientInstance, type ConsumerInner, type MQClientInstance } from './mq-client-instance.js';
import { isRetryTopic, retryTopicOf } from './names.js';
import { DEFAULT_LOCAL_OFFSET_DIR, LocalFileOffsetStore, RemoteBrokerOffsetStore, type OffsetStore } from './offset-store.js';
import { REBALANCE_LOCK_MAX_LIVE_TIME_MS, type ProcessQueue } from './process-queue.js';
import { BROKER_SUSPEND_MAX_TIME_MS, CONSUMER_TIMEOUT_MS_WHEN_SUSPEND, MAX_PULL_BATCH_SIZE, PullAPIWrapper } from './pull-api.js';
import { RebalanceImpl, type QueueLockService } from './rebalance.js';
import { buildSubscriptionData, type SubscriptionData } from './subscription.js';
import { MASTER_ID } from './topic-route.js';
import { checkClientConfigOrLeave } from './client-config-check.js';
import { subscriptionOf, type MessageSelector } from './message-selector.js';

export type {
  ConsumeConcurrentlyContext,
  ConsumeConcurrentlyStatus,
  MessageListenerConcurrently,
} from './consume-message-concurrently.js';
export type { ConsumeOrderlyContext, ConsumeOrderlyStatus, MessageListenerOrderly } from './consume-message-orderly.js';

export interface PushConsumerOptions extends Partial<Omit<ClientConfig, 'namesrvAddr'>> {
  consumerGroup: string;
  /** "host:port;host:port". */
  namesrvAddr: string;
  messageModel?: MessageModel;
  /** Where a group with no stored offset starts (facts §7.7). */
  consumeFromWhere?: ConsumeFromWhere;
  /** For CONSUME_FROM_TIMESTAMP: ms since epoch, or "yyyyMMddHHmmss" local time; default 30 minutes before start. */
  consumeTimestamp?: number | string;
  allocateMessageQueueStrategy?: AllocateMessageQueueStrategy;
  /** Messages asked for per pull. */
  pullBatchSize?: number;
  /** Messages handed to the listener per call. */
  consumeMessageBatchMaxSize?: number;
  /** Pulling a queue pauses while this many of its messages wait for consumption. */
  pullThresholdForQueue?: number;
  /** … or while their bodies take this many MiB. */
  pullThresholdSizeForQueueMiB?: number;
  /** Pulling a queue pauses while its oldest and newest waiting offsets are further apart. */
  consumeConcurrentlyMaxSpan?: number;
  /** Listener calls running at once. */
  consumeConcurrency?: number;
  /**
   * Sent with CONSUMER_SEND_MSG_BACK; past it the broker moves the message to the DLQ. Default 16;
   * orderly: 2147483647 (Integer.MAX_VALUE), past it the message goes to the DLQ.
   */
  maxReconsumeTimes?: number;
  /** Orderly: wait before messages the listener suspended are consumed again. */
  suspendCurrentQueueTimeMillis?: number;
  /** Orderly: the locks of owned queues are renewed this often (rocketmq.client.rebalance.lockInterval). */
  lockIntervalMs?: number;
  /**
   * Orderly: the client stops consuming a queue this long after the lock request that last renewed
   * it was sent (rocketmq.client.rebalance.lockMaxLiveTime, 30 s); keep it below the broker's
   * rebalanceLockMaxLiveTimeMs (60 s).
   */
  rebalanceLockMaxLiveTimeMs?: number;
  /** Wait before a pull that failed is tried again (pullTimeDelayMillsWhenException). */
  pullTimeDelayMsWhenException?: number;
  /** Wait before a message the broker would not take back is consumed again locally. */
  localRetryDelayMs?: number;
  /** Send the subscription with each pull (SUBSCRIPTION flag). Java's default is false; ours is true so a pull works before the heartbeat is processed. */
  postSubscriptionWhenPull?: boolean;
  /** Long-poll hold asked of the broker, and the RPC timeout of such a pull. */
  brokerSuspendMaxTimeMs?: number;
  consumerTimeoutMsWhenSuspend?: number;
  /** Broadcasting offsets live under <offsetStoreDir>/<clientId>/<group>/offsets.json. */
  offsetStoreDir?: string;
  /** How long shutdown waits for listener calls in progress before committing offsets. */
  awaitTerminationMsWhenShutdown?: number;
}

export const PushConsumerDefaults = {
  messageModel: 'CLUSTERING' as MessageModel,
  consumeFromWhere: 'CONSUME_FROM_LAST_OFFSET' as ConsumeFromWhere,
  pullBatchSize: 32,
  consumeMessageBatchMaxSize: 1,
  pullThresholdForQueue: 1000,
  pullThresholdSizeForQueueMiB: 100,
  consumeConcurrentlyMaxSpan: 2000,
  consumeConcurrency: 20,
  maxReconsumeTimes: 16,
  pullTimeDelayMsWhenException: 1000,
  pullTimeDelayMsWhenFlowControl: 50,
  pullTimeDelayMsWhenBrokerFlowControl: 20,
  localRetryDelayMs: 5000,
  postSubscriptionWhenPull: true,
  brokerSuspendMaxTimeMs: BROKER_SUSPEND_MAX_TIME_MS,
  consumerTimeoutMsWhenSuspend: CONSUMER_TIMEOUT_MS_WHEN_SUSPEND,
  awaitTerminationMsWhenShutdown: 5000,
  suspendCurrentQueueTimeMillis: 1000,
  lockIntervalMs: 20_000,
  rebalanceLockMaxLiveTimeMs: REBALANCE_LOCK_MAX_LIVE_TIME_MS,
} as const;

/** Orderly: how long a removal waits for the queue's consumption in progress before trying again next round. */
const ORDERLY_REMOVE_WAIT_MS = 1_000;
/** Orderly: longest wait before a queue whose lock was refused is tried again (RocketMQ pulls it again after 3 s). */
const ORDERLY_LOCK_RETRY_MAX_MS = 3_000;

/** Most topics one consumer subscribes to. */
export const MAX_SUBSCRIPTIONS = 1024;

export class PushConsumer implements ConsumerInner {
  readonly groupName: string;
  readonly config: ClientConfig;
  readonly messageModel: MessageModel;
  readonly consumeFromWhere: ConsumeFromWhere;
  readonly consumeTimestampMs: number;
  private readonly o: Required<Omit<PushConsumerOptions, keyof ClientConfig | 'consumeTimestamp' | 'offsetStoreDir'>> & { offsetStoreDir: string };
  private readonly subscriptions = new Map<string, SubscriptionData>();
  private listener: MessageListenerConcurrently | undefined;
  private orderlyListener: MessageListenerOrderly | undefined;
  private readonly maxReconsumeTimesOption: number | undefined;
  private instance: MQClientInstance | undefined;
  private rebalance: RebalanceImpl | undefined;
  private pullApi: PullAPIWrapper | undefined;
  private consumeService: ConsumeMessageConcurrentlyService | ConsumeMessageOrderlyService | undefined;
  private offsetStoreImpl: OffsetStore | undefined;
  private readonly pullLoops = new Map<string, Promise<void>>();
  private readonly stopping = new AbortController();
  private state: 'created' | 'running' | 'shutdown' = 'created';
  private startedAtMs = 0;

  constructor(options: PushConsumerOptions) {
    if (!options.consumerGroup) throw new MQClientError('consumerGroup is blank');
    this.groupName = options.consumerGroup;
    this.config = resolveClientConfig(options);
    this.messageModel = options.messageModel ?? PushConsumerDefaults.messageModel;
    this.consumeFromWhere = options.consumeFromWhere ?? PushConsumerDefaults.consumeFromWhere;
    this.consumeTimestampMs = options.consumeTimestamp !== undefined ? parseConsumeTimestamp(options.consumeTimestamp) : Date.now() - CONSUME_TIMESTAMP_AGO_MS;
    const d = PushConsumerDefaults;
    this.o = {
      consumerGroup: options.consumerGroup,
      messageModel: this.messageModel,
      consumeFromWhere: this.consumeFromWhere,
      allocateMessageQueueStrategy: options.allocateMessageQueueStrategy ?? allocateMessageQueueAveragely,
      pullBatchSize: options.pullBatchSize ?? d.pullBatchSize,
      consumeMessageBatchMaxSize: options.consumeMessageBatchMaxSize ?? d.consumeMessageBatchMaxSize,
      pullThresholdForQueue: options.pullThresholdForQueue ?? d.pullThresholdForQueue,
      pullThresholdSizeForQueueMiB: options.pullThresholdSizeForQueueMiB ?? d.pullThresholdSizeForQueueMiB,
      consumeConcurrentlyMaxSpan: options.consumeConcurrentlyMaxSpan ?? d.consumeConcurrentlyMaxSpan,
      consumeConcurrency: options.consumeConcurrency ?? d.consumeConcurrency,
      maxReconsumeTimes: options.maxReconsumeTimes ?? d.maxReconsumeTimes,
      pullTimeDelayMsWhenException: options.pullTimeDelayMsWhenException ?? d.pullTimeDelayMsWhenException,
      localRetryDelayMs: options.localRetryDelayMs ?? d.localRetryDelayMs,
      postSubscriptionWhenPull: options.postSubscriptionWhenPull ?? d.postSubscriptionWhenPull,
      brokerSuspendMaxTimeMs: options.brokerSuspendMaxTimeMs ?? d.brokerSuspendMaxTimeMs,
      consumerTimeoutMsWhenSuspend: options.consumerTimeoutMsWhenSuspend ?? d.consumerTimeoutMsWhenSuspend,
      offsetStoreDir: options.offsetStoreDir ?? DEFAULT_LOCAL_OFFSET_DIR,
      awaitTerminationMsWhenShutdown: options.awaitTerminationMsWhenShutdown ?? d.awaitTerminationMsWhenShutdown,
      suspendCurrentQueueTimeMillis: options.suspendCurrentQueueTimeMillis ?? d.suspendCurrentQueueTimeMillis,
      lockIntervalMs: options.lockIntervalMs ?? d.lockIntervalMs,
      rebalanceLockMaxLiveTimeMs: options.rebalanceLockMaxLiveTimeMs ?? d.rebalanceLockMaxLiveTimeMs,
    };
    this.maxReconsumeTimesOption = options.maxReconsumeTimes;
    const o = this.o;
    if (!Number.isInteger(o.pullBatchSize) || o.pullBatchSize < 1 || o.pullBatchSize > MAX_PULL_BATCH_SIZE) throw new RangeError(`pullBatchSize must be 1..${MAX_PULL_BATCH_SIZE}`);
    if (!Number.isInteger(o.consumeMessageBatchMaxSize) || o.consumeMessageBatchMaxSize < 1 || o.consumeMessageBatchMaxSize > 1024) throw new RangeError('consumeMessageBatchMaxSize must be 1..1024');
    if (!Number.isInteger(o.pullThresholdForQueue) || o.pullThresholdForQueue < 1 || o.pullThresholdForQueue > 65535) throw new RangeError('pullThresholdForQueue must be 1..65535');
    if (!Number.isInteger(o.consumeConcurrency) || o.consumeConcurrency < 1 || o.consumeConcurrency > 1000) throw new RangeError('consumeConcurrency must be 1..1000');
    if (o.consumerTimeoutMsWhenSuspend <= o.brokerSuspendMaxTimeMs) throw new RangeError('consumerTimeoutMsWhenSuspend must be longer than brokerSuspendMaxTimeMs');
    for (const key of ['suspendCurrentQueueTimeMillis', 'lockIntervalMs', 'rebalanceLockMaxLiveTimeMs'] as const) {
      if (!Number.isInteger(o[key]) || o[key] < 1 || o[key] > 86_400_000) throw new RangeError(`${key} must be an integer from 1 to 86400000`);
    }
  }

  get clientId(): string | undefined {
    return this.instance?.clientId;
  }

  /** The offset store (RemoteBrokerOffsetStore in clustering, LocalFileOffsetStore in broadcasting); after start. */
  get offsetStore(): OffsetStore | undefined {
    return this.offsetStoreImpl;
  }

  /**
   * Subscribes to a topic with "*", "TagA || TagB" or a MessageSelector (bySql needs the brokers'
   * enablePropertyFilter; start() checks that with each master). Allowed before and after start.
   */
  subscribe(topic: string, subExpression: string | MessageSelector = '*'): void {
    if (this.state === 'shutdown') throw new MQClientError('the consumer is shut down');
    if (!this.subscriptions.has(topic) && this.subscriptions.size >= MAX_SUBSCRIPTIONS) throw new MQClientError(`more than ${MAX_SUBSCRIPTIONS} subscriptions`);
    const sub = subscriptionOf(topic, subExpression);
    this.subscriptions.set(topic, sub);
    if (this.rebalance) this.rebalance.subscriptionInner.set(topic, sub);
    if (this.state === 'running') void this.afterSubscriptionChanged([topic]);
  }

  unsubscribe(topic: string): void {
    this.subscriptions.delete(topic);
    this.rebalance?.subscriptionInner.delete(topic);
  }

  registerMessageListener(listener: MessageListenerConcurrently): void {
    if (this.state !== 'created') throw new MQClientError('register the listener before start()');
    this.listener = listener;
    this.orderlyListener = undefined;
  }

  /**
   * Consumes orderly (MessageListenerOrderly): each queue's messages in offset order, one call at a
   * time per queue, while this client holds the queue's lock. Replaces a listener registered before.
   */
  registerMessageListenerOrderly(listener: MessageListenerOrderly): void {
    if (this.state !== 'created') throw new MQClientError('register the listener before start()');
    this.orderlyListener = listener;
    this.listener = undefined;
  }

  /** True when an orderly listener is registered. */
  get consumeOrderly(): boolean {
    return this.orderlyListener !== undefined;
  }

  async start(): Promise<void> {
    if (this.state !== 'created') throw new MQClientError(`the consumer is ${this.state === 'running' ? 'already running' : 'shut down'}`);
    if (this.listener === undefined && this.orderlyListener === undefined) throw new MQClientError('messageListener is null; call registerMessageListener() before start()');
    if (this.subscriptions.size === 0) throw new MQClientError('no subscription; call subscribe() before start()');
    if (this.messageModel === 'CLUSTERING') {
      const retry = retryTopicOf(this.groupName);
      if (!this.subscriptions.has(retry)) this.subscriptions.set(retry, buildSubscriptionData(retry, '*'));
    }
    const instance = getOrCreateMQClientInstance(this.config);
    instance.registerConsumer(this);
    this.instance = instance;
    const logger = this.config.logger;
    this.offsetStoreImpl =
      this.messageModel === 'CLUSTERING'
        ? new RemoteBrokerOffsetStore(
            this.groupName,
            {
              brokerAddrFor: (mq) => instance.findBrokerAddressOrRefresh(mq.brokerName, mq.topic),
              queryConsumerOffset: (addr, group, mq) => instance.api.queryConsumerOffset(addr, group, mq),
              updateConsumerOffset: (addr, group, mq, offset, oneway) => instance.api.updateConsumerOffset(addr, group, mq, offset, oneway),
            },
            logger,
          )
        : new LocalFileOffsetStore(instance.clientId, this.groupName, logger, this.o.offsetStoreDir);
    await this.offsetStoreImpl.load();
    this.pullApi = new PullAPIWrapper(instance, instance.api, this.groupName, logger);
    const orderly = this.orderlyListener;
    if (orderly !== undefined) this.consumeService = this.createOrderlyService(orderly);
    else this.consumeService = new ConsumeMessageConcurrentlyService({
      consumerGroup: this.groupName,
      messageModel: this.messageModel,
      listener: this.listener!,
      consumeConcurrency: this.o.consumeConcurrency,
      consumeMessageBatchMaxSize: this.o.consumeMessageBatchMaxSize,
      localRetryDelayMs: this.o.localRetryDelayMs,
      sendMessageBack: (msg, delayLevel) => this.sendMessageBack(msg, delayLevel),
      updateOffset: (mq, offset) => this.offsetStoreImpl!.updateOffset(mq, offset, true),
      logger,
    });
    this.rebalance = new RebalanceImpl(this.groupName, this.messageModel, this.o.allocateMessageQueueStrategy, instance, {
      computePullFromWhere: (mq) => this.computePullFromWhere(mq),
      onQueueAdded: (mq, pq, nextOffset) => this.startPullLoop(mq, pq, nextOffset),
      onQueueRemoved: (mq, pq) => (orderly !== undefined ? this.removeOrderlyMessageQueue(mq, pq) : this.removeUnnecessaryMessageQueue(mq, pq)),
      dropPullExpired: true,
      ...(orderly !== undefined ? { queueLocks: this.queueLockService(instance) } : {}),
    }, logger);
    for (const [topic, sub] of this.subscriptions) this.rebalance.subscriptionInner.set(topic, sub);
    // SQL92 subscriptions: every master must accept them (CHECK_CLIENT_CONFIG), or start() fails.
    await checkClientConfigOrLeave(instance, this.groupName, this.subscriptions.values()).catch((error: unknown) => {
      this.state = 'shutdown';
      throw error;
    });
    this.state = 'running';
    this.startedAtMs = Date.now();
    instance.start();
    if (this.consumeService instanceof ConsumeMessageOrderlyService) this.consumeService.start(); // lock renewals
    await this.afterSubscriptionChanged([...this.subscriptions.keys()]);
  }

  private async afterSubscriptionChanged(topics: string[]): Promise<void> {
    const instance = this.instance!;
    await Promise.all(topics.map((t) => instance.updateTopicRoute(t).catch((error: unknown) => this.config.logger.warn(`route of ${t}: ${errorText(error)}`))));
    await instance.sendHeartbeatToAllBrokers();
    instance.rebalanceImmediately();
  }

  /** Stops pulling, waits for listeners in progress (bounded), commits offsets and leaves the group. */
  async shutdown(): Promise<void> {
    if (this.state !== 'running') {
      this.state = 'shutdown';
      return;
    }
    this.state = 'shutdown';
    this.stopping.abort();
    const entries = this.rebalance!.dropAll();
    await this.consumeService!.shutdown(this.o.awaitTerminationMsWhenShutdown);
    await this.offsetStoreImpl!.persistAll(entries.map((e) => e.mq), { oneway: false });
    // Orderly: offsets are committed, so the next owners may take the queues now (a queue whose
    // listener call outlived the wait keeps its lock until the broker expires it).
    if (this.consumeOrderly) await this.rebalance!.unlock(entries.filter((e) => !e.pq.consumeLock.isLocked).map((e) => e.mq), false);
    await this.instance!.unregisterConsumer(this.groupName);
    // Pull loops end when their pull returns (closing the connection fails it at once when the
    // instance shut down; a shared instance answers within consumerTimeoutMsWhenSuspend).
    const loops = Promise.allSettled([...this.pullLoops.values()]);
    await waitAtMost(loops, this.o.awaitTerminationMsWhenShutdown);
  }

  // --- ConsumerInner ---------------------------------------------------------------------------

  consumerData(): ConsumerData {
    return {
      groupName: this.groupName,
      consumeType: 'CONSUME_PASSIVELY',
      messageModel: this.messageModel,
      consumeFromWhere: this.consumeFromWhere,
      subscriptionDataSet: [...this.subscriptions.values()],
      unitMode: false,
    };
  }

  subscribedTopics(): string[] {
    return [...this.subscriptions.keys()];
  }

  updateTopicSubscribeInfo(topic: string, mqs: MessageQueue[]): void {
    if (this.rebalance?.subscriptionInner.has(topic)) this.rebalance.topicSubscribeInfoTable.set(topic, mqs);
  }

  async doRebalance(): Promise<void> {
    if (this.state !== 'running') return;
    await this.rebalance!.doRebalance();
  }

  async persistConsumerOffset(): Promise<void> {
    if (this.state !== 'running') return;
    // Queues being given away count too: their removal commits their offset a moment later.
    await this.offsetStoreImpl!.persistAll(this.rebalance!.offsetQueues());
  }

  /**
   * An operator reset the group's offsets on `topic` (RESET_CONSUMER_CLIENT_OFFSET): the queues we
   * own are forgotten (what was pulled is dropped, and calls still running commit nothing), the new
   * offsets are stored and committed, and a rebalance takes the queues again from them. A queue's
   * new pull loop starts once its old one has returned (a held pull answers within
   * brokerSuspendMaxTimeMs).
   */
  async resetOffset(topic: string, offsets: readonly { mq: MessageQueue; offset: number }[]): Promise<void> {
    if (this.state !== 'running') return;
    const store = this.offsetStoreImpl!;
    const mine = offsets.filter((e) => e.mq.topic === topic);
    this.rebalance!.forget(mine.map((e) => e.mq));
    for (const { mq, offset } of mine) store.updateOffset(mq, offset, false);
    if (this.messageModel === 'BROADCASTING') {
      // The local file holds every queue's offset; it is rewritten with the owned queues and these.
      await store.persistAll([...this.rebalance!.offsetQueues(), ...mine.map((e) => e.mq)]);
    } else {
      // One queue at a time: persistAll would also forget the offsets of every queue not named.
      await Promise.all(mine.map((e) => store.persist(e.mq, { oneway: false })));
    }
    await this.rebalance!.doRebalance();
  }

  /** ConsumerRunningInfo (GET_CONSUMER_RUNNING_INFO): properties, subscriptions and a ProcessQueueInfo per owned queue. */
  runningInfoJson(): string {
    const store = this.offsetStoreImpl;
    const mqTable = (this.rebalance?.ownedEntries() ?? []).map(({ mq, pq }) => ({
      mq,
      value: {
        commitOffset: store?.readOffsetFromMemory(mq) ?? -1,
        cachedMsgCount: pq.msgCount,
        cachedMsgSizeInMiB: Math.floor(pq.msgSizeBytes / (1024 * 1024)),
        cachedMsgMaxOffset: pq.maxOffset,
        locked: pq.locked,
        lastLockTimestamp: pq.lastLockTimestampMs,
        droped: pq.dropped,
        lastPullTimestamp: pq.lastPullTimestampMs,
        lastConsumeTimestamp: pq.lastConsumeTimestampMs,
      },
    }));
    const properties = {
      PROP_NAMESERVER_ADDR: this.config.namesrvAddr,
      PROP_CONSUME_TYPE: 'CONSUME_PASSIVELY',
      PROP_CONSUMEORDERLY: String(this.consumeOrderly),
      PROP_THREADPOOL_CORE_SIZE: String(this.o.consumeConcurrency),
      PROP_CONSUMER_START_TIMESTAMP: String(this.startedAtMs),
      PROP_CLIENT_VERSION: String(this.config.version),
      messageModel: this.messageModel,
      consumeFromWhere: this.consumeFromWhere,
      pullBatchSize: String(this.o.pullBatchSize),
      consumeMessageBatchMaxSize: String(this.o.consumeMessageBatchMaxSize),
    };
    return `{"properties":${JSON.stringify(properties)},"subscriptionSet":${JSON.stringify([...this.subscriptions.values()])},"mqTable":${queueKeyedJson(mqTable)},"statusTable":{},"jstack":null}`;
  }

  /** Queues this consumer owns now. */
  ownedQueues(): MessageQueue[] {
    return this.rebalance?.ownedQueues() ?? [];
  }

  // --- rebalance hooks ---------------------------------------------------------------------------

  private computePullFromWhere(mq: MessageQueue): Promise<number> {
    const instance = this.instance!;
    return computePullFromWhere(
      {
        store: this.offsetStoreImpl!,
        api: instance.api,
        brokerAddrFor: (q) => instance.findBrokerAddressOrRefresh(q.brokerName, q.topic),
        consumeFromWhere: this.consumeFromWhere,
        consumeTimestampMs: this.consumeTimestampMs,
        logger: this.config.logger,
      },
      mq,
    );
  }

  private async removeUnnecessaryMessageQueue(mq: MessageQueue, _pq: ProcessQueue): Promise<void> {
    const store = this.offsetStoreImpl!;
    await store.persist(mq, { oneway: false });
    store.removeOffset(mq);
    this.pullApi?.forget(mq);
  }

  // --- orderly -------------------------------------------------------------------------------------

  private get orderlyLockRetryDelayMs(): number {
    return Math.min(ORDERLY_LOCK_RETRY_MAX_MS, this.o.lockIntervalMs);
  }

  private createOrderlyService(listener: MessageListenerOrderly): ConsumeMessageOrderlyService {
    return new ConsumeMessageOrderlyService({
      consumerGroup: this.groupName,
      messageModel: this.messageModel,
      listener,
      consumeConcurrency: this.o.consumeConcurrency,
      consumeMessageBatchMaxSize: this.o.consumeMessageBatchMaxSize,
      suspendCurrentQueueTimeMillis: this.o.suspendCurrentQueueTimeMillis,
      maxReconsumeTimes: this.maxReconsumeTimesOption ?? ORDERLY_MAX_RECONSUME_TIMES,
      lockIntervalMs: this.o.lockIntervalMs,
      rebalanceLockMaxLiveTimeMs: this.o.rebalanceLockMaxLiveTimeMs,
      lockRetryDelayMs: this.orderlyLockRetryDelayMs,
      sendMessageBack: (msg) => this.sendMessageBackToDeadLetter(msg),
      // Not increase-only (ConsumeMessageOrderlyService.processConsumeResult): the offset is the one
      // after what this client consumed, in order.
      updateOffset: (mq, offset) => this.offsetStoreImpl!.updateOffset(mq, offset, false),
      lockOne: (mq) => this.rebalance!.lock(mq),
      lockAll: () => this.rebalance!.lockAll(),
      logger: this.config.logger,
    });
  }

  /** LOCK_BATCH_MQ / UNLOCK_BATCH_MQ at the master of a broker (RebalanceImpl.lock: masters only). */
  private queueLockService(instance: MQClientInstance): QueueLockService {
    const master = async (brokerName: string, mqs: MessageQueue[]): Promise<string> => {
      let found = instance.findBrokerAddressInSubscribe(brokerName, MASTER_ID, true);
      if (found === undefined && mqs[0] !== undefined) {
        await instance.updateTopicRoute(mqs[0].topic);
        found = instance.findBrokerAddressInSubscribe(brokerName, MASTER_ID, true);
      }
      if (found === undefined) throw new MQClientError(`no master of broker ${brokerName} to lock queues on`);
      return found.brokerAddr;
    };
    return {
      lockBatch: async (brokerName, mqs) => instance.api.lockBatchMQ(await master(brokerName, mqs), this.groupName, instance.clientId, mqs),
      unlockBatch: async (brokerName, mqs, oneway) => instance.api.unlockBatchMQ(await master(brokerName, mqs), this.groupName, instance.clientId, mqs, oneway),
    };
  }

  /**
   * A queue given away (orderly): waits for the listener call in progress on it (bounded; false
   * means "try again next round"), commits its offset, then unlocks it so the next owner can take
   * it from that offset. The consume lock is held throughout, so no call starts meanwhile.
   */
  private async removeOrderlyMessageQueue(mq: MessageQueue, pq: ProcessQueue): Promise<boolean> {
    const release = await pq.consumeLock.tryAcquire(ORDERLY_REMOVE_WAIT_MS);
    if (release === undefined) {
      this.config.logger.warn(`${formatMessageQueue(mq)} is being consumed; it is given away after that call (next rebalance)`);
      return false;
    }
    try {
      await this.removeUnnecessaryMessageQueue(mq, pq);
      await this.rebalance!.unlock([mq], false);
    } finally {
      release();
    }
    return true;
  }

  /**
   * Orderly, past maxReconsumeTimes: the message goes to %DLQ%<group>. The broker only knows the
   * stored reconsumeTimes (suspends are counted here), so the send-back asks for the DLQ directly
   * (delay level -1).
   */
  private async sendMessageBackToDeadLetter(msg: MessageExt): Promise<boolean> {
    const instance = this.instance!;
    const addr = instance.findBrokerAddressInPublish(msg.brokerName) ?? msg.storeHost;
    try {
      await instance.api.consumerSendMessageBack(addr, msg, this.groupName, -1, this.maxReconsumeTimesOption ?? ORDERLY_MAX_RECONSUME_TIMES);
      return true;
    } catch (error) {
      this.config.logger.warn(`sendMessageBack of ${msg.msgId} to ${addr} failed: ${errorText(error)}; it stays in its queue (suspended)`);
      return false;
    }
  }

  private startPullLoop(mq: MessageQueue, pq: ProcessQueue, nextOffset: number): void {
    const key = mqKey(mq);
    const previous = this.pullLoops.get(key) ?? Promise.resolve();
    // A queue lost and regained waits for its old loop to end, so two loops never pull one queue.
    const loop = previous
      .then(() => this.pullLoop(mq, pq, nextOffset))
      .catch((error: unknown) => this.config.logger.error(`pull loop of ${key} crashed: ${errorText(error)}`))
      .finally(() => {
        if (this.pullLoops.get(key) === loop) this.pullLoops.delete(key);
      });
    this.pullLoops.set(key, loop);
  }

  // --- pulling and consuming -----------------------------------------------------------------------

  /**
   * One queue's loop (DefaultMQPushConsumerImpl.pullMessage + PullCallback): long-poll, hand over
   * what was found, re-pull at once; wait on flow control and after errors. Ends when the queue is
   * dropped or the consumer stops.
   */
  private async pullLoop(mq: MessageQueue, pq: ProcessQueue, startOffset: number): Promise<void> {
    const o = this.o;
    const signal = this.stopping.signal;
    const thresholdBytes = o.pullThresholdSizeForQueueMiB * 1024 * 1024;
    const clustering = this.messageModel === 'CLUSTERING';
    let nextOffset = startOffset;
    while (!pq.dropped && !signal.aborted) {
      pq.lastPullTimestampMs = Date.now();
      if (this.rebalance!.locking) {
        // Orderly: pull only while this client holds the queue's lock. A queue locked here for the
        // first time starts where its previous owner committed (read after the lock is ours).
        if (!pq.locked || pq.isLockExpired(Date.now(), o.rebalanceLockMaxLiveTimeMs)) {
          if (!(await this.rebalance!.lock(mq))) {
            await sleep(this.orderlyLockRetryDelayMs, signal);
            continue;
          }
        }
        if (nextOffset < 0) {
          nextOffset = await this.computePullFromWhere(mq);
          if (nextOffset < 0) {
            await sleep(o.pullTimeDelayMsWhenException, signal);
            continue;
          }
        }
        if (pq.dropped || signal.aborted) break;
      }
      if (pq.msgCount > o.pullThresholdForQueue || pq.msgSizeBytes > thresholdBytes || (!this.consumeOrderly && pq.maxSpan() > o.consumeConcurrentlyMaxSpan)) {
        await sleep(PushConsumerDefaults.pullTimeDelayMsWhenFlowControl, signal);
        continue;
      }
      const sub = this.rebalance!.subscriptionInner.get(mq.topic);
      if (sub === undefined) {
        await sleep(o.pullTimeDelayMsWhenException, signal);
        continue;
      }
      const commitOffset = clustering ? this.offsetStoreImpl!.readOffsetFromMemory(mq) : 0;
      let result;
      try {
        result = await this.pullApi!.pull(mq, sub, {
          offset: nextOffset,
          maxNums: o.pullBatchSize,
          commitOffset: commitOffset > 0 ? commitOffset : 0,
          suspend: true,
          postSubscription: o.postSubscriptionWhenPull,
          suspendTimeoutMs: o.brokerSuspendMaxTimeMs,
          timeoutMs: o.consumerTimeoutMsWhenSuspend,
        });
      } catch (error) {
        if (pq.dropped || signal.aborted) break;
        if (!isRetryTopic(mq.topic)) this.config.logger.warn(`pull of ${formatMessageQueue(mq)} at ${nextOffset} failed: ${errorText(error)}`);
        const brokerFlowControl = error instanceof MQBrokerError && error.code === ResponseCode.FLOW_CONTROL;
        await sleep(brokerFlowControl ? PushConsumerDefaults.pullTimeDelayMsWhenBrokerFlowControl : o.pullTimeDelayMsWhenException, signal);
        continue;
      }
      if (pq.dropped || signal.aborted) break;
      switch (result.pullStatus) {
        case 'FOUND': {
          const pulledFrom = nextOffset;
          nextOffset = result.nextBeginOffset;
          if (result.msgFoundList.length === 0) break;
          const first = result.msgFoundList[0]!.queueOffset;
          if (first < pulledFrom) this.config.logger.warn(`[BUG] pull of ${mqKey(mq)} from ${pulledFrom} returned offset ${first}`);
          pq.putMessages(result.msgFoundList);
          this.consumeService!.submitConsumeRequest(result.msgFoundList, pq, mq);
          break;
        }
        case 'NO_NEW_MSG':
        case 'NO_MATCHED_MSG':
          nextOffset = result.nextBeginOffset;
          // Nothing waits for consumption: the consumed offset may follow the pull offset.
          if (pq.msgCount === 0) this.offsetStoreImpl!.updateOffset(mq, nextOffset, true);
          break;
        case 'OFFSET_ILLEGAL':
          this.config.logger.warn(`the pull request offset illegal, ${mqKey(mq)} offset ${nextOffset}, corrected to ${result.nextBeginOffset}`);
          nextOffset = result.nextBeginOffset;
          this.offsetStoreImpl!.updateOffset(mq, nextOffset, false);
          await this.offsetStoreImpl!.persist(mq, { oneway: false });
          break;
      }
    }
  }

  /** CONSUMER_SEND_MSG_BACK to the master of the message's broker; false when it failed. */
  private async sendMessageBack(msg: MessageExt, delayLevel: number): Promise<boolean> {
    const instance = this.instance!;
    const addr = instance.findBrokerAddressInPublish(msg.brokerName) ?? msg.storeHost;
    try {
      await instance.api.consumerSendMessageBack(addr, msg, this.groupName, delayLevel, this.o.maxReconsumeTimes);
      return true;
    } catch (error) {
      this.config.logger.warn(`sendMessageBack of ${msg.msgId} to ${addr} failed: ${errorText(error)}; it will be consumed again in ${this.o.localRetryDelayMs} ms`);
      return false;
    }
  }
}
