import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, openSync, readFileSync, writeSync, closeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { checkStoredRecord, decodeStoredRecord, findProperty } from '@orbit/common';
import { writeCheckpoint, EMPTY_CHECKPOINT } from './checkpoint.js';
import { MessageStore } from './message-store.js';
import { makeMessage, SMALL_STORE, tempDir } from './test-support.js';

interface Ack { queueId: number; queueOffset: number; physicalOffset: number; id: number }

/** Runs the child until it has acknowledged `acks` appends, then SIGKILLs it mid-load. */
async function loadAndKill(dir: string, flushDiskType: string, acks: number): Promise<Ack[]> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'recovery.fixture-child.ts'), dir, flushDiskType, '16'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const seen: Ack[] = [];
  const lines = createInterface({ input: child.stdout! });
  const killed = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child acknowledged only ${seen.length} appends in time`));
    }, 90_000);
    lines.on('line', (line) => {
      const [kind, q, qo, phy, id] = line.split(' ');
      if (kind !== 'ack') return;
      seen.push({ queueId: Number(q), queueOffset: Number(qo), physicalOffset: Number(phy), id: Number(id) });
      if (seen.length === acks) {
        child.kill('SIGKILL'); // in the middle of the load: more appends are in flight
        clearTimeout(timer);
      }
    });
    child.on('exit', (_code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`child exited by itself (${_code})`))));
  });
  await killed;
  return seen;
}

/** Every record from the log's start to its end checks out (CRC included), one after another. */
function walkCommitLog(store: MessageStore): Map<number, number[]> {
  const perQueue = new Map<number, number[]>();
  let at = store.commitLogMinOffset;
  const seg = SMALL_STORE.mappedFileSizeCommitLog;
  while (at < store.commitLogMaxOffset) {
    const rec = store.getMessageByPhysicalOffset(at);
    if (!rec) {
      at = at - (at % seg) + seg; // a BLANK: next segment
      continue;
    }
    const check = checkStoredRecord(rec, 0, rec.length, true);
    assert.is(check.kind, 'message', `record at ${at} fails its check`);
    const d = decodeStoredRecord(rec, 0);
    const list = perQueue.get(d.queueId) ?? [];
    list.push(d.queueOffset);
    perQueue.set(d.queueId, list);
    at += rec.length;
  }
  return perQueue;
}

for (const mode of ['SYNC_FLUSH', 'ASYNC_FLUSH']) {
  test(`SIGKILL under load (${mode}): every acknowledged append survives, no torn record, queues agree`, async () => {
    const tmp = tempDir('crash');
    try {
      const acks = await loadAndKill(tmp.dir, mode, 1500);
      assert.ok(existsSync(join(tmp.dir, 'abort')), 'the abort file marks the crash');
      const store = await MessageStore.open({ ...SMALL_STORE, storePathRootDir: tmp.dir, flushDiskType: mode as 'SYNC_FLUSH' });
      try {
        assert.is(store.recovery.crashed, true);
        assert.ok(store.recovery.recordsScanned > 0);
        await store.waitDispatched();
        for (const a of acks) {
          const got = store.getMessage('Crash', a.queueId, a.queueOffset, 1);
          assert.is(got.status, 'FOUND', `acknowledged append ${a.id} missing`);
          const d = decodeStoredRecord(got.messages[0]!, 0);
          assert.ok(d.body.toString().startsWith(`body-${a.id}-`), `offset ${a.queueOffset} of queue ${a.queueId} holds another message`);
          assert.is(d.physicalOffset, a.physicalOffset);
          assert.is(findProperty(d.properties, 'KEYS'), `id-${a.id}`);
        }
        const logged = walkCommitLog(store);
        for (let q = 0; q < 4; q++) {
          const offsets = logged.get(q) ?? [];
          // The consume queue holds exactly the records the log holds, in order, without gaps.
          assert.equal(offsets, offsets.map((_, i) => i), `commit log offsets of queue ${q} are not dense`);
          assert.is(store.getMaxOffsetInQueue('Crash', q), offsets.length, `queue ${q}: consume queue and commit log disagree`);
          for (let o = 0; o < offsets.length; o += 1 + Math.floor(offsets.length / 50)) {
            assert.is(store.getMessage('Crash', q, o, 1).status, 'FOUND');
          }
        }
        const someAck = acks[acks.length - 1]!;
        assert.ok(store.queryMessagesByKey('Crash', `id-${someAck.id}`, 4).length === 1, 'index rebuilt for the last acknowledged append');
        const after = await store.putMessage(makeMessage('Crash', 0, 'after-restart'));
        assert.is(after.queueOffset, (logged.get(0) ?? []).length);
      } finally {
        await store.close();
      }
    } finally {
      tmp.remove();
    }
  });
}

test('a torn tail after a crash is cut, zeroed and never read', async () => {
  const tmp = tempDir('torn');
  try {
    let store = await MessageStore.open({ ...SMALL_STORE, storePathRootDir: tmp.dir });
    for (let i = 0; i < 20; i++) await store.putMessage(makeMessage('Torn', 0, `good-${i}`));
    const end = store.commitLogMaxOffset;
    const last = await store.putMessage(makeMessage('Torn', 0, 'x'.repeat(500)));
    await store.close();
    // Simulate a crash in the middle of the last record: half of it is garbage, and the abort file remains.
    const segment = join(tmp.dir, 'commitlog', '00000000000000000000');
    const fd = openSync(segment, 'r+');
    writeSync(fd, Buffer.alloc(300, 0xab), 0, 300, last.physicalOffset + 100);
    closeSync(fd);
    writeFileSync(join(tmp.dir, 'abort'), '999999999');
    // ...and the last checkpoint was taken before any of it was durable.
    writeCheckpoint(join(tmp.dir, 'checkpoint'), EMPTY_CHECKPOINT);
    store = await MessageStore.open({ ...SMALL_STORE, storePathRootDir: tmp.dir });
    try {
      assert.is(store.recovery.crashed, true);
      assert.is(store.commitLogMaxOffset, end);
      assert.match(store.recovery.truncatedReason ?? '', /CRC|size|magic/);
      await store.waitDispatched();
      assert.is(store.getMaxOffsetInQueue('Torn', 0), 20);
      assert.is(store.getMessageByPhysicalOffset(last.physicalOffset), undefined);
      const bytes = readFileSync(segment);
      assert.ok(bytes.subarray(end, end + 1024).every((b) => b === 0), 'the torn tail was not zeroed');
      const r = await store.putMessage(makeMessage('Torn', 0, 'replacement'));
      assert.is(r.queueOffset, 20);
      assert.is(r.physicalOffset, end);
    } finally {
      await store.close();
    }
  } finally {
    tmp.remove();
  }
});

test.run();
