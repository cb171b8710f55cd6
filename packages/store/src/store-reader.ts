// Reads on the caller's thread, through read-only mappings of the same files the writer and the
// dispatchers write. Results are slices of the mapped commit log, never copies: a broker writes them
// to a socket as they are (a pull body is the stored records back to back).
import { existsSync } from 'node:fs';
import { checkStoredRecord, readInt64BE, RecordField, SysFlag } from '@orbit/common';
import { ConsumeQueueReader, consumeQueueDir, type CqUnit } from './consume-queue.js';
import { IndexService } from './index-service.js';
import { MappedFile } from './mapped-file.js';
import type { SharedStoreState } from './shared-state.js';
import { StorePaths, type MessageStoreConfig } from './store-config.js';

/** GetMessageStatus, RocketMQ's names (facts §2.4 maps them to pull response codes). */
export type GetMessageStatus =
  | 'FOUND'
  | 'NO_MATCHED_MESSAGE'
  | 'MESSAGE_WAS_REMOVING'
  | 'OFFSET_FOUND_NULL'
  | 'OFFSET_OVERFLOW_BADLY'
  | 'OFFSET_OVERFLOW_ONE'
  | 'OFFSET_TOO_SMALL'
  | 'NO_MATCHED_LOGIC_QUEUE'
  | 'NO_MESSAGE_IN_QUEUE';

export interface MessageFilter {
  /** Cheap test on the consume-queue tag code. */
  isMatchedByTagsCode(tagsCode: number): boolean;
  /** Exact test on the record (e.g. the TAGS string, SQL92 over properties); optional. */
  isMatchedByRecord?(record: Buffer): boolean;
}

export interface GetMessageResult {
  status: GetMessageStatus;
  nextBeginOffset: number;
  minOffset: number;
  maxOffset: number;
  /** Each a slice of the mapped commit log holding one whole stored record. */
  messages: Buffer[];
  /** Queue offset of each message. */
  queueOffsets: number[];
  totalBytes: number;
}

export interface ReadLimits {
  maxCount: number;
  maxBytes: number;
}

/** How far a filtered read may scan consume-queue units looking for a match (RocketMQ: 16000 B). */
const MAX_FILTER_SCAN_UNITS = 800;

export class StoreReader {
  private readonly segments = new Map<number, MappedFile>();
  private readonly queues = new Map<string, ConsumeQueueReader>();
  private readonly cqRoot: string;
  private readonly commitLogDir: string;
  private readonly segmentSize: number;
  private readonly unit: CqUnit = { physicalOffset: 0, sizeBytes: 0, tagsCode: 0 };
  private retentionEpoch = -1;
  private index: IndexService | undefined;

  constructor(
    private readonly config: MessageStoreConfig,
    private readonly shared: SharedStoreState,
    private readonly dispatcherCount: number,
  ) {
    this.cqRoot = StorePaths.consumeQueue(config);
    this.commitLogDir = StorePaths.commitLog(config);
    this.segmentSize = config.mappedFileSizeCommitLog;
  }

  private checkRetention(): void {
    const epoch = this.shared.retentionEpoch;
    if (epoch === this.retentionEpoch) return;
    this.retentionEpoch = epoch;
    const min = this.shared.minPhysicalOffset;
    for (const start of [...this.segments.keys()]) if (start + this.segmentSize <= min) this.segments.delete(start);
    for (const q of this.queues.values()) q.refresh(epoch);
  }

  private queue(topic: string, queueId: number): ConsumeQueueReader {
    const key = `${topic}\u0000${queueId}`;
    let q = this.queues.get(key);
    if (!q) {
      q = new ConsumeQueueReader(consumeQueueDir(this.cqRoot, topic, queueId), this.config.mappedFileSizeConsumeQueue);
      q.refresh(this.shared.retentionEpoch);
      this.queues.set(key, q);
    }
    return q;
  }

  /** The map holding physical offset `offset`, or undefined when it is gone or not yet there. */
  private segmentFor(offset: number): MappedFile | undefined {
    const start = offset - (offset % this.segmentSize);
    let seg = this.segments.get(start);
    if (!seg) {
      const path = MappedFile.pathFor(this.commitLogDir, start);
      if (!existsSync(path)) return undefined;
      try {
        seg = MappedFile.openReadOnly(path);
      } catch {
        return undefined;
      }
      this.segments.set(start, seg);
    }
    return seg;
  }

  /** One whole record at a physical offset, validated, as a slice; undefined if none is there. */
  recordAt(physicalOffset: number, expectedSize?: number): Buffer | undefined {
    this.checkRetention();
    if (physicalOffset < this.shared.minPhysicalOffset || physicalOffset >= this.shared.writtenOffset) return undefined;
    const seg = this.segmentFor(physicalOffset);
    if (!seg) return undefined;
    const at = physicalOffset - seg.startOffset;
    const limit = Math.min(seg.sizeBytes, this.shared.writtenOffset - seg.startOffset);
    const check = checkStoredRecord(seg.map, at, limit, false);
    if (check.kind !== 'message') return undefined;
    if (expectedSize !== undefined && check.sizeBytes !== expectedSize) return undefined;
    if (readInt64BE(seg.map, at + RecordField.PHYSICALOFFSET) !== physicalOffset) return undefined;
    return seg.map.subarray(at, at + check.sizeBytes);
  }

  maxOffsetInQueue(topic: string, queueId: number): number {
    // An atomic read of what the dispatchers published before the plain reads of queue bytes: it
    // orders them after any unit written before a publication this thread can see (a caller that
    // just turned arrival notices on relies on it, PullRequestHoldService.hold).
    void this.dispatchedOffset;
    this.checkRetention();
    const q = this.queue(topic, queueId);
    return q.exists() ? q.maxOffset() : 0;
  }

  minOffsetInQueue(topic: string, queueId: number): number {
    this.checkRetention();
    const q = this.queue(topic, queueId);
    if (!q.exists()) return 0;
    // Units whose record was deleted by retention no longer count.
    const min = this.shared.minPhysicalOffset;
    let offset = q.minOffset();
    const max = q.maxOffset();
    while (offset < max && q.readUnit(offset, this.unit) && this.unit.physicalOffset < min) offset++;
    return offset;
  }

  /** RocketMQ's DefaultMessageStore.getMessage, statuses and next offsets included (facts §2.4). */
  getMessage(topic: string, queueId: number, offset: number, limits: ReadLimits, filter?: MessageFilter): GetMessageResult {
    this.checkRetention();
    const result: GetMessageResult = { status: 'NO_MATCHED_LOGIC_QUEUE', nextBeginOffset: 0, minOffset: 0, maxOffset: 0, messages: [], queueOffsets: [], totalBytes: 0 };
    const q = this.queue(topic, queueId);
    if (!q.exists()) return result;
    const minOffset = this.minOffsetInQueue(topic, queueId);
    const maxOffset = q.maxOffset();
    result.minOffset = minOffset;
    result.maxOffset = maxOffset;
    if (maxOffset === 0) {
      result.status = 'NO_MESSAGE_IN_QUEUE';
      result.nextBeginOffset = 0;
      return result;
    }
    if (offset < minOffset) {
      result.status = 'OFFSET_TOO_SMALL';
      result.nextBeginOffset = minOffset;
      return result;
    }
    if (offset === maxOffset) {
      result.status = 'OFFSET_OVERFLOW_ONE';
      result.nextBeginOffset = offset;
      return result;
    }
    if (offset > maxOffset) {
      result.status = 'OFFSET_OVERFLOW_BADLY';
      result.nextBeginOffset = maxOffset;
      return result;
    }
    const maxCount = Math.max(1, limits.maxCount);
    const scanLimit = Math.min(maxOffset, offset + Math.max(MAX_FILTER_SCAN_UNITS, maxCount));
    const minPhysical = this.shared.minPhysicalOffset;
    let next = offset;
    let sawRemoved = false;
    for (; next < scanLimit && result.messages.length < maxCount; next++) {
      if (!q.readUnit(next, this.unit)) break;
      const { physicalOffset, sizeBytes, tagsCode } = this.unit;
      if (physicalOffset < minPhysical) {
        sawRemoved = true;
        continue;
      }
      if (result.totalBytes + sizeBytes > limits.maxBytes && result.messages.length > 0) break;
      if (filter && !filter.isMatchedByTagsCode(tagsCode)) continue;
      const record = this.recordAt(physicalOffset, sizeBytes);
      // A unit whose record does not check out is not served (it may be half-visible).
      if (!record || readInt64BE(record, RecordField.QUEUEOFFSET) !== next || record.readInt32BE(RecordField.QUEUEID) !== queueId) break;
      if (filter?.isMatchedByRecord && !filter.isMatchedByRecord(record)) continue;
      result.messages.push(record);
      result.queueOffsets.push(next);
      result.totalBytes += sizeBytes;
    }
    result.nextBeginOffset = next;
    result.status = result.messages.length > 0 ? 'FOUND' : sawRemoved ? 'MESSAGE_WAS_REMOVING' : next > offset ? 'NO_MATCHED_MESSAGE' : 'OFFSET_FOUND_NULL';
    return result;
  }

  storeTimestampAt(physicalOffset: number, sizeBytes: number): number | undefined {
    const record = this.recordAt(physicalOffset, sizeBytes);
    if (!record) return undefined;
    const sysFlag = record.readInt32BE(RecordField.SYSFLAG);
    return readInt64BE(record, RecordField.BORNHOST + (sysFlag & SysFlag.BORNHOST_V6 ? 20 : 8));
  }

  /**
   * Binary search over the queue by store time. LOWER: the first offset stored at or after
   * `timestamp` (maxOffset when none); UPPER: the last offset stored at or before it (minOffset when none).
   */
  offsetByTime(topic: string, queueId: number, timestamp: number, boundary: 'LOWER' | 'UPPER' = 'LOWER'): number {
    const min = this.minOffsetInQueue(topic, queueId);
    const max = this.maxOffsetInQueue(topic, queueId);
    const q = this.queue(topic, queueId);
    const timeAt = (o: number): number => {
      if (!q.readUnit(o, this.unit)) return Infinity;
      return this.storeTimestampAt(this.unit.physicalOffset, this.unit.sizeBytes) ?? Infinity;
    };
    let lo = min;
    let hi = max;
    if (boundary === 'LOWER') {
      while (lo < hi) {
        const mid = lo + Math.floor((hi - lo) / 2);
        if (timeAt(mid) >= timestamp) hi = mid;
        else lo = mid + 1;
      }
      return lo;
    }
    while (lo < hi) {
      const mid = lo + Math.floor((hi - lo) / 2);
      if (timeAt(mid) <= timestamp) lo = mid + 1;
      else hi = mid;
    }
    return Math.max(min, lo - 1);
  }

  earliestMessageTime(topic: string, queueId: number): number | undefined {
    const min = this.minOffsetInQueue(topic, queueId);
    const q = this.queue(topic, queueId);
    if (!q.readUnit(min, this.unit)) return undefined;
    return this.storeTimestampAt(this.unit.physicalOffset, this.unit.sizeBytes);
  }

  /** Records whose KEYS or UNIQ_KEY is `key`, newest first, at most maxNum. */
  queryByKey(topic: string, key: string, maxNum: number, beginMs: number, endMs: number): Buffer[] {
    if (!this.config.messageIndexEnable) return [];
    this.checkRetention();
    this.index ??= new IndexService(StorePaths.index(this.config), { maxHashSlotNum: this.config.maxHashSlotNum, maxIndexNum: this.config.maxIndexNum }, 'read');
    this.index.load();
    const out: Buffer[] = [];
    for (const phy of this.index.queryPhyOffsets(topic, key, maxNum, beginMs, endMs)) {
      const record = this.recordAt(phy);
      if (record && recordHasKey(record, topic, key)) out.push(record);
    }
    return out;
  }

  close(): void {
    this.segments.clear();
    this.queues.clear();
    this.index?.close();
  }

  get dispatchedOffset(): number {
    return this.shared.minDispatchedOffset(this.dispatcherCount);
  }
}

/** The index stores hashes; a hit is only a hit when the record really carries the key. */
function recordHasKey(record: Buffer, topic: string, key: string): boolean {
  const check = checkStoredRecord(record, 0, record.length, false);
  if (check.kind !== 'message') return false;
  if (record.toString('utf8', check.topicStart, check.topicStart + check.topicBytes) !== topic) return false;
  const properties = record.toString('utf8', check.propertiesStart, check.propertiesStart + check.propertiesBytes);
  for (const chunk of properties.split('\u0002')) {
    const sep = chunk.indexOf('\u0001');
    if (sep <= 0) continue;
    const name = chunk.slice(0, sep);
    const value = chunk.slice(sep + 1);
    if (name === 'UNIQ_KEY' && value === key) return true;
    if (name === 'KEYS' && value.split(' ').includes(key)) return true;
  }
  return false;
}
