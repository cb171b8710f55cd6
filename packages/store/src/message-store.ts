// The facade a program embeds. It starts the writer actor (its own thread) and the dispatcher actors
// (a bounded set of threads), runs recovery in the right order, and offers appends (through the
// shared-memory ring) and reads (on the caller's thread, from read-only mappings).
//
// Opening: writer finds the end of the log → dispatchers cut consume-queue units past it and rebuild
// from the last durable point → every queue's next offset goes to the writer → appends are accepted.
// Closing: appends drain → the log is synced → dispatch catches up and syncs → the checkpoint records
// the end → the abort file is removed. A missing step leaves the abort file, so the next open recovers.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { planRecord, validateMessage, type MessageToStore, type RecordPlan } from '@orbit/common';
import { ActorHost, SpscRing, type ActorRef } from '@orbit/runtime';
import { AppendChannel, type PutResult } from './append-channel.js';
import type { DispatcherApi, DispatcherInit } from './dispatcher-actor.js';
import { ARRIVAL_ALL_QUEUES } from './dispatcher-actor.js';
import { SharedStoreState, StoreState } from './shared-state.js';
import { defaultStoreConfig, StorePaths, validateStoreConfig, type MessageStoreConfig } from './store-config.js';
import { StoreError } from './store-error.js';
import { StoreReader, type GetMessageResult, type MessageFilter } from './store-reader.js';
import type { CommitLogWriterApi, WriterInit, WriterStats } from './writer-actor.js';
import type { HaServiceApi, HaServiceInit, HaServiceStats } from './ha-service-actor.js';
import type { HaClientStats } from './ha-client.js';
import { ReplicationWaiter } from './replication-waiter.js';

/** What a broker needs to know about replication (admin, registration, pull routing). */
export interface HaStatus {
  role: MessageStoreConfig['brokerRole'];
  /** Master: the bound HA port (0 for a slave). */
  haListenPort: number;
  /** Master: slaves connected now. */
  connectedSlaves: number;
  /** Master: the highest offset a slave acknowledged. */
  slaveAckOffset: number;
  /** Slave: whether the HA connection to the master is up. */
  masterConnected: boolean;
  /** Slave: bytes received from the master (its commit log's raw end). */
  receivedOffset: number;
  commitLogMaxOffset: number;
}

/** Called after dispatch with each queue that grew; topic undefined means "any queue may have". */
export type ArrivalListener = (topic: string | undefined, queueId: number, maxOffset: number) => void;

export interface RecoveryReport {
  crashed: boolean;
  writtenOffset: number;
  recordsScanned: number;
  truncatedReason?: string;
  dispatchedFrom: number;
}

const COMPLETION_RING_BYTES = 4 * 1024 * 1024;
const ARRIVAL_RING_BYTES = 1024 * 1024;
const SHUTDOWN_TIMEOUT_MS = 30_000;

function powerOfTwoAtLeast(n: number): number {
  let p = 4096;
  while (p < n) p *= 2;
  return p;
}

export class MessageStore {
  private readonly listeners = new Set<ArrivalListener>();
  private arrivalLoop: Promise<void> | undefined;
  private closing = false;
  private closed = false;
  private replication: ReplicationWaiter | undefined;
  private haService: ActorRef<HaServiceApi> | undefined;
  private haListenPort = 0;

  private constructor(
    readonly config: MessageStoreConfig,
    private readonly host: ActorHost,
    private readonly ownsHost: boolean,
    private readonly shared: SharedStoreState,
    private readonly writer: ActorRef<CommitLogWriterApi>,
    private readonly dispatchers: ActorRef<DispatcherApi>[],
    private readonly channel: AppendChannel,
    private readonly arrivals: SpscRing[],
    private readonly reader: StoreReader,
    readonly recovery: RecoveryReport,
  ) {}

  static async open(overrides: Partial<MessageStoreConfig> = {}, options: { host?: ActorHost } = {}): Promise<MessageStore> {
    const config = defaultStoreConfig(overrides);
    validateStoreConfig(config);
    for (const dir of [config.storePathRootDir, StorePaths.commitLog(config), StorePaths.consumeQueue(config), StorePaths.index(config), StorePaths.config(config)]) {
      mkdirSync(dir, { recursive: true });
    }
    const crashed = claimAbortFile(StorePaths.abort(config));

    const shared = new SharedStoreState();
    shared.arrivalInterest = true;
    const appendRing = SpscRing.create(powerOfTwoAtLeast(config.appendRingBytes));
    const completionRing = SpscRing.create(COMPLETION_RING_BYTES);
    const dispatcherCount = config.dispatchThreadCount;
    // One arrival ring per dispatcher keeps every ring single-producer.
    const arrivalRings = Array.from({ length: dispatcherCount }, () => SpscRing.create(ARRIVAL_RING_BYTES));
    const host = options.host ?? new ActorHost({ threadCount: dispatcherCount, hostName: 'store' });
    if (!options.host) await host.start();

    const cleanup = async (err: unknown): Promise<never> => {
      if (!options.host) await host.shutdown(5_000).catch(() => {});
      throw err;
    };
    try {
      const writerInit: WriterInit = { config, sharedState: shared.buffer, appendRing: appendRing.buffer, completionRing: completionRing.buffer, dispatcherCount, crashed };
      const writer = await host.spawn<CommitLogWriterApi>({
        name: `${config.storePathRootDir}#commitlog-writer`,
        moduleUrl: new URL('./writer-actor.ts', import.meta.url).href,
        exportName: 'createCommitLogWriter',
        init: writerInit,
        dedicatedThread: true,
      });
      const recovered = (await writer.call('recover')) as Awaited<ReturnType<CommitLogWriterApi['recover']>>;
      const dispatchFrom = crashed ? Math.min(recovered.checkpoint.dispatchFlushedOffset, recovered.writtenOffset) : recovered.writtenOffset;
      const dispatchers: ActorRef<DispatcherApi>[] = [];
      for (let i = 0; i < dispatcherCount; i++) {
        const init: DispatcherInit = { config, sharedState: shared.buffer, arrivalRing: arrivalRings[i]!.buffer, dispatcherIndex: i, dispatcherCount };
        dispatchers.push(
          await host.spawn<DispatcherApi>({
            name: `${config.storePathRootDir}#dispatcher-${i}`,
            moduleUrl: new URL('./dispatcher-actor.ts', import.meta.url).href,
            exportName: 'createDispatcher',
            init,
            threadIndex: i % host.threadCount,
          }),
        );
      }
      const queueOffsets: [string, number, number][] = [];
      for (const d of dispatchers) {
        await d.call('recover', recovered.writtenOffset, dispatchFrom, crashed);
        await d.call('start');
      }
      for (const d of dispatchers) {
        await d.call('catchUp', recovered.writtenOffset, 10 * 60_000);
        queueOffsets.push(...((await d.call('queueOffsets')) as [string, number, number][]));
      }
      await writer.call('start', queueOffsets);
      shared.state = StoreState.running;

      // Replication: a master serves slaves from a thread of its own; a slave's HA client lives in
      // the writer (the one thread that may write the log) and copies the master's bytes straight in.
      let haService: ActorRef<HaServiceApi> | undefined;
      let haListenPort = 0;
      if (config.brokerRole === 'SLAVE') {
        await writer.call('startReplica', config.haMasterAddress);
      } else if (config.haListenPort >= 0) {
        const haInit: HaServiceInit = { config, sharedState: shared.buffer };
        haService = await host.spawn<HaServiceApi>({
          name: `${config.storePathRootDir}#ha-service`,
          moduleUrl: new URL('./ha-service-actor.ts', import.meta.url).href,
          exportName: 'createHaService',
          init: haInit,
          dedicatedThread: true,
        });
        haListenPort = (await haService.call('start')) as number;
      }

      const channel = new AppendChannel(appendRing, completionRing, config.maxPendingAppends);
      channel.start();
      const reader = new StoreReader(config, shared, dispatcherCount);
      const store = new MessageStore(config, host, !options.host, shared, writer, dispatchers, channel, arrivalRings, reader, {
        crashed,
        writtenOffset: recovered.writtenOffset,
        recordsScanned: recovered.recordsScanned,
        truncatedReason: recovered.truncatedReason,
        dispatchedFrom: dispatchFrom,
      });
      store.haService = haService;
      store.haListenPort = haListenPort;
      if (config.brokerRole === 'SYNC_MASTER') store.replication = new ReplicationWaiter(shared, config.haSlaveFallbehindMax, config.maxPendingAppends);
      host.on('actor-crashed', (event: { actorNames: string[]; error: Error }) => store.onActorCrashed(event));
      store.arrivalLoop = store.readArrivals();
      return store;
    } catch (err) {
      return cleanup(err);
    }
  }

  private onActorCrashed(event: { actorNames: string[]; error: Error }): void {
    const mine = event.actorNames.filter((n) => n.startsWith(`${this.config.storePathRootDir}#`));
    if (mine.length === 0) return;
    this.shared.state = StoreState.failed;
    this.channel.failAll(new StoreError('WRITER_CRASHED', `store thread crashed (${mine.join(', ')}): ${event.error.message}`));
  }

  // ---- writes ---------------------------------------------------------------------------------

  private checkWritable(): void {
    if (this.closing || this.closed) throw new StoreError('STORE_CLOSED', 'the store is closed');
    if (this.config.brokerRole === 'SLAVE') throw new StoreError('SERVICE_NOT_AVAILABLE', 'message store is slave mode, so putMessage is forbidden');
    if (this.shared.state === StoreState.failed) throw new StoreError('SERVICE_NOT_AVAILABLE', 'the store failed and accepts no writes');
    if (this.shared.diskFull) throw new StoreError('SERVICE_NOT_AVAILABLE', `disk use is at or above diskSpaceWarningLevelRatio ${this.config.diskSpaceWarningLevelRatio}%`);
  }

  private validate(msg: MessageToStore, plan: RecordPlan): void {
    const problem = validateMessage(msg, this.config.maxMessageSize, plan);
    if (problem) throw new StoreError(problem.startsWith('properties') ? 'PROPERTIES_SIZE_EXCEEDED' : 'MESSAGE_ILLEGAL', problem);
  }

  /**
   * Appends one message. Resolves once it is in the log (ASYNC_FLUSH) or durable (SYNC_FLUSH, unless
   * waitStoreOk is false: RocketMQ's WAIT=false property). Rejects with a StoreError, writing nothing,
   * when the message is illegal or the store cannot take it.
   */
  putMessage(msg: MessageToStore, options?: { waitStoreOk?: boolean }): Promise<PutResult> {
    // Not an async function: on the hot path each async wrapper adds a promise and the ticks of
    // adopting the inner one (measured: see benchmarks/README.md's tuning log).
    try {
      this.checkWritable();
      const plan = planRecord(msg);
      this.validate(msg, plan);
      const waitStoreOk = options?.waitStoreOk ?? true;
      return this.replicated(this.channel.append([msg], waitStoreOk, [plan]), waitStoreOk);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Appends a batch for one (topic, queueId): contiguous in the log, consecutive queue offsets. */
  putMessages(messages: MessageToStore[], options?: { waitStoreOk?: boolean }): Promise<PutResult> {
    try {
      return this.putMessagesNow(messages, options?.waitStoreOk ?? true);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private putMessagesNow(messages: MessageToStore[], waitStoreOk: boolean): Promise<PutResult> {
    this.checkWritable();
    if (messages.length === 0 || messages.length > 0xffff) throw new StoreError('MESSAGE_ILLEGAL', `a batch holds 1 to 65535 messages, not ${messages.length}`);
    const { topic, queueId } = messages[0]!;
    let bodyBytes = 0;
    const plans: RecordPlan[] = [];
    for (const m of messages) {
      if (m.topic !== topic || m.queueId !== queueId) throw new StoreError('MESSAGE_ILLEGAL', 'every message of a batch must have the same topic and queue id');
      const plan = planRecord(m);
      this.validate(m, plan);
      plans.push(plan);
      bodyBytes += m.body.length;
    }
    if (bodyBytes > this.config.maxMessageSize) {
      throw new StoreError('MESSAGE_ILLEGAL', `batch bodies total ${bodyBytes} bytes, more than maxMessageSize ${this.config.maxMessageSize}`);
    }
    return this.replicated(this.channel.append(messages, waitStoreOk, plans), waitStoreOk);
  }

  /**
   * SYNC_MASTER (facts §6.3, 4.x semantics): a stored append also waits until a slave acknowledged
   * its last byte. Many appends wait on the same acknowledgements (pipelined), never one at a time.
   */
  private replicated(stored: Promise<PutResult>, waitStoreOk: boolean): Promise<PutResult> {
    if (this.config.brokerRole !== 'SYNC_MASTER' || !waitStoreOk) return stored;
    return this.awaitSlave(stored);
  }

  private async awaitSlave(stored: Promise<PutResult>): Promise<PutResult> {
    const result = await stored;
    if (result.status !== 'PUT_OK' && result.status !== 'FLUSH_DISK_TIMEOUT') return result;
    const endOffset = result.physicalOffset + result.wroteBytes;
    const outcome = await this.replication!.waitFor(endOffset, this.config.syncFlushTimeout);
    // A disk timeout is reported over a replication success: both promises must hold for PUT_OK.
    if (outcome === 'ok') return result;
    return { ...result, status: outcome === 'timeout' ? 'FLUSH_SLAVE_TIMEOUT' : 'SLAVE_NOT_AVAILABLE' };
  }

  // ---- reads ----------------------------------------------------------------------------------

  getMessage(topic: string, queueId: number, offset: number, maxCount: number, filter?: MessageFilter): GetMessageResult {
    return this.reader.getMessage(topic, queueId, offset, { maxCount: Math.min(maxCount, this.config.maxTransferCountOnMessageInMemory), maxBytes: this.config.maxTransferBytesOnMessageInMemory }, filter);
  }

  /** One stored record by physical offset (VIEW_MESSAGE_BY_ID), as a slice of the map. */
  getMessageByPhysicalOffset(physicalOffset: number): Buffer | undefined {
    return this.reader.recordAt(physicalOffset);
  }

  getMaxOffsetInQueue(topic: string, queueId: number): number {
    return this.reader.maxOffsetInQueue(topic, queueId);
  }

  getMinOffsetInQueue(topic: string, queueId: number): number {
    return this.reader.minOffsetInQueue(topic, queueId);
  }

  getOffsetInQueueByTime(topic: string, queueId: number, timestamp: number, boundary: 'LOWER' | 'UPPER' = 'LOWER'): number {
    return this.reader.offsetByTime(topic, queueId, timestamp, boundary);
  }

  getEarliestMessageTime(topic: string, queueId: number): number | undefined {
    return this.reader.earliestMessageTime(topic, queueId);
  }

  queryMessagesByKey(topic: string, key: string, maxNum: number, beginMs = 0, endMs = Number.MAX_SAFE_INTEGER): Buffer[] {
    return this.reader.queryByKey(topic, key, maxNum, beginMs, endMs);
  }

  get commitLogMaxOffset(): number {
    return this.shared.writtenOffset;
  }
  get commitLogMinOffset(): number {
    return this.shared.minPhysicalOffset;
  }
  get flushedOffset(): number {
    return this.shared.flushedOffset;
  }
  get dispatchedOffset(): number {
    return this.reader.dispatchedOffset;
  }

  /** Resolves once every record written so far is in the consume queues (tests, admin). */
  async waitDispatched(offset = this.commitLogMaxOffset, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.dispatchedOffset < offset) {
      if (Date.now() > deadline) throw new Error(`dispatch at ${this.dispatchedOffset}, not ${offset}, after ${timeoutMs} ms`);
      const wait = this.shared.waitDispatchSeqAsync(this.shared.dispatchSeq, 50);
      if (wait) await wait;
    }
  }

  // ---- notifications and control --------------------------------------------------------------

  onArrival(listener: ArrivalListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Whether dispatchers announce arrivals on every queue (on when the store opens). Each notice
   * wakes this thread once per dispatch, which on a small machine delays whatever else it serves; a
   * listener that needs them only at times (the broker, while it holds pulls) turns them off in
   * between. Off, only SCHEDULE_TOPIC_XXXX arrivals are announced (the delay service needs each).
   * Records dispatched while off are never announced: whoever turns them on must look at the
   * queues itself afterwards (getMaxOffsetInQueue) for what arrived before.
   */
  setArrivalInterest(on: boolean): void {
    this.shared.arrivalInterest = on;
  }

  private async readArrivals(): Promise<void> {
    const onRecord = (b: Buffer, at: number) => {
      const queueId = b.readUInt32LE(at);
      const maxOffset = b.readDoubleLE(at + 4);
      const topicBytes = b.readUInt16LE(at + 12);
      const topic = queueId === ARRIVAL_ALL_QUEUES ? undefined : b.toString('utf8', at + 14, at + 14 + topicBytes);
      for (const l of this.listeners) {
        try {
          l(topic, queueId === ARRIVAL_ALL_QUEUES ? -1 : queueId, maxOffset);
        } catch {
          // A listener's failure is its own; the others still hear of the arrival.
        }
      }
    };
    // Dispatchers commit arrivals before they bump arrivalSeq, so reading the sequence first and
    // sleeping on it never misses a notification.
    while (!this.closed) {
      const seq = this.shared.arrivalSeq;
      let polled = 0;
      for (const ring of this.arrivals) polled += ring.poll(onRecord);
      if (polled > 0) continue;
      const wait = this.shared.waitArrivalSeqAsync(seq, 500);
      if (wait) await wait;
    }
  }

  // ---- replication ----------------------------------------------------------------------------

  haStatus(): HaStatus {
    const slave = this.config.brokerRole === 'SLAVE';
    return {
      role: this.config.brokerRole,
      haListenPort: this.haListenPort,
      connectedSlaves: slave ? 0 : this.shared.haConnectedSlaves,
      slaveAckOffset: slave ? 0 : this.shared.haAckOffset,
      masterConnected: slave && this.shared.haMasterConnected,
      receivedOffset: slave ? this.shared.haReceivedOffset : 0,
      commitLogMaxOffset: this.shared.writtenOffset,
    };
  }

  /** Slave: where the master's HA port is (learnt from the NameServer); reconnects when it changes. */
  async setHaMasterAddress(address: string): Promise<void> {
    if (this.config.brokerRole !== 'SLAVE' || this.closing || this.closed) return;
    await this.writer.call('setHaMasterAddress', address);
  }

  async haStats(): Promise<HaServiceStats | HaClientStats> {
    if (this.haService) return (await this.haService.call('stats')) as HaServiceStats;
    return (await this.writer.call('haClientStats')) as HaClientStats;
  }

  /** Syncs the commit log now (both flush modes). */
  async flush(): Promise<void> {
    await this.writer.call('flush');
  }

  async stats(): Promise<{ writer: WriterStats; dispatchers: unknown[] }> {
    return {
      writer: (await this.writer.call('stats')) as WriterStats,
      dispatchers: await Promise.all(this.dispatchers.map((d) => d.call('stats'))),
    };
  }

  /** Runs retention now (force: ignore deleteWhen and disk use, still honour fileReservedTime). */
  async cleanExpiredFiles(options: { force?: boolean; nowMs?: number } = {}): Promise<number[]> {
    return (await this.writer.call('cleanExpiredFiles', options)) as number[];
  }

  /** Test and admin hook: the writer's segment start offsets. */
  async segmentOffsets(): Promise<number[]> {
    return (await this.writer.call('segmentOffsets')) as number[];
  }

  async ageSegment(start: number, ageMs: number): Promise<void> {
    await this.writer.call('ageSegment', start, ageMs);
  }

  /** Clean shutdown: nothing accepted is lost and the next open needs no scan. */
  async close(): Promise<void> {
    if (this.closing || this.closed) return;
    this.closing = true;
    const failed = this.shared.state === StoreState.failed;
    try {
      await this.channel.drain(SHUTDOWN_TIMEOUT_MS);
      this.replication?.close();
      // Slaves that are behind keep reading until the master stops serving them.
      if (this.haService) await this.haService.call('stop').catch(() => {});
      if (!failed) {
        const end = (await this.writer.call('drainAndFlush')) as number;
        for (const d of this.dispatchers) await d.call('catchUp', end, SHUTDOWN_TIMEOUT_MS);
        for (const d of this.dispatchers) await d.call('stop');
        await this.writer.call('finalCheckpoint');
        await this.writer.call('stop');
        rmSync(StorePaths.abort(this.config), { force: true });
      }
    } finally {
      this.closed = true;
      this.shared.state = StoreState.stopped;
      this.channel.failAll(new StoreError('STORE_CLOSED', 'the store is closed'));
      for (const ring of this.arrivals) ring.close();
      this.shared.wakeAll();
      await this.arrivalLoop;
      this.reader.close();
      if (this.ownsHost) await this.host.shutdown(5_000);
    }
  }
}

/**
 * The abort file exists while a store is open; finding one at start means the last run did not
 * close cleanly. It holds the PID, so a second process opening the same store is refused.
 */
function claimAbortFile(path: string): boolean {
  let crashed = false;
  if (existsSync(path)) {
    crashed = true;
    const pid = Number(readFileSync(path, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
      throw new StoreError('STORE_LOCKED', `store is in use by process ${pid} (${path})`);
    }
  }
  writeFileSync(path, String(process.pid));
  return crashed;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
