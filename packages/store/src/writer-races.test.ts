// Two orders of events the writer's loop produces only by timing, driven step by step on the real
// CommitLogWriter (in this thread, through its private methods): a sync on the libuv pool still
// running while (1) stalled requests are resumed into a new segment, (2) the log rolls away from a
// segment the sync had picked up. In both, an append completed as durable must have its bytes in the
// file and synced. Found by review; the writer runs these steps in exactly this order in production.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { encodeStoredRecord, planRecord } from '@orbit/common';
import { SpscRing } from '@orbit/runtime';
import { APPEND_HEADER_BYTES, AppendFlags, RequestType } from './append-protocol.js';
import { MappedFile } from './mapped-file.js';
import { SharedStoreState } from './shared-state.js';
import { defaultStoreConfig, StorePaths } from './store-config.js';
import { makeMessage, SMALL_STORE, tempDir } from './test-support.js';
import { CommitLogWriter } from './writer-actor.js';

const SEGMENT_BYTES = SMALL_STORE.mappedFileSizeCommitLog; // 64 KiB
const BODY_BYTES = 4000;

interface Completion {
  status: number;
  seq: number;
  wroteBytes: number;
  physicalOffset: number;
}

async function withWriter(fn: (h: { w: any; shared: SharedStoreState; segmentFile: (start: number) => Buffer; put: (n: number) => void; completions: () => Completion[] }) => Promise<void>): Promise<void> {
  const tmp = tempDir('writer-races');
  const config = defaultStoreConfig({ ...SMALL_STORE, storePathRootDir: tmp.dir, flushDiskType: 'SYNC_FLUSH' });
  const shared = new SharedStoreState();
  const completionRing = SpscRing.create(1 << 16);
  // `any`: the steps below call the writer's private methods in the order its loop would.
  const w: any = new CommitLogWriter({ config, sharedState: shared.buffer, appendRing: SpscRing.create(1 << 20).buffer, completionRing: completionRing.buffer, dispatcherCount: 1, crashed: false });
  w.recover();
  await w.openSegmentFor(0);
  await w.next.ready;
  w.slots[0] = { nextOffset: 0 };
  let seq = 0;
  const put = (n: number) => {
    for (let i = 0; i < n; i++) {
      const msg = makeMessage('Race', 0, Buffer.alloc(BODY_BYTES, 0x41));
      const plan = planRecord(msg);
      const req = Buffer.alloc(APPEND_HEADER_BYTES + plan.sizeBytes);
      req[0] = RequestType.APPEND;
      req[1] = AppendFlags.WAIT_STORE_OK;
      req.writeUInt16LE(1, 2);
      req.writeUInt32LE(0, 4);
      req.writeUInt32LE(++seq, 8);
      encodeStoredRecord(req, APPEND_HEADER_BYTES, msg, plan, { queueOffset: 0, physicalOffset: 0, storeTimestamp: 0, bodyCrc: 0 });
      w.onRequest(req, 0, req.length);
    }
  };
  const reader = SpscRing.attach(completionRing.buffer);
  const completions = () => {
    const out: Completion[] = [];
    reader.poll((b: Buffer, o: number) => void out.push({ status: b[o]!, seq: b.readUInt32LE(o + 4), wroteBytes: b.readUInt32LE(o + 8), physicalOffset: b.readDoubleLE(o + 16) }), 10_000);
    return out;
  };
  try {
    const segmentFile = (start: number) => readFileSync(MappedFile.pathFor(StorePaths.commitLog(config), start));
    await fn({ w, shared, segmentFile, put, completions });
  } finally {
    w.running = false;
    w.current?.close();
    await w.filler?.close(); // it may still be preparing segments ahead in this folder
    tmp.remove();
  }
}

test('stalled appends resumed during a pool sync are written before the sync that calls them durable', async () => {
  await withWriter(async ({ w, shared, segmentFile, put, completions }) => {
    // Hold the next segment "in preparation" so appends past the first segment stall.
    const real = w.next;
    let release!: () => void;
    w.next = { start: real.start, done: false, ready: new Promise<void>((r) => (release = () => { w.next.done = true; r(); })) };
    put(40); // ~160 KiB: segment 0 fills, the rest stalls
    w.publishWrittenOffset();
    const syncing = w.flush(); // a group commit on the pool, still running
    const resumed = w.resumeStalled(); // fills segment 1, then stalls again on segment 2
    release();
    await resumed;
    await syncing;
    assert.is(shared.writtenOffset, w.writtenOffset, 'everything appended so far is published');
    const done = completions().filter((c) => c.status === 0);
    assert.ok(done.some((c) => c.physicalOffset >= SEGMENT_BYTES), 'some appends in segment 1 completed');
    const files = new Map<number, Buffer>();
    for (const c of done) {
      const start = c.physicalOffset - (c.physicalOffset % SEGMENT_BYTES);
      if (!files.has(start)) files.set(start, segmentFile(start));
      assert.is(files.get(start)!.readInt32BE(c.physicalOffset - start), c.wroteBytes, `append ${c.seq} completed but its record is not in the file`);
      assert.ok(c.physicalOffset + c.wroteBytes <= shared.flushedOffset, `append ${c.seq} completed beyond the synced offset`);
    }
  });
});

test('a segment the log rolled away from during a pool sync is synced again, not closed unsynced', async () => {
  const syncs: { start: number; open: boolean }[] = [];
  const original = MappedFile.prototype.flushAsync;
  MappedFile.prototype.flushAsync = function (this: MappedFile) {
    syncs.push({ start: this.startOffset, open: (this as unknown as { fd: number }).fd >= 0 });
    return original.call(this);
  };
  try {
    await withWriter(async ({ w, put, completions }) => {
      put(4);
      w.publishWrittenOffset();
      const syncing = w.flush(); // picks up segment 0
      put(14); // meanwhile: the rest of segment 0, then the roll to segment 1
      w.afterBatch(); // a sync is running, so this only publishes
      await syncing;
      assert.ok(syncs.length >= 2, `expected a second sync pass, saw ${JSON.stringify(syncs)}`);
      for (const s of syncs) assert.ok(s.open, `segment ${s.start} was synced after it was closed: ${JSON.stringify(syncs)}`);
      assert.ok(syncs.filter((s) => s.start === 0).length >= 2, 'segment 0 synced again after the roll');
      const done = completions();
      assert.is(done.length, 18);
      for (const c of done) assert.is(c.status, 0);
    });
  } finally {
    MappedFile.prototype.flushAsync = original;
  }
});

test.run();
