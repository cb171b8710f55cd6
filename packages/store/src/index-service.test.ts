import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { IndexService, formatIndexFileName, parseIndexFileName, type IndexRecordInfo } from './index-service.js';
import type { IndexConfig } from './index-file.js';

const T0 = 1_700_000_000_000;
const ALL_TIME: [number, number] = [0, Number.MAX_SAFE_INTEGER];

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'orbit-index-service-'));
}

function record(i: number, extra: Partial<IndexRecordInfo> = {}): IndexRecordInfo {
  return {
    topic: 'TopicA',
    uniqKey: `UNIQ${i}`,
    keys: `order-${i} user-${i % 10}`,
    phyOffset: i * 100,
    storeTimestamp: T0 + i * 10,
    sysFlag: 0,
    ...extra,
  };
}

interface WorkerInput {
  dir: string;
  config: IndexConfig;
  progress: SharedArrayBuffer;
  total: number;
}
interface WorkerReport {
  queries: number;
  errors: string[];
  missingWhileWriting: number;
  missingAtEnd: number;
}

// The reader side of the concurrency test, run on a worker thread (this same file).
async function readerWorker(input: WorkerInput): Promise<WorkerReport> {
  const progress = new Int32Array(input.progress);
  const report: WorkerReport = { queries: 0, errors: [], missingWhileWriting: 0, missingAtEnd: 0 };
  const reader = new IndexService(input.dir, input.config, 'read');
  reader.load();
  let probe = 0;
  // progress[0]: keys fully written by the main thread; progress[1]: 1 when the writer is done.
  while (Atomics.load(progress, 1) === 0) {
    try {
      const written = Atomics.load(progress, 0);
      for (let j = 0; j < 20 && written > 0; j++, probe++) {
        const i = (probe * 7919) % written;
        const found = reader.queryPhyOffsets('T', `k${i}`, 8, ...ALL_TIME);
        report.queries++;
        if (!found.includes(i * 8)) report.missingWhileWriting++;
      }
      reader.queryPhyOffsets('T', `absent${probe}`, 8, ...ALL_TIME);
    } catch (err) {
      report.errors.push(String((err as Error).stack ?? err));
    }
    if (report.queries % 200 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  for (let i = 0; i < input.total; i++) {
    try {
      const found = reader.queryPhyOffsets('T', `k${i}`, 8, ...ALL_TIME);
      if (!found.includes(i * 8)) report.missingAtEnd++;
    } catch (err) {
      report.errors.push(String((err as Error).stack ?? err));
    }
  }
  reader.close();
  return report;
}

// Starts this file on a worker thread. Node 20.20 ignores `--import tsx` in a Worker's execArgv, so
// the worker is a small bootstrap: it imports a side-effect-free .ts module as a probe (under a URL of
// its own, as Node caches a failed import per URL) and, if Node cannot load it, registers tsx's
// loader before importing the entry. execArgv is still passed for Node versions that honour it (then
// the probe loads and tsx is not registered twice).
function startTsWorker(entryUrl: string, data: WorkerInput): Worker {
  const probeUrl = new URL('./index-file.ts?tsx-probe', import.meta.url).href;
  const tsxApiUrl = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(probeUrl)}).then(() => undefined, (error) => {
    if (!error || error.code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw error;
    return import(${JSON.stringify(tsxApiUrl)}).then((tsx) => { tsx.register(); });
  }).then(() => import(${JSON.stringify(entryUrl)}));`;
  return new Worker(bootstrap, { eval: true, execArgv: ['--import', 'tsx'], workerData: data });
}

if (!isMainThread) {
  const report = await readerWorker(workerData as WorkerInput);
  parentPort!.postMessage(report);
} else {
  test('file names: yyyyMMddHHmmssSSS local time, round trip', () => {
    const ms = new Date(2024, 1, 29, 7, 5, 9, 42).getTime();
    assert.is(formatIndexFileName(ms), '20240229070509042');
    assert.is(parseIndexFileName('20240229070509042'), ms);
    assert.is(parseIndexFileName('2024022907050904'), undefined);
    assert.is(parseIndexFileName('x0240229070509042'), undefined);
  });

  test('indexes UNIQ_KEY and each KEYS value as topic#key', () => {
    const dir = tempDir();
    try {
      const svc = new IndexService(dir, { maxHashSlotNum: 101, maxIndexNum: 1000 }, 'write');
      svc.load();
      assert.is(svc.lastIndexedPhyOffset, 0);
      for (let i = 1; i <= 50; i++) svc.buildIndex(record(i));
      svc.buildIndex(record(51, { keys: '  spaced   keys ', uniqKey: undefined }));
      assert.equal(svc.queryPhyOffsets('TopicA', 'UNIQ7', 10, ...ALL_TIME), [700]);
      assert.equal(svc.queryPhyOffsets('TopicA', 'order-7', 10, ...ALL_TIME), [700]);
      assert.equal(svc.queryPhyOffsets('TopicA', 'user-3', 3, ...ALL_TIME), [4300, 3300, 2300]);
      assert.equal(svc.queryPhyOffsets('TopicA', 'spaced', 10, ...ALL_TIME), [5100]);
      assert.equal(svc.queryPhyOffsets('TopicA', 'keys', 10, ...ALL_TIME), [5100]);
      assert.equal(svc.queryPhyOffsets('TopicA', '', 10, ...ALL_TIME), []);
      assert.equal(svc.queryPhyOffsets('TopicB', 'UNIQ7', 10, ...ALL_TIME), []);
      assert.equal(svc.queryPhyOffsets('TopicA', 'UNIQ7', 0, ...ALL_TIME), []);
      assert.is(svc.lastIndexedPhyOffset, 5100);
      assert.is(svc.lastIndexedTimestamp, T0 + 510);
      // time range
      assert.equal(svc.queryPhyOffsets('TopicA', 'user-3', 10, T0 + 5_000, T0 + 9_000), []);
      assert.equal(svc.queryPhyOffsets('TopicA', 'user-3', 10, T0, T0 + 999), [4300, 3300, 2300, 1300, 300]);
      svc.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('skips already indexed records and rollback-type transaction records', () => {
    const dir = tempDir();
    try {
      const svc = new IndexService(dir, { maxHashSlotNum: 101, maxIndexNum: 1000 }, 'write');
      svc.load();
      svc.buildIndex(record(10));
      svc.buildIndex(record(5)); // below endPhyOffset 1000: already indexed
      assert.equal(svc.queryPhyOffsets('TopicA', 'UNIQ5', 10, ...ALL_TIME), []);
      svc.buildIndex(record(10)); // equal to endPhyOffset: RocketMQ indexes it again; queries de-duplicate
      assert.equal(svc.queryPhyOffsets('TopicA', 'UNIQ10', 10, ...ALL_TIME), [1000]);
      svc.buildIndex(record(11, { sysFlag: 0xc })); // ROLLBACK
      svc.buildIndex(record(12, { sysFlag: 0x8 | 0x1 })); // COMMIT, compressed
      svc.buildIndex(record(13, { sysFlag: 0x4 })); // PREPARED: RocketMQ's IndexService indexes it
      assert.equal(svc.queryPhyOffsets('TopicA', 'UNIQ11', 10, ...ALL_TIME), []);
      assert.equal(svc.queryPhyOffsets('TopicA', 'UNIQ12', 10, ...ALL_TIME), [1200]);
      assert.equal(svc.queryPhyOffsets('TopicA', 'UNIQ13', 10, ...ALL_TIME), [1300]);
      svc.close();
      assert.throws(() => svc.buildIndex(record(20)), /closed/);
      const reader = new IndexService(dir, { maxHashSlotNum: 101, maxIndexNum: 1000 }, 'read');
      reader.load();
      assert.throws(() => reader.buildIndex(record(20)), /read-only/);
      assert.throws(() => reader.rollBackTo(0), /read-only/);
      reader.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('rolls over to new files when full; lookups span them; reload continues', () => {
    const dir = tempDir();
    try {
      const config: IndexConfig = { maxHashSlotNum: 7, maxIndexNum: 11 }; // 10 keys per file
      const svc = new IndexService(dir, config, 'write');
      svc.load();
      // 3 keys per record (uniq, order, user) -> 34 records = 102 keys = 11 files
      for (let i = 0; i < 34; i++) svc.buildIndex(record(i));
      const names = svc.fileNames;
      assert.is(names.length, 11);
      assert.equal(fs.readdirSync(dir).sort(), names);
      for (let j = 1; j < names.length; j++) assert.ok(names[j - 1]! < names[j]!, 'names increase');
      for (const name of names) assert.match(name, /^\d{17}$/);
      for (let i = 0; i < 34; i++) {
        assert.equal(svc.queryPhyOffsets('TopicA', `UNIQ${i}`, 10, ...ALL_TIME), [i * 100]);
        assert.equal(svc.queryPhyOffsets('TopicA', `order-${i}`, 10, ...ALL_TIME), [i * 100]);
      }
      assert.equal(svc.queryPhyOffsets('TopicA', 'user-4', 10, ...ALL_TIME), [2400, 1400, 400]);
      assert.equal(svc.queryPhyOffsets('TopicA', 'user-4', 2, ...ALL_TIME), [2400, 1400]);
      // time range selects files: record 14 is at T0+140
      assert.equal(svc.queryPhyOffsets('TopicA', 'user-4', 10, T0 + 100, T0 + 200), [1400]);
      svc.flush();
      svc.close();

      const again = new IndexService(dir, config, 'write');
      again.load();
      assert.equal(again.fileNames, names);
      assert.is(again.lastIndexedPhyOffset, 3300);
      again.buildIndex(record(33)); // already indexed up to 3300 (equal: indexed again, de-duplicated)
      again.buildIndex(record(34));
      assert.equal(again.queryPhyOffsets('TopicA', 'UNIQ33', 10, ...ALL_TIME), [3300]);
      assert.equal(again.queryPhyOffsets('TopicA', 'user-4', 10, ...ALL_TIME), [3400, 2400, 1400, 400]);
      again.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('write-mode load deletes empty files and refuses a file written with another config', () => {
    const dir = tempDir();
    try {
      const svc = new IndexService(dir, { maxHashSlotNum: 7, maxIndexNum: 11 }, 'write');
      svc.load();
      svc.buildIndex(record(1));
      svc.close();
      // an empty file (crash between creating and sizing it) is deleted by the writer's load
      fs.writeFileSync(path.join(dir, '29991231235959999'), '');
      const reloaded = new IndexService(dir, { maxHashSlotNum: 7, maxIndexNum: 11 }, 'write');
      reloaded.load();
      assert.is(reloaded.fileNames.length, 1);
      assert.is(fs.readdirSync(dir).length, 1);
      reloaded.close();
      const other = new IndexService(dir, { maxHashSlotNum: 8, maxIndexNum: 11 }, 'write');
      assert.throws(() => other.load(), /bytes/);
      const reader = new IndexService(dir, { maxHashSlotNum: 8, maxIndexNum: 11 }, 'read');
      reader.load(); // skips it
      assert.equal(reader.fileNames, []);
      reader.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a reader sees keys and files written after it was created', () => {
    const dir = tempDir();
    try {
      const config: IndexConfig = { maxHashSlotNum: 13, maxIndexNum: 21 };
      const reader = new IndexService(path.join(dir, 'index'), config, 'read');
      reader.load(); // the folder does not exist yet
      assert.equal(reader.queryPhyOffsets('TopicA', 'UNIQ1', 10, ...ALL_TIME), []);
      const writer = new IndexService(path.join(dir, 'index'), config, 'write');
      writer.load();
      for (let i = 0; i < 40; i++) {
        writer.buildIndex(record(i));
        assert.equal(reader.queryPhyOffsets('TopicA', `UNIQ${i}`, 10, ...ALL_TIME), [i * 100], `UNIQ${i}`);
      }
      assert.ok(writer.fileNames.length >= 6);
      assert.equal(reader.fileNames, writer.fileNames);
      // retention on the writer side: the reader drops deleted files at its next query
      assert.is(writer.deleteFilesBelow(1000), 1);
      assert.equal(reader.queryPhyOffsets('TopicA', 'UNIQ39', 10, ...ALL_TIME), [3900]);
      assert.equal(reader.fileNames, writer.fileNames);
      writer.close();
      reader.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('rollBackTo then re-building the same records gives no duplicate results', () => {
    const dir = tempDir();
    try {
      const config: IndexConfig = { maxHashSlotNum: 11, maxIndexNum: 31 };
      const svc = new IndexService(dir, config, 'write');
      svc.load();
      for (let i = 0; i < 40; i++) svc.buildIndex(record(i));
      const filesBefore = svc.fileNames.length;
      svc.rollBackTo(2000);
      assert.is(svc.lastIndexedPhyOffset, 2000);
      svc.buildIndex(record(15)); // below the mark: skipped
      for (let i = 20; i < 40; i++) svc.buildIndex(record(i)); // re-dispatch from the mark
      assert.ok(svc.fileNames.length > filesBefore, 'the re-indexed entries went into new files');
      for (let i = 0; i < 40; i++) {
        assert.equal(svc.queryPhyOffsets('TopicA', `UNIQ${i}`, 10, ...ALL_TIME), [i * 100], `UNIQ${i}`);
      }
      assert.equal(svc.queryPhyOffsets('TopicA', 'user-7', 10, ...ALL_TIME), [3700, 2700, 1700, 700]);
      assert.is(svc.lastIndexedPhyOffset, 3900);
      // roll back below a whole file's range
      svc.rollBackTo(500);
      for (let i = 5; i < 40; i++) svc.buildIndex(record(i));
      assert.equal(svc.queryPhyOffsets('TopicA', 'user-7', 10, ...ALL_TIME), [3700, 2700, 1700, 700]);
      svc.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('deleteFilesBelow deletes the oldest files wholly below the offset, never the last', () => {
    const dir = tempDir();
    try {
      const config: IndexConfig = { maxHashSlotNum: 7, maxIndexNum: 7 }; // 6 keys = 2 records per file
      const svc = new IndexService(dir, config, 'write');
      svc.load();
      assert.is(svc.deleteFilesBelow(1_000_000), 0);
      for (let i = 0; i < 10; i++) svc.buildIndex(record(i)); // 5 files, ends 100, 300, 500, 700, 900
      assert.is(svc.fileNames.length, 5);
      assert.is(svc.deleteFilesBelow(100), 0);
      assert.is(svc.deleteFilesBelow(101), 1);
      assert.is(svc.fileNames.length, 4);
      assert.is(fs.readdirSync(dir).length, 4);
      assert.equal(svc.queryPhyOffsets('TopicA', 'UNIQ1', 10, ...ALL_TIME), []);
      assert.equal(svc.queryPhyOffsets('TopicA', 'UNIQ2', 10, ...ALL_TIME), [200]);
      assert.is(svc.deleteFilesBelow(Number.MAX_SAFE_INTEGER), 3);
      assert.equal(svc.fileNames.length, 1);
      assert.equal(svc.queryPhyOffsets('TopicA', 'UNIQ9', 10, ...ALL_TIME), [900]);
      svc.buildIndex(record(10));
      assert.equal(svc.queryPhyOffsets('TopicA', 'UNIQ10', 10, ...ALL_TIME), [1000]);
      svc.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('corrupted files never make a service query throw or loop', () => {
    const dir = tempDir();
    try {
      const config: IndexConfig = { maxHashSlotNum: 17, maxIndexNum: 101 };
      const svc = new IndexService(dir, config, 'write');
      svc.load();
      for (let i = 0; i < 100; i++) svc.buildIndex(record(i));
      svc.flush();
      const size = 40 + 17 * 4 + 101 * 20;
      let seed = 99;
      const random = (): number => {
        seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
        return seed / 4294967296;
      };
      for (const name of svc.fileNames) {
        const fd = fs.openSync(path.join(dir, name), 'r+');
        for (let j = 0; j < 200; j++) {
          fs.writeSync(fd, Buffer.from([Math.floor(random() * 256)]), 0, 1, Math.floor(random() * size));
        }
        fs.closeSync(fd);
      }
      const reader = new IndexService(dir, config, 'read');
      reader.load();
      const started = Date.now();
      for (let i = 0; i < 120; i++) {
        for (const svcUnderTest of [svc, reader]) {
          svcUnderTest.queryPhyOffsets('TopicA', `UNIQ${i}`, 50, ...ALL_TIME);
          svcUnderTest.queryPhyOffsets('TopicA', `user-${i % 10}`, 50, T0, T0 + 500);
        }
      }
      for (let i = 100; i < 120; i++) svc.buildIndex(record(i));
      assert.ok(Date.now() - started < 3000);
      reader.close();
      svc.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a reader on a worker thread, while the main thread writes 10k keys', async () => {
    const dir = tempDir();
    try {
      const config: IndexConfig = { maxHashSlotNum: 211, maxIndexNum: 1500 }; // ~7 files
      const total = 10_000;
      const writer = new IndexService(dir, config, 'write');
      writer.load();
      const progress = new SharedArrayBuffer(8);
      const progressWords = new Int32Array(progress);
      const worker = startTsWorker(import.meta.url, { dir, config, progress, total } satisfies WorkerInput);
      const reportPromise = new Promise<WorkerReport>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
        worker.once('exit', (code) => reject(new Error(`worker exited with ${code} before reporting`)));
      });
      await new Promise<void>((resolve) => worker.once('online', () => resolve()));
      for (let i = 0; i < total; i++) {
        writer.buildIndex({ topic: 'T', keys: `k${i}`, phyOffset: i * 8, storeTimestamp: T0 + i, sysFlag: 0 });
        Atomics.store(progressWords, 0, i + 1);
        if (i % 25 === 24) {
          writer.flush();
          await new Promise((resolve) => setTimeout(resolve, 0));
        }
      }
      Atomics.store(progressWords, 1, 1);
      const report = await reportPromise;
      await worker.terminate();
      assert.ok(writer.fileNames.length >= 7, `files: ${writer.fileNames.length}`);
      assert.equal(report.errors, []);
      assert.ok(report.queries > 100, `worker queries: ${report.queries}`);
      assert.is(report.missingWhileWriting, 0);
      assert.is(report.missingAtEnd, 0);
      writer.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test.run();
}
