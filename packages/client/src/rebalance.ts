// RebalanceImpl for one consumer group (facts §7.2). For each subscribed topic: in clustering, all
// readable queues (mqAll) and all members of the group (cidAll, GET_CONSUMER_LIST_BY_GROUP), both
// sorted, go through the allocation strategy; in broadcasting every queue is ours. Queues we gain
// get a ProcessQueue and a starting offset; queues we lose are dropped and their offsets
// committed first, so the next owner starts where we stopped.
//
// Orderly consumers in clustering mode (hooks.queueLocks) also lock queues on their broker's master
// (LOCK_BATCH_MQ, facts §7.5): new queues are locked in one request per broker before they are
// added; a queue whose lock failed is added unlocked and its pull loop waits, retrying, until a lock
// succeeds. lockAll() renews every owned queue (every lockIntervalMs, 20 s). A queue given away is
// unlocked by onQueueRemoved once its in-flight consumption is over and its offset committed; when
// that cannot happen yet (onQueueRemoved answers false) it is tried again next round and the queue
// is not taken again meanwhile.
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

/** Queue locks on brokers (orderly consumers): LOCK_BATCH_MQ / UNLOCK_BATCH_MQ at a broker's master. */
export interface QueueLockService {
  /** Locks `mqs` (all of broker `brokerName`); resolves with those now held. Rejects when the broker did not answer. */
  lockBatch(brokerName: string, mqs: MessageQueue[]): Promise<MessageQueue[]>;
  unlockBatch(brokerName: string, mqs: MessageQueue[], oneway: boolean): Promise<void>;
}

/** What the owning consumer does when queues come and go. */
export interface RebalanceHooks {
  /** The offset to start a new queue at, or a negative number to skip it this round. */
  computePullFromWhere(mq: MessageQueue): Promise<number>;
  /**
   * A queue became ours: start pulling it at `nextOffset`. With queueLocks (clustering),
   * `nextOffset` is -1: the pull loop computes it once the queue is locked, so it starts where the
   * previous owner committed.
   */
  onQueueAdded(mq: MessageQueue, pq: ProcessQueue, nextOffset: number): void;
  /**
   * A queue is no longer ours (already marked dropped): commit and forget its offset (and, orderly,
   * unlock it). Resolving false means "not yet" (its consumption is still running): the queue is
   * kept aside and the removal is tried again next round.
   */
  onQueueRemoved(mq: MessageQueue, pq: ProcessQueue): Promise<boolean | void>;
  /** Drop queues whose pull loop has not pulled for PULL_MAX_IDLE_MS (push consumers). */
  readonly dropPullExpired: boolean;
  /** Orderly consumers: lock queues before they are pulled (clustering only). */
  readonly queueLocks?: QueueLockService;
}

/** Queues named in one LOCK_BATCH_MQ / UNLOCK_BATCH_MQ (the broker takes at most 4096). */
export const MAX_LOCK_BATCH_MQS = 4096;

export interface ProcessQueueEntry {
  mq: MessageQueue;
  pq: ProcessQueue;
}

export class RebalanceImpl {
  readonly subscriptionInner = new Map<string, SubscriptionData>();
  readonly topicSubscribeInfoTable = new Map<string, MessageQueue[]>();
  readonly processQueueTable = new Map<string, ProcessQueueEntry>();
  /** Queues being given away: removal under way, or deferred to the next round (orderly: a call still running). */
  private readonly pendingRemovals = new Map<string, ProcessQueueEntry>();

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

  /** True for an orderly consumer in clustering mode: queues are locked on their brokers. */
  get locking(): boolean {
    return this.hooks.queueLocks !== undefined && this.messageModel === 'CLUSTERING';
  }

  /**
   * Removes a queue given away; false when it has to be tried again later. It stays in
   * pendingRemovals until then, so its offset is still committed (offsetQueues) while it goes.
   */
  private async removeQueue(key: string, entry: ProcessQueueEntry): Promise<boolean> {
    entry.pq.dropped = true;
    this.pendingRemovals.set(key, entry);
    this.processQueueTable.delete(key);
    const done = (await this.hooks.onQueueRemoved(entry.mq, entry.pq)) !== false;
    if (done) this.pendingRemovals.delete(key);
    return done;
  }

  /** Drops queues of `topic` not in `mqSet`, adds the new ones. */
  async updateProcessQueueTableInRebalance(topic: string, mqSet: readonly MessageQueue[]): Promise<boolean> {
    let changed = false;
    const wanted = new Map(mqSet.map((mq) => [mqKey(mq), mq]));
    for (const [key, entry] of [...this.pendingRemovals]) {
      if (entry.mq.topic === topic && (await this.removeQueue(key, entry))) changed = true;
    }
    for (const [key, entry] of [...this.processQueueTable]) {
      if (entry.mq.topic !== topic) continue;
      const expired = this.hooks.dropPullExpired && this.messageModel === 'CLUSTERING' && entry.pq.isPullExpired();
      if (!wanted.has(key) || expired) {
        if (expired) this.logger.warn(`${key} was not pulled for a long time; dropping it to pull afresh`);
        await this.removeQueue(key, entry);
        changed = true;
      }
    }
    if (this.locking) return (await this.addLockedQueues(wanted)) || changed;
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

  /**
   * Orderly: locks the wanted queues not owned yet (one LOCK_BATCH_MQ per broker), then adds them
   * all, locked or not; an unlocked one is pulled once a later lock succeeds. A queue whose removal
   * is pending is not taken again until that removal is done.
   */
  private async addLockedQueues(wanted: Map<string, MessageQueue>): Promise<boolean> {
    const fresh = [...wanted].filter(([key]) => !this.processQueueTable.has(key) && !this.pendingRemovals.has(key));
    if (fresh.length === 0) return false;
    const { held } = await this.lockBatch(fresh.map(([, mq]) => mq));
    for (const [key, mq] of fresh) {
      if (this.processQueueTable.has(key)) continue;
      const pq = new ProcessQueue();
      const lockedAt = held.get(key);
      if (lockedAt !== undefined) {
        pq.locked = true;
        pq.lastLockTimestampMs = lockedAt;
      } else {
        this.logger.info(`doRebalance, ${this.consumerGroup}, ${key} is locked by another client; it will be pulled once locked`);
      }
      this.processQueueTable.set(key, { mq, pq });
      this.hooks.onQueueAdded(mq, pq, -1);
    }
    return true;
  }

  /**
   * LOCK_BATCH_MQ for `mqs` at each broker's master. Marks owned, not dropped ProcessQueues of the
   * queues held as locked. Returns the keys held, each with the time its request was sent (what the
   * lock's age is measured from), and the keys whose broker answered.
   */
  private async lockBatch(mqs: readonly MessageQueue[]): Promise<{ held: Map<string, number>; answered: Set<string> }> {
    const held = new Map<string, number>();
    const answered = new Set<string>();
    const locks = this.hooks.queueLocks;
    if (locks === undefined || mqs.length === 0) return { held, answered };
    await Promise.all(
      [...groupByBroker(mqs)].map(async ([brokerName, list]) => {
        for (let i = 0; i < list.length; i += MAX_LOCK_BATCH_MQS) {
          const chunk = list.slice(i, i + MAX_LOCK_BATCH_MQS);
          const sentAt = Date.now();
          let ok: MessageQueue[];
          try {
            ok = await locks.lockBatch(brokerName, chunk);
          } catch (error) {
            this.logger.warn(`lockBatchMQ of ${this.consumerGroup} at ${brokerName} failed: ${errorText(error)}`);
            continue;
          }
          for (const mq of chunk) answered.add(mqKey(mq));
          for (const mq of ok) {
            const key = mqKey(mq);
            held.set(key, sentAt);
            const entry = this.processQueueTable.get(key);
            if (entry !== undefined && !entry.pq.dropped) {
              entry.pq.locked = true;
              entry.pq.lastLockTimestampMs = sentAt;
            }
          }
        }
      }),
    );
    return { held, answered };
  }

  /** Locks one owned queue (its pull loop or consumer waits for it); true when held now. */
  async lock(mq: MessageQueue): Promise<boolean> {
    const entry = this.processQueueTable.get(mqKey(mq));
    if (entry === undefined || entry.pq.dropped) return false; // never lock a queue we gave away
    const { held } = await this.lockBatch([mq]);
    return held.has(mqKey(mq));
  }

  /** Renews the locks of every owned queue (RebalanceImpl.lockAll); queues refused are marked unlocked. */
  async lockAll(): Promise<void> {
    if (!this.locking) return;
    const entries = [...this.processQueueTable.values()].filter((e) => !e.pq.dropped);
    const { held, answered } = await this.lockBatch(entries.map((e) => e.mq));
    for (const { mq, pq } of entries) {
      const key = mqKey(mq);
      if (answered.has(key) && !held.has(key) && pq.locked) {
        this.logger.warn(`the message queue ${key} lock failed, group: ${this.consumerGroup}`);
        pq.locked = false;
      }
    }
  }

  /** UNLOCK_BATCH_MQ for `mqs` (queues given away, or all at shutdown); errors are logged. */
  async unlock(mqs: readonly MessageQueue[], oneway: boolean): Promise<void> {
    const locks = this.hooks.queueLocks;
    if (locks === undefined || !this.locking || mqs.length === 0) return;
    await Promise.all(
      [...groupByBroker(mqs)].map(async ([brokerName, list]) => {
        for (let i = 0; i < list.length; i += MAX_LOCK_BATCH_MQS) {
          const chunk = list.slice(i, i + MAX_LOCK_BATCH_MQS);
          try {
            await locks.unlockBatch(brokerName, chunk, oneway);
          } catch (error) {
            this.logger.warn(`unlockBatchMQ of ${this.consumerGroup} at ${brokerName} failed: ${errorText(error)}`);
          }
          for (const mq of chunk) {
            const entry = this.processQueueTable.get(mqKey(mq)) ?? this.pendingRemovals.get(mqKey(mq));
            if (entry !== undefined) entry.pq.locked = false;
          }
        }
      }),
    );
  }

  /** Drops queues of topics no longer subscribed. */
  private async truncateMessageQueueNotMyTopic(): Promise<boolean> {
    let changed = false;
    for (const [key, entry] of [...this.pendingRemovals]) {
      if (!this.subscriptionInner.has(entry.mq.topic) && (await this.removeQueue(key, entry))) changed = true;
    }
    for (const [key, entry] of [...this.processQueueTable]) {
      if (this.subscriptionInner.has(entry.mq.topic)) continue;
      await this.removeQueue(key, entry);
      changed = true;
    }
    return changed;
  }

  /** Queues owned now, each with its ProcessQueue. */
  ownedEntries(): ProcessQueueEntry[] {
    return [...this.processQueueTable.values()];
  }

  /** Queues owned now. */
  ownedQueues(): MessageQueue[] {
    return [...this.processQueueTable.values()].map((e) => e.mq);
  }

  /** Queues whose offsets are still ours to commit: those owned and those being given away. */
  offsetQueues(): MessageQueue[] {
    return [...this.processQueueTable.values(), ...this.pendingRemovals.values()].map((e) => e.mq);
  }

  /**
   * Forgets owned queues without the removal hook (an offset reset): they are marked dropped, so
   * nothing still in flight moves their offsets, and the next round takes them again from the
   * offsets the caller stored. Orderly locks stay held; the next round renews them.
   */
  forget(mqs: readonly MessageQueue[]): ProcessQueueEntry[] {
    const out: ProcessQueueEntry[] = [];
    for (const mq of mqs) {
      const key = mqKey(mq);
      const entry = this.processQueueTable.get(key);
      if (entry === undefined) continue;
      entry.pq.dropped = true;
      entry.pq.offsetReset = true;
      this.processQueueTable.delete(key);
      out.push(entry);
    }
    return out;
  }

  /** Marks every queue dropped (shutdown); returns them, those whose removal is pending included. */
  dropAll(): ProcessQueueEntry[] {
    const entries = [...this.processQueueTable.values(), ...this.pendingRemovals.values()];
    for (const entry of entries) entry.pq.dropped = true;
    return entries;
  }
}

function groupByBroker(mqs: readonly MessageQueue[]): Map<string, MessageQueue[]> {
  const out = new Map<string, MessageQueue[]>();
  for (const mq of mqs) {
    let list = out.get(mq.brokerName);
    if (list === undefined) out.set(mq.brokerName, (list = []));
    list.push(mq);
  }
  return out;
}
