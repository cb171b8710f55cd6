import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { messageQueue, type MessageQueue } from './message-queue.js';
import { formatOffsetFile, LocalFileOffsetStore, parseOffsetFile, RemoteBrokerOffsetStore, writeFileAtomically, type OffsetBrokerApi } from './offset-store.js';
import { recordingLogger } from './testing/scripted-peers.js';

const q0 = messageQueue('T', 'broker-a', 0);
const q1 = messageQueue('T', 'broker-a', 1);
const q2 = messageQueue('T', 'broker-b', 0);

function fakeBroker(stored: Map<string, number>, failQuery = false) {
  const updates: { mq: MessageQueue; offset: number; oneway: boolean }[] = [];
  const api: OffsetBrokerApi = {
    brokerAddrFor: async (mq) => `${mq.brokerName}:10911`,
    queryConsumerOffset: async (_addr, _group, mq) => {
      if (failQuery) throw new Error('boom');
      return stored.get(`${mq.brokerName}/${mq.queueId}`) ?? -1;
    },
    updateConsumerOffset: async (_addr, _group, mq, offset, oneway) => void updates.push({ mq, offset, oneway }),
  };
  return { api, updates };
}

test('remote store: read from broker (-1 when none, -2 on error), memory first', async () => {
  const { api } = fakeBroker(new Map([['broker-a/0', 17]]));
  const store = new RemoteBrokerOffsetStore('g', api, recordingLogger());
  assert.is(await store.readOffset(q0, 'READ_FROM_STORE'), 17);
  assert.is(store.readOffsetFromMemory(q0), 17);
  assert.is(await store.readOffset(q1, 'READ_FROM_STORE'), -1);
  assert.is(await store.readOffset(q1, 'READ_FROM_MEMORY'), -1);
  store.updateOffset(q1, 5, false);
  assert.is(await store.readOffset(q1, 'MEMORY_FIRST_THEN_STORE'), 5);
  const failing = new RemoteBrokerOffsetStore('g', fakeBroker(new Map(), true).api, recordingLogger());
  assert.is(await failing.readOffset(q0, 'READ_FROM_STORE'), -2);
});

test('remote store: increaseOnly never moves back; negatives never committed; unused queues forgotten', async () => {
  const { api, updates } = fakeBroker(new Map());
  const store = new RemoteBrokerOffsetStore('g', api, recordingLogger());
  store.updateOffset(q0, 10, true);
  store.updateOffset(q0, 8, true);
  assert.is(store.readOffsetFromMemory(q0), 10);
  store.updateOffset(q0, 8, false);
  assert.is(store.readOffsetFromMemory(q0), 8);
  store.updateOffset(q1, -1, false);
  store.updateOffset(q2, 3, false);
  await store.persistAll([q0, q1]);
  assert.equal(updates.map((u) => [u.mq.queueId, u.offset, u.oneway]), [[0, 8, true]]);
  assert.is(store.readOffsetFromMemory(q2), -1); // not in the set: dropped
  updates.length = 0;
  await store.persist(q0, { oneway: false });
  assert.equal(updates.map((u) => [u.offset, u.oneway]), [[8, false]]);
});

test('local file store: atomic write, read back, .bak kept, no temp file left', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'orbit-offsets-'));
  try {
    const store = new LocalFileOffsetStore('10.0.0.1@inst', 'g', recordingLogger(), dir);
    assert.is(store.path, join(dir, '10.0.0.1@inst', 'g', 'offsets.json'));
    store.updateOffset(q0, 11, false);
    store.updateOffset(q2, 22, false);
    await store.persistAll([q0, q2]);
    const again = new LocalFileOffsetStore('10.0.0.1@inst', 'g', recordingLogger(), dir);
    await again.load();
    assert.is(again.readOffsetFromMemory(q0), 11);
    assert.is(again.readOffsetFromMemory(q2), 22);
    assert.is(await again.readOffset(q1, 'READ_FROM_STORE'), -1);
    store.updateOffset(q0, 12, true);
    await store.persistAll([q0, q2]);
    const files = (await readdir(join(dir, '10.0.0.1@inst', 'g'))).sort();
    assert.equal(files, ['offsets.json', 'offsets.json.bak']);
    assert.equal(parseOffsetFile(await readFile(store.path, 'utf8')).map((e) => e.offset).sort(), [12, 22]);
    assert.equal(parseOffsetFile(await readFile(`${store.path}.bak`, 'utf8')).map((e) => e.offset).sort(), [11, 22]);
    // A broken main file falls back to the .bak.
    await writeFile(store.path, '{"offsetTable": {');
    const fromBak = new LocalFileOffsetStore('10.0.0.1@inst', 'g', recordingLogger(), dir);
    await fromBak.load();
    assert.is(fromBak.readOffsetFromMemory(q0), 11);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('offsets file: our JSON and Java fastjson object keys both parse', () => {
  const ours = formatOffsetFile([{ mq: q0, offset: 3 }]);
  assert.ok(JSON.parse(ours)); // standard JSON
  assert.equal(parseOffsetFile(ours), [{ mq: q0, offset: 3 }]);
  const java = '{\n\t"offsetTable":{{"brokerName":"broker-b","queueId":0,"topic":"T"}:7,{"brokerName":"broker-a","queueId":1,"topic":"T"}:9\n\t}\n}';
  assert.equal(parseOffsetFile(java), [{ mq: q2, offset: 7 }, { mq: q1, offset: 9 }]);
});

test('writeFileAtomically replaces content whole', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'orbit-atomic-'));
  try {
    const path = join(dir, 'sub', 'f.json');
    await writeFileAtomically(path, 'one');
    await writeFileAtomically(path, 'two');
    assert.is(await readFile(path, 'utf8'), 'two');
    assert.is(await readFile(`${path}.bak`, 'utf8'), 'one');
    assert.equal((await readdir(join(dir, 'sub'))).sort(), ['f.json', 'f.json.bak']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
