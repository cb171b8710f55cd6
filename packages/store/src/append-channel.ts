// The caller's end of the writer's rings. Messages are encoded once, straight into the shared ring
// (the body's only copy before the writer's copy into the map); requests published in the same tick
// share one commit and one wake-up of the writer. Completions come back by sequence number, since
// SYNC_FLUSH appends that wait for a sync finish after later appends that do not wait.
import { encodeStoredRecord, planRecord, type MessageToStore, type RecordPlan } from '@orbit/common';
import type { SpscRing } from '@orbit/runtime';
import { APPEND_HEADER_BYTES, AppendFlags, COMPLETION_BYTES, putStatusName, RequestType, type PutStatusName } from './append-protocol.js';
import { encodeQueueRegistration } from './ring-records.js';
import { StoreError } from './store-error.js';

export interface PutResult {
  status: PutStatusName;
  /** Physical offset of the first record. */
  physicalOffset: number;
  /** Queue offset of the first record (consecutive for a batch). */
  queueOffset: number;
  storeTimestamp: number;
  /** Records written (1, or the batch size). */
  count: number;
  wroteBytes: number;
  /** Size of each record in order, so callers can derive each record's physical offset. */
  recordSizes: number[];
}

interface PendingAppend {
  resolve: (r: PutResult) => void;
  reject: (e: Error) => void;
  recordSizes: number[];
}

interface BacklogEntry {
  messages: MessageToStore[];
  plans: RecordPlan[];
  waitStoreOk: boolean;
  pending: PendingAppend;
}

const COMPLETION_WAIT_MS = 1_000;
/** Appends encoded before the ring is published without waiting for the end of the tick. */
const COMMIT_EVERY_APPENDS = 8;
const SPACE_WAIT_MS = 100;

export class AppendChannel {
  private readonly slots = new Map<string, number>();
  private readonly pending = new Map<number, PendingAppend>();
  private backlog: BacklogEntry[] = [];
  private draining = false;
  private seq = 0;
  private commitScheduled = false;
  private uncommitted = 0;
  private closedError: Error | undefined;
  private completionLoop: Promise<void> | undefined;

  constructor(
    private readonly ring: SpscRing,
    private readonly completions: SpscRing,
    private readonly maxPendingAppends: number,
  ) {}

  get pendingCount(): number {
    return this.pending.size + this.backlog.length;
  }

  start(): void {
    this.completionLoop = this.readCompletions();
  }

  /** Appends messages of one (topic, queueId) as one request: consecutive queue offsets. */
  append(messages: MessageToStore[], waitStoreOk: boolean, plans: RecordPlan[] = messages.map(planRecord)): Promise<PutResult> {
    if (this.closedError) return Promise.reject(this.closedError);
    if (this.pendingCount >= this.maxPendingAppends) {
      return Promise.reject(new StoreError('SYSTEM_BUSY', `store busy: ${this.pendingCount} appends already waiting (maxPendingAppends ${this.maxPendingAppends})`));
    }
    return new Promise<PutResult>((resolve, reject) => {
      const pending: PendingAppend = { resolve, reject, recordSizes: plans.map((p) => p.sizeBytes) };
      const entry: BacklogEntry = { messages, plans, waitStoreOk, pending };
      if (this.backlog.length > 0 || !this.tryPublish(entry)) {
        this.backlog.push(entry);
        void this.drainBacklog();
      }
    });
  }

  private requestBytes(plans: RecordPlan[]): number {
    let total = APPEND_HEADER_BYTES;
    for (const p of plans) total += p.sizeBytes;
    return total;
  }

  /** Encodes one request into the ring; false when the ring has no room right now. */
  private tryPublish(entry: BacklogEntry): boolean {
    const { messages, plans } = entry;
    const first = messages[0]!;
    const totalBytes = this.requestBytes(plans);
    if (totalBytes > this.ring.maxRecordBytes) {
      entry.pending.reject(new StoreError('MESSAGE_ILLEGAL', `append of ${totalBytes} bytes is larger than the append ring allows (${this.ring.maxRecordBytes})`));
      return true;
    }
    const key = `${first.topic}\u0000${first.queueId}`;
    let slot = this.slots.get(key);
    if (slot === undefined) {
      const registration = encodeQueueRegistration(this.slots.size, first.topic, first.queueId);
      const at = this.ring.tryReserve(registration.length + 1);
      if (at < 0) return false;
      this.ring.bytes[at] = RequestType.REGISTER_QUEUE;
      this.ring.bytes.set(registration, at + 1);
      slot = this.slots.size;
      this.slots.set(key, slot);
    }
    const at = this.ring.tryReserve(totalBytes);
    if (at < 0) {
      this.scheduleCommit();
      return false;
    }
    const bytes = this.ring.bytes;
    const seq = (this.seq = (this.seq + 1) >>> 0);
    bytes[at] = RequestType.APPEND;
    bytes[at + 1] = entry.waitStoreOk ? AppendFlags.WAIT_STORE_OK : 0;
    bytes.writeUInt16LE(messages.length, at + 2);
    bytes.writeUInt32LE(slot, at + 4);
    bytes.writeUInt32LE(seq, at + 8);
    let p = at + APPEND_HEADER_BYTES;
    for (let i = 0; i < messages.length; i++) {
      p = encodeStoredRecord(bytes, p, messages[i]!, plans[i]!, PLACEHOLDER);
    }
    this.pending.set(seq, entry.pending);
    // Publish in small groups rather than once per tick, so the writer starts on the first appends
    // while later ones are still being encoded: the two threads overlap instead of taking turns.
    if (++this.uncommitted >= COMMIT_EVERY_APPENDS) {
      this.uncommitted = 0;
      this.ring.commit();
    } else this.scheduleCommit();
    return true;
  }

  private scheduleCommit(): void {
    if (this.commitScheduled) return;
    this.commitScheduled = true;
    queueMicrotask(() => {
      this.commitScheduled = false;
      this.uncommitted = 0;
      this.ring.commit();
    });
  }

  /** A full ring makes appends wait here, in order; nothing is dropped. */
  private async drainBacklog(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.backlog.length > 0 && !this.closedError) {
        const head = this.backlog[0]!;
        if (this.tryPublish(head)) {
          this.backlog.shift();
          continue;
        }
        this.ring.commit();
        await this.ring.waitForSpace(Math.min(this.requestBytes(head.plans) + 64, this.ring.maxRecordBytes), SPACE_WAIT_MS);
      }
    } finally {
      this.draining = false;
    }
  }

  private async readCompletions(): Promise<void> {
    const onCompletion = (bytes: Buffer, offset: number, length: number) => {
      if (length !== COMPLETION_BYTES) throw new Error(`invariant violated: completion of ${length} bytes`);
      const seq = bytes.readUInt32LE(offset + 4);
      const pending = this.pending.get(seq);
      if (!pending) throw new Error(`invariant violated: completion for unknown append ${seq}`);
      this.pending.delete(seq);
      pending.resolve({
        status: putStatusName(bytes[offset]!),
        count: bytes.readUInt16LE(offset + 2),
        wroteBytes: bytes.readUInt32LE(offset + 8),
        physicalOffset: bytes.readDoubleLE(offset + 16),
        queueOffset: bytes.readDoubleLE(offset + 24),
        storeTimestamp: bytes.readDoubleLE(offset + 32),
        recordSizes: pending.recordSizes,
      });
    };
    while (!this.closedError) {
      const n = this.completions.poll(onCompletion);
      if (n > 0) continue;
      if (this.completions.isClosed) break;
      if (this.pending.size === 0 && this.backlog.length === 0 && this.stopWhenIdle) break;
      await this.completions.waitForData(COMPLETION_WAIT_MS);
    }
  }
  private stopWhenIdle = false;

  /** Waits until every published append is answered, then stops reading completions. */
  async drain(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((this.pending.size > 0 || this.backlog.length > 0) && Date.now() < deadline && !this.closedError) {
      await new Promise((r) => setTimeout(r, 5));
    }
    this.stopWhenIdle = true;
  }

  /** Fails every append still waiting (the writer thread died or the store is closing). */
  failAll(error: Error): void {
    this.closedError ??= error;
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
    for (const b of this.backlog) b.pending.reject(error);
    this.backlog = [];
    this.completions.close();
  }
}

const PLACEHOLDER = { queueOffset: 0, physicalOffset: 0, storeTimestamp: 0, bodyCrc: 0 };
