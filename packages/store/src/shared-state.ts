// Offsets the writer and dispatchers publish for readers on other threads, in one SharedArrayBuffer.
// 64-bit slots hold byte offsets (BigInt64 for Atomics); 32-bit slots are sequence words that
// Atomics.wait/waitAsync sleep on.
export const MAX_DISPATCHERS = 8;

const Slot64 = {
  /** End of the last record written into the map (the commit log's max offset). */
  written: 0,
  /** Everything below is durable (synced). */
  flushed: 1,
  /** Start of the oldest segment still on disk. */
  minPhysical: 2,
  /** Store timestamp of the last record written. */
  lastStoreTimestamp: 3,
  /** Master: the highest commit-log offset a slave acknowledged (RocketMQ's push2SlaveMaxOffset). */
  haAckOffset: 4,
  /** Slave: bytes of the master's log received so far (may end inside a record). */
  haReceivedOffset: 5,
  /** Per dispatcher: commit-log offset up to which its consume queues (and index) are built. */
  dispatchedBase: 8,
  /** Per dispatcher: offset up to which its consume queues and index are durable. */
  dispatchFlushedBase: 8 + MAX_DISPATCHERS,
} as const;
const SLOT64_COUNT = 8 + 2 * MAX_DISPATCHERS;

const Slot32 = {
  /** Bumped on every publication of `written`; dispatchers sleep on it. */
  writeSeq: 0,
  /** Bumped whenever a dispatcher advances; readers and long polls sleep on it. */
  dispatchSeq: 1,
  /** Bumped when retention deleted files, so readers drop their mappings and re-list. */
  retentionEpoch: 2,
  /** StoreState below. */
  state: 3,
  /** 1 when the disk is over diskSpaceWarningLevelRatio. */
  diskFull: 4,
  /** Master: bumped whenever haAckOffset or haConnectedSlaves changes; SYNC_MASTER sends sleep on it. */
  haAckSeq: 5,
  /** Master: slaves connected to the HA port now. */
  haConnectedSlaves: 6,
  /** Slave: 1 while the HA connection to the master is up. */
  haMasterConnected: 7,
  /** 1 while someone wants arrival notices on every queue (the broker: while it holds pulls); otherwise dispatchers post only SCHEDULE_TOPIC_XXXX's. */
  arrivalInterest: 8,
  /** Bumped when a dispatcher posted arrival notices; the store's arrival reader sleeps on it. */
  arrivalSeq: 9,
} as const;
const SLOT32_COUNT = 10;

export const StoreState = { starting: 0, running: 1, stopping: 2, stopped: 3, failed: 4 } as const;

export class SharedStoreState {
  readonly buffer: SharedArrayBuffer;
  private readonly i64: BigInt64Array;
  private readonly i32: Int32Array;

  constructor(buffer?: SharedArrayBuffer) {
    this.buffer = buffer ?? new SharedArrayBuffer(SLOT64_COUNT * 8 + SLOT32_COUNT * 4);
    this.i64 = new BigInt64Array(this.buffer, 0, SLOT64_COUNT);
    this.i32 = new Int32Array(this.buffer, SLOT64_COUNT * 8, SLOT32_COUNT);
  }

  private get64(slot: number): number {
    return Number(Atomics.load(this.i64, slot));
  }
  private set64(slot: number, value: number): void {
    Atomics.store(this.i64, slot, BigInt(value));
  }

  get writtenOffset(): number { return this.get64(Slot64.written); }
  get flushedOffset(): number { return this.get64(Slot64.flushed); }
  get minPhysicalOffset(): number { return this.get64(Slot64.minPhysical); }
  get lastStoreTimestamp(): number { return this.get64(Slot64.lastStoreTimestamp); }
  set flushedOffset(v: number) { this.set64(Slot64.flushed, v); }
  set minPhysicalOffset(v: number) { this.set64(Slot64.minPhysical, v); }
  set lastStoreTimestamp(v: number) { this.set64(Slot64.lastStoreTimestamp, v); }

  /** Publishes new bytes and wakes dispatchers. */
  publishWritten(offset: number): void {
    this.set64(Slot64.written, offset);
    Atomics.add(this.i32, Slot32.writeSeq, 1);
    Atomics.notify(this.i32, Slot32.writeSeq);
  }

  dispatchedOffset(dispatcher: number): number { return this.get64(Slot64.dispatchedBase + dispatcher); }
  dispatchFlushedOffset(dispatcher: number): number { return this.get64(Slot64.dispatchFlushedBase + dispatcher); }
  setDispatchFlushedOffset(dispatcher: number, v: number): void { this.set64(Slot64.dispatchFlushedBase + dispatcher, v); }

  publishDispatched(dispatcher: number, offset: number): void {
    this.set64(Slot64.dispatchedBase + dispatcher, offset);
    Atomics.add(this.i32, Slot32.dispatchSeq, 1);
    Atomics.notify(this.i32, Slot32.dispatchSeq);
  }

  /** The offset below which every dispatcher has built its queues. */
  minDispatchedOffset(dispatcherCount: number): number {
    let min = Infinity;
    for (let i = 0; i < dispatcherCount; i++) min = Math.min(min, this.dispatchedOffset(i));
    return min;
  }
  minDispatchFlushedOffset(dispatcherCount: number): number {
    let min = Infinity;
    for (let i = 0; i < dispatcherCount; i++) min = Math.min(min, this.dispatchFlushedOffset(i));
    return min;
  }

  get arrivalInterest(): boolean { return Atomics.load(this.i32, Slot32.arrivalInterest) !== 0; }
  set arrivalInterest(on: boolean) { Atomics.store(this.i32, Slot32.arrivalInterest, on ? 1 : 0); }
  get arrivalSeq(): number { return Atomics.load(this.i32, Slot32.arrivalSeq); }
  /** After arrival notices were committed to a ring: wakes the reader. */
  publishArrivals(): void {
    Atomics.add(this.i32, Slot32.arrivalSeq, 1);
    Atomics.notify(this.i32, Slot32.arrivalSeq);
  }
  waitArrivalSeqAsync(seenSeq: number, timeoutMs: number): Promise<unknown> | undefined {
    const r = Atomics.waitAsync(this.i32, Slot32.arrivalSeq, seenSeq, timeoutMs);
    return r.async ? r.value : undefined;
  }

  get writeSeq(): number { return Atomics.load(this.i32, Slot32.writeSeq); }
  get dispatchSeq(): number { return Atomics.load(this.i32, Slot32.dispatchSeq); }

  waitWriteSeqAsync(seenSeq: number, timeoutMs: number): Promise<unknown> | undefined {
    const r = Atomics.waitAsync(this.i32, Slot32.writeSeq, seenSeq, timeoutMs);
    return r.async ? r.value : undefined;
  }
  waitDispatchSeqAsync(seenSeq: number, timeoutMs: number): Promise<unknown> | undefined {
    const r = Atomics.waitAsync(this.i32, Slot32.dispatchSeq, seenSeq, timeoutMs);
    return r.async ? r.value : undefined;
  }

  /** Wakes every sleeper (closing): each re-reads the state it sleeps on. */
  wakeAll(): void {
    for (const slot of [Slot32.writeSeq, Slot32.dispatchSeq, Slot32.haAckSeq, Slot32.arrivalSeq]) {
      Atomics.add(this.i32, slot, 1);
      Atomics.notify(this.i32, slot);
    }
  }

  get retentionEpoch(): number { return Atomics.load(this.i32, Slot32.retentionEpoch); }
  bumpRetentionEpoch(): void {
    Atomics.add(this.i32, Slot32.retentionEpoch, 1);
    Atomics.add(this.i32, Slot32.writeSeq, 1);
    Atomics.notify(this.i32, Slot32.writeSeq);
  }

  get state(): number { return Atomics.load(this.i32, Slot32.state); }
  set state(v: number) {
    Atomics.store(this.i32, Slot32.state, v);
    Atomics.add(this.i32, Slot32.writeSeq, 1);
    Atomics.notify(this.i32, Slot32.writeSeq);
  }

  get haAckOffset(): number { return this.get64(Slot64.haAckOffset); }
  get haConnectedSlaves(): number { return Atomics.load(this.i32, Slot32.haConnectedSlaves); }
  get haAckSeq(): number { return Atomics.load(this.i32, Slot32.haAckSeq); }
  /** Publishes the replication state the master's HA thread sees and wakes waiting sends. */
  publishHaAck(ackOffset: number, connectedSlaves: number): void {
    this.set64(Slot64.haAckOffset, ackOffset);
    Atomics.store(this.i32, Slot32.haConnectedSlaves, connectedSlaves);
    Atomics.add(this.i32, Slot32.haAckSeq, 1);
    Atomics.notify(this.i32, Slot32.haAckSeq);
  }
  waitHaAckSeqAsync(seenSeq: number, timeoutMs: number): Promise<unknown> | undefined {
    const r = Atomics.waitAsync(this.i32, Slot32.haAckSeq, seenSeq, timeoutMs);
    return r.async ? r.value : undefined;
  }

  get haReceivedOffset(): number { return this.get64(Slot64.haReceivedOffset); }
  set haReceivedOffset(v: number) { this.set64(Slot64.haReceivedOffset, v); }
  get haMasterConnected(): boolean { return Atomics.load(this.i32, Slot32.haMasterConnected) === 1; }
  set haMasterConnected(v: boolean) { Atomics.store(this.i32, Slot32.haMasterConnected, v ? 1 : 0); }

  get diskFull(): boolean { return Atomics.load(this.i32, Slot32.diskFull) === 1; }
  set diskFull(v: boolean) { Atomics.store(this.i32, Slot32.diskFull, v ? 1 : 0); }
}
