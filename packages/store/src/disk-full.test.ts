// A full disk is an error to the caller, never a corrupt segment or a crash: run against a real
// tmpfs of a few hundred KiB (needs root to mount; CI runs as root).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { decodeStoredRecord } from '@orbit/common';
import { MessageStore } from './message-store.js';
import { makeMessage, SMALL_STORE, tempDir } from './test-support.js';

function mountTmpfs(dir: string, sizeBytes: number): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes}`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

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
