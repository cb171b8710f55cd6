// The lite pull consumer (DefaultLitePullConsumer): the application calls poll() and gets what
// background pulls buffered. Queues come from assign() (the application picks them) or from
// subscribe() (rebalance shares them within the group, as for the push consumer). poll() counts the
// returned messages as consumed; commitSync() (or auto-commit every autoCommitIntervalMs) writes
// the consumed offsets to the offset store. seek() moves a queue's next pull.
import { errorText, sleep, waitAtMost, Wakeup } from './async-util.js';
import { allocateMessageQueueAveragely, type AllocateMessageQueueStrategy } from './allocate-strategy.js';
import { resolveClientConfig, type ClientConfig } from './client-config.js';
import { computePullFromWhere, CONSUME_TIMESTAMP_AGO_MS, parseConsumeTimestamp } from './consume-from-where.js';
import { MQClientError } from './errors.js';
import type { ConsumeFromWhere, ConsumerData, MessageModel } from './heartbeat-data.js';
import type { MessageExt } from './message.js';
import { formatMessageQueue, mqKey, type MessageQueue } from './message-queue.js';
import { getOrCreateMQClientInstance, type ConsumerInner, type MQClientInstance } from './mq-client-instance.js';
import { DEFAULT_LOCAL_OFFSET_DIR, LocalFileOffsetStore, RemoteBrokerOffsetStore, type OffsetStore } from './offset-store.js';
import { ProcessQueue } from './process-queue.js';
import { MAX_PULL_BATCH_SIZE, PullAPIWrapper } from './pull-api.js';
import { RebalanceImpl } from './rebalance.js';
import { buildSubscriptionData, type SubscriptionData } from './subscription.js';
import { checkClientConfigOrLeave } from './client-config-check.js';
import { subscriptionOf, type MessageSelector } from './message-selector.js';
import { toTopicSubscribeInfo } from './topic-route.js';

export interface LitePullConsumerOptions extends Partial<Omit<ClientConfig, 'namesrvAddr'>> {
  consumerGroup: string;
  namesrvAddr: string;
  messageModel?: MessageModel;
  consumeFromWhere?: ConsumeFromWhere;
  consumeTimestamp?: number | string;
  allocateMessageQueueStrategy?: AllocateMessageQueueStrategy;
  /** Messages asked for per pull (Java default 10). */
  pullBatchSize?: number;
  /** Pulls pause while this many messages wait in the poll buffer in total … */
  pullThresholdForAll?: number;
  /** … or this many of one queue. */
  pullThresholdForQueue?: number;
  /** Default wait of poll(). */
  pollTimeoutMs?: number;
  autoCommit?: boolean;
  autoCommitIntervalMs?: number;
  brokerSuspendMaxTimeMs?: number;
  consumerTimeoutMsWhenSuspend?: number;
  pullTimeDelayMsWhenException?: number;
  offsetStoreDir?: string;
}

export const LitePullConsumerDefaults = {
  messageModel: 'CLUSTERING' as MessageModel,
  consumeFromWhere: 'CONSUME_FROM_LAST_OFFSET' as ConsumeFromWhere,
  pullBatchSize: 10,
  pullThresholdForAll: 10_000,
  pullThresholdForQueue: 1_000,
  pollTimeoutMs: 5_000,
  autoCommit: true,
  autoCommitIntervalMs: 5_000,
  brokerSuspendMaxTimeMs: 20_000,
  consumerTimeoutMsWhenSuspend: 30_000,
  pullTimeDelayMsWhenException: 1_000,
  pullTimeDelayMsWhenFlowControl: 50,
  pullTimeDelayMsWhenPause: 1_000,
} as const;

/** One queue this consumer reads. */
interface AssignedQueue {
  mq: MessageQueue;
  pq: ProcessQueue;
  /** Next offset to pull; -1 until computed. */
  pullOffset: number;
  /** Offset after the last polled message; -1 until something was polled or sought. */
  consumedOffset: number;
  paused: boolean;
  /** Bumped by seek(): pulls and buffered messages of an older generation are discarded. */
  generation: number;
}

interface BufferedPull {
  aq: AssignedQueue;
  generation: number;
  msgs: MessageExt[];
}

export class LitePullConsumer implements ConsumerInner {
  readonly groupName: string;
  readonly config: ClientConfig;
  readonly messageModel: MessageModel;
  readonly consumeFromWhere: ConsumeFromWhere;
  private readonly consumeTimestampMs: number;
  private readonly strategy: AllocateMessageQueueStrategy;
  private readonly o: {
    pullBatchSize: number;
    pullThresholdForAll: number;
    pullThresholdForQueue: number;
    pollTimeoutMs: number;
    autoCommit: boolean;
    autoCommitIntervalMs: number;
    brokerSuspendMaxTimeMs: number;
    consumerTimeoutMsWhenSuspend: number;
    pullTimeDelayMsWhenException: number;
    offsetStoreDir: string;
  };
  private mode: 'NONE' | 'SUBSCRIBE' | 'ASSIGN' = 'NONE';
  private readonly subscriptions = new Map<string, SubscriptionData>();
  private readonly assigned = new Map<string, AssignedQueue>();
  private readonly buffer: BufferedPull[] = [];
  private bufferedMessages = 0;
  private readonly pollWakeup = new Wakeup();
  private readonly stopping = new AbortController();
  private readonly pullLoops = new Set<Promise<void>>();
  private instance: MQClientInstance | undefined;
  private pullApi: PullAPIWrapper | undefined;
  private rebalance: RebalanceImpl | undefined;
  private store: OffsetStore | undefined;
  private nextAutoCommitDeadlineMs = 0;
  private state: 'created' | 'running' | 'shutdown' = 'created';

  constructor(options: LitePullConsumerOptions) {
    if (!options.consumerGroup) throw new MQClientError('consumerGroup is blank');
    this.groupName = options.consumerGroup;
    this.config = resolveClientConfig(options);
    const d = LitePullConsumerDefaults;
    this.messageModel = options.messageModel ?? d.messageModel;
    this.consumeFromWhere = options.consumeFromWhere ?? d.consumeFromWhere;
    this.consumeTimestampMs = options.consumeTimestamp !== undefined ? parseConsumeTimestamp(options.consumeTimestamp) : Date.now() - CONSUME_TIMESTAMP_AGO_MS;
    this.strategy = options.allocateMessageQueueStrategy ?? allocateMessageQueueAveragely;
    this.o = {
      pullBatchSize: options.pullBatchSize ?? d.pullBatchSize,
      pullThresholdForAll: options.pullThresholdForAll ?? d.pullThresholdForAll,
      pullThresholdForQueue: options.pullThresholdForQueue ?? d.pullThresholdForQueue,
      pollTimeoutMs: options.pollTimeoutMs ?? d.pollTimeoutMs,
      autoCommit: options.autoCommit ?? d.autoCommit,
      autoCommitIntervalMs: options.autoCommitIntervalMs ?? d.autoCommitIntervalMs,
      brokerSuspendMaxTimeMs: options.brokerSuspendMaxTimeMs ?? d.brokerSuspendMaxTimeMs,
      consumerTimeoutMsWhenSuspend: options.consumerTimeoutMsWhenSuspend ?? d.consumerTimeoutMsWhenSuspend,
      pullTimeDelayMsWhenException: options.pullTimeDelayMsWhenException ?? d.pullTimeDelayMsWhenException,
      offsetStoreDir: options.offsetStoreDir ?? DEFAULT_LOCAL_OFFSET_DIR,
    };
    if (!Number.isInteger(this.o.pullBatchSize) || this.o.pullBatchSize < 1 || this.o.pullBatchSize > MAX_PULL_BATCH_SIZE) throw new RangeError(`pullBatchSize must be 1..${MAX_PULL_BATCH_SIZE}`);
    if (this.o.consumerTimeoutMsWhenSuspend <= this.o.brokerSuspendMaxTimeMs) throw new RangeError('consumerTimeoutMsWhenSuspend must be longer than brokerSuspendMaxTimeMs');
    if (!(this.o.pullThresholdForAll >= 1 && this.o.pullThresholdForQueue >= 1)) throw new RangeError('pull thresholds must be at least 1');
  }

  get clientId(): string | undefined {
    return this.instance?.clientId;
  }

  get offsetStore(): OffsetStore | undefined {
    return this.store;
  }

  /** Subscribe mode: the group shares the topic's queues by rebalance. A tag expression or a MessageSelector (bySql: see PushConsumer.subscribe). */
  subscribe(topic: string, subExpression: string | MessageSelector = '*'): void {
    if (this.mode === 'ASSIGN') throw new MQClientError('subscribe and assign are mutually exclusive');
    if (this.state === 'shutdown') throw new MQClientError('the consumer is shut down');
    this.mode = 'SUBSCRIBE';
    const sub = subscriptionOf(topic, subExpression);
    this.subscriptions.set(topic, sub);
    this.rebalance?.subscriptionInner.set(topic, sub);
    if (this.state === 'running') void this.afterSubscriptionChanged([topic]);
  }

  /** Assign mode: read exactly these queues (replacing any earlier assignment). */
  assign(mqs: readonly MessageQueue[]): void {
    if (this.mode === 'SUBSCRIBE') throw new MQClientError('subscribe and assign are mutually exclusive');
    if (this.state === 'shutdown') throw new MQClientError('the consumer is shut down');
    if (mqs.length === 0) throw new MQClientError('message queues can not be empty');
    this.mode = 'ASSIGN';
    for (const mq of mqs) if (!this.subscriptions.has(mq.topic)) this.subscriptions.set(mq.topic, buildSubscriptionData(mq.topic, '*'));
    const wanted = new Map(mqs.map((mq) => [mqKey(mq), mq]));
    for (const [key, aq] of [...this.assigned]) {
      if (!wanted.has(key)) void this.removeQueue(aq);
    }
    for (const [key, mq] of wanted) {
      if (!this.assigned.has(key)) this.addQueue(mq, -1);
    }
  }

  async start(): Promise<void> {
    if (this.state !== 'created') throw new MQClientError(`the consumer is ${this.state === 'running' ? 'already running' : 'shut down'}`);
    const instance = getOrCreateMQClientInstance(this.config);
    instance.registerConsumer(this);
    this.instance = instance;
    const logger = this.config.logger;
    this.store =
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
    await this.store.load();
    this.pullApi = new PullAPIWrapper(instance, instance.api, this.groupName, logger);
    this.rebalance = new RebalanceImpl(this.groupName, this.messageModel, this.strategy, instance, {
      computePullFromWhere: (mq) => this.computePullFromWhere(mq),
      onQueueAdded: (mq, pq, nextOffset) => this.addQueue(mq, nextOffset, pq),
      onQueueRemoved: async (mq) => {
        const aq = this.assigned.get(mqKey(mq));
        if (aq) await this.removeQueue(aq);
      },
      dropPullExpired: false,
    }, logger);
    for (const [topic, sub] of this.subscriptions) this.rebalance.subscriptionInner.set(topic, sub);
    // SQL92 subscriptions: every master must accept them (CHECK_CLIENT_CONFIG), or start() fails.
    await checkClientConfigOrLeave(instance, this.groupName, this.subscriptions.values()).catch((error: unknown) => {
      this.state = 'shutdown';
      throw error;
    });
    this.state = 'running';
    this.nextAutoCommitDeadlineMs = Date.now() + this.o.autoCommitIntervalMs;
    instance.start();
    for (const aq of this.assigned.values()) this.startPullLoop(aq);
    await this.afterSubscriptionChanged([...this.subscriptions.keys()]);
  }

  private async afterSubscriptionChanged(topics: string[]): Promise<void> {
    const instance = this.instance!;
    await Promise.all(topics.map((t) => instance.updateTopicRoute(t).catch((error: unknown) => this.config.logger.warn(`route of ${t}: ${errorText(error)}`))));
    await instance.sendHeartbeatToAllBrokers();
    if (this.mode === 'SUBSCRIBE') instance.rebalanceImmediately();
  }

  /** The readable queues of a topic (for assign()). */
  async fetchMessageQueues(topic: string): Promise<MessageQueue[]> {
    const instance = this.requireRunning();
    const route = (await instance.updateTopicRoute(topic)) ?? instance.getTopicRoute(topic);
    if (route === undefined) throw new MQClientError(`can not find message queue for topic ${topic}`);
    return toTopicSubscribeInfo(topic, route);
  }

  private requireRunning(): MQClientInstance {
    if (this.state !== 'running') throw new MQClientError(`the consumer is ${this.state === 'created' ? 'not started' : 'shut down'}`);
    return this.instance!;
  }

  /**
   * Messages pulled in the background: the next buffered pull result, waiting up to `timeoutMs`
   * for one. Returned messages count as consumed (commitSync or auto-commit writes that down).
   */
  async poll(timeoutMs: number = this.o.pollTimeoutMs): Promise<MessageExt[]> {
    this.requireRunning();
    const deadline = Date.now() + Math.max(0, timeoutMs);
    for (;;) {
      const taken = this.takeBuffered();
      if (taken !== undefined) {
        await this.maybeAutoCommit();
        return taken;
      }
      const leftMs = deadline - Date.now();
      if (leftMs <= 0 || this.state !== 'running') {
        await this.maybeAutoCommit();
        return [];
      }
      await this.pollWakeup.wait(leftMs, this.stopping.signal);
    }
  }

  private takeBuffered(): MessageExt[] | undefined {
    while (this.buffer.length > 0) {
      const item = this.buffer.shift()!;
      this.bufferedMessages -= item.msgs.length;
      const { aq } = item;
      if (item.generation !== aq.generation || aq.pq.dropped || this.assigned.get(mqKey(aq.mq)) !== aq) continue;
      const offset = aq.pq.removeMessages(item.msgs);
      if (offset >= 0) aq.consumedOffset = offset;
      if (!aq.paused) return item.msgs;
    }
    return undefined;
  }

  private async maybeAutoCommit(): Promise<void> {
    if (!this.o.autoCommit || Date.now() < this.nextAutoCommitDeadlineMs) return;
    this.nextAutoCommitDeadlineMs = Date.now() + this.o.autoCommitIntervalMs;
    await this.commitAll(true);
  }

  /** Writes the consumed offset of every assigned queue to the offset store (waits for the broker). */
  async commitSync(): Promise<void> {
    this.requireRunning();
    await this.commitAll(false);
  }

  private async commitAll(oneway: boolean): Promise<void> {
    const store = this.store!;
    for (const aq of this.assigned.values()) if (aq.consumedOffset >= 0) store.updateOffset(aq.mq, aq.consumedOffset, false);
    await store.persistAll([...this.assigned.values()].map((aq) => aq.mq), { oneway });
  }

  /** The committed offset of a queue as the store has it (-1: none). */
  async committed(mq: MessageQueue): Promise<number> {
    this.requireRunning();
    return this.store!.readOffset(mq, 'READ_FROM_STORE');
  }

  /** Moves the next pull of an assigned queue to `offset` (within [min, max] of the queue). */
  async seek(mq: MessageQueue, offset: number): Promise<void> {
    const instance = this.requireRunning();
    const aq = this.assigned.get(mqKey(mq));
    if (aq === undefined) throw new MQClientError(`the message queue is not in assigned list, may be rebalancing, ${formatMessageQueue(mq)}`);
    const addr = await instance.findBrokerAddressOrRefresh(mq.brokerName, mq.topic);
    const [min, max] = await Promise.all([instance.api.getMinOffset(addr, mq), instance.api.getMaxOffset(addr, mq)]);
    if (!Number.isSafeInteger(offset) || offset < min || offset > max) throw new MQClientError(`Seek offset illegal: ${offset} is outside [${min}, ${max}]`);
    this.resetQueue(aq, offset);
  }

  async seekToBegin(mq: MessageQueue): Promise<void> {
    const instance = this.requireRunning();
    const addr = await instance.findBrokerAddressOrRefresh(mq.brokerName, mq.topic);
    await this.seek(mq, await instance.api.getMinOffset(addr, mq));
  }

  async seekToEnd(mq: MessageQueue): Promise<void> {
    const instance = this.requireRunning();
    const addr = await instance.findBrokerAddressOrRefresh(mq.brokerName, mq.topic);
    await this.seek(mq, await instance.api.getMaxOffset(addr, mq));
  }

  private resetQueue(aq: AssignedQueue, offset: number): void {
    aq.generation++;
    aq.pq.clear();
    aq.pullOffset = offset;
    aq.consumedOffset = offset;
    this.dropBuffered(aq);
    if (this.state === 'running') this.startPullLoop(aq);
  }

  pause(mqs: readonly MessageQueue[]): void {
    for (const mq of mqs) {
      const aq = this.assigned.get(mqKey(mq));
      if (aq) aq.paused = true;
    }
  }

  resume(mqs: readonly MessageQueue[]): void {
    for (const mq of mqs) {
      const aq = this.assigned.get(mqKey(mq));
      if (aq) aq.paused = false;
    }
  }

  /** Queues read now. */
  assignment(): MessageQueue[] {
    return [...this.assigned.values()].map((aq) => aq.mq);
  }

  /** Commits (when auto-commit is on), stops pulling and leaves the group. */
  async shutdown(): Promise<void> {
    if (this.state !== 'running') {
      this.state = 'shutdown';
      return;
    }
    if (this.o.autoCommit) await this.commitAll(false);
    else await this.store!.persistAll([...this.assigned.values()].map((aq) => aq.mq), { oneway: false });
    this.state = 'shutdown';
    this.stopping.abort();
    for (const aq of this.assigned.values()) aq.pq.dropped = true;
    await this.instance!.unregisterConsumer(this.groupName);
    await waitAtMost(Promise.allSettled([...this.pullLoops]), this.o.consumerTimeoutMsWhenSuspend);
  }

  // --- ConsumerInner ---------------------------------------------------------------------------

  consumerData(): ConsumerData {
    return {
      groupName: this.groupName,
      consumeType: 'CONSUME_ACTIVELY',
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
    if (this.state !== 'running' || this.mode !== 'SUBSCRIBE') return;
    await this.rebalance!.doRebalance();
  }

  async persistConsumerOffset(): Promise<void> {
    if (this.state !== 'running') return;
    if (this.o.autoCommit && Date.now() >= this.nextAutoCommitDeadlineMs) {
      this.nextAutoCommitDeadlineMs = Date.now() + this.o.autoCommitIntervalMs;
      await this.commitAll(true);
      return;
    }
    await this.store!.persistAll([...this.assigned.values()].map((aq) => aq.mq));
  }

  // --- queues and pulls ------------------------------------------------------------------------

  private computePullFromWhere(mq: MessageQueue): Promise<number> {
    const instance = this.instance!;
    return computePullFromWhere(
      {
        store: this.store!,
        api: instance.api,
        brokerAddrFor: (q) => instance.findBrokerAddressOrRefresh(q.brokerName, q.topic),
        consumeFromWhere: this.consumeFromWhere,
        consumeTimestampMs: this.consumeTimestampMs,
        logger: this.config.logger,
      },
      mq,
    );
  }

  private addQueue(mq: MessageQueue, pullOffset: number, pq: ProcessQueue = new ProcessQueue()): void {
    const aq: AssignedQueue = { mq, pq, pullOffset, consumedOffset: -1, paused: false, generation: 0 };
    this.assigned.set(mqKey(mq), aq);
    if (this.state === 'running') this.startPullLoop(aq);
  }

  private async removeQueue(aq: AssignedQueue): Promise<void> {
    aq.pq.dropped = true;
    aq.generation++;
    this.assigned.delete(mqKey(aq.mq));
    this.dropBuffered(aq);
    const store = this.store;
    if (store) {
      if (aq.consumedOffset >= 0 && this.o.autoCommit) store.updateOffset(aq.mq, aq.consumedOffset, false);
      await store.persist(aq.mq, { oneway: false });
      store.removeOffset(aq.mq);
    }
    this.pullApi?.forget(aq.mq);
  }

  private dropBuffered(aq: AssignedQueue): void {
    for (let i = this.buffer.length - 1; i >= 0; i--) {
      if (this.buffer[i]!.aq === aq) {
        this.bufferedMessages -= this.buffer[i]!.msgs.length;
        this.buffer.splice(i, 1);
      }
    }
  }

  private startPullLoop(aq: AssignedQueue): void {
    const loop = this.pullLoop(aq, aq.generation)
      .catch((error: unknown) => this.config.logger.error(`pull loop of ${mqKey(aq.mq)} crashed: ${errorText(error)}`))
      .finally(() => this.pullLoops.delete(loop));
    this.pullLoops.add(loop);
  }

  /** One queue's loop for one generation: it ends on seek (a new loop takes over), removal or shutdown. */
  private async pullLoop(aq: AssignedQueue, generation: number): Promise<void> {
    const o = this.o;
    const signal = this.stopping.signal;
    const current = () => aq.generation === generation && !aq.pq.dropped && !signal.aborted;
    while (current()) {
      if (aq.paused) {
        await sleep(LitePullConsumerDefaults.pullTimeDelayMsWhenPause, signal);
        continue;
      }
      if (this.bufferedMessages > o.pullThresholdForAll || aq.pq.msgCount > o.pullThresholdForQueue) {
        await sleep(LitePullConsumerDefaults.pullTimeDelayMsWhenFlowControl, signal);
        continue;
      }
      if (aq.pullOffset < 0) {
        const offset = await this.computePullFromWhere(aq.mq);
        if (!current()) break;
        if (offset < 0) {
          await sleep(o.pullTimeDelayMsWhenException, signal);
          continue;
        }
        aq.pullOffset = offset;
      }
      const sub = this.subscriptions.get(aq.mq.topic) ?? buildSubscriptionData(aq.mq.topic, '*');
      let result;
      try {
        result = await this.pullApi!.pull(aq.mq, sub, {
          offset: aq.pullOffset,
          maxNums: o.pullBatchSize,
          suspend: true,
          postSubscription: true,
          suspendTimeoutMs: o.brokerSuspendMaxTimeMs,
          timeoutMs: o.consumerTimeoutMsWhenSuspend,
        });
      } catch (error) {
        if (!current()) break;
        this.config.logger.warn(`pull of ${formatMessageQueue(aq.mq)} at ${aq.pullOffset} failed: ${errorText(error)}`);
        await sleep(o.pullTimeDelayMsWhenException, signal);
        continue;
      }
      if (!current()) break;
      if (result.pullStatus === 'OFFSET_ILLEGAL') {
        this.config.logger.warn(`the pull request offset illegal, ${mqKey(aq.mq)} offset ${aq.pullOffset}, corrected to ${result.nextBeginOffset}`);
      }
      aq.pullOffset = result.nextBeginOffset;
      if (result.pullStatus === 'FOUND' && result.msgFoundList.length > 0) {
        aq.pq.putMessages(result.msgFoundList);
        this.buffer.push({ aq, generation, msgs: result.msgFoundList });
        this.bufferedMessages += result.msgFoundList.length;
        this.pollWakeup.signal();
      }
    }
  }
}
