import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { decodeStoredRecord, findProperty, javaStringHash, MessageMagic, rocketmqCrc32 } from '@orbit/common';
import { MessageStore } from './message-store.js';
import { makeMessage, SMALL_STORE, tempDir } from './test-support.js';

async function withStore(overrides: Record<string, unknown>, fn: (store: MessageStore, dir: string) => Promise<void>): Promise<void> {
  const tmp = tempDir('store');
  const store = await MessageStore.open({ ...SMALL_STORE, storePathRootDir: tmp.dir, ...overrides });
  try {
    await fn(store, tmp.dir);
  } finally {
    await store.close();
    tmp.remove();
  }
}

// The writer stamps records in the mapping under ASYNC_FLUSH and in a staging buffer written with
// pwrite under SYNC_FLUSH: both paths get the layout, boundary and concurrency checks.
for (const flushDiskType of ['ASYNC_FLUSH', 'SYNC_FLUSH'] as const) {
  test(`a message goes in and comes back byte-exact with offsets, CRC and store time filled (${flushDiskType})`, async () => {
    await withStore({ flushDiskType }, async (store) => {
      const put = await store.putMessage(makeMessage('TopicTest', 1, 'hello', { TAGS: 'TagA', KEYS: 'k1' }));
      assert.is(put.status, 'PUT_OK');
      assert.is(put.queueOffset, 0);
      assert.is(put.physicalOffset, 0);
      await store.waitDispatched();
      const got = store.getMessage('TopicTest', 1, 0, 32);
      assert.is(got.status, 'FOUND');
      assert.is(got.messages.length, 1);
      assert.is(got.nextBeginOffset, 1);
      assert.is(got.maxOffset, 1);
      const rec = decodeStoredRecord(got.messages[0]!, 0);
      assert.is(rec.topic, 'TopicTest');
      assert.is(rec.queueId, 1);
      assert.is(rec.queueOffset, 0);
      assert.is(rec.physicalOffset, 0);
      assert.is(rec.body.toString(), 'hello');
      assert.is(rec.bodyCrc, rocketmqCrc32(Buffer.from('hello')));
      assert.is(rec.storeTimestamp, put.storeTimestamp);
      assert.is(findProperty(rec.properties, 'TAGS'), 'TagA');
      assert.equal(store.getMessageByPhysicalOffset(0), got.messages[0]);
    });
  });

  test(`appends across segment boundaries: every record readable, BLANK markers at segment ends (${flushDiskType})`, async () => {
    await withStore({ flushDiskType }, async (store, dir) => {
      const expected: string[] = [];
      // Varying sizes make records end at every kind of distance from a boundary.
      for (let i = 0; i < 400; i++) {
        const body = `m${i}-`.padEnd(100 + ((i * 37) % 900), 'x');
        expected.push(body);
        const r = await store.putMessage(makeMessage('Boundaries', 0, body));
        assert.is(r.queueOffset, i);
      }
      await store.waitDispatched();
      const segments = readdirSync(join(dir, 'commitlog')).filter((n) => /^\d{20}$/.test(n));
      // ~240 KiB of records in 64 KiB segments: at least 4 written (a prepared, empty next one may be there too).
      const used = Math.floor(store.commitLogMaxOffset / SMALL_STORE.mappedFileSizeCommitLog) + 1;
      assert.ok(used >= 4, `expected several segments in use, saw ${used}`);
      assert.ok(segments.length >= used);
      // Read one at a time at every offset, and in batches.
      for (let i = 0; i < 400; i++) {
        const got = store.getMessage('Boundaries', 0, i, 1);
        assert.is(got.status, 'FOUND');
        assert.is(decodeStoredRecord(got.messages[0]!, 0).body.toString(), expected[i]);
      }
      let offset = 0;
      let count = 0;
      while (offset < 400) {
        const got = store.getMessage('Boundaries', 0, offset, 32);
        for (const m of got.messages) assert.is(decodeStoredRecord(m, 0).body.toString(), expected[count++]);
        offset = got.nextBeginOffset;
      }
      assert.is(count, 400);
      // Each full segment ends with a BLANK marker right after its last record.
      const offsets = await store.segmentOffsets();
      for (let s = 0; s < offsets.length - 1; s++) {
        let at = offsets[s]!;
        for (;;) {
          const rec = store.getMessageByPhysicalOffset(at);
          if (!rec) break;
          at += rec.length;
        }
        assert.ok(at < offsets[s + 1]!, 'a segment ends before the next begins');
      }
      const segPath = join(dir, 'commitlog', segments[0]!);
      assert.ok(existsSync(segPath));
    });
  });

  test(`a record that lands exactly at a segment end, and the first record of the next segment (${flushDiskType})`, async () => {
    await withStore({ flushDiskType }, async (store) => {
      const seg = SMALL_STORE.mappedFileSizeCommitLog;
      const overhead = 91 + 'Exact'.length; // no properties
      let end = 0;
      while (seg - end > 16000 + 2 * overhead + 8 + 200) {
        const r = await store.putMessage(makeMessage('Exact', 0, Buffer.alloc(16000, 1)));
        end = r.physicalOffset + r.wroteBytes;
      }
      // The remaining space is now exactly one record plus the 8-byte end reserve.
      const remaining = seg - end;
      const fitting = await store.putMessage(makeMessage('Exact', 0, Buffer.alloc(remaining - overhead - 8, 2)));
      assert.is(fitting.physicalOffset + fitting.wroteBytes, seg - 8);
      const rolled = await store.putMessage(makeMessage('Exact', 0, 'next'));
      assert.is(rolled.physicalOffset, seg);
      await store.waitDispatched();
      const got = store.getMessage('Exact', 0, rolled.queueOffset - 1, 32);
      assert.is(got.messages.length, 2);
      assert.is(decodeStoredRecord(got.messages[1]!, 0).body.toString(), 'next');
      assert.is(decodeStoredRecord(got.messages[0]!, 0).physicalOffset, fitting.physicalOffset);
    });
  });

  test(`batches get consecutive queue offsets and sit contiguously in the log (${flushDiskType})`, async () => {
    await withStore({ flushDiskType }, async (store) => {
      const batch = Array.from({ length: 10 }, (_, i) => makeMessage('Batch', 2, `b${i}`, { KEYS: `key${i}` }));
      const r = await store.putMessages(batch);
      assert.is(r.count, 10);
      assert.is(r.queueOffset, 0);
      const r2 = await store.putMessage(makeMessage('Batch', 2, 'after'));
      assert.is(r2.queueOffset, 10);
      assert.is(r2.physicalOffset, r.physicalOffset + r.wroteBytes);
      await store.waitDispatched();
      const got = store.getMessage('Batch', 2, 0, 32);
      assert.equal(got.messages.map((m) => decodeStoredRecord(m, 0).body.toString()), [...batch.map((_, i) => `b${i}`), 'after']);
      assert.equal(got.queueOffsets, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    });
  });

  test(`tag filter uses the consume-queue tag code and skips to the right next offset (${flushDiskType})`, async () => {
    await withStore({ flushDiskType }, async (store) => {
      for (let i = 0; i < 30; i++) await store.putMessage(makeMessage('Tags', 0, `t${i}`, { TAGS: i % 3 === 0 ? 'TagA' : 'TagB' }));
      await store.waitDispatched();
      const wanted = javaStringHash('TagA');
      const filter = { isMatchedByTagsCode: (code: number) => code === wanted };
      const got = store.getMessage('Tags', 0, 0, 32, filter);
      assert.is(got.status, 'FOUND');
      assert.equal(got.messages.map((m) => decodeStoredRecord(m, 0).body.toString()), Array.from({ length: 10 }, (_, i) => `t${i * 3}`));
      const none = store.getMessage('Tags', 0, 0, 32, { isMatchedByTagsCode: () => false });
      assert.is(none.status, 'NO_MATCHED_MESSAGE');
      assert.is(none.nextBeginOffset, 30);
    });
  });

  test(`pull statuses and next offsets follow RocketMQ (${flushDiskType})`, async () => {
    await withStore({ flushDiskType }, async (store) => {
      assert.is(store.getMessage('Nope', 0, 0, 32).status, 'NO_MATCHED_LOGIC_QUEUE');
      for (let i = 0; i < 5; i++) await store.putMessage(makeMessage('Status', 0, `s${i}`));
      await store.waitDispatched();
      const one = store.getMessage('Status', 0, 5, 32);
      assert.is(one.status, 'OFFSET_OVERFLOW_ONE');
      assert.is(one.nextBeginOffset, 5);
      const badly = store.getMessage('Status', 0, 99, 32);
      assert.is(badly.status, 'OFFSET_OVERFLOW_BADLY');
      assert.is(badly.nextBeginOffset, 5);
      assert.is(store.getMaxOffsetInQueue('Status', 0), 5);
      assert.is(store.getMinOffsetInQueue('Status', 0), 0);
      assert.is(store.getMaxOffsetInQueue('Status', 7), 0);
    });
  });

  test(`index finds messages by key and by unique key within a time range (${flushDiskType})`, async () => {
    await withStore({ flushDiskType }, async (store) => {
      const t0 = Date.now();
      for (let i = 0; i < 200; i++) {
        await store.putMessage(makeMessage('Indexed', i % 4, `v${i}`, { KEYS: `order-${i % 50} common`, UNIQ_KEY: `U${i}` }));
      }
      await store.waitDispatched();
      const byKey = store.queryMessagesByKey('Indexed', 'order-7', 64);
      assert.equal(byKey.map((r) => decodeStoredRecord(r, 0).body.toString()).sort(), ['v107', 'v157', 'v57', 'v7']);
      const byUniq = store.queryMessagesByKey('Indexed', 'U123', 64);
      assert.equal(byUniq.map((r) => decodeStoredRecord(r, 0).body.toString()), ['v123']);
      assert.is(store.queryMessagesByKey('Indexed', 'common', 32).length, 32);
      assert.is(store.queryMessagesByKey('Other', 'order-7', 64).length, 0);
      assert.is(store.queryMessagesByKey('Indexed', 'order-7', 64, t0 + 3_600_000, t0 + 7_200_000).length, 0);
    });
  });

  test(`many concurrent appenders: every append acknowledged once, queue offsets dense per queue (${flushDiskType})`, async () => {
    await withStore({ flushDiskType }, async (store) => {
      const appenders = 64;
      const perAppender = 40;
      const seen = new Map<number, Set<number>>();
      await Promise.all(
        Array.from({ length: appenders }, async (_, a) => {
          for (let i = 0; i < perAppender; i++) {
            const q = (a + i) % 4;
            const r = await store.putMessage(makeMessage('Concurrent', q, `a${a}-${i}`));
            assert.is(r.status, 'PUT_OK');
            let s = seen.get(q);
            if (!s) seen.set(q, (s = new Set()));
            assert.not.ok(s.has(r.queueOffset), 'queue offset handed out twice');
            s.add(r.queueOffset);
          }
        }),
      );
      await store.waitDispatched();
      let total = 0;
      for (const [q, offsets] of seen) {
        assert.is(Math.max(...offsets) + 1, offsets.size, `queue ${q} has gaps`);
        assert.is(store.getMaxOffsetInQueue('Concurrent', q), offsets.size);
        total += offsets.size;
      }
      assert.is(total, appenders * perAppender);
    });
  });

  test(`an append that resolved is readable at once by its physical offset (${flushDiskType})`, async () => {
    await withStore({ flushDiskType }, async (store) => {
      await Promise.all(
        Array.from({ length: 32 }, async (_, a) => {
          for (let i = 0; i < 20; i++) {
            const r = await store.putMessage(makeMessage('ReadYourWrite', a % 4, `a${a}-${i}`));
            const rec = store.getMessageByPhysicalOffset(r.physicalOffset);
            assert.ok(rec, `append at ${r.physicalOffset} resolved but is not readable`);
            assert.is(decodeStoredRecord(rec!, 0).body.toString(), `a${a}-${i}`);
          }
        }),
      );
    });
  });
}

test('SYNC_FLUSH: appends resolve after their bytes are synced, sharing syncs', async () => {
  await withStore({ flushDiskType: 'SYNC_FLUSH' }, async (store) => {
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => store.putMessage(makeMessage('Sync', 0, `s${i}`))));
    for (const r of results) {
      assert.is(r.status, 'PUT_OK');
      assert.ok(store.flushedOffset >= r.physicalOffset + r.wroteBytes, 'resolved before durable');
    }
    const stats = await store.stats();
    assert.ok(stats.writer.flushes < 200, `200 appends took ${stats.writer.flushes} syncs: no group commit`);
  });
});

test('SYNC_FLUSH: a batch larger than the staging buffer goes through the mapping, in order with staged appends', async () => {
  const mib = 1024 * 1024;
  await withStore({ flushDiskType: 'SYNC_FLUSH', mappedFileSizeCommitLog: 32 * mib, maxMessageSize: 8 * mib, appendRingBytes: 32 * mib }, async (store) => {
    // 2 × 3 MiB = 6 MiB in one request: past the writer's 4 MiB staging buffer.
    const big = [makeMessage('Staged', 0, Buffer.alloc(3 * mib, 0x41)), makeMessage('Staged', 0, Buffer.alloc(3 * mib, 0x42))];
    const small = (i: number) => makeMessage('Staged', 0, `small-${i}`);
    const results = await Promise.all([
      ...Array.from({ length: 20 }, (_, i) => store.putMessage(small(i))),
      store.putMessages(big),
      ...Array.from({ length: 20 }, (_, i) => store.putMessage(small(20 + i))),
    ]);
    for (const r of results) {
      assert.is(r.status, 'PUT_OK');
      assert.ok(store.flushedOffset >= r.physicalOffset + r.wroteBytes, 'resolved before durable');
    }
    await store.waitDispatched();
    const bodies: string[] = [];
    for (let offset = 0; offset < 42; ) {
      const got = store.getMessage('Staged', 0, offset, 8);
      assert.is(got.status, 'FOUND');
      for (const m of got.messages) {
        const rec = decodeStoredRecord(m, 0);
        assert.is(rec.bodyCrc, rocketmqCrc32(rec.body));
        assert.equal(store.getMessageByPhysicalOffset(rec.physicalOffset), m);
        bodies.push(rec.body.length > 100 ? `big-${String.fromCharCode(rec.body[0]!)}-${rec.body.length}` : rec.body.toString());
      }
      offset = got.nextBeginOffset;
    }
    assert.equal(bodies, [...Array.from({ length: 20 }, (_, i) => `small-${i}`), `big-A-${3 * mib}`, `big-B-${3 * mib}`, ...Array.from({ length: 20 }, (_, i) => `small-${20 + i}`)]);
  });
});

test('bad input is refused with a typed error and nothing is written', async () => {
  await withStore({}, async (store) => {
    const before = store.commitLogMaxOffset;
    const cases: [ReturnType<typeof makeMessage>, RegExp][] = [
      [makeMessage('', 0, 'x'), /topic is empty/],
      [makeMessage('T'.repeat(128), 0, 'x'), /more than 127/],
      [makeMessage('Bad', -1, 'x'), /negative/],
      [makeMessage('Bad', 0, Buffer.alloc(SMALL_STORE.maxMessageSize + 1)), /maxMessageSize/],
      [makeMessage('Bad', 0, 'x', { big: 'v'.repeat(40000) }), /properties/],
    ];
    for (const [msg, pattern] of cases) {
      try {
        await store.putMessage(msg);
        assert.unreachable('accepted bad input');
      } catch (err) {
        assert.instance(err, Error);
        assert.match((err as Error).message, pattern);
        assert.ok(['MESSAGE_ILLEGAL', 'PROPERTIES_SIZE_EXCEEDED'].includes((err as { code: string }).code));
      }
    }
    await assert.not.throws(() => {});
    assert.is(store.commitLogMaxOffset, before);
    const mixed = [makeMessage('Bad', 0, 'a'), makeMessage('Bad', 1, 'b')];
    await store.putMessages(mixed).then(
      () => assert.unreachable('mixed batch accepted'),
      (err: Error) => assert.match(err.message, /same topic and queue id/),
    );
    assert.is(store.commitLogMaxOffset, before);
  });
});

test('offset by store time and earliest store time', async () => {
  await withStore({}, async (store) => {
    const times: number[] = [];
    for (let i = 0; i < 6; i++) {
      times.push((await store.putMessage(makeMessage('Times', 0, `t${i}`))).storeTimestamp);
      await new Promise((r) => setTimeout(r, 15));
    }
    await store.waitDispatched();
    assert.is(store.getEarliestMessageTime('Times', 0), times[0]);
    assert.is(store.getOffsetInQueueByTime('Times', 0, times[3]!), 3);
    assert.is(store.getOffsetInQueueByTime('Times', 0, times[3]! + 1), 4);
    assert.is(store.getOffsetInQueueByTime('Times', 0, times[3]! + 1, 'UPPER'), 3);
    assert.is(store.getOffsetInQueueByTime('Times', 0, 0), 0);
    assert.is(store.getOffsetInQueueByTime('Times', 0, times[5]! + 1000), 6);
  });
});

test('a clean restart needs no scan and continues every queue where it was', async () => {
  const tmp = tempDir('restart');
  try {
    let store = await MessageStore.open({ ...SMALL_STORE, storePathRootDir: tmp.dir });
    for (let i = 0; i < 300; i++) await store.putMessage(makeMessage('Restart', i % 3, `r${i}`.padEnd(300, '.'), { KEYS: `k${i}` }));
    const end = store.commitLogMaxOffset;
    await store.close();
    assert.not.ok(existsSync(join(tmp.dir, 'abort')), 'abort file left after a clean close');
    store = await MessageStore.open({ ...SMALL_STORE, storePathRootDir: tmp.dir });
    try {
      assert.is(store.recovery.crashed, false);
      assert.is(store.recovery.recordsScanned, 0);
      assert.is(store.commitLogMaxOffset, end);
      const r = await store.putMessage(makeMessage('Restart', 1, 'after'));
      assert.is(r.queueOffset, 100);
      assert.is(r.physicalOffset >= end, true);
      await store.waitDispatched();
      assert.is(store.getMessage('Restart', 0, 0, 32).messages.length, 32);
      assert.is(store.queryMessagesByKey('Restart', 'k299', 4).length, 1);
    } finally {
      await store.close();
    }
  } finally {
    tmp.remove();
  }
});

test('a second process cannot open a store that is in use', async () => {
  await withStore({}, async (_store, dir) => {
    const { spawnSync } = await import('node:child_process');
    const code = `import { MessageStore } from './packages/store/src/message-store.ts';
      MessageStore.open({ storePathRootDir: ${JSON.stringify(dir)}, mappedFileSizeCommitLog: 65536, maxMessageSize: 16384 }).then(
        () => { console.log('OPENED'); process.exit(0); },
        (e) => { console.log('REFUSED ' + e.code); process.exit(0); });`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8', timeout: 30_000 });
    assert.match(r.stdout, /REFUSED STORE_LOCKED/);
  });
});

test('BLANK magic marks the end of a full segment on disk', async () => {
  await withStore({}, async (store, dir) => {
    for (let i = 0; i < 100; i++) await store.putMessage(makeMessage('Blank', 0, Buffer.alloc(1000, i)));
    await store.flush();
    const { readFileSync } = await import('node:fs');
    const first = readFileSync(join(dir, 'commitlog', '00000000000000000000'));
    let at = 0;
    while (first.readInt32BE(at + 4) !== MessageMagic.BLANK) at += first.readInt32BE(at);
    assert.is(first.readInt32BE(at), first.length - at);
  });
});

test.run();
