// The commit-log writer: an actor on a thread of its own. It is the one place that orders the log
// and every queue: requests arrive through a shared-memory ring already encoded as stored records;
// the writer copies each into the mapped segment, assigns the physical offset, the per-queue offset
// and the store time, computes the body CRC, publishes the new end for readers, and answers through
// a completion ring. Durability is a group commit: one fdatasync covers every append written before
// it started, and appends keep being written while it runs.
import { existsSync, mkdirSync, rmSync, statfsSync, statSync, utimesSync } from 'node:fs';
import { SpscRing, type ActorContext } from '@orbit/runtime';
import { MessageMagic, RecordField, stampBodyCrc, stampRecord, transactionType, SysFlag, MIN_RECORD_BYTES, storeTimestampOffset } from '@orbit/common';
import { HaClient, type HaClientStats, type ReplicaLog } from './ha-client.js';
import {
  APPEND_HEADER_BYTES,
  AppendFlags,
  COMPLETION_BYTES,
  PutStatus,
  RequestType,
  writeCompletion,
} from './append-protocol.js';
import { EMPTY_CHECKPOINT, readCheckpoint, writeCheckpoint, writeCheckpointAsync, type Checkpoint } from './checkpoint.js';
import { recoverCommitLog, type CommitLogRecovery } from './commit-log-recovery.js';
import { MappedFile } from './mapped-file.js';
import { SegmentFiller } from './segment-filler.js';
import { QueueRegistration } from './ring-records.js';
import { SharedStoreState, StoreState } from './shared-state.js';
import { StorePaths, type MessageStoreConfig } from './store-config.js';

export interface WriterInit {
  config: MessageStoreConfig;
  sharedState: SharedArrayBuffer;
  appendRing: SharedArrayBuffer;
  completionRing: SharedArrayBuffer;
  dispatcherCount: number;
  crashed: boolean;
}

export interface WriterStats {
  writtenOffset: number;
  flushedOffset: number;
  minPhysicalOffset: number;
  appends: number;
  messages: number;
  bytes: number;
  flushes: number;
  flushTimeouts: number;
  segmentRolls: number;
  segmentsPrepared: number;
  preparationFailures: number;
  pendingSyncAppends: number;
  lastError?: string;
}

interface QueueCursor {
  nextOffset: number;
}

interface PendingSync {
  seq: number;
  endOffset: number;
  deadlineMs: number;
  count: number;
  wroteBytes: number;
  physicalOffset: number;
  queueOffset: number;
  storeTimestamp: number;
}

const MAX_REQUESTS_PER_POLL = 512;
const IDLE_WAIT_MS = 200;
/** After a request, how long the writer keeps to short blocking sleeps. */
const BUSY_WINDOW_MS = 50;
const BUSY_SLEEP_SLICE_MS = 1;
/** Completions written before the completion ring is published mid-batch. */
const COMMIT_EVERY_COMPLETIONS = 8;
const CHECKPOINT_INTERVAL_MS = 1_000;
/** SYNC_FLUSH's staging buffer: records stamped here reach the file in one pwrite per batch. */
const STAGE_BYTES = 4 * 1024 * 1024;
/** Largest group commit synced on the writer's own thread (about 8 ms of disk here). */
const BLOCKING_SYNC_MAX_BYTES = 2 * 1024 * 1024;
const MAX_DELETES_PER_RUN = 10;
const HOUR_MS = 3_600_000;

export class CommitLogWriter implements ReplicaLog {
  private readonly config: MessageStoreConfig;
  private readonly dir: string;
  private readonly shared: SharedStoreState;
  private readonly appendRing: SpscRing;
  private readonly completionRing: SpscRing;
  private readonly segmentSize: number;

  private current: MappedFile | undefined;
  /** Write position inside `current`. */
  private position = 0;
  private writtenOffset = 0;
  private lastStoreTimestamp = 0;
  private readonly segments: number[] = [];
  /** The segment after `current`, prepared ahead so no append waits on a fresh file. */
  private next: PreparedSegment | undefined;
  /** And the one after that (as RocketMQ's allocator does): filled while the CPU is otherwise idle,
   *  so the filling rarely lands in the middle of a burst or of the reads that follow it. */
  private nextNext: PreparedSegment | undefined;

  private readonly queueTable = new Map<string, QueueCursor>();
  private readonly slots: (QueueCursor | undefined)[] = [];

  private readonly dirty = new Set<MappedFile>();
  private flushing = false;
  private flushedOffset = 0;
  private lastThoroughFlushMs = Date.now();
  private lastCheckpointMs = 0;
  private pendingSync: PendingSync[] = [];
  private pendingSyncHead = 0;
  /** Completions that did not fit the completion ring yet; drained first next time. */
  private overflow: Buffer[] = [];
  /** Requests polled while the next segment was not ready, kept in order. */
  private stalled: Buffer[] = [];

  private running = false;
  private loopDone: Promise<void> | undefined;
  private timers: NodeJS.Timeout[] = [];
  private readonly stats: WriterStats = {
    writtenOffset: 0,
    flushedOffset: 0,
    minPhysicalOffset: 0,
    appends: 0,
    messages: 0,
    bytes: 0,
    flushes: 0,
    flushTimeouts: 0,
    segmentRolls: 0,
    segmentsPrepared: 0,
    preparationFailures: 0,
    pendingSyncAppends: 0,
  };

  constructor(private readonly init: WriterInit) {
    this.config = init.config;
    this.dir = StorePaths.commitLog(this.config);
    this.segmentSize = this.config.mappedFileSizeCommitLog;
    this.shared = new SharedStoreState(init.sharedState);
    this.appendRing = SpscRing.attach(init.appendRing);
    this.completionRing = SpscRing.attach(init.completionRing);
    // SYNC_FLUSH writes records through the descriptor, not the mapping (readers still read the
    // mapping: both are the same page-cache pages). fdatasync of pages dirtied through a mapping
    // must find and write-protect every mapped page, and the next write to each faults again:
    // here a 36 KiB group commit took ~200 µs that way against ~100 µs after a pwrite.
    // ASYNC_FLUSH keeps the mapped copy, which was ~5 % faster for it.
    if (this.config.flushDiskType === 'SYNC_FLUSH') this.stage = Buffer.alloc(STAGE_BYTES);
  }

  /** Step 1 of opening: find the end of the log (scanning only after a crash). */
  recover(): CommitLogRecovery & { checkpoint: Checkpoint } {
    mkdirSync(this.dir, { recursive: true });
    const checkpoint = readCheckpoint(StorePaths.checkpoint(this.config));
    const result = recoverCommitLog(this.dir, this.segmentSize, checkpoint, this.init.crashed, this.config.checkCRCOnRecover);
    this.segments.push(...result.segments);
    this.writtenOffset = result.writtenOffset;
    this.flushedOffset = result.writtenOffset;
    this.lastStoreTimestamp = result.lastStoreTimestamp;
    const minPhysical = this.segments.length > 0 ? this.segments[0]! : 0;
    this.shared.minPhysicalOffset = Math.min(minPhysical, this.writtenOffset);
    this.shared.flushedOffset = this.writtenOffset;
    this.shared.lastStoreTimestamp = this.lastStoreTimestamp;
    this.shared.publishWritten(this.writtenOffset);
    const effective = checkpoint ?? EMPTY_CHECKPOINT;
    // From here on the checkpoint says "running": a crash from now on is recognised as one.
    writeCheckpoint(StorePaths.checkpoint(this.config), { ...effective, flushedOffset: this.writtenOffset, dispatchFlushedOffset: Math.min(effective.dispatchFlushedOffset, this.writtenOffset), shutdownWrittenOffset: -1 });
    return { ...result, checkpoint: effective };
  }

  /** Step 2: with every queue's next offset known (from the rebuilt consume queues), accept appends. */
  async start(queueOffsets: [topic: string, queueId: number, nextOffset: number][]): Promise<void> {
    for (const [topic, queueId, nextOffset] of queueOffsets) {
      const key = queueKey(topic, queueId);
      const cursor = this.queueTable.get(key);
      if (!cursor || cursor.nextOffset < nextOffset) this.queueTable.set(key, { nextOffset });
    }
    await this.openSegmentFor(this.writtenOffset);
    this.running = true;
    this.timers.push(setInterval(() => this.onFlushTimer(), Math.max(10, this.config.flushIntervalCommitLog)));
    this.timers.push(setInterval(() => this.expireSyncWaiters(), 50));
    this.timers.push(setInterval(() => void this.cleanExpiredFiles({}).catch((e) => this.fail(e)), this.config.cleanResourceInterval));
    this.checkDiskSpace();
    this.loopDone = this.loop();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      if (this.stalled.length > 0) {
        await this.resumeStalled();
        continue;
      }
      const handled = this.appendRing.poll((bytes, offset, length) => this.onRequest(bytes, offset, length), MAX_REQUESTS_PER_POLL);
      if (handled > 0) {
        this.lastRequestMs = performance.now();
        this.afterBatch();
        continue;
      }
      if (this.appendRing.isClosed) break;
      // While requests keep coming, sleep in short blocking slices: a blocked Atomics.wait is woken
      // by a plain futex wake, much cheaper for the caller than waking a waitAsync (a lock and a
      // posted task). Between slices the event loop runs (fdatasync callbacks, timers). After a quiet
      // spell the writer sleeps on waitAsync instead, so an idle store costs nothing.
      // Never while a sync is in flight: its completion callback must run the moment it arrives.
      if (!this.flushing && performance.now() - this.lastRequestMs < BUSY_WINDOW_MS) {
        this.appendRing.waitForDataSync(BUSY_SLEEP_SLICE_MS);
        await yieldToEventLoop();
      } else {
        await this.appendRing.waitForData(IDLE_WAIT_MS);
      }
    }
    this.afterBatch();
  }

  private onRequest(bytes: Buffer, offset: number, length: number): void {
    if (this.stalled.length > 0) {
      this.stalled.push(Buffer.from(bytes.subarray(offset, offset + length)));
      return;
    }
    const type = bytes[offset];
    if (type === RequestType.REGISTER_QUEUE) {
      const reg = QueueRegistration.fromBytes(bytes.subarray(offset + 1, offset + length));
      const key = queueKey(reg.topic(), reg.queueId());
      let cursor = this.queueTable.get(key);
      if (!cursor) {
        cursor = { nextOffset: 0 };
        this.queueTable.set(key, cursor);
      }
      this.slots[reg.slot()] = cursor;
      return;
    }
    if (type !== RequestType.APPEND) throw new Error(`invariant violated: unknown request type ${type}`);
    if (!this.appendOne(bytes, offset, length)) {
      this.stalled.push(Buffer.from(bytes.subarray(offset, offset + length)));
    }
  }

  /**
   * Writes one APPEND request. Returns false when it needs the next segment and that is still being
   * prepared: the caller keeps the request and retries once it is ready.
   */
  private appendOne(bytes: Buffer, offset: number, length: number): boolean {
    const flags = bytes[offset + 1]!;
    const count = bytes.readUInt16LE(offset + 2);
    const slot = bytes.readUInt32LE(offset + 4);
    const seq = bytes.readUInt32LE(offset + 8);
    const recordsStart = offset + APPEND_HEADER_BYTES;
    const totalBytes = length - APPEND_HEADER_BYTES;
    const cursor = this.slots[slot];
    if (!cursor || count === 0) {
      this.complete(PutStatus.UNKNOWN_ERROR, seq, count, 0, -1, -1, 0);
      return true;
    }
    if (this.shared.diskFull) {
      this.complete(PutStatus.SERVICE_NOT_AVAILABLE, seq, count, 0, -1, -1, 0);
      return true;
    }
    if (totalBytes + 8 > this.segmentSize) {
      this.complete(PutStatus.MESSAGE_ILLEGAL, seq, count, 0, -1, -1, 0);
      return true;
    }
    // Records never span segments: when this request and an 8-byte end marker do not fit, the rest
    // of the segment becomes a BLANK marker and the log rolls to the prepared next segment.
    if (this.position + totalBytes + 8 > this.segmentSize) {
      if (!this.next || !this.next.done) return false;
      if (this.next.failed) {
        this.complete(PutStatus.CREATE_MAPPED_FILE_FAILED, seq, count, 0, -1, -1, 0);
        this.retryNext(this.next.start); // try again for later appends
        return true;
      }
      this.rollSegment();
    }
    const segmentStart = this.current!.startOffset;
    // Where the records are stamped: the staging buffer (written to the file in one pwrite per
    // batch) or the mapping itself. `base` is the index in `dst` of segment position this.position.
    let dst: Buffer;
    let base: number;
    const fitsStage = this.stage !== undefined && totalBytes <= this.stage.length;
    if (!fitsStage || this.stageLength + totalBytes > this.stage!.length) this.writeStaged();
    if (fitsStage) {
      if (this.stageLength === 0) this.stagePosition = this.position;
      dst = this.stage!;
      base = this.stageLength;
    } else {
      dst = this.current!.map;
      base = this.position;
    }
    bytes.copy(dst, base, recordsStart, recordsStart + totalBytes);
    let storeTimestamp = Date.now();
    if (storeTimestamp < this.lastStoreTimestamp) storeTimestamp = this.lastStoreTimestamp; // never decreases
    const firstPhysical = segmentStart + this.position;
    const physicalDelta = segmentStart + this.position - base;
    let firstQueueOffset = -1;
    let at = base;
    const end = base + totalBytes;
    for (let i = 0; i < count; i++) {
      const size = dst.readInt32BE(at);
      if (size < MIN_RECORD_BYTES || at + size > end || !isMessageMagic(dst.readInt32BE(at + 4))) {
        // The caller encodes these; a bad one means a bug, and nothing past `position` is published.
        dst.fill(0, base, end);
        this.complete(PutStatus.MESSAGE_ILLEGAL, seq, count, 0, -1, -1, 0);
        return true;
      }
      const tranType = transactionType(dst.readInt32BE(at + RecordField.SYSFLAG));
      // Prepared and rolled-back transaction records take no queue offset (RocketMQ writes 0).
      const noQueueSlot = tranType === SysFlag.TRANSACTION_PREPARED_TYPE || tranType === SysFlag.TRANSACTION_ROLLBACK_TYPE;
      const queueOffset = noQueueSlot ? 0 : cursor.nextOffset++;
      if (i === 0) firstQueueOffset = queueOffset;
      stampRecord(dst, at, queueOffset, physicalDelta + at, storeTimestamp);
      stampBodyCrc(dst, at);
      at += size;
    }
    if (at !== end) throw new Error(`invariant violated: records add up to ${at - base}, request carried ${totalBytes}`);
    if (dst === this.stage) this.stageLength += totalBytes;
    this.position += totalBytes;
    this.writtenOffset = segmentStart + this.position;
    this.lastStoreTimestamp = storeTimestamp;
    this.dirty.add(this.current!);
    this.stats.appends++;
    this.stats.messages += count;
    this.stats.bytes += totalBytes;
    const waits = this.config.flushDiskType === 'SYNC_FLUSH' && (flags & AppendFlags.WAIT_STORE_OK) !== 0;
    if (waits) {
      this.pendingSync.push({
        seq,
        endOffset: this.writtenOffset,
        deadlineMs: storeTimestamp + this.config.syncFlushTimeout,
        count,
        wroteBytes: totalBytes,
        physicalOffset: firstPhysical,
        queueOffset: firstQueueOffset,
        storeTimestamp,
      });
    } else {
      this.complete(PutStatus.PUT_OK, seq, count, totalBytes, firstPhysical, firstQueueOffset, storeTimestamp);
      // Answer in small groups so the caller can resume early appenders while later ones are written.
      if (++this.uncommittedCompletions >= COMMIT_EVERY_COMPLETIONS) {
        this.uncommittedCompletions = 0;
        // Readers must see the record before its caller hears it was stored: publish the new end
        // of the log first (invariant: a completed append is always readable).
        this.publishWrittenOffset();
        this.completionRing.commit();
      }
    }
    return true;
  }
  private uncommittedCompletions = 0;
  private lastRequestMs = 0;

  private stage: Buffer | undefined;
  private stageLength = 0;
  private stagePosition = 0;

  /**
   * Writes the staged records to the current segment's file, before anything publishes or completes
   * them. A failed write throws: out of the writer's loop it ends the writer thread, whose pending
   * appends then fail with WRITER_CRASHED (never a PUT_OK for bytes that are not in the file); in
   * flush() it fails the store.
   */
  private writeStaged(): void {
    if (this.stageLength === 0) return;
    this.current!.writeThrough(this.stage!, 0, this.stageLength, this.stagePosition);
    this.stageLength = 0;
  }

  private publishWrittenOffset(): void {
    this.writeStaged();
    if (this.publishedOffset === this.writtenOffset) return;
    this.publishedOffset = this.writtenOffset;
    this.shared.lastStoreTimestamp = this.lastStoreTimestamp;
    this.shared.publishWritten(this.writtenOffset);
  }
  private publishedOffset = -1;

  private afterBatch(): void {
    this.publishWrittenOffset();
    if (this.pendingSync.length > this.pendingSyncHead) {
      // A small group commit syncs right here on the writer's thread: the libuv pool's round trip
      // (~80 µs here) would be added to every SYNC_FLUSH append, and the ring keeps taking appends
      // meanwhile. A large one (after a burst of appends that do not wait) goes to the pool.
      if (!this.flushing && this.writtenOffset - this.flushedOffset <= BLOCKING_SYNC_MAX_BYTES) this.flushBlocking();
      else void this.flush();
    }
    this.drainOverflow();
    this.completionRing.commit();
  }

  private complete(status: number, seq: number, count: number, wroteBytes: number, physicalOffset: number, queueOffset: number, storeTimestamp: number): void {
    if (this.overflow.length === 0) {
      const at = this.completionRing.tryReserve(COMPLETION_BYTES);
      if (at >= 0) {
        writeCompletion(this.completionRing.bytes, at, status, seq, count, wroteBytes, physicalOffset, queueOffset, storeTimestamp);
        return;
      }
    }
    const buf = Buffer.alloc(COMPLETION_BYTES);
    writeCompletion(buf, 0, status, seq, count, wroteBytes, physicalOffset, queueOffset, storeTimestamp);
    this.overflow.push(buf);
  }

  private drainOverflow(): void {
    let i = 0;
    for (; i < this.overflow.length; i++) {
      const at = this.completionRing.tryReserve(COMPLETION_BYTES);
      if (at < 0) break;
      this.overflow[i]!.copy(this.completionRing.bytes, at);
    }
    if (i > 0) this.overflow.splice(0, i);
    if (this.overflow.length > 0 && !this.overflowTimer) {
      // The caller is slow to read completions: look again shortly rather than spin.
      this.overflowTimer = setTimeout(() => {
        this.overflowTimer = undefined;
        this.drainOverflow();
        this.completionRing.commit();
      }, 1);
    }
  }
  private overflowTimer: NodeJS.Timeout | undefined;

  private async resumeStalled(): Promise<void> {
    if (this.next && !this.next.done) await this.next.ready.catch(() => {});
    const stalled = this.stalled;
    this.stalled = [];
    let i = 0;
    for (; i < stalled.length; i++) {
      const req = stalled[i]!;
      if (req[0] === RequestType.REGISTER_QUEUE) {
        this.onRequest(req, 0, req.length);
        continue;
      }
      if (!this.appendOne(req, 0, req.length)) break;
    }
    if (i < stalled.length) {
      this.stalled = stalled.slice(i);
      if (this.next && !this.next.done) {
        // Still preparing: the loop awaits again. What was appended so far is published (and,
        // under SYNC_FLUSH, written and synced) meanwhile rather than left staged.
        this.afterBatch();
        return;
      }
    }
    this.afterBatch();
  }

  // ---- segments -------------------------------------------------------------------------------

  private async openSegmentFor(offset: number): Promise<void> {
    this.writeStaged();
    const start = offset - (offset % this.segmentSize);
    await this.ensureSegment(start);
    if (!this.segments.includes(start)) this.segments.push(start);
    this.current = MappedFile.openReadWrite(MappedFile.pathFor(this.dir, start), this.segmentSize);
    this.position = offset - start;
    this.prepareAhead(start + this.segmentSize);
  }

  /**
   * Makes the segment at `start` the next one (the one prepared two ahead, when it is that one) and
   * starts preparing the segment after it. The filler thread fills them in that order; the next one
   * at full speed, the one after only in idle CPU until the writer rolls into `start`.
   */
  private prepareAhead(start: number): void {
    const reuse = this.nextNext !== undefined && this.nextNext.start === start && this.nextNext.failed === undefined;
    this.next = reuse ? this.nextNext : this.startPreparing(start);
    this.nextNext = this.startPreparing(start + this.segmentSize);
    this.filler?.setNeeded(start);
  }

  /**
   * Waits until the segment file at `start` exists, for whoever opens it out of the usual roll. A
   * preparation already asked for is waited for (and made urgent), never started a second time: the
   * second file would land on top of bytes already written into the first. A failed one is asked
   * for again and reported.
   */
  private async ensureSegment(start: number): Promise<void> {
    const ahead = [this.next, this.nextNext].find((e) => e !== undefined && e.start === start);
    if (ahead === undefined) {
      if (existsSync(MappedFile.pathFor(this.dir, start))) return;
      await MappedFile.prepare(MappedFile.pathFor(this.dir, start), this.segmentSize, this.config.warmMappedFileEnable);
      this.stats.segmentsPrepared++;
      return;
    }
    this.filler?.setNeeded(start);
    await ahead.ready;
    if (ahead.failed === undefined) return;
    if (ahead === this.next) this.retryNext(start);
    throw new Error(`preparing segment ${start}: ${ahead.failed.message}`);
  }

  /** Prepares the next segment again after its preparation failed (a full disk, say). */
  private retryNext(start: number): void {
    // The filler works in order; were a paced later segment queued first, it would hold this one back.
    this.filler?.setNeeded(Number.MAX_SAFE_INTEGER);
    this.next = this.startPreparing(start);
  }

  private startPreparing(start: number): PreparedSegment {
    const path = MappedFile.pathFor(this.dir, start);
    const entry: PreparedSegment = { start, done: false, ready: Promise.resolve() };
    entry.ready = (existsSync(path) ? Promise.resolve() : this.prepareInBackground(path).then(() => {
      this.stats.segmentsPrepared++;
    })).then(
      () => {
        entry.done = true;
      },
      (err: Error) => {
        entry.failed = err;
        entry.done = true;
        this.stats.preparationFailures++;
        this.stats.lastError = `preparing segment ${start}: ${err.message}`;
      },
    );
    return entry;
  }

  /** Segments ahead of the writer are prepared on its filler thread (segment-filler-thread.ts). */
  private prepareInBackground(path: string): Promise<void> {
    this.filler ??= new SegmentFiller();
    return this.filler.prepare(path, this.segmentSize, this.config.warmMappedFileEnable);
  }
  private filler: SegmentFiller | undefined;

  private rollSegment(): void {
    this.writeStaged();
    const map = this.current!.map;
    const remaining = this.segmentSize - this.position;
    map.writeInt32BE(remaining, this.position);
    map.writeInt32BE(MessageMagic.BLANK, this.position + 4);
    const nextStart = this.current!.startOffset + this.segmentSize;
    this.dirty.add(this.current!);
    this.current = MappedFile.openReadWrite(MappedFile.pathFor(this.dir, nextStart), this.segmentSize);
    if (!this.segments.includes(nextStart)) this.segments.push(nextStart);
    this.position = 0;
    this.writtenOffset = nextStart;
    this.stats.segmentRolls++;
    this.prepareAhead(nextStart + this.segmentSize);
  }

  // ---- durability -----------------------------------------------------------------------------

  private onFlushTimer(): void {
    const dirtyBytes = this.writtenOffset - this.flushedOffset;
    const now = Date.now();
    const thorough = now - this.lastThoroughFlushMs >= this.config.flushCommitLogThoroughInterval;
    if (dirtyBytes >= this.config.flushCommitLogLeastPages * 4096 || (thorough && dirtyBytes > 0)) void this.flush();
    if (thorough) this.lastThoroughFlushMs = now;
    if (now - this.lastCheckpointMs >= CHECKPOINT_INTERVAL_MS && this.checkpointWrite === undefined && !this.finalCheckpointTaken) this.saveCheckpointInBackground();
  }

  /**
   * One group commit: everything written before it starts becomes durable. SYNC_FLUSH appends
   * waiting on it complete together; if more arrived meanwhile, the next sync starts at once.
   */
  async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.flushedOffset < this.writtenOffset) {
        const pass = this.startSyncPass();
        await Promise.all(pass.files.map((f) => f.flushAsync()));
        this.endSyncPass(pass);
        if (this.pendingSync.length === this.pendingSyncHead) break;
      }
    } catch (err) {
      this.fail(err as Error);
    } finally {
      this.flushing = false;
    }
  }

  /** flush() without the thread pool, for the small group commits of SYNC_FLUSH (see afterBatch). */
  private flushBlocking(): void {
    try {
      const pass = this.startSyncPass();
      for (const f of pass.files) f.flushSync();
      this.endSyncPass(pass);
    } catch (err) {
      this.fail(err as Error);
    }
  }

  /**
   * One sync's start: records stamped since the last one (e.g. stalled requests resumed while it
   * ran) go to the file first, and the files dirty now are what it covers.
   */
  private startSyncPass(): { target: number; files: MappedFile[] } {
    this.writeStaged();
    const files = [...this.dirty];
    this.dirty.clear();
    return { target: this.writtenOffset, files };
  }

  /** Everything up to the pass's target is durable now. */
  private endSyncPass({ target, files }: { target: number; files: MappedFile[] }): void {
    // A segment written again while the sync ran (then rolled away from) is dirty again: the next
    // pass syncs it, so it stays open until then.
    for (const f of files) if (f !== this.current && !this.dirty.has(f)) f.close();
    this.flushedOffset = target;
    this.shared.flushedOffset = target;
    this.stats.flushes++;
    this.completeDurable(target);
  }

  private completeDurable(durableOffset: number): void {
    let completed = 0;
    while (this.pendingSyncHead < this.pendingSync.length) {
      const p = this.pendingSync[this.pendingSyncHead]!;
      if (p.endOffset > durableOffset) break;
      this.complete(PutStatus.PUT_OK, p.seq, p.count, p.wroteBytes, p.physicalOffset, p.queueOffset, p.storeTimestamp);
      this.pendingSyncHead++;
      completed++;
    }
    this.compactPendingSync();
    if (completed > 0) {
      this.drainOverflow();
      this.completionRing.commit();
    }
  }

  private expireSyncWaiters(): void {
    const now = Date.now();
    let expired = 0;
    while (this.pendingSyncHead < this.pendingSync.length) {
      const p = this.pendingSync[this.pendingSyncHead]!;
      if (p.deadlineMs > now) break;
      // The message is stored; only the durability promise was not kept in time.
      this.complete(PutStatus.FLUSH_DISK_TIMEOUT, p.seq, p.count, p.wroteBytes, p.physicalOffset, p.queueOffset, p.storeTimestamp);
      this.pendingSyncHead++;
      expired++;
    }
    if (expired > 0) {
      this.stats.flushTimeouts += expired;
      this.compactPendingSync();
      this.drainOverflow();
      this.completionRing.commit();
    }
  }

  private compactPendingSync(): void {
    if (this.pendingSyncHead > 1024 && this.pendingSyncHead * 2 > this.pendingSync.length) {
      this.pendingSync = this.pendingSync.slice(this.pendingSyncHead);
      this.pendingSyncHead = 0;
    }
  }

  /**
   * Returns false when the checkpoint could not be written: the previous one stays, which only means
   * a longer recovery scan after a crash, so a periodic failure is recorded, never thrown.
   */
  private saveCheckpoint(shutdownWrittenOffset: number): boolean {
    this.lastCheckpointMs = Date.now();
    try {
      writeCheckpoint(StorePaths.checkpoint(this.config), this.checkpointFields(shutdownWrittenOffset));
      return true;
    } catch (err) {
      this.stats.lastError = `checkpoint: ${(err as Error).message}`;
      return false;
    }
  }

  /** The periodic checkpoint, written on the libuv pool (see writeCheckpointAsync). */
  private saveCheckpointInBackground(): void {
    this.lastCheckpointMs = Date.now();
    this.checkpointWrite = writeCheckpointAsync(StorePaths.checkpoint(this.config), this.checkpointFields(-1))
      .catch((err: Error) => {
        this.stats.lastError = `checkpoint: ${err.message}`;
      })
      .finally(() => {
        this.checkpointWrite = undefined;
      });
  }
  private checkpointWrite: Promise<void> | undefined;
  /** After the shutdown checkpoint no periodic one may overwrite it. */
  private finalCheckpointTaken = false;

  private checkpointFields(shutdownWrittenOffset: number): Checkpoint {
    return {
      physicMsgTimestamp: this.lastStoreTimestamp,
      logicsMsgTimestamp: this.lastStoreTimestamp,
      indexMsgTimestamp: this.lastStoreTimestamp,
      flushedOffset: this.flushedOffset,
      dispatchFlushedOffset: Math.min(this.shared.minDispatchFlushedOffset(this.init.dispatcherCount), this.flushedOffset),
      shutdownWrittenOffset,
    };
  }

  // ---- retention ------------------------------------------------------------------------------

  private checkDiskSpace(): number {
    try {
      const s = statfsSync(this.dir);
      const usedRatio = s.blocks > 0 ? (100 * (s.blocks - s.bavail)) / s.blocks : 0;
      this.shared.diskFull = usedRatio >= this.config.diskSpaceWarningLevelRatio;
      return usedRatio;
    } catch {
      return 0;
    }
  }

  /**
   * Deletes commit-log segments whose last write is older than fileReservedTime, at the deleteWhen
   * hour or at any hour when the disk is fuller than diskMaxUsedSpaceRatio (or when forced).
   * Never the segment being written. Readers drop their mappings when the retention epoch moves.
   */
  async cleanExpiredFiles(options: { force?: boolean; nowMs?: number }): Promise<number[]> {
    const usedRatio = this.checkDiskSpace();
    const now = options.nowMs ?? Date.now();
    const hour = String(new Date(now).getHours()).padStart(2, '0');
    const isDeleteHour = this.config.deleteWhen.split(';').map((h) => h.trim().padStart(2, '0')).includes(hour);
    if (!options.force && !isDeleteHour && usedRatio < this.config.diskMaxUsedSpaceRatio) return [];
    const reservedMs = this.config.fileReservedTime * HOUR_MS;
    const currentStart = this.current?.startOffset ?? -1;
    const deleted: number[] = [];
    this.segments.sort((a, b) => a - b);
    for (const start of [...this.segments]) {
      if (deleted.length >= MAX_DELETES_PER_RUN || start >= currentStart) break;
      const path = MappedFile.pathFor(this.dir, start);
      let mtimeMs: number;
      try {
        mtimeMs = statSync(path).mtimeMs;
      } catch {
        mtimeMs = 0;
      }
      if (now - mtimeMs < reservedMs) break; // segments are in write order: the rest are younger
      rmSync(path, { force: true });
      this.segments.splice(this.segments.indexOf(start), 1);
      deleted.push(start);
    }
    if (deleted.length > 0) {
      this.shared.minPhysicalOffset = this.segments[0] ?? this.writtenOffset;
      this.shared.bumpRetentionEpoch();
    }
    return deleted;
  }

  /** Test hook: age a segment's modification time as if it had been written long ago. */
  ageSegment(start: number, ageMs: number): void {
    const t = new Date(Date.now() - ageMs);
    utimesSync(MappedFile.pathFor(this.dir, start), t, t);
  }

  // ---- replica (slave) ------------------------------------------------------------------------
  // A slave's log is a byte copy of its master's. The HA client hands over transfer bodies, which
  // may end inside a record; the copy goes into the map at once (and is acknowledged), while the
  // published end (`writtenOffset`, what dispatch and readers see) moves only over whole records.

  private haClient: HaClient | undefined;
  /** Bytes received from the master: the raw end of the local log. */
  private replicaEnd = 0;

  startReplica(masterAddress: string): void {
    this.replicaEnd = this.writtenOffset;
    this.shared.haReceivedOffset = this.replicaEnd;
    this.haClient = new HaClient(this, this.config.haSendHeartbeatInterval, this.config.haHousekeepingInterval);
    if (masterAddress) this.haClient.setMasterAddress(masterAddress);
  }

  setHaMasterAddress(address: string): void {
    this.haClient?.setMasterAddress(address);
  }

  haClientStats(): HaClientStats | undefined {
    return this.haClient?.getStats();
  }

  receivedOffset(): number {
    return this.replicaEnd;
  }

  setMasterConnected(connected: boolean): void {
    this.shared.haMasterConnected = connected;
  }

  async applyTransfer(physicalOffset: number, body: Buffer): Promise<string | undefined> {
    if (!this.running || !this.current) return 'the store is not running';
    if (physicalOffset !== this.replicaEnd) {
      const emptyLog = this.replicaEnd === 0 && this.writtenOffset === 0;
      if (!emptyLog || physicalOffset % this.segmentSize !== 0) {
        return `master sent offset ${physicalOffset}, the local log ends at ${this.replicaEnd}`;
      }
      await this.restartEmptyLogAt(physicalOffset);
    }
    let at = 0;
    while (at < body.length) {
      const offset = this.replicaEnd;
      const segmentStart = offset - (offset % this.segmentSize);
      if (this.current.startOffset !== segmentStart) {
        // Every record of the finished segment (and its BLANK marker) must be published first.
        const problem = this.publishReplicatedRecords();
        if (problem) return problem;
        if (this.writtenOffset !== segmentStart) return `segment ${this.current.startOffset} ends without a BLANK marker at ${this.writtenOffset}`;
        const failure = await this.openReplicaSegment(segmentStart);
        if (failure) return failure;
      }
      const n = Math.min(body.length - at, segmentStart + this.segmentSize - offset);
      body.copy(this.current.map, offset - segmentStart, at, at + n);
      at += n;
      this.replicaEnd += n;
      this.position = this.replicaEnd - segmentStart;
      this.dirty.add(this.current);
    }
    this.shared.haReceivedOffset = this.replicaEnd;
    this.stats.bytes += body.length;
    return this.publishReplicatedRecords();
  }

  /** An empty slave whose master no longer has offset 0 starts its log where the master's begins. */
  private async restartEmptyLogAt(start: number): Promise<void> {
    const old = this.current!;
    old.close();
    rmSync(old.path, { force: true });
    this.segments.length = 0;
    // Segments prepared ahead of the old start lie below the new one: gone once they are written.
    for (const stale of [this.next, this.nextNext]) {
      if (stale !== undefined && stale.start < start) void stale.ready.then(() => rmSync(MappedFile.pathFor(this.dir, stale.start), { force: true }));
    }
    await this.openSegmentFor(start);
    this.writtenOffset = start;
    this.replicaEnd = start;
    this.flushedOffset = start;
    this.shared.flushedOffset = start;
    // Dispatchers and readers re-read the minimum offset when the retention epoch moves; both must
    // change before the new end is published, or a dispatcher would look for the deleted segment 0.
    this.shared.minPhysicalOffset = start;
    this.shared.bumpRetentionEpoch();
    this.publishWrittenOffset();
  }

  private async openReplicaSegment(start: number): Promise<string | undefined> {
    try {
      await this.ensureSegment(start);
      this.current = MappedFile.openReadWrite(MappedFile.pathFor(this.dir, start), this.segmentSize);
    } catch (err) {
      return `opening segment ${start}: ${(err as Error).message}`;
    }
    if (!this.segments.includes(start)) this.segments.push(start);
    this.position = 0;
    this.stats.segmentRolls++;
    this.prepareAhead(start + this.segmentSize);
    return undefined;
  }

  /**
   * Moves the published end over every whole record received. A record that cannot be one means
   * the stream is damaged: the unpublished bytes are zeroed and the connection is dropped, so the
   * master resends from the last whole record.
   */
  private publishReplicatedRecords(): string | undefined {
    const map = this.current!.map;
    const segmentStart = this.current!.startOffset;
    const segmentEnd = segmentStart + this.segmentSize;
    let problem: string | undefined;
    while (this.writtenOffset < this.replicaEnd && this.writtenOffset < segmentEnd) {
      const pos = this.writtenOffset - segmentStart;
      if (pos < 0) {
        problem = `published end ${this.writtenOffset} is before the current segment ${segmentStart}`;
        break;
      }
      const available = this.replicaEnd - this.writtenOffset;
      if (available < 8) break;
      const size = map.readInt32BE(pos);
      const magic = map.readInt32BE(pos + 4);
      if (magic === MessageMagic.BLANK) {
        if (size !== this.segmentSize - pos) {
          problem = `BLANK marker at ${this.writtenOffset} claims ${size} bytes, the segment has ${this.segmentSize - pos} left`;
          break;
        }
        if (this.replicaEnd < segmentEnd) break;
        this.writtenOffset = segmentEnd;
        continue;
      }
      if (!isMessageMagic(magic) || size < MIN_RECORD_BYTES || pos + size + 8 > this.segmentSize) {
        problem = `no record at ${this.writtenOffset} (size ${size}, magic ${magic})`;
        break;
      }
      if (available < size) break;
      const timestamp = Number(map.readBigInt64BE(pos + storeTimestampOffset(map.readInt32BE(pos + RecordField.SYSFLAG))));
      if (timestamp > this.lastStoreTimestamp) this.lastStoreTimestamp = timestamp;
      this.writtenOffset += size;
      this.stats.messages++;
    }
    if (problem) {
      const from = this.writtenOffset - segmentStart;
      const to = Math.min(this.replicaEnd, segmentEnd) - segmentStart;
      if (from >= 0 && to > from) map.fill(0, from, to);
      this.replicaEnd = this.writtenOffset;
      this.shared.haReceivedOffset = this.replicaEnd;
      this.stats.lastError = `replica: ${problem}`;
    }
    this.publishWrittenOffset();
    return problem;
  }

  // ---- control --------------------------------------------------------------------------------

  getStats(): WriterStats {
    return {
      ...this.stats,
      writtenOffset: this.writtenOffset,
      flushedOffset: this.flushedOffset,
      minPhysicalOffset: this.shared.minPhysicalOffset,
      pendingSyncAppends: this.pendingSync.length - this.pendingSyncHead,
    };
  }

  segmentOffsets(): number[] {
    return [...this.segments].sort((a, b) => a - b);
  }

  /** Stops taking requests (after the caller closed the ring and it is drained) and syncs. */
  async drainAndFlush(): Promise<number> {
    if (this.haClient) {
      this.haClient.stop();
      // A partial record past the published end is not part of the log: the next start asks the
      // master for it again, and a crash scan must not find stale bytes there.
      if (this.current && this.replicaEnd > this.writtenOffset && this.writtenOffset >= this.current.startOffset) {
        this.current.map.fill(0, this.writtenOffset - this.current.startOffset, this.replicaEnd - this.current.startOffset);
        this.replicaEnd = this.writtenOffset;
      }
    }
    this.running = false;
    this.appendRing.close();
    await this.loopDone;
    while (this.stalled.length > 0) await this.resumeStalled();
    await this.flush();
    return this.writtenOffset;
  }

  /** Last step of a clean shutdown, once dispatch has caught up: the checkpoint says where the log ends. */
  async finalCheckpoint(): Promise<void> {
    // Failing here must keep the abort file (the facade removes it only after this returns), so the
    // next start scans instead of trusting a stale end. A periodic write still running finishes
    // first, so it cannot land after this one.
    this.finalCheckpointTaken = true;
    await this.checkpointWrite;
    if (!this.saveCheckpoint(this.writtenOffset)) throw new Error(this.stats.lastError ?? 'final checkpoint failed');
  }

  async stop(): Promise<void> {
    this.haClient?.stop();
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    if (this.running) await this.drainAndFlush();
    this.current?.close();
    await this.filler?.close();
  }

  private fail(err: Error): void {
    this.stats.lastError = err.message;
    this.shared.state = StoreState.failed;
  }
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

interface PreparedSegment {
  start: number;
  ready: Promise<void>;
  failed?: Error;
  done: boolean;
}

function queueKey(topic: string, queueId: number): string {
  return `${topic}\u0000${queueId}`;
}

function isMessageMagic(magic: number): boolean {
  return magic === MessageMagic.V1 || magic === MessageMagic.V2;
}

/** Actor factory: the runtime loads this module on the writer's own thread. */
export function createCommitLogWriter(init: WriterInit, _ctx: ActorContext) {
  const writer = new CommitLogWriter(init);
  return {
    recover: () => writer.recover(),
    start: (queueOffsets: [string, number, number][]) => writer.start(queueOffsets),
    flush: () => writer.flush(),
    stats: () => writer.getStats(),
    segmentOffsets: () => writer.segmentOffsets(),
    cleanExpiredFiles: (options: { force?: boolean; nowMs?: number }) => writer.cleanExpiredFiles(options),
    ageSegment: (start: number, ageMs: number) => writer.ageSegment(start, ageMs),
    drainAndFlush: () => writer.drainAndFlush(),
    finalCheckpoint: () => writer.finalCheckpoint(),
    stop: () => writer.stop(),
    startReplica: (masterAddress: string) => writer.startReplica(masterAddress),
    setHaMasterAddress: (address: string) => writer.setHaMasterAddress(address),
    haClientStats: () => writer.haClientStats(),
  };
}
export type CommitLogWriterApi = ReturnType<typeof createCommitLogWriter>;
