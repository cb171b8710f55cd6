// A fixed load for profilers (clinic flame / doctor, node --cpu-prof): 64 appenders of 1 KiB messages
// under ASYNC_FLUSH for a few seconds. Not a benchmark: it prints one throughput line for orientation.
// Run: node --import tsx benchmarks/store/append-profile-driver.ts [seconds] [flushDiskType]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageStore } from '@orbit/store';
import { makeMessage } from '@orbit/store/test-support';

const seconds = Number(process.argv[2] ?? 5);
const flushDiskType = (process.argv[3] ?? 'ASYNC_FLUSH') as 'ASYNC_FLUSH';
const dir = mkdtempSync(join(tmpdir(), 'orbit-profile-'));
const warm = process.env.WARM !== 'false';
const store = await MessageStore.open({ storePathRootDir: dir, flushDiskType, mappedFileSizeCommitLog: 256 * 1024 * 1024, warmMappedFileEnable: warm });
const messages = Array.from({ length: 8 }, (_, q) => makeMessage('Profile', q, Buffer.alloc(1024, q)));
const cpuBefore = process.cpuUsage();
const deadline = Date.now() + seconds * 1000;
let appended = 0;
await Promise.all(
  Array.from({ length: 64 }, async (_, a) => {
    for (let i = a; Date.now() < deadline; i++) {
      await store.putMessage(messages[i % 8]!);
      appended++;
    }
  }),
);
const cpu = process.cpuUsage(cpuBefore);
// CPU time of the whole process (every thread) per append: a cost, steadier than the rate on a shared machine.
console.log(`${Math.round(appended / seconds)} appends/s, ${((cpu.user + cpu.system) / appended).toFixed(2)} µs CPU per append`);
await store.close();
rmSync(dir, { recursive: true, force: true });
