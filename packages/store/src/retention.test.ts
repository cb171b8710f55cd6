import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { MessageStore } from './message-store.js';
import { makeMessage, SMALL_STORE, tempDir } from './test-support.js';

const HOUR_MS = 3_600_000;

async function fill(store: MessageStore, perQueue: number): Promise<void> {
  for (let i = 0; i < perQueue; i++) {
    await store.putMessage(makeMessage('Keep', 0, Buffer.alloc(400, i % 251), { KEYS: `k${i}` }));
    await store.putMessage(makeMessage('Keep', 1, Buffer.alloc(400, i % 251)));
  }
  await store.waitDispatched();
}

async function until(what: string, fn: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const cqFiles = (dir: string, q: number) => readdirSync(join(dir, 'consumequeue', 'Keep', String(q))).filter((n) => /^\d{20}$/.test(n)).sort();

test('expired segments go at the deleteWhen hour, with the consume-queue files they orphan', async () => {
  const tmp = tempDir('retention');
  const thisHour = String(new Date().getHours()).padStart(2, '0');
  const store = await MessageStore.open({ ...SMALL_STORE, storePathRootDir: tmp.dir, fileReservedTime: 1, deleteWhen: thisHour, diskMaxUsedSpaceRatio: 100 });
  try {
    await fill(store, 450);
    const segments = await store.segmentOffsets();
    assert.ok(segments.length >= 6, `want several segments, have ${segments.length}`);
    const cqBefore = cqFiles(tmp.dir, 0);
    // Young segments stay, whatever the hour.
    assert.equal(await store.cleanExpiredFiles(), []);
    for (const s of segments.slice(0, 3)) await store.ageSegment(s, 2 * HOUR_MS);
    const deleted = await store.cleanExpiredFiles();
    assert.equal(deleted, segments.slice(0, 3));
    for (const s of deleted) assert.not.ok(existsSync(join(tmp.dir, 'commitlog', String(s).padStart(20, '0'))));
    assert.is(store.commitLogMinOffset, segments[3]);
    await until('consume-queue files below the log to go', () => cqFiles(tmp.dir, 0)[0] !== cqBefore[0]);
    const min = store.getMinOffsetInQueue('Keep', 0);
    assert.ok(min > 0, 'min offset moved');
    const tooSmall = store.getMessage('Keep', 0, 0, 32);
    assert.is(tooSmall.status, 'OFFSET_TOO_SMALL');
    assert.is(tooSmall.nextBeginOffset, min);
    const found = store.getMessage('Keep', 0, min, 32);
    assert.is(found.status, 'FOUND');
    assert.is(store.getMaxOffsetInQueue("Keep", 0), 450);
    // Appends go on after retention.
    assert.is((await store.putMessage(makeMessage('Keep', 0, 'later'))).queueOffset, 450);
  } finally {
    await store.close();
    tmp.remove();
  }
});

test('outside the deleteWhen hour expired segments stay, unless the disk is fuller than diskMaxUsedSpaceRatio', async () => {
  const tmp = tempDir('retention2');
  const otherHour = String((new Date().getHours() + 12) % 24).padStart(2, '0');
  const store = await MessageStore.open({ ...SMALL_STORE, storePathRootDir: tmp.dir, fileReservedTime: 1, deleteWhen: otherHour, diskMaxUsedSpaceRatio: 100 });
  try {
    await fill(store, 200);
    const segments = await store.segmentOffsets();
    await store.ageSegment(segments[0]!, 5 * HOUR_MS);
    assert.equal(await store.cleanExpiredFiles(), []);
    assert.equal(await store.cleanExpiredFiles({ force: true }), [segments[0]]);
  } finally {
    await store.close();
    tmp.remove();
  }
  const tmp2 = tempDir('retention3');
  // Any real disk is more than 0.001% used, so this store counts as over its ratio at every hour.
  const full = await MessageStore.open({ ...SMALL_STORE, storePathRootDir: tmp2.dir, fileReservedTime: 1, deleteWhen: otherHour, diskMaxUsedSpaceRatio: 0.001 });
  try {
    await fill(full, 200);
    const segments = await full.segmentOffsets();
    await full.ageSegment(segments[0]!, 5 * HOUR_MS);
    assert.equal(await full.cleanExpiredFiles(), [segments[0]]);
  } finally {
    await full.close();
    tmp2.remove();
  }
});

test.run();
