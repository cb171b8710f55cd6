// Asks producers about half messages nobody ended (RocketMQ's TransactionalMessageCheckService and
// TransactionalMessageServiceImpl.check; facts §7.8). Master only. Every transactionCheckInterval ms
// one cycle reads the half queue from CID_RMQ_SYS_TRANS's offset, in order:
//   - a half ended by an op (or whose first copy was) is skipped; one an END is ending right now
//     ends the cycle (the END may yet fail);
//   - a half stored since the cycle began (a copy put back by this cycle, or a new one) ends the cycle;
//   - a half born longer ago than fileReservedTime, or already checked transactionCheckMax times, is
//     moved to TRANS_CHECK_MAX_TIME_TOPIC and ended (an op, so a late commit delivers nothing);
//   - a half younger than transactionTimeOut ends the cycle; one with CHECK_IMMUNITY_TIME_IN_SECONDS
//     still immune is put back unchanged instead, so it does not hold the queue;
//   - any other half is put back at the end with TRANSACTION_CHECK_TIMES + 1, and CHECK_TRANSACTION_STATE
//     about the copy goes to one connection of its producer group.
// The offset moves past each half handled, so the next cycle starts after them; it lives in
// consumerOffset.json, the halves and ops in their topics: a restart resumes where the last
// persisted offset was (a half may then be checked once more: at-least-once, as RocketMQ).
//
// Differences from RocketMQ, on purpose: a copy is discarded at the cycle after its last check (not
// at once in the same cycle), so the producer has an interval to answer the last check; a discard
// writes an op. Work is bounded: a cycle yields to the event loop every MAX_HALVES_PER_SLICE halves
// or MAX_SLICE_MS, and stops after MAX_HALVES_PER_CYCLE halves or MAX_CYCLE_MS.
import { decodeStoredRecord, findProperty, Perm, PropertyKey, SystemTopic, type DecodedRecord, type MessageToStore } from '@orbit/common';
import type { PutResult } from '@orbit/store';
import type { BrokerContext } from '../broker-context.js';
import { isStoredStatus } from '../put-status.js';
import { checkTransactionStateHeader, sendCheckTransactionState } from './check-transaction-state.js';
import { CHECK_MAX_TIME_QUEUE_NUMS, checkTimesOf, encodeCheckBody, HALF_QUEUE_ID, toCheckMaxTimeMessage, toPutBackHalf } from './half-message.js';
import type { TransactionalMessageService } from './transactional-message-service.js';

/** Halves read per store read. */
const READ_BATCH = 32;
/** A cycle yields to the event loop after this many halves… */
const MAX_HALVES_PER_SLICE = 256;
/** …or after this long. */
const MAX_SLICE_MS = 20;
/** A cycle handles at most this many halves… */
const MAX_HALVES_PER_CYCLE = 65_536;
/** …and runs at most this long (RocketMQ's MAX_PROCESS_TIME_LIMIT). */
const MAX_CYCLE_MS = 60_000;
/** Shortest interval between cycles, whatever transactionCheckInterval says. */
const MIN_CHECK_INTERVAL_MS = 10;
/** A half whose unit does not read back is waited for this long, then skipped. */
const UNREADABLE_SKIP_AFTER_MS = 10_000;

export interface CheckCycleStats {
  /** Halves looked at. */
  scanned: number;
  /** Checks sent (a copy was put back for each, whether or not a producer was connected). */
  checked: number;
  /** Checks with no producer of the group connected. */
  noProducer: number;
  /** Moved to TRANS_CHECK_MAX_TIME_TOPIC. */
  discarded: number;
  /** Skipped because already ended. */
  skippedEnded: number;
  /** Why the cycle stopped. */
  stop: 'end-of-queue' | 'ending' | 'fresh' | 'too-young' | 'limit' | 'put-failed' | 'unreadable' | 'stopped';
}

export interface CheckServiceStats {
  cycles: number;
  checked: number;
  discarded: number;
  lastCycle: CheckCycleStats | undefined;
  lastError: string | undefined;
}

export class TransactionalMessageCheckService {
  private timer: NodeJS.Timeout | undefined;
  private cycle: Promise<CheckCycleStats> | undefined;
  private started = false;
  private stopped = false;
  private unreadableSinceMs = 0;
  private readonly totals: CheckServiceStats = { cycles: 0, checked: 0, discarded: 0, lastCycle: undefined, lastError: undefined };
  private readonly warn: (text: string) => void;

  constructor(
    private readonly ctx: BrokerContext,
    private readonly transactions: TransactionalMessageService,
    warn?: (text: string) => void,
  ) {
    this.warn = warn ?? ((text) => console.warn(`transaction check: ${text}`));
  }

  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.arm();
  }

  /** No new cycle; waits for the one under way (it stops at its next half). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.cycle?.catch(() => undefined);
  }

  stats(): CheckServiceStats {
    return { ...this.totals };
  }

  /** Runs one cycle now (or joins the one under way). */
  runOnce(): Promise<CheckCycleStats> {
    this.cycle ??= this.check()
      .then((stats) => {
        this.totals.cycles++;
        this.totals.checked += stats.checked;
        this.totals.discarded += stats.discarded;
        this.totals.lastCycle = stats;
        return stats;
      })
      .finally(() => {
        this.cycle = undefined;
        this.transactions.prune();
      });
    return this.cycle;
  }

  private arm(): void {
    if (this.stopped) return;
    const intervalMs = Math.max(MIN_CHECK_INTERVAL_MS, this.ctx.config.transactionCheckInterval);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.runOnce()
        .catch((err: Error) => this.note(`cycle failed: ${err.stack ?? err.message}`))
        .finally(() => this.arm());
    }, intervalMs);
  }

  private async check(): Promise<CheckCycleStats> {
    const { ctx, transactions } = this;
    const startMs = Date.now();
    const stats: CheckCycleStats = { scanned: 0, checked: 0, noProducer: 0, discarded: 0, skippedEnded: 0, stop: 'end-of-queue' };
    const timeoutMs = Math.max(0, ctx.config.transactionTimeOut);
    const checkMax = Math.max(1, ctx.config.transactionCheckMax);
    const reservedMs = ctx.storeConfig.fileReservedTime * 3_600_000;
    let offset = transactions.checkOffset();
    let sliceStartMs = startMs;
    let inSlice = 0;
    for (;;) {
      if (this.stopped) return { ...stats, stop: 'stopped' };
      if (stats.scanned >= MAX_HALVES_PER_CYCLE || Date.now() - startMs > MAX_CYCLE_MS) return { ...stats, stop: 'limit' };
      const result = ctx.store.getMessage(SystemTopic.TRANS_HALF_TOPIC, HALF_QUEUE_ID, offset, READ_BATCH);
      if (result.status === 'OFFSET_TOO_SMALL' || result.status === 'OFFSET_OVERFLOW_BADLY' || result.status === 'MESSAGE_WAS_REMOVING') {
        const next = result.status === 'MESSAGE_WAS_REMOVING' ? ctx.store.getMinOffsetInQueue(SystemTopic.TRANS_HALF_TOPIC, HALF_QUEUE_ID) : result.nextBeginOffset;
        if (next <= offset) return stats;
        if (result.status === 'OFFSET_OVERFLOW_BADLY') this.note(`check offset ${offset} is past the half queue's end; corrected to ${next}`);
        offset = this.advance(offset, next);
        continue;
      }
      if (result.status === 'OFFSET_FOUND_NULL') {
        const now = Date.now();
        if (this.unreadableSinceMs === 0) this.unreadableSinceMs = now;
        if (now - this.unreadableSinceMs < UNREADABLE_SKIP_AFTER_MS) return { ...stats, stop: 'unreadable' };
        this.note(`the half message at queue offset ${offset} does not read back; skipped`);
        offset = this.advance(offset, offset + 1);
        continue;
      }
      if (result.status !== 'FOUND') return stats; // the end of the queue
      for (let i = 0; i < result.messages.length; i++) {
        const queueOffset = result.queueOffsets[i]!;
        let half: DecodedRecord;
        try {
          half = decodeStoredRecord(result.messages[i]!, 0);
        } catch (err) {
          this.note(`half at queue offset ${queueOffset} skipped: ${(err as Error).message}`);
          offset = this.advance(offset, queueOffset + 1);
          continue;
        }
        stats.scanned++;
        const outcome = await this.handle(half, startMs, timeoutMs, checkMax, reservedMs, stats);
        if (outcome !== 'next') return { ...stats, stop: outcome };
        offset = this.advance(offset, queueOffset + 1);
        if (this.stopped) return { ...stats, stop: 'stopped' };
        if (++inSlice >= MAX_HALVES_PER_SLICE || Date.now() - sliceStartMs > MAX_SLICE_MS) {
          await new Promise((r) => setImmediate(r));
          inSlice = 0;
          sliceStartMs = Date.now();
        }
      }
    }
  }

  /** One half: 'next' when it was handled and the offset may move past it, else why the cycle stops. */
  private async handle(
    half: DecodedRecord,
    cycleStartMs: number,
    timeoutMs: number,
    checkMax: number,
    reservedMs: number,
    stats: CheckCycleStats,
  ): Promise<'next' | 'ending' | 'fresh' | 'too-young' | 'put-failed'> {
    const { transactions } = this;
    if (transactions.isBeingEnded(half)) return 'ending'; // looked at again next cycle, once its END is through
    if (transactions.isEnded(half)) {
      stats.skippedEnded++;
      return 'next';
    }
    if (half.storeTimestamp >= cycleStartMs) return 'fresh';
    const now = Date.now();
    const ageMs = now - half.bornTimestamp;
    const checkTimes = checkTimesOf(half);
    if (checkTimes >= checkMax || ageMs > reservedMs) {
      if (!(await this.discard(half))) return 'put-failed';
      stats.discarded++;
      return 'next';
    }
    const immunityText = findProperty(half.properties, PropertyKey.CHECK_IMMUNITY_TIME_IN_SECONDS);
    const immunityMs = immunityMsOf(immunityText, timeoutMs);
    if (ageMs >= 0 && ageMs < immunityMs) {
      if (immunityText === undefined) return 'too-young';
      // Immune for longer than usual: put back unchanged, so the queue behind it moves on.
      return (await this.putBack(half, undefined)) ? 'next' : 'put-failed';
    }
    const copy = await this.putBack(half, checkTimes + 1);
    if (!copy) return 'put-failed';
    stats.checked++;
    await this.sendCheck(copy.msg, copy.result, half, stats);
    return 'next';
  }

  private async putBack(half: DecodedRecord, checkTimes: number | undefined): Promise<{ msg: MessageToStore; result: PutResult } | undefined> {
    const msg = toPutBackHalf(half, checkTimes);
    try {
      const result = await this.ctx.store.putMessage(msg, { waitStoreOk: false });
      if (isStoredStatus(result.status)) return { msg, result };
      this.note(`putting back the half at queue offset ${half.queueOffset} failed: ${result.status}`);
    } catch (err) {
      this.note(`putting back the half at queue offset ${half.queueOffset} failed: ${(err as Error).message}`);
    }
    return undefined;
  }

  private async sendCheck(msg: MessageToStore, stored: PutResult, half: DecodedRecord, stats: CheckCycleStats): Promise<void> {
    const { ctx } = this;
    const group = findProperty(half.properties, PropertyKey.PGROUP) ?? '';
    const uniqKey = findProperty(half.properties, PropertyKey.UNIQ_KEY) ?? '';
    let body: Buffer;
    try {
      body = encodeCheckBody(msg, { queueOffset: stored.queueOffset, physicalOffset: stored.physicalOffset, storeTimestamp: stored.storeTimestamp, bodyCrc: half.bodyCrc });
    } catch (err) {
      this.note(`check of the half at queue offset ${stored.queueOffset} not sent: ${(err as Error).message}`);
      return;
    }
    const header = checkTransactionStateHeader(stored, uniqKey, ctx.storeHost, ctx.config.brokerName);
    try {
      const asked = await sendCheckTransactionState(ctx.clients, group, header, body);
      if (asked === undefined) stats.noProducer++;
    } catch (err) {
      this.note(`check of the half at queue offset ${stored.queueOffset} to group ${group} failed: ${(err as Error).message}`);
    }
  }

  /**
   * resolveDiscardMsg: to TRANS_CHECK_MAX_TIME_TOPIC (created on first use), then an op. The half is
   * claimed first, so an END arriving meanwhile does not commit what is being discarded.
   */
  private async discard(half: DecodedRecord): Promise<boolean> {
    const { ctx, transactions } = this;
    const { config, created } = ctx.topics.createIfMissing(SystemTopic.TRANS_CHECK_MAX_TIME_TOPIC, CHECK_MAX_TIME_QUEUE_NUMS, Perm.READ | Perm.WRITE);
    if (created) ctx.registerBrokerSoon();
    const queueId = Math.floor(Math.random() * 99_999_999) % Math.max(1, config.writeQueueNums);
    const ends = transactions.endOffsetsOf(half);
    transactions.claim(ends);
    let why: string | undefined;
    try {
      const result = await ctx.store.putMessage(toCheckMaxTimeMessage(half, queueId), { waitStoreOk: false });
      if (!isStoredStatus(result.status)) why = result.status;
    } catch (err) {
      why = (err as Error).message;
    }
    if (why !== undefined) {
      transactions.release(ends);
      this.note(`moving the half at queue offset ${half.queueOffset} to ${SystemTopic.TRANS_CHECK_MAX_TIME_TOPIC} failed: ${why}`);
      return false;
    }
    transactions.settle(ends);
    void transactions.writeOp(ends);
    return true;
  }

  private advance(from: number, to: number): number {
    if (to > from) {
      this.transactions.setCheckOffset(to);
      this.unreadableSinceMs = 0;
    }
    return Math.max(from, to);
  }

  private note(text: string): void {
    this.totals.lastError = `${new Date().toISOString()} ${text}`;
    this.warn(text);
  }
}

/** getImmunityTime: the property in seconds; -1 or garbage means transactionTimeOut. */
function immunityMsOf(text: string | undefined, timeoutMs: number): number {
  if (text === undefined) return timeoutMs;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds === -1 || seconds < 0) return timeoutMs;
  return seconds * 1000;
}
