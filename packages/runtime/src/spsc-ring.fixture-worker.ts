// Test fixture: the far side of an SpscRing, run in a worker thread by spsc-ring.test.ts.
// Its role comes in workerData; it posts one result message and ends.
import { parentPort, workerData } from 'node:worker_threads';
import { SpscRing } from './spsc-ring.js';
import { checkRecord, fillRecord, recordLength } from './spsc-ring.fixture-records.js';

export type RingWorkerRole =
  | { role: 'consume-verify'; buffer: SharedArrayBuffer; maxBytes: number; startDelayMs?: number; pollDelayMs?: number }
  | { role: 'produce'; buffer: SharedArrayBuffer; maxBytes: number; count: number; commitEvery: number }
  | { role: 'wait-data'; buffer: SharedArrayBuffer; timeoutMs: number }
  | { role: 'wait-space'; buffer: SharedArrayBuffer; sizeBytes: number; timeoutMs: number }
  | { role: 'bench-produce'; buffer: SharedArrayBuffer; count: number; recordBytes: number; commitEvery: number }
  | { role: 'bench-consume'; buffer: SharedArrayBuffer };

const WAIT_SLICE_MS = 5000;

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function consumeVerify(ring: SpscRing, maxBytes: number, pollDelayMs: number): { count: number; error: string | null } {
  let seq = 0;
  let error: string | null = null;
  const handler = (bytes: Buffer, offset: number, length: number): void => {
    if (error === null) error = checkRecord(bytes, offset, length, seq, maxBytes);
    seq++;
  };
  for (;;) {
    const n = ring.poll(handler, pollDelayMs > 0 ? 7 : Infinity);
    if (n > 0) {
      if (pollDelayMs > 0) sleepSync(pollDelayMs);
      continue;
    }
    if (ring.isClosed) {
      // Everything was committed before close(): one last drain and we are done.
      ring.poll(handler);
      return { count: seq, error };
    }
    ring.waitForDataSync(WAIT_SLICE_MS);
  }
}

function produce(ring: SpscRing, maxBytes: number, count: number, commitEvery: number): number {
  let waits = 0;
  for (let seq = 0; seq < count; seq++) {
    const length = recordLength(seq, maxBytes);
    let offset = ring.tryReserve(length);
    while (offset < 0) {
      waits++;
      if (!ring.waitForSpaceSync(length, WAIT_SLICE_MS)) throw new Error('producer timed out waiting for space');
      offset = ring.tryReserve(length);
    }
    fillRecord(ring.bytes, offset, length, seq);
    if (seq % commitEvery === commitEvery - 1) ring.commit();
  }
  ring.commit();
  ring.close();
  return waits;
}

/** Wall-clock milliseconds comparable across threads (each thread's performance.now() has its own origin). */
function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

function benchProduce(ring: SpscRing, count: number, recordBytes: number, commitEvery: number): { startedMs: number } {
  const payload = new Uint8Array(recordBytes).fill(0xab);
  const startedMs = nowMs();
  for (let seq = 0; seq < count; seq++) {
    let offset = ring.tryReserve(recordBytes);
    while (offset < 0) {
      ring.waitForSpaceSync(recordBytes, WAIT_SLICE_MS);
      offset = ring.tryReserve(recordBytes);
    }
    ring.bytes.set(payload, offset);
    ring.bytes.writeUInt32LE(seq, offset);
    if (seq % commitEvery === commitEvery - 1) ring.commit();
  }
  ring.commit();
  ring.close();
  return { startedMs };
}

function benchConsume(ring: SpscRing): { count: number; sum: number; outOfOrder: number; finishedMs: number } {
  let count = 0;
  let sum = 0;
  let outOfOrder = 0;
  const handler = (bytes: Buffer, offset: number, length: number): void => {
    if (bytes.readUInt32LE(offset) !== count) outOfOrder++;
    sum = (sum + bytes[offset + length - 1]) | 0;
    count++;
  };
  for (;;) {
    if (ring.poll(handler) > 0) continue;
    if (ring.isClosed) {
      ring.poll(handler);
      return { count, sum, outOfOrder, finishedMs: nowMs() };
    }
    ring.waitForDataSync(WAIT_SLICE_MS);
  }
}

const spec = workerData as RingWorkerRole;
const ring = SpscRing.attach(spec.buffer);
switch (spec.role) {
  case 'consume-verify':
    if (spec.startDelayMs) sleepSync(spec.startDelayMs);
    parentPort!.postMessage(consumeVerify(ring, spec.maxBytes, spec.pollDelayMs ?? 0));
    break;
  case 'produce':
    parentPort!.postMessage({ waits: produce(ring, spec.maxBytes, spec.count, spec.commitEvery) });
    break;
  case 'wait-data': {
    const startedMs = performance.now();
    const result = ring.waitForDataSync(spec.timeoutMs);
    parentPort!.postMessage({ result, elapsedMs: performance.now() - startedMs });
    break;
  }
  case 'wait-space': {
    const startedMs = performance.now();
    const result = ring.waitForSpaceSync(spec.sizeBytes, spec.timeoutMs);
    parentPort!.postMessage({ result, elapsedMs: performance.now() - startedMs });
    break;
  }
  case 'bench-produce':
    parentPort!.postMessage(benchProduce(ring, spec.count, spec.recordBytes, spec.commitEvery));
    break;
  case 'bench-consume':
    parentPort!.postMessage(benchConsume(ring));
    break;
}
