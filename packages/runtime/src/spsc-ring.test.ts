import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SpscRing } from './spsc-ring.js';
import { startWorker } from './ts-worker.js';
import { checkPattern, checkRecord, fillRecord, recordLength } from './spsc-ring.fixture-records.js';
import type { RingWorkerRole } from './spsc-ring.fixture-worker.js';

const WORKER_URL = new URL('./spsc-ring.fixture-worker.ts', import.meta.url);
const WORKER_TIMEOUT_MS = 30_000;

/** Starts the fixture worker in `role` and resolves with the one message it posts. */
function runWorker<T>(role: RingWorkerRole): Promise<T> {
  const worker = startWorker(WORKER_URL, { workerData: role });
  const result = new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      void worker.terminate();
      reject(new Error(`worker ${role.role} timed out`));
    }, WORKER_TIMEOUT_MS);
    worker.once('message', (message: T) => {
      clearTimeout(timer);
      resolve(message);
    });
    worker.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    worker.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`worker ${role.role} exited with code ${code} before answering`));
    });
  });
  // The caller may await it only later; a failure must not count as unhandled in between.
  result.catch(() => {});
  return result;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function writeOne(ring: SpscRing, payload: Uint8Array): void {
  const offset = ring.tryReserve(payload.byteLength);
  assert.ok(offset >= 0, 'room for the record');
  ring.bytes.set(payload, offset);
  ring.commit();
}

function readAll(ring: SpscRing): Buffer[] {
  const out: Buffer[] = [];
  ring.poll((bytes, offset, length) => out.push(Buffer.from(bytes.subarray(offset, offset + length))));
  return out;
}

test('create checks the capacity; attach sees the same ring', () => {
  assert.throws(() => SpscRing.create(1000), /power of two/);
  assert.throws(() => SpscRing.create(2048), /power of two/);
  assert.throws(() => SpscRing.create(6144), /power of two/);
  const ring = SpscRing.create(4096);
  assert.is(ring.capacityBytes, 4096);
  assert.is(ring.maxRecordBytes, 2048 - 4);
  assert.is(ring.bytes.length, 4096);
  assert.ok(ring.isEmpty);
  writeOne(ring, Buffer.from('hello'));
  const other = SpscRing.attach(ring.buffer);
  assert.is(other.capacityBytes, 4096);
  assert.is(other.usedBytes, 16);
  assert.equal(readAll(other).map(String), ['hello']);
  assert.ok(ring.isEmpty);
  assert.throws(() => SpscRing.attach(new SharedArrayBuffer(4096 + 256)), /magic/);
});

test('reservations are invisible until commit, then delivered in order', () => {
  const ring = SpscRing.create(4096);
  const offsets = [ring.tryReserve(3), ring.tryReserve(0), ring.tryReserve(10)];
  ring.bytes.write('abc', offsets[0]);
  ring.bytes.write('0123456789', offsets[2]);
  assert.ok(ring.isEmpty);
  assert.is(ring.poll(() => assert.unreachable('nothing committed yet')), 0);
  ring.commit();
  assert.is(ring.usedBytes, 8 + 8 + 16);
  assert.equal(readAll(ring).map(String), ['abc', '', '0123456789']);
  assert.is(ring.usedBytes, 0);
});

test('poll honours maxRecords and a throwing handler consumes its record', () => {
  const ring = SpscRing.create(4096);
  for (let i = 0; i < 5; i++) writeOne(ring, Buffer.from([i]));
  const seen: number[] = [];
  assert.is(ring.poll((b, o) => seen.push(b[o]), 2), 2);
  assert.throws(() => ring.poll((b, o) => {
    seen.push(b[o]);
    throw new Error('handler failed');
  }), /handler failed/);
  assert.is(ring.poll((b, o) => seen.push(b[o])), 2);
  assert.equal(seen, [0, 1, 2, 3, 4]);
});

test('a full ring refuses reservations; a record above maxRecordBytes throws RangeError', () => {
  const ring = SpscRing.create(4096);
  let accepted = 0;
  while (ring.tryReserve(1000) >= 0) accepted++;
  assert.is(accepted, 4); // 4 × 1008 bytes fit in 4096, a fifth does not
  ring.commit();
  assert.is(ring.poll(() => {}, 1), 1);
  assert.ok(ring.tryReserve(1000) >= 0, 'space freed by the consumer is reusable');
  assert.ok(ring.tryReserve(ring.maxRecordBytes) < 0);
  try {
    ring.tryReserve(ring.maxRecordBytes + 1);
    assert.unreachable('should throw');
  } catch (error) {
    assert.instance(error, RangeError);
    assert.match((error as Error).message, String(ring.maxRecordBytes + 1));
    assert.match((error as Error).message, String(ring.maxRecordBytes));
  }
  assert.throws(() => ring.tryReserve(-1), RangeError);
  assert.throws(() => ring.tryReserve(1.5), RangeError);
  // The largest record fits once the ring is empty, wherever the write position is.
  ring.commit();
  ring.poll(() => {});
  assert.ok(ring.tryReserve(ring.maxRecordBytes) >= 0);
});

test('a corrupt record header is caught, not delivered', () => {
  const ring = SpscRing.create(4096);
  const offset = ring.tryReserve(8);
  ring.commit();
  // Someone scribbled over the header (e.g. a second producer): length now exceeds the ring.
  new Int32Array(ring.buffer, 256 + offset - 4, 1)[0] = 1 << 20;
  assert.throws(() => ring.poll(() => assert.unreachable('must not deliver')), /corrupt record header/);
});

test('records never wrap: padding at every 8-byte tail length and every nearby size', () => {
  const capacityBytes = 4096;
  const ring = SpscRing.create(capacityBytes);
  let position = 0; // where the next record starts, tracked by the test
  const put = (sizeBytes: number): number => {
    const offset = ring.tryReserve(sizeBytes);
    assert.ok(offset >= 0);
    position = (offset - 4 + ((sizeBytes + 4 + 7) & ~7)) % capacityBytes;
    return offset;
  };
  let seq = 0;
  for (let tailBytes = 8; tailBytes <= 256; tailBytes += 8) {
    for (let sizeBytes = 0; sizeBytes <= tailBytes + 8; sizeBytes++) {
      // Bring the write position to capacity - tailBytes with fillers that never pad themselves.
      let distance = (capacityBytes - tailBytes - position + capacityBytes) % capacityBytes;
      while (distance > 0) {
        const stepBytes = Math.min(distance, 2048, capacityBytes - position);
        put(stepBytes - 4);
        ring.commit();
        assert.is(ring.poll(() => {}), 1);
        distance -= stepBytes;
      }
      assert.is(position, capacityBytes - tailBytes);
      const offset = put(sizeBytes);
      const fits = ((sizeBytes + 4 + 7) & ~7) <= tailBytes;
      assert.is(offset, fits ? capacityBytes - tailBytes + 4 : 4, `tail ${tailBytes}, size ${sizeBytes}`);
      fillRecord(ring.bytes, offset, sizeBytes, seq);
      ring.commit();
      assert.is(ring.usedBytes, (fits ? 0 : tailBytes) + ((sizeBytes + 4 + 7) & ~7));
      let got = 0;
      ring.poll((bytes, o, length) => {
        got++;
        assert.is(o, offset);
        const problem = checkPattern(bytes, o, length, seq);
        if (problem) assert.unreachable(problem);
        assert.is(length, sizeBytes);
      });
      assert.is(got, 1);
      assert.ok(ring.isEmpty);
      seq++;
    }
  }
});

test('indices wrap past 2^31 and 2^32 without losing records', () => {
  for (const initialIndex of [2 ** 31 - 4096, 2 ** 32 - 4096, -4096]) {
    const ring = SpscRing.create(4096, { initialIndex });
    const maxBytes = 600;
    let written = 0;
    let read = 0;
    while (read < 2000) {
      for (;;) {
        const length = recordLength(written, maxBytes);
        const offset = ring.tryReserve(length);
        if (offset < 0) break;
        fillRecord(ring.bytes, offset, length, written++);
      }
      ring.commit();
      ring.poll((bytes, offset, length) => {
        const problem = checkRecord(bytes, offset, length, read++, maxBytes);
        if (problem) assert.unreachable(problem);
      });
      assert.ok(ring.usedBytes <= ring.capacityBytes);
    }
    assert.is(read, written);
  }
});

test('main-thread producer → worker consumer: order and every byte survive', async () => {
  const ring = SpscRing.create(16 * 1024);
  const maxBytes = 3000;
  const count = 20_000;
  const consumer = runWorker<{ count: number; error: string | null }>({ role: 'consume-verify', buffer: ring.buffer, maxBytes });
  const scratch = Buffer.alloc(maxBytes);
  for (let seq = 0; seq < count; seq++) {
    const length = recordLength(seq, maxBytes);
    fillRecord(scratch, 0, length, seq);
    await ring.write(scratch.subarray(0, length));
  }
  ring.close();
  const result = await consumer;
  assert.is(result.error, null);
  assert.is(result.count, count);
});

test('worker producer → main-thread consumer (waitForData): order and every byte survive', async () => {
  const ring = SpscRing.create(8 * 1024);
  const maxBytes = 2000;
  const count = 20_000;
  const producer = runWorker<{ waits: number }>({ role: 'produce', buffer: ring.buffer, maxBytes, count, commitEvery: 3 });
  let seq = 0;
  let problem: string | null = null;
  const handler = (bytes: Buffer, offset: number, length: number): void => {
    problem ??= checkRecord(bytes, offset, length, seq, maxBytes);
    seq++;
  };
  for (;;) {
    if (ring.poll(handler) > 0) continue;
    if (ring.isClosed) {
      ring.poll(handler);
      break;
    }
    await ring.waitForData(5000);
  }
  const { waits } = await producer;
  assert.is(problem, null);
  assert.is(seq, count);
  assert.ok(waits > 0, 'an 8 KiB ring must have filled up at least once');
});

test('a full ring makes write() wait, and nothing is lost', async () => {
  const ring = SpscRing.create(4096);
  const maxBytes = 500;
  let seq = 0;
  const scratch = Buffer.alloc(maxBytes);
  for (;;) {
    const length = recordLength(seq, maxBytes);
    const offset = ring.tryReserve(length);
    if (offset < 0) break;
    fillRecord(ring.bytes, offset, length, seq++);
  }
  ring.commit();
  const usedWhenFull = ring.usedBytes;
  assert.ok(usedWhenFull > 4096 - 520, `ring nearly full (${usedWhenFull} bytes used)`);

  let length = recordLength(seq, maxBytes);
  fillRecord(scratch, 0, length, seq++);
  let blockedWriteDone = false;
  const blockedWrite = ring.write(scratch.subarray(0, length)).then(() => (blockedWriteDone = true));
  await delay(50);
  assert.not.ok(blockedWriteDone, 'write() waits while the ring is full');

  // A slow consumer (pauses between small batches) starts late.
  const consumer = runWorker<{ count: number; error: string | null }>({
    role: 'consume-verify', buffer: ring.buffer, maxBytes, startDelayMs: 50, pollDelayMs: 1,
  });
  await blockedWrite;
  for (let i = 0; i < 500; i++) {
    length = recordLength(seq, maxBytes);
    fillRecord(scratch, 0, length, seq++);
    await ring.write(scratch.subarray(0, length));
  }
  ring.close();
  const result = await consumer;
  assert.is(result.error, null);
  assert.is(result.count, seq);
});

test('close() wakes waiters on both sides, in workers and on the main thread', async () => {
  // Consumer waiting in a worker (Atomics.wait) and on the main thread (waitAsync).
  const ring = SpscRing.create(4096);
  const workerWait = runWorker<{ result: boolean; elapsedMs: number }>({ role: 'wait-data', buffer: ring.buffer, timeoutMs: 10_000 });
  const mainWaitStartedMs = performance.now();
  const mainWait = ring.waitForData(10_000);
  await delay(300); // let the worker start (tsx loads in ~100 ms) and go to sleep
  ring.close();
  assert.is(await mainWait, false);
  assert.ok(performance.now() - mainWaitStartedMs < 2000);
  const fromWorker = await workerWait;
  assert.is(fromWorker.result, false);
  assert.ok(fromWorker.elapsedMs < 2000, `worker woke after ${fromWorker.elapsedMs} ms`);
  await assert.not.throws(() => ring.poll(() => {}));

  // Producer waiting for space, in a worker and on the main thread.
  const full = SpscRing.create(4096);
  while (full.tryReserve(1000) >= 0);
  full.commit();
  const workerSpace = runWorker<{ result: boolean; elapsedMs: number }>({ role: 'wait-space', buffer: full.buffer, sizeBytes: 1000, timeoutMs: 10_000 });
  const mainSpace = full.waitForSpace(1000, 10_000);
  const blockedWrite = full.write(new Uint8Array(1000));
  await delay(300);
  full.close();
  assert.is(await mainSpace, false);
  try {
    await blockedWrite;
    assert.unreachable('write() on a closed ring must reject');
  } catch (error) {
    assert.match((error as Error).message, /closed/);
  }
  const fromWorkerSpace = await workerSpace;
  assert.is(fromWorkerSpace.result, false);
  assert.ok(fromWorkerSpace.elapsedMs < 2000);
  // Records committed before close stay readable.
  assert.is(full.poll(() => {}), 4);
});

test('waits time out when nothing happens', async () => {
  const ring = SpscRing.create(4096);
  const startedMs = performance.now();
  assert.is(await ring.waitForData(50), false);
  assert.ok(performance.now() - startedMs >= 45);
  // Nothing but the wait keeps the event loop alive here: if the wait's keep-alive ended before
  // waitAsync settled, the process would exit in the middle of this loop.
  for (let i = 0; i < 40; i++) assert.is(await ring.waitForData(3), false);
  const full = SpscRing.create(4096);
  while (full.tryReserve(1000) >= 0);
  for (let i = 0; i < 40; i++) assert.is(await full.waitForSpace(1000, 3), false);
  writeOne(ring, Buffer.from('x'));
  assert.is(await ring.waitForData(50), true);
  assert.is(ring.waitForDataSync(0), true);
  assert.is(await ring.waitForSpace(100, 0), true);
});

test('throughput of 1 KiB records between two threads (printed, not asserted)', async () => {
  const recordBytes = 1024;
  const count = 1_000_000;
  type Consumed = { count: number; sum: number; outOfOrder: number; finishedMs: number };
  for (const capacityBytes of [256 * 1024, 1024 * 1024]) {
    const ring = SpscRing.create(capacityBytes);
    const consumer = runWorker<Consumed>({ role: 'bench-consume', buffer: ring.buffer });
    const producer = runWorker<{ startedMs: number }>({ role: 'bench-produce', buffer: ring.buffer, count, recordBytes, commitEvery: 32 });
    const [consumed, produced] = await Promise.all([consumer, producer]);
    assert.is(consumed.count, count);
    assert.is(consumed.outOfOrder, 0);
    // From the producer's first record to the consumer's last: what crossed, end to end.
    const perSecond = count / ((consumed.finishedMs - produced.startedMs) / 1000);
    console.log(
      `  ring ${capacityBytes / 1024} KiB, worker → worker: ${(perSecond / 1e6).toFixed(2)}M records/s of 1 KiB ` +
        `(${((perSecond * recordBytes) / 2 ** 30).toFixed(2)} GiB/s)`,
    );
  }

  // Main-thread producer awaiting waitForSpace (how the broker's socket side would feed a writer).
  const ring = SpscRing.create(1024 * 1024);
  const consumer = runWorker<Consumed>({ role: 'bench-consume', buffer: ring.buffer });
  const payload = new Uint8Array(recordBytes).fill(0xcd);
  const mainCount = 500_000;
  const startedMs = performance.timeOrigin + performance.now();
  for (let seq = 0; seq < mainCount; seq++) {
    let offset = ring.tryReserve(recordBytes);
    while (offset < 0) {
      await ring.waitForSpace(recordBytes, 5000);
      offset = ring.tryReserve(recordBytes);
    }
    ring.bytes.set(payload, offset);
    ring.bytes.writeUInt32LE(seq, offset);
    if ((seq & 31) === 31) ring.commit();
  }
  ring.commit();
  ring.close();
  const consumed = await consumer;
  assert.is(consumed.count, mainCount);
  assert.is(consumed.outOfOrder, 0);
  const perSecond = mainCount / ((consumed.finishedMs - startedMs) / 1000);
  console.log(`  ring 1024 KiB, main thread (waitForSpace) → worker: ${(perSecond / 1e6).toFixed(2)}M records/s of 1 KiB`);
});

test.run();
