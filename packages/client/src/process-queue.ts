// ProcessQueue: the messages of one owned queue that were pulled but are not consumed yet. The
// consumed offset of the queue is the lowest offset still in here (or one past the highest pulled
// when it is empty), so a slow message holds the committed offset back and nothing is skipped on
// a restart (at-least-once).
import type { MessageExt } from './message.js';

/** A queue untouched this long after its last pull is dropped by rebalance (ProcessQueue.isPullExpired). */
export const PULL_MAX_IDLE_MS = 120_000;

export class ProcessQueue {
  /** Offset → message, in ascending offset order (pulls of one queue arrive in order). */
  private readonly messages = new Map<number, MessageExt>();
  private queueOffsetMax = -1;
  private bodyBytes = 0;
  /** Set when the queue is no longer ours (rebalance, shutdown, offset reset): its loop stops. */
  dropped = false;
  lastPullTimestampMs = Date.now();
  lastConsumeTimestampMs = Date.now();

  get msgCount(): number {
    return this.messages.size;
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
      if (this.messages.has(msg.queueOffset)) continue;
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
      if (this.messages.has(msg.queueOffset)) continue;
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

  /** Drops everything (offset reset). */
  clear(): void {
    this.messages.clear();
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
