// Child process for recovery.test.ts: appends under load and prints one line per acknowledged append
// ("ack queueId queueOffset physicalOffset id") until it is killed. argv: storeDir flushDiskType concurrency
import { MessageStore } from './message-store.js';
import { makeMessage, SMALL_STORE } from './test-support.js';

const [dir, flushDiskType, concurrencyText] = process.argv.slice(2);
const store = await MessageStore.open({ ...SMALL_STORE, storePathRootDir: dir!, flushDiskType: flushDiskType as 'SYNC_FLUSH' });
console.log(`ready ${store.recovery.crashed} ${store.commitLogMaxOffset}`);
let next = 0;
const deadline = Date.now() + 60_000; // bounded even if nobody kills us
async function appender(): Promise<void> {
  while (Date.now() < deadline) {
    const id = next++;
    const queueId = id % 4;
    // Sizes vary so a kill can land mid-record, and KEYS exercise the index.
    const body = `body-${id}-`.padEnd(50 + ((id * 131) % 1500), String.fromCharCode(97 + (id % 26)));
    const r = await store.putMessage(makeMessage('Crash', queueId, body, { KEYS: `id-${id}`, TAGS: `T${id % 3}` }));
    if (r.status !== 'PUT_OK') throw new Error(`append ${id}: ${r.status}`);
    process.stdout.write(`ack ${queueId} ${r.queueOffset} ${r.physicalOffset} ${id}\n`);
  }
}
await Promise.all(Array.from({ length: Number(concurrencyText) }, appender));
process.exit(0);
