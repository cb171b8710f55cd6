// RebalanceImpl for one consumer group (facts §7.2). For each subscribed topic: in clustering, all
// readable queues (mqAll) and all members of the group (cidAll, GET_CONSUMER_LIST_BY_GROUP), both
// sorted, go through the allocation strategy; in broadcasting every queue is ours. Queues we gain
// get a ProcessQueue and a starting offset; queues we lose are dropped and their offsets
// committed first, so the next owner starts where we stopped.
import { errorText } from './async-util.js';
import type { AllocateMessageQueueStrategy } from './allocate-strategy.js';
import type { ClientLogger } from './client-config.js';
import type { MessageModel } from './heartbeat-data.js';
import { compareMessageQueues, mqKey, type MessageQueue } from './message-queue.js';
import { isRetryTopic } from './names.js';
import { ProcessQueue } from './process-queue.js';
import type { SubscriptionData } from './subscription.js';

/** The cluster lookups rebalance needs (MQClientInstance provides them). */
export interface RebalanceCluster {
  readonly clientId: string;
  findConsumerIdList(topic: string, group: string): Promise<string[] | undefined>;
  updateTopicRoute(topic: string): Promise<unknown>;
}

/** What the owning consumer does when queues come and go. */
export interface RebalanceHooks {
  /** The offset to start a new queue at, or a negative number to skip it this round. */
  computePullFromWhere(mq: MessageQueue): Promise<number>;
  /** A queue became ours: start pulling it at `nextOffset`. */
  onQueueAdded(mq: MessageQueue, pq: ProcessQueue, nextOffset: number): void;
  /** A queue is no longer ours (already marked dropped): commit and forget its offset. */
  onQueueRemoved(mq: MessageQueue, pq: ProcessQueue): Promise<void>;
  /** Drop queues whose pull loop has not pulled for PULL_MAX_IDLE_MS (push consumers). */
  readonly dropPullExpired: boolean;
}

export interface ProcessQueueEntry {
  mq: MessageQueue;
  pq: ProcessQueue;
}

export class RebalanceImpl {
  readonly subscriptionInner = new Map<string, SubscriptionData>();
  readonly topicSubscribeInfoTable = new Map<string, MessageQueue[]>();
  readonly processQueueTable = new Map<string, ProcessQueueEntry>();

  constructor(
    readonly consumerGroup: string,
    readonly messageModel: MessageModel,
    readonly strategy: AllocateMessageQueueStrategy,
    private readonly cluster: RebalanceCluster,
    private readonly hooks: RebalanceHooks,
    private readonly logger: ClientLogger,
  ) {}

  /** Rounds run one at a time: a round asked for while one runs starts after it. */
  private lastRound: Promise<unknown> = Promise.resolve();

  /** One round over every subscribed topic; returns true when the owned queues changed. */
  doRebalance(): Promise<boolean> {
    const round = this.lastRound.then(() => this.rebalanceOnce());
    this.lastRound = round.catch(() => undefined);
    return round;
  }

  private async rebalanceOnce(): Promise<boolean> {
    let changed = false;
    for (const topic of [...this.subscriptionInner.keys()]) {
      try {
        if (await this.rebalanceByTopic(topic)) changed = true;
      } catch (error) {
        if (!isRetryTopic(topic)) this.logger.warn(`rebalance of ${this.consumerGroup} on ${topic} failed: ${errorText(error)}`);
      }
    }
    if (await this.truncateMessageQueueNotMyTopic()) changed = true;
    return changed;
  }

  private async rebalanceByTopic(topic: string): Promise<boolean> {
    let mqSet = this.topicSubscribeInfoTable.get(topic);
    if (mqSet === undefined) {
      await this.cluster.updateTopicRoute(topic);
      mqSet = this.topicSubscribeInfoTable.get(topic);
    }
    if (mqSet === undefined) {
      if (!isRetryTopic(topic)) this.logger.warn(`doRebalance, ${this.consumerGroup}, but the topic[${topic}] not exist.`);
      return false;
    }
    if (this.messageModel === 'BROADCASTING') return this.updateProcessQueueTableInRebalance(topic, mqSet);
    const cidAll = await this.cluster.findConsumerIdList(topic, this.consumerGroup);
    if (cidAll === undefined || cidAll.length === 0) {
      if (!isRetryTopic(topic)) this.logger.warn(`doRebalance, ${this.consumerGroup} ${topic}, get consumer id list failed`);
      return false;
    }
    const mqAll = [...mqSet].sort(compareMessageQueues);
    const cids = [...new Set(cidAll)].sort();
    if (!cids.includes(this.cluster.clientId)) {
      this.logger.warn(`[BUG] ConsumerGroup: ${this.consumerGroup} The consumerId: ${this.cluster.clientId} not in cidAll: ${cids.join(',')}`);
    }
    const allocated = this.strategy.allocate(this.consumerGroup, this.cluster.clientId, mqAll, cids);
    const unique = new Map(allocated.map((mq) => [mqKey(mq), mq]));
    return this.updateProcessQueueTableInRebalance(topic, [...unique.values()]);
  }

  /** Drops queues of `topic` not in `mqSet`, adds the new ones. */
  async updateProcessQueueTableInRebalance(topic: string, mqSet: readonly MessageQueue[]): Promise<boolean> {
    let changed = false;
    const wanted = new Map(mqSet.map((mq) => [mqKey(mq), mq]));
    for (const [key, entry] of [...this.processQueueTable]) {
      if (entry.mq.topic !== topic) continue;
      const expired = this.hooks.dropPullExpired && this.messageModel === 'CLUSTERING' && entry.pq.isPullExpired();
      if (!wanted.has(key) || expired) {
        if (expired) this.logger.warn(`${key} was not pulled for a long time; dropping it to pull afresh`);
        entry.pq.dropped = true;
        this.processQueueTable.delete(key);
        await this.hooks.onQueueRemoved(entry.mq, entry.pq);
        changed = true;
      }
    }
    for (const [key, mq] of wanted) {
      if (this.processQueueTable.has(key)) continue;
      const nextOffset = await this.hooks.computePullFromWhere(mq);
      if (nextOffset < 0) {
        this.logger.warn(`doRebalance, ${this.consumerGroup}, compute offset of ${key} failed; will try again next round`);
        continue;
      }
      if (this.processQueueTable.has(key)) continue; // added meanwhile by a concurrent round
      const pq = new ProcessQueue();
      this.processQueueTable.set(key, { mq, pq });
      this.hooks.onQueueAdded(mq, pq, nextOffset);
      changed = true;
    }
    return changed;
  }

  /** Drops queues of topics no longer subscribed. */
  private async truncateMessageQueueNotMyTopic(): Promise<boolean> {
    let changed = false;
    for (const [key, entry] of [...this.processQueueTable]) {
      if (this.subscriptionInner.has(entry.mq.topic)) continue;
      entry.pq.dropped = true;
      this.processQueueTable.delete(key);
      await this.hooks.onQueueRemoved(entry.mq, entry.pq);
      changed = true;
    }
    return changed;
  }

  /** Queues owned now. */
  ownedQueues(): MessageQueue[] {
    return [...this.processQueueTable.values()].map((e) => e.mq);
  }

  /** Marks every queue dropped (shutdown). */
  dropAll(): ProcessQueueEntry[] {
    const entries = [...this.processQueueTable.values()];
    for (const entry of entries) entry.pq.dropped = true;
    return entries;
  }
}
