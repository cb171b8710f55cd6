// A dispatch thread: follows the commit log as the writer publishes it (RocketMQ's "reput"), and hands
// each record to the queue actor that owns its (topic, queueId). Queue actors are placed over the
// dispatch threads by placeActor(), so every thread reads the log but builds only its own queues;
// dispatcher 0 also builds the key index. After each batch it tells the caller's thread which queues
// grew (the arrival ring), which is what wakes long-polling pulls.
import { mkdirSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { checkStoredRecord, findProperty, javaStringHash, PropertyKey, RecordField, SysFlag, SystemTopic, transactionType } from '@orbit/common';
import { placeActor, SpscRing, type ActorContext } from '@orbit/runtime';
import { ConsumeQueueWriter, consumeQueueDir } from './consume-queue.js';
import { delayLevelOf, deliverTimestamp, parseDelayLevels } from './delay-level.js';
import { IndexService } from './index-service.js';
import { MappedFile } from './mapped-file.js';
import { SharedStoreState, StoreState } from './shared-state.js';
import { StorePaths, type MessageStoreConfig } from './store-config.js';

export interface DispatcherInit {
  config: MessageStoreConfig;
  sharedState: SharedArrayBuffer;
  arrivalRing: SharedArrayBuffer;
  dispatcherIndex: number;
  dispatcherCount: number;
}

/** Arrival ring record: u32 queueId | f64 maxOffset | u16 topicBytes | topic. A queueId of
 *  0xFFFFFFFF means "notifications were lost: treat every queue as changed". */
export const ARRIVAL_ALL_QUEUES = 0xffffffff;

/** The name a queue actor is placed by. */
export function queueActorName(topic: string, queueId: number): string {
  return `cq:${topic}:${queueId}`;
}

const MAX_BYTES_PER_BATCH = 4 * 1024 * 1024;
const IDLE_WAIT_MS = 500;
const INDEX_RETRY_PAUSE_MS = 10_000;
const CQ_RETRY_PAUSE_MS = 1_000;

export class Dispatcher {
  private readonly config: MessageStoreConfig;
  private readonly shared: SharedStoreState;
  private readonly arrivals: SpscRing;
  private readonly cqRoot: string;
  private readonly segmentSize: number;
  /** topic → queueId → the queue actor, or null when another thread owns it. */
  private readonly queues = new Map<string, (ConsumeQueueWriter | null)[]>();
  private readonly index: IndexService | undefined;
  private segment: MappedFile | undefined;
  private position = 0;
  private running = false;
  private loopDone: Promise<void> | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private retentionEpochSeen = 0;
  private arrivalsLost = false;
  private readonly grown = new Map<ConsumeQueueWriter, number>();
  private lastTopicBytes = Buffer.alloc(0);
  private lastTopic = '';
  private failure: string | undefined;
  private dispatchedRecords = 0;
  private indexPausedUntilMs = 0;
  private indexFailure: string | undefined;
  private cqFailure: string | undefined;
  private readonly delayLevelsMs: number[];

  constructor(private readonly init: DispatcherInit) {
    this.config = init.config;
    this.delayLevelsMs = parseDelayLevels(this.config.messageDelayLevel);
    this.shared = new SharedStoreState(init.sharedState);
    this.arrivals = SpscRing.attach(init.arrivalRing);
    this.cqRoot = StorePaths.consumeQueue(this.config);
    this.segmentSize = this.config.mappedFileSizeCommitLog;
    mkdirSync(this.cqRoot, { recursive: true });
    if (init.dispatcherIndex === 0 && this.config.messageIndexEnable) {
      mkdirSync(StorePaths.index(this.config), { recursive: true });
      this.index = new IndexService(StorePaths.index(this.config), { maxHashSlotNum: this.config.maxHashSlotNum, maxIndexNum: this.config.maxIndexNum }, 'write');
    }
  }

  private owns(topic: string, queueId: number): boolean {
    return placeActor(queueActorName(topic, queueId), this.init.dispatcherCount) === this.init.dispatcherIndex;
  }

  /**
   * Opens this thread's queues, cuts units past the recovered end of the log, and positions the
   * reader where durable queue state ends, so a crash re-dispatches what may have been lost.
   */
  recover(commitLogEnd: number, dispatchFrom: number, crashed: boolean): void {
    if (existsSync(this.cqRoot)) {
      for (const topic of readdirSync(this.cqRoot)) {
        for (const q of readdirSync(join(this.cqRoot, topic))) {
          const queueId = Number(q);
          if (!Number.isInteger(queueId) || queueId < 0 || !this.owns(topic, queueId)) continue;
          const cq = this.queueFor(topic, queueId)!;
          if (crashed) cq.truncatePhysical(commitLogEnd);
        }
      }
    }
    this.index?.load();
    if (crashed) this.index?.rollBackTo(dispatchFrom);
    this.position = Math.max(Math.min(dispatchFrom, commitLogEnd), this.shared.minPhysicalOffset);
    this.shared.publishDispatched(this.init.dispatcherIndex, this.position);
    this.shared.setDispatchFlushedOffset(this.init.dispatcherIndex, this.position);
  }

  private queueFor(topic: string, queueId: number): ConsumeQueueWriter | null {
    let byId = this.queues.get(topic);
    if (!byId) {
      byId = [];
      this.queues.set(topic, byId);
    }
    let cq = byId[queueId];
    if (cq === undefined) {
      cq = this.owns(topic, queueId)
        ? new ConsumeQueueWriter(topic, queueId, consumeQueueDir(this.cqRoot, topic, queueId), this.config.mappedFileSizeConsumeQueue)
        : null;
      cq?.load();
      byId[queueId] = cq;
    }
    return cq;
  }

  start(): void {
    this.running = true;
    this.flushTimer = setInterval(() => this.flush(), this.config.flushIntervalConsumeQueue);
    this.loopDone = this.loop().catch((err: Error) => {
      // Consume queues can no longer follow the log: say so loudly (writes are refused from now on)
      // rather than let reads silently stall.
      this.failure = err.stack ?? err.message;
      this.shared.state = StoreState.failed;
    });
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const seq = this.shared.writeSeq;
      const written = this.shared.writtenOffset;
      if (this.shared.retentionEpoch !== this.retentionEpochSeen || this.position < this.shared.minPhysicalOffset) this.applyRetention();
      if (this.position < written) {
        await this.dispatchUpTo(written, this.position + MAX_BYTES_PER_BATCH);
        continue;
      }
      const wait = this.shared.waitWriteSeqAsync(seq, IDLE_WAIT_MS);
      if (wait) await wait;
    }
  }

  /** Reads records from position while below batchEnd (never past `written`) and builds their
   *  queue units and index entries. */
  private async dispatchUpTo(written: number, batchEnd: number): Promise<void> {
    const limit = written;
    while (this.position < limit && this.position < batchEnd) {
      const segmentStart = this.position - (this.position % this.segmentSize);
      if (!this.segment || this.segment.startOffset !== segmentStart) {
        this.segment = MappedFile.openReadOnly(MappedFile.pathFor(StorePaths.commitLog(this.config), segmentStart));
      }
      const map = this.segment.map;
      const at = this.position - segmentStart;
      const check = checkStoredRecord(map, at, Math.min(this.segmentSize, limit - segmentStart), false);
      if (check.kind === 'blank') {
        this.position = segmentStart + this.segmentSize;
        continue;
      }
      if (check.kind !== 'message') {
        // The writer publishes only whole records, so this is a bug or outside damage: stop here
        // rather than build queues over garbage.
        throw new Error(`dispatcher ${this.init.dispatcherIndex}: ${check.kind === 'invalid' ? check.reason : 'unexpected end'} at ${this.position} (written ${limit})`);
      }
      const queueNotReady = this.dispatchRecord(map, at, check.sizeBytes, check.topicStart, check.topicBytes, check.propertiesStart, check.propertiesBytes);
      if (queueNotReady) {
        // The record's consume-queue file had to be made first; nothing of the record was built
        // yet, so it is dispatched again from the top.
        await queueNotReady;
        continue;
      }
      this.position += check.sizeBytes;
      this.dispatchedRecords++;
    }
    this.shared.publishDispatched(this.init.dispatcherIndex, this.position);
    // Arrivals go out for every queue only while someone wants them (held pulls); with nobody
    // interested no thread is woken per dispatch. Delayed messages parked in SCHEDULE_TOPIC_XXXX are
    // always announced: the delay service times their delivery from these notices. Interest is read
    // after the publication above (an SC store), so whoever turns it on after this read sees these
    // records in the queues itself (PullRequestHoldService looks on hold) and none is missed.
    if (!this.shared.arrivalInterest) {
      for (const cq of this.grown.keys()) if (cq.topic !== SystemTopic.SCHEDULE_TOPIC) this.grown.delete(cq);
    }
    if (this.grown.size > 0 || this.arrivalsLost) this.postArrivals();
  }

  /**
   * Builds one record's queue unit and index entries, synchronously: a promise per record cost the
   * dispatcher a fifth of its time under load. Returns a promise, having built nothing, only when
   * the record's consume queue needs a new file or disk blocks first; dispatch it again after.
   */
  private dispatchRecord(map: Buffer, at: number, size: number, topicStart: number, topicBytes: number, propertiesStart: number, propertiesBytes: number): Promise<void> | undefined {
    const topic = this.topicText(map, topicStart, topicBytes);
    const queueId = map.readInt32BE(at + RecordField.QUEUEID);
    const sysFlag = map.readInt32BE(at + RecordField.SYSFLAG);
    const tranType = transactionType(sysFlag);
    const cq = this.queueFor(topic, queueId);
    const needsProperties = cq !== null || this.index !== undefined;
    const properties = needsProperties && propertiesBytes > 0 ? map.toString('utf8', propertiesStart, propertiesStart + propertiesBytes) : '';
    const physicalOffset = this.position;
    // Prepared and rolled-back transaction records are not consumable (RocketMQ skips them).
    if (cq && tranType !== SysFlag.TRANSACTION_PREPARED_TYPE && tranType !== SysFlag.TRANSACTION_ROLLBACK_TYPE) {
      const queueOffset = map.readInt32BE(at + RecordField.QUEUEOFFSET) * 0x1_0000_0000 + map.readUInt32BE(at + RecordField.QUEUEOFFSET + 4);
      if (!this.unitReady(cq, queueOffset)) return this.prepareUnit(cq, queueOffset);
      const tags = properties ? findProperty(properties, PropertyKey.TAGS) : undefined;
      let tagsCode = tags ? javaStringHash(tags) : 0;
      if (topic === SystemTopic.SCHEDULE_TOPIC) tagsCode = this.scheduleTagsCode(map, at, sysFlag, properties) ?? tagsCode;
      cq.putUnit(queueOffset, physicalOffset, size, tagsCode);
      this.grown.set(cq, cq.maxOffset);
    }
    if (this.index && Date.now() >= this.indexPausedUntilMs) {
      const storeTimestampAt = at + RecordField.BORNHOST + (sysFlag & SysFlag.BORNHOST_V6 ? 20 : 8);
      const storeTimestamp = map.readInt32BE(storeTimestampAt) * 0x1_0000_0000 + map.readUInt32BE(storeTimestampAt + 4);
      try {
        this.index.buildIndex({
          topic,
          keys: properties ? findProperty(properties, PropertyKey.KEYS) : undefined,
          uniqKey: properties ? findProperty(properties, PropertyKey.UNIQ_KEY) : undefined,
          phyOffset: physicalOffset,
          storeTimestamp,
          sysFlag,
        });
      } catch (err) {
        // The index is a lookup aid: when a new index file cannot be made (disk full), consume
        // queues must still be built. Records in the pause are not indexed; the error is reported.
        this.indexFailure = `${new Date().toISOString()} indexing at ${physicalOffset}: ${(err as Error).message}`;
        this.indexPausedUntilMs = Date.now() + INDEX_RETRY_PAUSE_MS;
      }
    }
    return undefined;
  }

  /**
   * The topic of the record whose topic bytes are map[start, start + length): decoded only when they
   * differ from the previous record's, as they seldom do in a run of appends.
   */
  private topicText(map: Buffer, start: number, length: number): string {
    const last = this.lastTopicBytes;
    if (length === last.length) {
      let i = 0;
      while (i < length && map[start + i] === last[i]) i++;
      if (i === length) return this.lastTopic;
    }
    this.lastTopic = map.toString('utf8', start, start + length);
    this.lastTopicBytes = Buffer.from(map.subarray(start, start + length));
    return this.lastTopic;
  }

  /**
   * True when the queue's file for `queueOffset` exists and has disk blocks for the unit: disk blocks
   * (and a chunk ahead) are allocated by an ordinary write in ensureReserved, so putUnit's mapped
   * write never meets a hole. Usually there is nothing to do.
   */
  private unitReady(cq: ConsumeQueueWriter, queueOffset: number): boolean {
    if (!cq.hasFileFor(queueOffset)) return false;
    try {
      cq.ensureReserved(queueOffset);
      return true;
    } catch {
      return false; // prepareUnit retries, reports and waits
    }
  }

  private async prepareUnit(cq: ConsumeQueueWriter, queueOffset: number): Promise<void> {
    for (;;) {
      try {
        if (!cq.hasFileFor(queueOffset)) await cq.createFileFor(queueOffset);
        cq.ensureReserved(queueOffset);
        return;
      } catch (err) {
        // No room for a new consume-queue file or its next blocks: wait and retry (retention may
        // free space); the queue must not skip a record, so dispatch waits here rather than move on.
        this.cqFailure = `${new Date().toISOString()} ${cq.topic}:${cq.queueId}: ${(err as Error).message}`;
        if (!this.running) throw err;
        await new Promise((r) => setTimeout(r, CQ_RETRY_PAUSE_MS));
      }
    }
  }

  /**
   * A delayed message's tag code is when it becomes due: store time + its level's delay (RocketMQ's
   * CommitLog.checkMessageAndReturnSize); undefined when it carries no delay level.
   */
  private scheduleTagsCode(map: Buffer, at: number, sysFlag: number, properties: string): number | undefined {
    const level = delayLevelOf(properties ? findProperty(properties, PropertyKey.DELAY) : undefined, this.delayLevelsMs.length);
    if (level === 0) return undefined;
    const storeTimestampAt = at + RecordField.BORNHOST + (sysFlag & SysFlag.BORNHOST_V6 ? 20 : 8);
    const storeTimestamp = map.readInt32BE(storeTimestampAt) * 0x1_0000_0000 + map.readUInt32BE(storeTimestampAt + 4);
    return deliverTimestamp(this.delayLevelsMs, level, storeTimestamp);
  }

  private postArrivals(): void {
    if (this.arrivalsLost) {
      const at = this.arrivals.tryReserve(14);
      if (at < 0) {
        this.grown.clear();
        return;
      }
      this.arrivals.bytes.writeUInt32LE(ARRIVAL_ALL_QUEUES, at);
      this.arrivals.bytes.writeDoubleLE(0, at + 4);
      this.arrivals.bytes.writeUInt16LE(0, at + 12);
      this.arrivalsLost = false;
    }
    for (const [cq, maxOffset] of this.grown) {
      const topicBytes = Buffer.byteLength(cq.topic);
      const at = this.arrivals.tryReserve(14 + topicBytes);
      if (at < 0) {
        // The reader is behind; rather than block dispatch, say later that everything changed.
        this.arrivalsLost = true;
        break;
      }
      const b = this.arrivals.bytes;
      b.writeUInt32LE(cq.queueId, at);
      b.writeDoubleLE(maxOffset, at + 4);
      b.writeUInt16LE(topicBytes, at + 12);
      b.write(cq.topic, at + 14, topicBytes, 'utf8');
    }
    this.grown.clear();
    this.arrivals.commit();
    this.shared.publishArrivals();
  }

  /** Consume queues and the index become durable up to the position dispatched when this began. */
  flush(): void {
    const position = this.position;
    for (const byId of this.queues.values()) for (const cq of byId) cq?.flush();
    this.index?.flush();
    this.shared.setDispatchFlushedOffset(this.init.dispatcherIndex, position);
  }

  private applyRetention(): void {
    this.retentionEpochSeen = this.shared.retentionEpoch;
    const minPhysical = this.shared.minPhysicalOffset;
    for (const byId of this.queues.values()) for (const cq of byId) cq?.deleteBelow(minPhysical);
    this.index?.deleteFilesBelow(minPhysical);
    if (this.position < minPhysical) this.position = minPhysical;
  }

  /** Next offsets of this thread's queues, for the writer to continue from. */
  queueOffsets(): [string, number, number][] {
    const out: [string, number, number][] = [];
    for (const [topic, byId] of this.queues) byId.forEach((cq, queueId) => cq && out.push([topic, queueId, cq.maxOffset]));
    return out;
  }

  /** Waits until everything up to `offset` is dispatched, then flushes (shutdown, recovery). */
  async catchUp(offset: number, timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (this.position < offset) {
      if (this.failure) throw new Error(this.failure);
      if (Date.now() > deadline) throw new Error(`dispatcher ${this.init.dispatcherIndex} at ${this.position}, not ${offset}, after ${timeoutMs} ms`);
      const seq = this.shared.dispatchSeq;
      const wait = this.shared.waitDispatchSeqAsync(seq, 50);
      if (wait) await wait;
    }
    this.flush();
    return this.position;
  }

  stats() {
    return { position: this.position, records: this.dispatchedRecords, queues: this.queueOffsets().length, failure: this.failure, indexFailure: this.indexFailure, cqFailure: this.cqFailure };
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.flushTimer) clearInterval(this.flushTimer);
    await this.loopDone;
    for (const byId of this.queues.values()) for (const cq of byId) cq?.close();
    this.index?.flush();
    this.index?.close();
  }
}

export function createDispatcher(init: DispatcherInit, _ctx: ActorContext) {
  const d = new Dispatcher(init);
  return {
    recover: (commitLogEnd: number, dispatchFrom: number, crashed: boolean) => d.recover(commitLogEnd, dispatchFrom, crashed),
    start: () => d.start(),
    queueOffsets: () => d.queueOffsets(),
    catchUp: (offset: number, timeoutMs: number) => d.catchUp(offset, timeoutMs),
    flush: () => d.flush(),
    stats: () => d.stats(),
    stop: () => d.stop(),
  };
}
export type DispatcherApi = ReturnType<typeof createDispatcher>;
