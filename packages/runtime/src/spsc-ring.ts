// A bounded single-producer/single-consumer ring of variable-length records in a SharedArrayBuffer.
// It is the mailbox between two threads on the hot path (e.g. main thread → commit-log writer):
// payloads are written and read in place, indices are published with Atomics, and a sleeping side
// is woken only when it said it was sleeping, so a busy pair pays no notify at all.
//
// Shared layout (all Int32, native byte order):
//   control region, CONTROL_BYTES long, one 64-byte line per writer so the two sides do not
//   false-share:
//     line 0  WRITE_INDEX                      written by the producer only
//     line 1  READ_INDEX                       written by the consumer only
//     line 2  CLOSED, CONSUMER_WAITERS, PRODUCER_WAITERS, DATA_SEQ, SPACE_SEQ, CAPACITY, MAGIC
//   data region, capacityBytes long, right after it.
//
// Record format inside the data region: records start at 8-byte aligned positions and never wrap.
//   [int32 length][payload: length bytes][pad to 8]
// A length of PADDING_MARKER (-1) means "the rest of the region up to its end is padding; the
// next record is at position 0". The producer writes it when a record does not fit in the tail.
// Since every position is 8-aligned and the capacity a multiple of 8, a non-empty tail always has
// room for the 4-byte marker.
//
// Indices are free-running 32-bit counters of bytes, stored as Int32 and advanced with `| 0`, so
// they wrap modulo 2^32 and never overflow however long the run. The capacity is a power of two
// ≤ 2^30 that divides 2^32, so a position is `index & mask` across the wrap, and the bytes in use
// are `(write - read) >>> 0`, exact while that distance stays ≤ capacity < 2^31.
//
// Memory ordering: all Atomics operations are sequentially consistent. The producer writes a
// record's header and payload with plain stores, then publishes with Atomics.store(WRITE_INDEX);
// the consumer reads WRITE_INDEX with Atomics.load before reading those bytes, so they
// happen-before its reads. Symmetrically the consumer finishes reading a record before it
// Atomics.store's READ_INDEX, and the producer only reuses space after Atomics.load'ing it.
//
// Sleeping without lost wake-ups (the futex pattern, one sequence word per direction):
//   sleeper:  Atomics.add(WAITERS, 1); seq = load(SEQ); check index (and CLOSED); wait(SEQ, seq)
//   waker:    Atomics.store(index);    if (load(WAITERS) != 0) { add(SEQ, 1); notify(SEQ) }
// In the single total order of SC atomics, either the sleeper's index check sees the new index,
// or its WAITERS increment precedes the waker's load, so the waker bumps SEQ and wait() either
// sees the changed SEQ or is already queued when notify runs. close() bumps both SEQ words
// unconditionally, so it can never be missed either.
import { assert, OrbitError } from '@orbit/common/errors';

const HEADER_BYTES = 4;
const RECORD_ALIGN_BYTES = 8;
const PADDING_MARKER = -1;
const CONTROL_BYTES = 256;
const MIN_CAPACITY_BYTES = 4096;
// Keeps `(write - read) >>> 0` unambiguous and every position an Int32.
const MAX_CAPACITY_BYTES = 2 ** 30;
const RING_MAGIC = 0x52494e47; // "RING"
// The longest delay setTimeout accepts; the keep-alive timer of the async waits uses it.
const MAX_TIMER_MS = 2 ** 31 - 1;
// write() waits in slices of this length so it re-checks CLOSED even if a wake-up were lost.
const WRITE_WAIT_SLICE_MS = 1000;

// Int32 slots of the control region.
const WRITE_INDEX = 0;
const READ_INDEX = 16;
const CLOSED = 32;
const CONSUMER_WAITERS = 33;
const PRODUCER_WAITERS = 34;
const DATA_SEQ = 35;
const SPACE_SEQ = 36;
const CAPACITY = 37;
const MAGIC = 38;

type WaitAsyncResult =
  | { async: false; value: 'not-equal' | 'timed-out' }
  | { async: true; value: Promise<'ok' | 'timed-out'> };
// Atomics.waitAsync is in Node 20 but in TypeScript's ES2024 lib, not the ES2023 one we target.
const waitAsync = (Atomics as unknown as {
  waitAsync(array: Int32Array, index: number, value: number, timeoutMs: number): WaitAsyncResult;
}).waitAsync;

function noop(): void {}

function alignRecordBytes(sizeBytes: number): number {
  return (sizeBytes + HEADER_BYTES + RECORD_ALIGN_BYTES - 1) & ~(RECORD_ALIGN_BYTES - 1);
}

export interface SpscRingCreateOptions {
  /** Starting value of both indices; only tests need it (to cross the 2^31 and 2^32 wraps). */
  initialIndex?: number;
}

export class SpscRing {
  readonly buffer: SharedArrayBuffer;
  readonly capacityBytes: number;
  /** Largest payload that can ever be reserved: half the ring, minus the header. */
  readonly maxRecordBytes: number;
  /** The data region. Payload offsets returned by tryReserve and given to poll handlers index it. */
  readonly bytes: Buffer;

  private readonly control: Int32Array;
  /** The data region as Int32, for record headers (positions are 8-aligned). */
  private readonly headers: Int32Array;
  private readonly mask: number;

  // Producer-local state.
  private reserveIndex: number;
  private publishedIndex: number;
  private cachedReadIndex: number;
  // Consumer-local state.
  private readIndex: number;

  static create(capacityBytes: number, options: SpscRingCreateOptions = {}): SpscRing {
    assert(
      Number.isInteger(capacityBytes) &&
        capacityBytes >= MIN_CAPACITY_BYTES &&
        capacityBytes <= MAX_CAPACITY_BYTES &&
        (capacityBytes & (capacityBytes - 1)) === 0,
      `ring capacity must be a power of two in [${MIN_CAPACITY_BYTES}, ${MAX_CAPACITY_BYTES}] bytes, got ${capacityBytes}`,
    );
    const initialIndex = options.initialIndex ?? 0;
    assert(
      Number.isInteger(initialIndex) && (initialIndex & (RECORD_ALIGN_BYTES - 1)) === 0,
      `initialIndex must be an 8-aligned integer, got ${initialIndex}`,
    );
    const buffer = new SharedArrayBuffer(CONTROL_BYTES + capacityBytes);
    const control = new Int32Array(buffer, 0, CONTROL_BYTES / 4);
    control[CAPACITY] = capacityBytes;
    control[WRITE_INDEX] = initialIndex | 0;
    control[READ_INDEX] = initialIndex | 0;
    // Published last; the SAB is handed over by postMessage, which orders these plain writes anyway.
    Atomics.store(control, MAGIC, RING_MAGIC);
    return new SpscRing(buffer);
  }

  static attach(buffer: SharedArrayBuffer): SpscRing {
    return new SpscRing(buffer);
  }

  private constructor(buffer: SharedArrayBuffer) {
    assert(buffer instanceof SharedArrayBuffer, 'a ring lives in a SharedArrayBuffer');
    assert(buffer.byteLength > CONTROL_BYTES, `ring buffer too small: ${buffer.byteLength} bytes`);
    const control = new Int32Array(buffer, 0, CONTROL_BYTES / 4);
    assert(Atomics.load(control, MAGIC) === RING_MAGIC, 'buffer is not an SpscRing (bad magic)');
    const capacityBytes = control[CAPACITY];
    assert(
      buffer.byteLength === CONTROL_BYTES + capacityBytes,
      `ring buffer is ${buffer.byteLength} bytes but its header says capacity ${capacityBytes}`,
    );
    this.buffer = buffer;
    this.control = control;
    this.capacityBytes = capacityBytes;
    this.mask = capacityBytes - 1;
    this.maxRecordBytes = capacityBytes / 2 - HEADER_BYTES;
    this.bytes = Buffer.from(buffer, CONTROL_BYTES, capacityBytes);
    this.headers = new Int32Array(buffer, CONTROL_BYTES, capacityBytes / 4);
    const writeIndex = Atomics.load(control, WRITE_INDEX);
    const readIndex = Atomics.load(control, READ_INDEX);
    this.reserveIndex = writeIndex;
    this.publishedIndex = writeIndex;
    this.cachedReadIndex = readIndex;
    this.readIndex = readIndex;
  }

  // ---------------------------------------------------------------- producer

  /**
   * Reserves room for one record of `sizeBytes` and returns the offset in `bytes` where the caller
   * writes its payload, or -1 when the ring lacks the space right now. Nothing is visible to the
   * consumer until commit(). Does not check `isClosed` (hot path); the waits and write() do.
   */
  tryReserve(sizeBytes: number): number {
    if (!(sizeBytes >= 0 && sizeBytes <= this.maxRecordBytes && (sizeBytes | 0) === sizeBytes)) {
      this.throwBadSize(sizeBytes);
    }
    const recordBytes = alignRecordBytes(sizeBytes);
    let position = this.reserveIndex & this.mask;
    const tailBytes = this.capacityBytes - position;
    const paddingBytes = recordBytes > tailBytes ? tailBytes : 0;
    const neededBytes = paddingBytes + recordBytes;
    if (this.capacityBytes - ((this.reserveIndex - this.cachedReadIndex) >>> 0) < neededBytes) {
      if (this.freeBytesNow() < neededBytes) return -1;
    }
    if (paddingBytes !== 0) {
      this.headers[position >> 2] = PADDING_MARKER;
      position = 0;
    }
    this.headers[position >> 2] = sizeBytes;
    this.reserveIndex = (this.reserveIndex + neededBytes) | 0;
    return position + HEADER_BYTES;
  }

  /** Publishes every reservation made since the last commit, with one store. */
  commit(): void {
    const reserveIndex = this.reserveIndex;
    if (reserveIndex === this.publishedIndex) return;
    this.publishedIndex = reserveIndex;
    Atomics.store(this.control, WRITE_INDEX, reserveIndex);
    if (Atomics.load(this.control, CONSUMER_WAITERS) !== 0) {
      Atomics.add(this.control, DATA_SEQ, 1);
      Atomics.notify(this.control, DATA_SEQ);
    }
  }

  /** Copies `payload` into the ring and commits it, waiting (never dropping) while the ring is full. */
  async write(payload: Uint8Array): Promise<void> {
    for (;;) {
      if (this.isClosed) throw new OrbitError('RING_CLOSED', 'ring is closed');
      const offset = this.tryReserve(payload.byteLength);
      if (offset >= 0) {
        this.bytes.set(payload, offset);
        this.commit();
        return;
      }
      await this.waitForSpace(payload.byteLength, WRITE_WAIT_SLICE_MS);
    }
  }

  /**
   * Resolves true once a record of `sizeBytes` can be reserved, false on timeout or close.
   * Commits pending reservations first: the consumer cannot free space for records it cannot see.
   * Uses Atomics.waitAsync, so it is safe on the main thread.
   */
  async waitForSpace(sizeBytes: number, timeoutMs: number): Promise<boolean> {
    this.commit();
    if (this.hasSpaceFor(sizeBytes)) return true;
    const deadlineMs = performance.now() + timeoutMs;
    Atomics.add(this.control, PRODUCER_WAITERS, 1);
    // A pending waitAsync does not keep Node's event loop alive; this timer does, until the wait
    // settles (cleared in finally). It must not be the wait's own timeout: firing a hair before
    // waitAsync's, it would leave the loop empty and the process would exit mid-wait.
    const keepAlive = setTimeout(noop, MAX_TIMER_MS);
    try {
      for (;;) {
        const seq = Atomics.load(this.control, SPACE_SEQ);
        if (this.hasSpaceFor(sizeBytes)) return true;
        if (this.isClosed) return false;
        const remainingMs = deadlineMs - performance.now();
        if (remainingMs <= 0) return false;
        const result = waitAsync(this.control, SPACE_SEQ, seq, remainingMs);
        if (result.async) await result.value;
      }
    } finally {
      clearTimeout(keepAlive);
      Atomics.sub(this.control, PRODUCER_WAITERS, 1);
    }
  }

  /** As waitForSpace, but blocks the thread with Atomics.wait: for worker threads only. */
  waitForSpaceSync(sizeBytes: number, timeoutMs: number): boolean {
    this.commit();
    if (this.hasSpaceFor(sizeBytes)) return true;
    const deadlineMs = performance.now() + timeoutMs;
    Atomics.add(this.control, PRODUCER_WAITERS, 1);
    try {
      for (;;) {
        const seq = Atomics.load(this.control, SPACE_SEQ);
        if (this.hasSpaceFor(sizeBytes)) return true;
        if (this.isClosed) return false;
        const remainingMs = deadlineMs - performance.now();
        if (remainingMs <= 0) return false;
        Atomics.wait(this.control, SPACE_SEQ, seq, remainingMs);
      }
    } finally {
      Atomics.sub(this.control, PRODUCER_WAITERS, 1);
    }
  }

  // ---------------------------------------------------------------- consumer

  /**
   * Calls `handler(bytes, offset, length)` for each published record in order, up to `maxRecords`,
   * then releases their space with one store. The handler must not keep `bytes` views past its
   * call: the producer reuses the space. If the handler throws, the records up to and including
   * that one are released (a poison record is not redelivered) and the error propagates.
   */
  poll(handler: (bytes: Buffer, offset: number, length: number) => void, maxRecords = Infinity): number {
    const writeIndex = Atomics.load(this.control, WRITE_INDEX);
    let readIndex = this.readIndex;
    if (readIndex === writeIndex) return 0;
    // Checked with `if` first so the message is only built on failure (poll runs per batch).
    if ((writeIndex - readIndex) >>> 0 > this.capacityBytes) this.failOverfull((writeIndex - readIndex) >>> 0);
    const { headers, bytes, capacityBytes, maxRecordBytes, mask } = this;
    let count = 0;
    try {
      while (readIndex !== writeIndex && count < maxRecords) {
        const position = readIndex & mask;
        const length = headers[position >> 2];
        if (length === PADDING_MARKER) {
          readIndex = (readIndex + capacityBytes - position) | 0;
          continue;
        }
        if (!(length >= 0 && length <= maxRecordBytes && position + HEADER_BYTES + length <= capacityBytes)) {
          assert(false, `corrupt record header: length ${length} at position ${position} of ${capacityBytes}`);
        }
        // Advance before the call so a throwing handler does not see its record again.
        readIndex = (readIndex + alignRecordBytes(length)) | 0;
        count++;
        handler(bytes, position + HEADER_BYTES, length);
      }
    } finally {
      this.release(readIndex);
    }
    return count;
  }

  /**
   * Resolves true when a record is available, false on timeout, or on close with nothing left.
   * Uses Atomics.waitAsync, so it is safe on the main thread.
   */
  async waitForData(timeoutMs: number): Promise<boolean> {
    if (this.hasData()) return true;
    const deadlineMs = performance.now() + timeoutMs;
    Atomics.add(this.control, CONSUMER_WAITERS, 1);
    // A pending waitAsync does not keep Node's event loop alive; this timer does, until the wait
    // settles (cleared in finally). It must not be the wait's own timeout: firing a hair before
    // waitAsync's, it would leave the loop empty and the process would exit mid-wait.
    const keepAlive = setTimeout(noop, MAX_TIMER_MS);
    try {
      for (;;) {
        const seq = Atomics.load(this.control, DATA_SEQ);
        if (this.hasData()) return true;
        if (this.isClosed) return false;
        const remainingMs = deadlineMs - performance.now();
        if (remainingMs <= 0) return false;
        const result = waitAsync(this.control, DATA_SEQ, seq, remainingMs);
        if (result.async) await result.value;
      }
    } finally {
      clearTimeout(keepAlive);
      Atomics.sub(this.control, CONSUMER_WAITERS, 1);
    }
  }

  /** As waitForData, but blocks the thread with Atomics.wait: for worker threads only. */
  waitForDataSync(timeoutMs: number): boolean {
    if (this.hasData()) return true;
    const deadlineMs = performance.now() + timeoutMs;
    Atomics.add(this.control, CONSUMER_WAITERS, 1);
    try {
      for (;;) {
        const seq = Atomics.load(this.control, DATA_SEQ);
        if (this.hasData()) return true;
        if (this.isClosed) return false;
        const remainingMs = deadlineMs - performance.now();
        if (remainingMs <= 0) return false;
        Atomics.wait(this.control, DATA_SEQ, seq, remainingMs);
      }
    } finally {
      Atomics.sub(this.control, CONSUMER_WAITERS, 1);
    }
  }

  // ---------------------------------------------------------------- either side

  get isEmpty(): boolean {
    return Atomics.load(this.control, WRITE_INDEX) === Atomics.load(this.control, READ_INDEX);
  }

  /** Published bytes not yet released, including record headers and padding. */
  get usedBytes(): number {
    const usedBytes = (Atomics.load(this.control, WRITE_INDEX) - Atomics.load(this.control, READ_INDEX)) >>> 0;
    if (usedBytes > this.capacityBytes) this.failOverfull(usedBytes);
    return usedBytes;
  }

  /** Marks the ring closed for both sides and wakes every waiter. Records already in it stay readable. */
  close(): void {
    Atomics.store(this.control, CLOSED, 1);
    Atomics.add(this.control, DATA_SEQ, 1);
    Atomics.add(this.control, SPACE_SEQ, 1);
    Atomics.notify(this.control, DATA_SEQ);
    Atomics.notify(this.control, SPACE_SEQ);
  }

  get isClosed(): boolean {
    return Atomics.load(this.control, CLOSED) !== 0;
  }

  // ---------------------------------------------------------------- internals

  private hasData(): boolean {
    return Atomics.load(this.control, WRITE_INDEX) !== this.readIndex;
  }

  /** Free bytes as of a fresh load of the consumer's index (producer side). */
  private freeBytesNow(): number {
    this.cachedReadIndex = Atomics.load(this.control, READ_INDEX);
    const usedBytes = (this.reserveIndex - this.cachedReadIndex) >>> 0;
    if (usedBytes > this.capacityBytes) this.failOverfull(usedBytes);
    return this.capacityBytes - usedBytes;
  }

  /** Whether tryReserve(sizeBytes) would succeed now, padding included. */
  private hasSpaceFor(sizeBytes: number): boolean {
    if (!(sizeBytes >= 0 && sizeBytes <= this.maxRecordBytes && (sizeBytes | 0) === sizeBytes)) {
      this.throwBadSize(sizeBytes);
    }
    const recordBytes = alignRecordBytes(sizeBytes);
    const tailBytes = this.capacityBytes - (this.reserveIndex & this.mask);
    const neededBytes = recordBytes > tailBytes ? tailBytes + recordBytes : recordBytes;
    return this.freeBytesNow() >= neededBytes;
  }

  private release(readIndex: number): void {
    if (readIndex === this.readIndex) return;
    this.readIndex = readIndex;
    Atomics.store(this.control, READ_INDEX, readIndex);
    if (Atomics.load(this.control, PRODUCER_WAITERS) !== 0) {
      Atomics.add(this.control, SPACE_SEQ, 1);
      Atomics.notify(this.control, SPACE_SEQ);
    }
  }

  /** used ≤ capacity is the ring's core invariant: more means two producers, or a corrupt index. */
  private failOverfull(usedBytes: number): never {
    assert(false, `ring holds ${usedBytes} bytes, more than its capacity ${this.capacityBytes} (a second producer or consumer?)`);
  }

  private throwBadSize(sizeBytes: number): never {
    throw new RangeError(
      `record of ${sizeBytes} bytes cannot be reserved: payloads must be integers in [0, ${this.maxRecordBytes}] bytes ` +
        `(maxRecordBytes of a ${this.capacityBytes}-byte ring)`,
    );
  }
}
