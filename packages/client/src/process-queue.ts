// ProcessQueue: the messages of one owned queue that were pulled but are not consumed yet. The
// consumed offset of the queue is the lowest offset still in here (or one past the highest pulled
// when it is empty), so a slow message holds the committed offset back and nothing is skipped on
// a restart (at-least-once).
//
// Orderly consumption (ConsumeMessageOrderlyService) uses it differently: takeMessages() moves the
// lowest messages aside while the listener has them, commit() drops them and returns the offset
// after the highest one, makeMessageToConsumeAgain() puts them back at the head (suspend). The
// queue's broker lock (locked, lastLockTimestampMs) and consumeLock (one consuming task at a time,
// and rebalance waits on it before giving the queue away) live here too.
import { Mutex } from './async-util.js';
import type { MessageExt } from './message.js';

/** A queue untouched this long after its last pull is dropped by rebalance (ProcessQueue.isPullExpired). */
export const PULL_MAX_IDLE_MS = 120_000;
/**
 * The client treats its broker lock as expired this long after the lock request that last renewed
 * it was sent (rocketmq.client.rebalance.lockMaxLiveTime); the broker keeps it for 60 s, so the
 * client stops consuming well before another client can take the queue.
 */
export const REBALANCE_LOCK_MAX_LIVE_TIME_MS = 30_000;

export class ProcessQueue {
  /** Offset → message, in ascending offset order (pulls of one queue arrive in order). */
  private readonly messages = new Map<number, MessageExt>();
  /** Orderly: messages handed to the listener and not committed yet (consumingMsgOrderlyTreeMap). */
  private readonly consumingMessages = new Map<number, MessageExt>();
  private queueOffsetMax = -1;
  private bodyBytes = 0;
  /** Set when the queue is no longer ours (rebalance, shutdown, offset reset): its loop stops. */
  dropped = false;
  /** Set when an operator reset the queue's offset: consumption still running must not commit over it. */
  offsetReset = false;
  lastPullTimestampMs = Date.now();
  lastConsumeTimestampMs = Date.now();
  /** Orderly: this client holds the queue's lock on its broker (as of lastLockTimestampMs). */
  locked = false;
  /** Orderly: when the lock request that last succeeded was sent. */
  lastLockTimestampMs = 0;
  /** Orderly: held by the task consuming this queue, and by rebalance while it gives the queue away. */
  readonly consumeLock = new Mutex();
  /** Orderly: a consume task is scheduled or running for this queue (new pulls need not start one). */
  consuming = false;

  /** Messages held, including those the orderly listener has now. */
  get msgCount(): number {
    return this.messages.size + this.consumingMessages.size;
  }

  get msgSizeBytes(): number {
    return this.bodyBytes;
  }

  get maxOffset(): number {
    return this.queueOffsetMax;
  }

  /** Adds pulled messages; returns how many were new. */
  putMessages(msgs: readonly MessageExt[]): number {
    let added = 0;
    for (const msg of msgs) {
      if (this.messages.has(msg.queueOffset) || this.consumingMessages.has(msg.queueOffset)) continue;
      // Keep ascending order even if a pull returned an offset below what we hold (it should not).
      if (msg.queueOffset < this.queueOffsetMax) return added + this.putOutOfOrder(msgs.slice(msgs.indexOf(msg)));
      this.messages.set(msg.queueOffset, msg);
      this.bodyBytes += msg.body.length;
      this.queueOffsetMax = msg.queueOffset;
      added++;
    }
    return added;
  }

  private putOutOfOrder(rest: readonly MessageExt[]): number {
    let added = 0;
    const all = [...this.messages.values()];
    for (const msg of rest) {
      if (this.messages.has(msg.queueOffset) || this.consumingMessages.has(msg.queueOffset)) continue;
      all.push(msg);
      this.bodyBytes += msg.body.length;
      added++;
    }
    all.sort((a, b) => a.queueOffset - b.queueOffset);
    this.messages.clear();
    for (const msg of all) this.messages.set(msg.queueOffset, msg);
    this.queueOffsetMax = Math.max(this.queueOffsetMax, all[all.length - 1]?.queueOffset ?? -1);
    return added;
  }

  /**
   * Removes consumed messages and returns the offset to commit: the lowest offset still held, or
   * maxOffset + 1 when none is left; -1 when the queue held nothing to begin with.
   */
  removeMessages(msgs: readonly MessageExt[]): number {
    if (this.messages.size === 0) return -1;
    this.lastConsumeTimestampMs = Date.now();
    for (const msg of msgs) {
      const held = this.messages.get(msg.queueOffset);
      if (held !== undefined && this.messages.delete(msg.queueOffset)) this.bodyBytes -= held.body.length;
    }
    if (this.messages.size === 0) return this.queueOffsetMax + 1;
    return this.messages.keys().next().value!;
  }

  /**
   * Orderly: moves up to `batchSize` of the lowest waiting messages aside for the listener and
   * returns them in offset order. When none is waiting, clears `consuming` (the task ends) and
   * returns [].
   */
  takeMessages(batchSize: number): MessageExt[] {
    this.lastConsumeTimestampMs = Date.now();
    const taken: MessageExt[] = [];
    for (const [offset, msg] of this.messages) {
      if (taken.length >= batchSize) break;
      taken.push(msg);
      this.messages.delete(offset);
      this.consumingMessages.set(offset, msg);
    }
    if (taken.length === 0) this.consuming = false;
    return taken;
  }

  /**
   * Orderly: the messages taken are consumed. Returns the offset to commit (one past the highest
   * of them: everything below it is consumed), or -1 when none was taken.
   */
  commit(): number {
    if (this.consumingMessages.size === 0) return -1;
    let highest = -1;
    for (const [offset, msg] of this.consumingMessages) {
      if (offset > highest) highest = offset;
      this.bodyBytes -= msg.body.length;
    }
    this.consumingMessages.clear();
    return highest + 1;
  }

  /** Orderly: `msgs` (taken, not consumed) go back to the head, to be taken again first. */
  makeMessageToConsumeAgain(msgs: readonly MessageExt[]): void {
    const again: MessageExt[] = [];
    for (const msg of msgs) {
      const held = this.consumingMessages.get(msg.queueOffset);
      if (held === undefined) continue;
      this.consumingMessages.delete(msg.queueOffset);
      again.push(held);
    }
    if (again.length === 0) return;
    const all = [...again, ...this.messages.values()].sort((a, b) => a.queueOffset - b.queueOffset);
    this.messages.clear();
    for (const msg of all) this.messages.set(msg.queueOffset, msg);
  }

  /**
   * Orderly: true when the broker lock cannot be relied on any more: `lockMaxLiveTimeMs` passed
   * since the lock request that last succeeded was sent.
   */
  isLockExpired(nowMs: number = Date.now(), lockMaxLiveTimeMs: number = REBALANCE_LOCK_MAX_LIVE_TIME_MS): boolean {
    return nowMs - this.lastLockTimestampMs > lockMaxLiveTimeMs;
  }

  /** Drops everything (offset reset). */
  clear(): void {
    this.messages.clear();
    this.consumingMessages.clear();
    this.bodyBytes = 0;
    this.queueOffsetMax = -1;
  }

  /** The span between the lowest and highest held offsets (consumeConcurrentlyMaxSpan). */
  maxSpan(): number {
    if (this.messages.size === 0) return 0;
    return this.queueOffsetMax - this.messages.keys().next().value!;
  }

  isPullExpired(nowMs: number = Date.now()): boolean {
    return nowMs - this.lastPullTimestampMs > PULL_MAX_IDLE_MS;
  }
}
