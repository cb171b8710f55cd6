// RebalanceLockManager (facts §7.5): which client of a consumer group holds each queue, for orderly
// consumption. An orderly consumer locks the queues rebalance gave it (LOCK_BATCH_MQ) before it
// pulls them, re-locks every 20 s, and unlocks a queue (UNLOCK_BATCH_MQ) once it has committed its
// offset there; the next owner can then take it. A lock not renewed for rebalanceLockMaxLiveTimeMs
// (60 s, RocketMQ's rocketmq.broker.rebalance.lockMaxLiveTime) is free for anyone, so a crashed
// client blocks its queues for at most that long. The table lives in memory only, as in RocketMQ:
// after a restart every lock is free and the clients' next re-lock takes them again.

/** A queue as LOCK_BATCH_MQ names it (MessageQueue JSON). */
export interface LockQueue {
  readonly topic: string;
  readonly brokerName: string;
  readonly queueId: number;
}

/** Queues one LOCK_BATCH_MQ or UNLOCK_BATCH_MQ may name. */
export const MAX_LOCK_BATCH_MQS = 4096;
/** Consumer groups holding locks at once. */
export const MAX_LOCK_GROUPS = 16_384;
/** Locks one group may hold at once. */
export const MAX_LOCKS_PER_GROUP = 65_536;

interface LockEntry {
  clientId: string;
  lastUpdateMs: number;
}

/** A lock request the table cannot take (too many groups or locks); the processor's remark says which. */
export class LockTableFullError extends RangeError {
  override readonly name = 'LockTableFullError';
}

const keyOf = (mq: LockQueue) => `${mq.topic}@${mq.brokerName}@${mq.queueId}`;

export class RebalanceLockManager {
  /** group → queue key → holder. */
  private readonly table = new Map<string, Map<string, LockEntry>>();

  /**
   * @param maxLiveTimeMs read at every call, so a live config update applies at once
   * @param now the clock (tests)
   */
  constructor(
    private readonly maxLiveTimeMs: () => number,
    private readonly now: () => number = Date.now,
  ) {}

  private expired(entry: LockEntry, nowMs: number): boolean {
    return nowMs - entry.lastUpdateMs > Math.max(1, this.maxLiveTimeMs());
  }

  /**
   * Locks `mqs` for `clientId` where it can: its own locks are renewed, free and expired ones are
   * taken, a live lock of another client is left alone. Returns the queues `clientId` now holds
   * (each once). Throws LockTableFullError when a new group or lock would pass the table's bounds.
   */
  tryLockBatch(group: string, mqs: readonly LockQueue[], clientId: string): LockQueue[] {
    if (mqs.length > MAX_LOCK_BATCH_MQS) throw new LockTableFullError(`a lock request may name at most ${MAX_LOCK_BATCH_MQS} queues, got ${mqs.length}`);
    const nowMs = this.now();
    let locks = this.table.get(group);
    if (locks === undefined) {
      if (mqs.length === 0) return [];
      if (this.table.size >= MAX_LOCK_GROUPS) this.sweepExpired(nowMs);
      if (this.table.size >= MAX_LOCK_GROUPS) throw new LockTableFullError(`queue locks are held by ${MAX_LOCK_GROUPS} groups already`);
      locks = new Map();
      this.table.set(group, locks);
    }
    const held = new Map<string, LockQueue>();
    for (const mq of mqs) {
      const key = keyOf(mq);
      if (held.has(key)) continue;
      const entry = locks.get(key);
      if (entry === undefined) {
        if (locks.size >= MAX_LOCKS_PER_GROUP) this.sweepGroup(locks, nowMs);
        if (locks.size >= MAX_LOCKS_PER_GROUP) throw new LockTableFullError(`group ${group} holds ${MAX_LOCKS_PER_GROUP} queue locks already`);
        locks.set(key, { clientId, lastUpdateMs: nowMs });
      } else if (entry.clientId === clientId || this.expired(entry, nowMs)) {
        entry.clientId = clientId;
        entry.lastUpdateMs = nowMs;
      } else {
        continue; // another client's live lock
      }
      held.set(key, { topic: mq.topic, brokerName: mq.brokerName, queueId: mq.queueId });
    }
    if (locks.size === 0) this.table.delete(group);
    return [...held.values()];
  }

  /** Releases the locks of `mqs` that `clientId` holds; others' locks stay. */
  unlockBatch(group: string, mqs: readonly LockQueue[], clientId: string): void {
    const locks = this.table.get(group);
    if (locks === undefined) return;
    for (const mq of mqs) {
      const key = keyOf(mq);
      if (locks.get(key)?.clientId === clientId) locks.delete(key);
    }
    if (locks.size === 0) this.table.delete(group);
  }

  /** True when `clientId` holds a live lock on `mq`. */
  isLocked(group: string, mq: LockQueue, clientId: string): boolean {
    return this.holder(group, mq) === clientId;
  }

  /** The client holding a live lock on `mq`, if any. */
  holder(group: string, mq: LockQueue): string | undefined {
    const entry = this.table.get(group)?.get(keyOf(mq));
    return entry !== undefined && !this.expired(entry, this.now()) ? entry.clientId : undefined;
  }

  /** True when no client of `group` holds a live lock (RocketMQ's isLockAllExpired). */
  isLockAllExpired(group: string): boolean {
    const locks = this.table.get(group);
    if (locks === undefined) return true;
    const nowMs = this.now();
    for (const entry of locks.values()) if (!this.expired(entry, nowMs)) return false;
    return true;
  }

  /** Groups with at least one entry (live or not yet swept). */
  get groupCount(): number {
    return this.table.size;
  }

  private sweepGroup(locks: Map<string, LockEntry>, nowMs: number): void {
    for (const [key, entry] of locks) if (this.expired(entry, nowMs)) locks.delete(key);
  }

  private sweepExpired(nowMs: number): void {
    for (const [group, locks] of this.table) {
      this.sweepGroup(locks, nowMs);
      if (locks.size === 0) this.table.delete(group);
    }
  }
}
