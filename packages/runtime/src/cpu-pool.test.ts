import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomFillSync } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { CpuPool } from './cpu-pool.js';
import type { Crc32SliceTask } from './cpu-pool.fixture-task.js';

const TASK_URL = new URL('./cpu-pool.fixture-task.ts', import.meta.url);

test('crc32 of SharedArrayBuffer slices on a .ts task module matches the main thread', async () => {
  const pool = new CpuPool({ filename: fileURLToPath(TASK_URL), maxThreads: 2, idleTimeoutMs: 1000 });
  try {
    const buffer = new SharedArrayBuffer(4 * 1024 * 1024);
    randomFillSync(new Uint8Array(buffer));
    const sliceBytes = 64 * 1024;
    const tasks: Crc32SliceTask[] = [];
    for (let offset = 0; offset < buffer.byteLength; offset += sliceBytes) tasks.push({ buffer, offset, length: sliceBytes });
    const results = await Promise.all(tasks.map((task) => pool.run<number>(task)));
    for (const [i, task] of tasks.entries()) {
      assert.is(results[i], crc32(new Uint8Array(buffer, task.offset, task.length)), `slice ${i}`);
    }
    // Odd offsets and lengths too.
    assert.is(await pool.run<number>({ buffer, offset: 3, length: 1001 }), crc32(new Uint8Array(buffer, 3, 1001)));
  } finally {
    await pool.destroy();
  }
});

test('named tasks, thrown errors, queue size, file URLs', async () => {
  const pool = new CpuPool({ filename: TASK_URL.href, maxThreads: 1, minThreads: 1 });
  try {
    assert.is.not(await pool.run<number>(null, { name: 'whichThread' }), 0);
    try {
      await pool.run(' bad slice', { name: 'fail' });
      assert.unreachable('should reject');
    } catch (error) {
      assert.match((error as Error).message, 'bad slice');
    }
    try {
      await pool.run(null, { name: 'missing' });
      assert.unreachable('should reject');
    } catch (error) {
      assert.match((error as Error).message, /no function export "missing"/);
    }
    const sleeps = [pool.run<number>(50, { name: 'sleep' }), pool.run<number>(1, { name: 'sleep' }), pool.run<number>(1, { name: 'sleep' })];
    assert.ok(pool.queueSize >= 1, `queue size ${pool.queueSize} with one thread busy`);
    assert.equal(await Promise.all(sleeps), [50, 1, 1]);
    assert.is(pool.queueSize, 0);
  } finally {
    await pool.destroy();
  }
  try {
    await pool.run(null, { name: 'whichThread' });
    assert.unreachable('destroyed pool must reject');
  } catch (error) {
    assert.match((error as Error).message, /destroyed/);
  }
});

test('a plain JavaScript task module works too', async () => {
  const pool = new CpuPool({ filename: new URL('./cpu-pool.fixture-task-js.mjs', import.meta.url).href, maxThreads: 1 });
  try {
    assert.equal(await Promise.all([1, 2, 3].map((n) => pool.run<number>(n))), [2, 4, 6]);
  } finally {
    await pool.destroy();
  }
});

test('a throughput figure for 1 MiB CRC32 tasks (printed, not asserted)', async () => {
  const pool = new CpuPool({ filename: TASK_URL.href, maxThreads: 2, minThreads: 2 });
  try {
    const buffer = new SharedArrayBuffer(16 * 1024 * 1024);
    randomFillSync(new Uint8Array(buffer));
    // Warm up: both threads started and the task module loaded (tsx compiles it on first load).
    await Promise.all(Array.from({ length: 8 }, () => pool.run({ buffer, offset: 0, length: 1 })));
    const count = 400;
    const startedMs = performance.now();
    await Promise.all(
      Array.from({ length: count }, (_, i) => pool.run<number>({ buffer, offset: (i % 16) * 1024 * 1024, length: 1024 * 1024 })),
    );
    const perSecond = count / ((performance.now() - startedMs) / 1000);
    console.log(`  CpuPool: ${perSecond.toFixed(0)} CRC32 tasks/s of 1 MiB over shared memory`);
  } finally {
    await pool.destroy();
  }
});

test.run();
