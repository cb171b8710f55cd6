// A full disk is an error to the caller, never a corrupt segment or a crash: run against a real
// tmpfs of a few hundred KiB (needs root to mount; CI runs as root).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { closeSync, ftruncateSync, openSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { decodeStoredRecord } from '@orbit/common';
import { CQ_UNIT_BYTES, ConsumeQueueReader, ConsumeQueueWriter, consumeQueueDir, type CqUnit } from './consume-queue.js';
import { MessageStore } from './message-store.js';
import { makeMessage, SMALL_STORE, tempDir } from './test-support.js';

const DEFAULT_CQ_FILE_BYTES = 300_000 * CQ_UNIT_BYTES; // sparse: a 6 MB queue file fits a small tmpfs

function mountTmpfs(dir: string, sizeBytes: number): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes}`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Takes every free byte of the filesystem at `path`, then gives `leaveFreeBytes` back. */
function fillDisk(path: string, leaveFreeBytes = 0): void {
  const fd = openSync(path, 'w');
  try {
    let size = 0;
    for (let chunk = 64 * 1024; chunk >= 4096; chunk /= 2) {
      const zeros = Buffer.alloc(chunk);
      for (;;) {
        try {
          const n = writeSync(fd, zeros, 0, chunk, size);
          size += n;
          if (n < chunk) break;
        } catch (err) {
          if ((err as { code?: string }).code !== 'ENOSPC') throw err;
          break;
        }
      }
    }
    if (leaveFreeBytes > 0) ftruncateSync(fd, Math.max(0, size - leaveFreeBytes));
  } finally {
    closeSync(fd);
  }
}

function withTmpfs(prefix: string, sizeBytes: number, body: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const tmp = tempDir(prefix);
    if (!mountTmpfs(tmp.dir, sizeBytes)) {
      tmp.remove();
      throw new Error('cannot mount a tmpfs (this test needs root)');
    }
    try {
      await body(tmp.dir);
    } finally {
      try {
        execFileSync('umount', ['-l', tmp.dir], { stdio: 'ignore' });
      } catch {
        /* already unmounted */
      }
      tmp.remove();
    }
  };
}

test(
  'consume queue on a full disk: reserving throws ENOSPC before a unit is written, and resumes once space is freed',
  withTmpfs('diskfull-cq', 512 * 1024, async (root) => {
    const unit: CqUnit = { physicalOffset: 0, sizeBytes: 0, tagsCode: 0 };
    const dir = consumeQueueDir(root, 'T', 0);
    const w = new ConsumeQueueWriter('T', 0, dir, DEFAULT_CQ_FILE_BYTES);
    w.load();
    await w.createFileFor(0);
    const filler = `${root}/filler`;
    fillDisk(filler);
    let written = 0;
    let failure: unknown;
    for (; written < 20_000; written++) {
      try {
        w.putUnit(written, written * 100, 100, written);
      } catch (err) {
        failure = err;
        break;
      }
    }
    assert.is((failure as { code?: string } | undefined)?.code, 'ENOSPC', `no ENOSPC after ${written} units`);
    assert.ok(written > 1000 && written < 20_000, `${written} units before the disk was full`);
    assert.is(w.maxOffset, written);
    assert.throws(() => w.ensureReserved(written), (err: { code?: string }) => err.code === 'ENOSPC');
    // A new queue's file cannot be made either, and nothing is left behind.
    const other = new ConsumeQueueWriter('T', 1, consumeQueueDir(root, 'T', 1), DEFAULT_CQ_FILE_BYTES);
    other.load();
    const created = await other.createFileFor(0).then(() => undefined, (err: { code?: string }) => err.code);
    assert.is(created, 'ENOSPC');
    assert.not.ok(other.hasFileFor(0));
    assert.equal(readdirSync(consumeQueueDir(root, 'T', 1)), []);
    const reader = new ConsumeQueueReader(dir, DEFAULT_CQ_FILE_BYTES);
    assert.is(reader.maxOffset(), written);
    for (let n = 0; n < written; n++) {
      if (!reader.readUnit(n, unit) || unit.physicalOffset !== n * 100) assert.unreachable(`unit ${n} lost`);
    }

    rmSync(filler);
    w.ensureReserved(written);
    for (let n = written; n < 3 * written; n++) w.putUnit(n, n * 100, 100, n);
    await other.createFileFor(0);
    other.putUnit(0, 7, 100, 0);
    assert.is(reader.maxOffset(), 3 * written);
    for (let n = 0; n < 3 * written; n++) {
      if (!reader.readUnit(n, unit) || unit.physicalOffset !== n * 100) assert.unreachable(`unit ${n} lost`);
    }
    w.close();
    other.close();
  }),
);

test(
  'a store whose consume queue cannot reserve blocks: dispatch waits and reports it, the process survives, and it catches up once space is freed',
  withTmpfs('diskfull-store-cq', 3 * 1024 * 1024, async (root) => {
    const config = {
      ...SMALL_STORE,
      mappedFileSizeCommitLog: 1024 * 1024, // the current segment and the one prepared ahead: 2 MiB
      mappedFileSizeConsumeQueue: DEFAULT_CQ_FILE_BYTES,
      maxMessageSize: 64 * 1024, // the batch's bodies together
      storePathRootDir: `${root}/store`,
      diskSpaceWarningLevelRatio: 100,
      diskMaxUsedSpaceRatio: 100,
    };
    let store = await MessageStore.open(config);
    try {
      assert.is((await store.putMessage(makeMessage('Cq', 0, 'first'))).status, 'PUT_OK');
      await store.waitDispatched();
      // The next segment is prepared in the background; were it still being written when the disk is
      // filled, its preparation would fail and free what it had taken (a race seen on a busy machine).
      const commitLogDir = `${root}/store/commitlog`;
      for (let waited = 0; ; waited += 20) {
        const names = readdirSync(commitLogDir);
        if (names.filter((n) => /^\d{20}$/.test(n)).length >= 2 && !names.some((n) => n.endsWith('.preparing'))) break;
        if (waited > 10_000) assert.unreachable(`the next segment was not prepared within 10 s: ${names.join(', ')}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      const filler = `${root}/filler`;
      fillDisk(filler, 16 * 1024); // less than a reservation chunk; the commit log needs nothing new
      // One batch, so every message is acknowledged before dispatch reaches the unreservable chunk.
      const count = 5_000; // 100 KB of units: past the first two 64 KiB chunks
      const batch = Array.from({ length: count }, (_, i) => makeMessage('Cq', 0, `b${i}`));
      const put = await store.putMessages(batch);
      assert.is(put.status, 'PUT_OK');
      let cqFailure: string | undefined;
      for (let waited = 0; waited < 5_000 && !cqFailure; waited += 50) {
        const stats = (await store.stats()).dispatchers as { cqFailure?: string; failure?: string }[];
        assert.not.ok(stats[0]!.failure, `the dispatcher failed: ${stats[0]!.failure}`);
        cqFailure = stats[0]!.cqFailure;
        if (!cqFailure) await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(cqFailure, 'dispatch never met the full disk');
      assert.match(cqFailure!, /Cq:0/);
      const stuckAt = store.getMaxOffsetInQueue('Cq', 0);
      assert.ok(stuckAt > 1 && stuckAt < count + 1, `queue at ${stuckAt} of ${count + 1}`);
      const lastVisible = store.getMessage('Cq', 0, stuckAt - 1, 1);
      assert.is(lastVisible.status, 'FOUND');
      assert.is(decodeStoredRecord(lastVisible.messages[0]!, 0).body.toString(), `b${stuckAt - 2}`);

      rmSync(filler);
      await store.waitDispatched(undefined, 10_000);
      assert.is(store.getMaxOffsetInQueue('Cq', 0), count + 1);
      const last = store.getMessage('Cq', 0, count, 1);
      assert.is(decodeStoredRecord(last.messages[0]!, 0).body.toString(), `b${count - 1}`);
      await store.close();
      store = await MessageStore.open(config);
      assert.is(store.getMaxOffsetInQueue('Cq', 0), count + 1);
      const batchMiddle = store.getMessage('Cq', 0, 1 + count / 2, 1);
      assert.is(decodeStoredRecord(batchMiddle.messages[0]!, 0).body.toString(), `b${count / 2}`);
    } finally {
      await store.close();
    }
  }),
);

test('a full disk makes appends fail with a store error; what was acknowledged stays readable', async () => {
  const tmp = tempDir('diskfull');
  if (!mountTmpfs(tmp.dir, 640 * 1024)) {
    tmp.remove();
    throw new Error('cannot mount a tmpfs (this test needs root)');
  }
  try {
    const config = { ...SMALL_STORE, storePathRootDir: `${tmp.dir}/store`, diskSpaceWarningLevelRatio: 100, diskMaxUsedSpaceRatio: 100 };
    let store = await MessageStore.open(config);
    const acked: { offset: number; body: string }[] = [];
    let failure: string | undefined;
    for (let i = 0; i < 2000 && !failure; i++) {
      const body = `m${i}-`.padEnd(1000, 'z');
      try {
        const r = await store.putMessage(makeMessage('Full', 0, body));
        if (r.status !== 'PUT_OK') failure = r.status;
        else acked.push({ offset: r.queueOffset, body });
      } catch (err) {
        failure = (err as { code?: string }).code ?? (err as Error).message;
      }
    }
    assert.ok(failure, 'the disk never filled up');
    assert.ok(['CREATE_MAPPED_FILE_FAILED', 'SERVICE_NOT_AVAILABLE'].includes(failure!), `unexpected failure ${failure}`);
    assert.ok(acked.length > 50, `only ${acked.length} appends before the disk filled`);
    await store.waitDispatched();
    for (const a of acked) assert.is(decodeStoredRecord(store.getMessage('Full', 0, a.offset, 1).messages[0]!, 0).body.toString(), a.body);
    await store.close();
    store = await MessageStore.open(config);
    try {
      assert.is(store.getMaxOffsetInQueue('Full', 0), acked.length);
      const last = acked[acked.length - 1]!;
      assert.is(decodeStoredRecord(store.getMessage('Full', 0, last.offset, 1).messages[0]!, 0).body.toString(), last.body);
    } finally {
      await store.close();
    }
  } finally {
    try {
      // Lazy: mappings this process still holds (unmapped on GC) keep the mount busy.
      execFileSync('umount', ['-l', tmp.dir], { stdio: 'ignore' });
    } catch {
      /* already unmounted */
    }
    tmp.remove();
  }
});

test.run();
