// SYNC_MASTER's wait for slaves, on the caller's thread. The HA thread publishes the highest offset a
// slave acknowledged and bumps a sequence word; one loop sleeps on that word (Atomics.waitAsync, never
// a blocking wait here) and releases every waiting append at or below the acknowledged offset. So a
// thousand sends in flight cost one wake-up per acknowledgement, not one round trip each.
import type { SharedStoreState } from './shared-state.js';

export type ReplicationOutcome = 'ok' | 'timeout' | 'slave-not-available';

interface Waiter {
  endOffset: number;
  deadlineMs: number;
  resolve: (outcome: ReplicationOutcome) => void;
}

/** How often the loop wakes without an acknowledgement, to expire deadlines. */
const DEADLINE_CHECK_MS = 50;

export class ReplicationWaiter {
  private waiters: Waiter[] = [];
  private looping = false;
  private closed = false;

  constructor(
    private readonly shared: SharedStoreState,
    private readonly slaveFallbehindMaxBytes: number,
    /** Appends allowed to wait at once; past it a send is answered SLAVE_NOT_AVAILABLE. */
    private readonly maxWaiters: number,
  ) {}

  get waiting(): number {
    return this.waiters.length;
  }

  /**
   * A slave is usable when one is connected and it is not further behind than the limit (RocketMQ
   * 4.x isSlaveOK). Otherwise the send is answered SLAVE_NOT_AVAILABLE at once, without waiting.
   */
  slaveOk(): boolean {
    if (this.shared.haConnectedSlaves === 0) return false;
    return this.shared.writtenOffset - this.shared.haAckOffset < this.slaveFallbehindMaxBytes;
  }

  waitFor(endOffset: number, timeoutMs: number): Promise<ReplicationOutcome> {
    if (this.closed) return Promise.resolve('slave-not-available');
    if (this.shared.haConnectedSlaves > 0 && this.shared.haAckOffset >= endOffset) return Promise.resolve('ok');
    if (!this.slaveOk()) return Promise.resolve('slave-not-available');
    if (this.waiters.length >= this.maxWaiters) return Promise.resolve('slave-not-available');
    return new Promise((resolve) => {
      this.waiters.push({ endOffset, deadlineMs: Date.now() + timeoutMs, resolve });
      if (!this.looping) void this.loop();
    });
  }

  private async loop(): Promise<void> {
    this.looping = true;
    try {
      while (this.waiters.length > 0 && !this.closed) {
        const seq = this.shared.haAckSeq;
        this.release();
        if (this.waiters.length === 0) break;
        const wait = this.shared.waitHaAckSeqAsync(seq, DEADLINE_CHECK_MS);
        if (wait) await wait;
      }
    } finally {
      this.looping = false;
    }
    if (this.closed) this.failAll();
  }

  private release(): void {
    const ack = this.shared.haAckOffset;
    const connected = this.shared.haConnectedSlaves > 0;
    const now = Date.now();
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      if (connected && ack >= w.endOffset) w.resolve('ok');
      else if (now >= w.deadlineMs) w.resolve('timeout');
      else still.push(w);
    }
    this.waiters = still;
  }

  private failAll(): void {
    const all = this.waiters;
    this.waiters = [];
    for (const w of all) w.resolve('timeout');
  }

  close(): void {
    this.closed = true;
    this.failAll();
  }
}
