// Embedding the storage engine: open a store, append, read back, close.
// Run: node --import tsx packages/store/examples/embed.ts [storeDir]
import { decodeStoredRecord, encodeProperties, parseSocketAddress } from '@orbit/common';
import { MessageStore } from '@orbit/store';

const dir = process.argv[2] ?? './data/embed-example';
const store = await MessageStore.open({ storePathRootDir: dir, flushDiskType: 'SYNC_FLUSH', mappedFileSizeCommitLog: 64 * 1024 * 1024 });
console.log(`store at ${dir}: ${store.recovery.crashed ? 'recovered after a crash' : 'opened'}, log ends at ${store.commitLogMaxOffset}`);

const host = parseSocketAddress('127.0.0.1:10911');
for (let i = 0; i < 3; i++) {
  const put = await store.putMessage({
    topic: 'ExampleTopic',
    queueId: 0,
    flag: 0,
    sysFlag: 0,
    bornTimestamp: Date.now(),
    bornHost: host,
    storeHost: host,
    reconsumeTimes: 0,
    preparedTransactionOffset: 0,
    body: Buffer.from(`hello ${i}`),
    properties: encodeProperties({ TAGS: 'TagA', KEYS: `key-${i}` }),
  });
  console.log(`put ${put.status} queueOffset=${put.queueOffset} physicalOffset=${put.physicalOffset}`);
}
await store.waitDispatched();
const max = store.getMaxOffsetInQueue('ExampleTopic', 0);
const got = store.getMessage('ExampleTopic', 0, Math.max(0, max - 3), 32);
for (const m of got.messages) {
  const r = decodeStoredRecord(m, 0);
  console.log(`read offset ${r.queueOffset}: "${r.body.toString()}" stored at ${new Date(r.storeTimestamp).toISOString()}`);
}
console.log(`by key: ${store.queryMessagesByKey('ExampleTopic', 'key-1', 4).length} message(s) with KEYS key-1`);
await store.close();
