// The broker's transactional state (RocketMQ's TransactionalMessageServiceImpl + Bridge), all of it
// kept where RocketMQ keeps it, so a restart loses nothing:
//   - half messages on RMQ_SYS_TRANS_HALF_TOPIC queue 0 (the send path puts them there);
//   - op messages on RMQ_SYS_TRANS_OP_HALF_TOPIC queue 0, one per ended batch of halves (op-writer.ts);
//   - how far the check-back has got: the system group CID_RMQ_SYS_TRANS's consumer offset on the
//     half topic, and on the op topic where a restart must re-read ops from (consumerOffset.json).
// In memory only an index of ended halves (finished-halves.ts), rebuilt from the op topic by load().
import { decodeStoredRecord, findProperty, PropertyKey, SystemTopic, type DecodedRecord } from '@orbit/common';
import type { BrokerContext } from '../broker-context.js';
import { FinishedHalves } from './finished-halves.js';
import { firstHalfOffsetOf, HALF_QUEUE_ID } from './half-message.js';
import { parseOpBody, REMOVE_TAG } from './op-message.js';
import { OpWriter } from './op-writer.js';

/** The system consumer group whose offsets track the check-back (TransactionalMessageUtil.buildConsumerGroup). */
export const TRANS_CHECK_GROUP = 'CID_RMQ_SYS_TRANS';
/** Ended halves remembered at most (beyond it the oldest behind the check offset are forgotten first). */
const MAX_REMEMBERED_ENDED = 1 << 20;
/** Op records read at start at most (more would be a retention far beyond what put-back copies need). */
const MAX_OPS_LOADED = 1 << 20;
/** Ended offsets are remembered at least this long after they are behind the check offset. */
const MIN_RETAIN_MS = 60_000;

export class TransactionalMessageService {
  private readonly finished = new FinishedHalves(MAX_REMEMBERED_ENDED);
  /** Halves an END or a discard is ending right now (claimed, not yet settled or released). */
  private readonly ending = new Set<number>();
  private readonly ops: OpWriter;
  private readonly warn: (text: string) => void;

  constructor(
    private readonly ctx: BrokerContext,
    warn?: (text: string) => void,
  ) {
    this.warn = warn ?? ((text) => console.warn(`transaction: ${text}`));
    this.ops = new OpWriter(ctx.store, ctx.storeHost, ctx.config.brokerIP1, (opOffset, halfOffsets, atMs) => this.finished.recordOp(opOffset, halfOffsets, atMs), this.warn);
  }

  /** Rebuilds the index of ended halves from the op topic, from CID_RMQ_SYS_TRANS's op offset on. */
  load(): { opsRead: number } {
    const { store } = this.ctx;
    const topic = SystemTopic.TRANS_OP_HALF_TOPIC;
    let offset = this.ctx.offsets.query(TRANS_CHECK_GROUP, topic, HALF_QUEUE_ID);
    if (offset < 0) offset = store.getMinOffsetInQueue(topic, HALF_QUEUE_ID);
    const max = store.getMaxOffsetInQueue(topic, HALF_QUEUE_ID);
    let opsRead = 0;
    while (offset < max && opsRead < MAX_OPS_LOADED) {
      const result = store.getMessage(topic, HALF_QUEUE_ID, offset, 32);
      if (result.status === 'FOUND') {
        for (let i = 0; i < result.messages.length; i++) {
          const queueOffset = result.queueOffsets[i]!;
          let record: DecodedRecord;
          try {
            record = decodeStoredRecord(result.messages[i]!, 0);
          } catch (err) {
            this.warn(`op at ${queueOffset} skipped: ${(err as Error).message}`);
            continue;
          }
          if (findProperty(record.properties, PropertyKey.TAGS) === REMOVE_TAG) this.finished.recordOp(queueOffset, parseOpBody(record.body), record.storeTimestamp);
          opsRead++;
        }
      }
      if (result.nextBeginOffset <= offset) break; // an unreadable unit: what follows is read next start
      offset = result.nextBeginOffset;
    }
    this.finished.skipOpsTo(offset);
    this.prune();
    return { opsRead };
  }

  /** The next half queue offset the check-back looks at (CID_RMQ_SYS_TRANS's, else the queue's first). */
  checkOffset(): number {
    const offset = this.ctx.offsets.query(TRANS_CHECK_GROUP, SystemTopic.TRANS_HALF_TOPIC, HALF_QUEUE_ID);
    return offset >= 0 ? offset : this.ctx.store.getMinOffsetInQueue(SystemTopic.TRANS_HALF_TOPIC, HALF_QUEUE_ID);
  }

  setCheckOffset(offset: number): void {
    const current = this.checkOffset();
    if (offset < current) throw new Error(`invariant violated: the check offset would go back from ${current} to ${offset}`);
    if (offset > current) this.ctx.offsets.commit(TRANS_CHECK_GROUP, SystemTopic.TRANS_HALF_TOPIC, HALF_QUEUE_ID, offset);
  }

  /** The half queue offsets that ending this half ends: its own, and its first copy's when it was put back. */
  endOffsetsOf(half: DecodedRecord): number[] {
    const first = firstHalfOffsetOf(half);
    return first === undefined || first === half.queueOffset ? [half.queueOffset] : [half.queueOffset, first];
  }

  /** Was this half (or the transaction it is a put-back copy of) committed, rolled back or discarded, or is it being? */
  isEnded(half: DecodedRecord): boolean {
    return this.endOffsetsOf(half).some((o) => this.finished.has(o) || this.ending.has(o));
  }

  /** Is an END or a discard of this half under way (its outcome not known yet)? */
  isBeingEnded(half: DecodedRecord): boolean {
    return this.endOffsetsOf(half).some((o) => this.ending.has(o));
  }

  /** Claims the halves for an END now, before anything is awaited, so a concurrent END for them sees them ended. */
  claim(halfOffsets: readonly number[]): void {
    for (const o of halfOffsets) this.ending.add(o);
  }

  /** The claimed halves are ended (remembered at once; their op follows with writeOp). */
  settle(halfOffsets: readonly number[]): void {
    this.finished.mark(halfOffsets, Date.now());
    for (const o of halfOffsets) this.ending.delete(o);
  }

  /** Gives a claim back: the END could not store what it had to (a later check may end the half). */
  release(halfOffsets: readonly number[]): void {
    for (const o of halfOffsets) this.ending.delete(o);
  }

  /** Writes the op for claimed halves; resolves false when it could not be stored. */
  writeOp(halfOffsets: readonly number[]): Promise<boolean> {
    return this.ops.write(halfOffsets);
  }

  /**
   * Forgets ended halves no put-back copy can still name, and moves CID_RMQ_SYS_TRANS's op offset to
   * the first op a restart still needs.
   */
  prune(): void {
    const { config } = this.ctx;
    const retainMs = Math.max(MIN_RETAIN_MS, (Math.max(1, config.transactionCheckMax) + 2) * config.transactionCheckInterval + config.transactionTimeOut);
    const opOffset = this.finished.prune(this.checkOffset(), Date.now(), retainMs);
    // Nothing is recorded until there is an op to pass (no entry at all on a broker without transactions).
    if (opOffset > Math.max(0, this.ctx.offsets.query(TRANS_CHECK_GROUP, SystemTopic.TRANS_OP_HALF_TOPIC, HALF_QUEUE_ID))) {
      this.ctx.offsets.commit(TRANS_CHECK_GROUP, SystemTopic.TRANS_OP_HALF_TOPIC, HALF_QUEUE_ID, opOffset);
    }
  }

  stats(): { endedRemembered: number } {
    return { endedRemembered: this.finished.size };
  }

  /** Waits for the ops asked for so far. */
  async stop(): Promise<void> {
    await this.ops.flush();
    this.prune();
  }
}
