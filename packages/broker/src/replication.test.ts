// Master/slave replication at the broker level, in this process over 127.0.0.1: a NameServer, an
// ASYNC_MASTER and its SLAVE (then a SYNC_MASTER pair). The slave learns its master from the
// NameServer, copies the commit log byte for byte, builds its own consume queues, copies topics,
// groups and offsets (SlaveSynchronize), refuses writes, and serves consumers while the master is
// down. Every wait is bounded.
//
// The clients here poll the NameServer every second (pollNameServerIntervalMs: 1000; RocketMQ's
// default is 30 s) so that they notice a master going away and coming back within a test's patience.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeStoredRecords, RequestCode, ResponseCode, type DecodedRecord } from '@orbit/common';
import { AdminClient, Producer, PushConsumer, silentLogger, type MessageExt } from '@orbit/client';
import { NamesrvController } from '@orbit/namesrv';
import { createRequest, RemotingClient, type RemotingCommand } from '@orbit/remoting';
import { PullSysFlag } from './processors/pull-message-processor.js';
import { startTestBroker, type TestBroker } from './test-support.js';

const SEGMENT_BYTES = 16 * 1024 * 1024; // test-support's mappedFileSizeCommitLog

let namesrv: NamesrvController;
let namesrvAddr = '';
let root: string;
let admin: AdminClient;
const raw = new RemotingClient({ connectTimeoutMs: 2_000, requestTimeoutMs: 5_000 });
let instance = 0;

let master: TestBroker;
let slave: TestBroker;
let masterDir: string;
let slaveDir: string;
const masterSettings = () => ({ namesrvAddr, brokerName: 'broker-r', brokerRole: 'ASYNC_MASTER' });
// registerNameServerPeriod is clamped to 10 s at least (as RocketMQ): the slowest path to a master
// that came back on another HA port.
const slaveSettings = () => ({ namesrvAddr, brokerName: 'broker-r', brokerRole: 'SLAVE', brokerId: '1', slaveSyncIntervalMs: '1000', registerNameServerPeriod: '10000' });

const fastClient = () => ({
  namesrvAddr,
  instanceName: `r${++instance}`,
  rebalanceIntervalMs: 1_000,
  persistConsumerOffsetIntervalMs: 500,
  pollNameServerIntervalMs: 1_000,
  heartbeatBrokerIntervalMs: 1_000,
  logger: silentLogger,
});

async function until(what: string, fn: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function rawSend(addr: string, topic: string, queueId: number, body: string): Promise<RemotingCommand> {
  const fields = { a: 'raw-pg', b: topic, c: 'TBW102', d: 4, e: queueId, f: 0, g: Date.now(), h: 0, i: '', j: 0, k: false };
  return raw.invoke(addr, createRequest(RequestCode.SEND_MESSAGE_V2, fields, Buffer.from(body)), 10_000);
}

function rawPull(addr: string, topic: string, queueId: number, offset: number, group = 'raw-cg'): Promise<RemotingCommand> {
  return raw.invoke(
    addr,
    createRequest(RequestCode.PULL_MESSAGE, {
      consumerGroup: group,
      topic,
      queueId,
      queueOffset: offset,
      maxMsgNums: 32,
      sysFlag: PullSysFlag.SUBSCRIPTION,
      commitOffset: 0,
      suspendTimeoutMillis: 0,
      subscription: '*',
      subVersion: 0,
    }),
    5_000,
  );
}

/** Every message of a queue, read from `addr` with raw pulls (bounded by `max`). */
async function pullAll(addr: string, topic: string, queueId: number, max = 10_000): Promise<DecodedRecord[]> {
  const out: DecodedRecord[] = [];
  let offset = 0;
  while (out.length < max) {
    const res = await rawPull(addr, topic, queueId, offset);
    if (res.code === ResponseCode.PULL_NOT_FOUND) break;
    assert.is(res.code, ResponseCode.SUCCESS, `pull ${topic}/${queueId}@${offset} from ${addr}: ${res.code} ${res.remark}`);
    out.push(...decodeStoredRecords(res.body!));
    offset = Number(res.extFields.nextBeginOffset);
  }
  return out;
}

async function runtimeInfo(addr: string): Promise<Record<string, string>> {
  const res = await raw.invoke(addr, createRequest(RequestCode.GET_BROKER_RUNTIME_INFO, {}), 5_000);
  assert.is(res.code, ResponseCode.SUCCESS);
  return (JSON.parse(res.body!.toString()) as { table: Record<string, string> }).table;
}

/** The first `length` bytes of a file. */
function head(path: string, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    const n = readSync(fd, buf, 0, length, 0);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/** The two commit logs hold the same bytes up to `endOffset`, segment file by segment file. */
function assertSameCommitLog(aDir: string, bDir: string, endOffset: number): void {
  assert.ok(endOffset > 0);
  const names = readdirSync(join(aDir, 'commitlog')).filter((n) => /^\d{20}$/.test(n)).sort();
  let compared = 0;
  for (const name of names) {
    const base = Number(name);
    if (base >= endOffset) continue;
    const length = Math.min(SEGMENT_BYTES, endOffset - base);
    const a = head(join(aDir, 'commitlog', name), length);
    const b = head(join(bDir, 'commitlog', name), length);
    assert.is(a.length, length, `master segment ${name} is shorter than ${length}`);
    assert.ok(a.equals(b), `commit log segment ${name} differs in its first ${length} bytes`);
    compared += length;
  }
  assert.is(compared, endOffset - Number(names[0]));
}

async function caughtUp(m: TestBroker, s: TestBroker): Promise<void> {
  await until('the slave to reach the master commit log end', () => s.broker.ctx.store.commitLogMaxOffset === m.broker.ctx.store.commitLogMaxOffset && m.broker.ctx.store.commitLogMaxOffset > 0);
}

test.before(async () => {
  root = mkdtempSync(join(tmpdir(), 'orbit-replication-'));
  namesrv = new NamesrvController({ config: { listenPort: 0, bindAddress: '127.0.0.1', kvConfigPath: join(root, 'kv.json') } });
  namesrvAddr = `127.0.0.1:${(await namesrv.start()).port}`;
  masterDir = join(root, 'master');
  slaveDir = join(root, 'slave');
  master = await startTestBroker(masterSettings(), masterDir);
  slave = await startTestBroker(slaveSettings(), slaveDir);
  admin = new AdminClient({ namesrvAddr, logger: silentLogger });
});

test.after(async () => {
  await admin?.shutdown();
  await slave?.stop();
  await master?.stop();
  await raw.close();
  await namesrv?.shutdown();
  rmSync(root, { recursive: true, force: true });
});

test('the slave finds its master through the NameServer and its commit log becomes a byte copy', async () => {
  await until('the slave HA connection', () => slave.broker.ctx.store.haStatus().masterConnected);
  assert.is(slave.broker.ctx.masterLink?.masterAddr, master.addr, 'masterAddr from the REGISTER_BROKER answer');
  assert.is(slave.broker.ctx.masterLink?.haServerAddr, `127.0.0.1:${master.broker.ctx.store.haStatus().haListenPort}`);
  await until('the master to count its slave', () => master.broker.ctx.store.haStatus().connectedSlaves === 1);

  await admin.createTopic(master.addr, { topic: 'Repl', readQueueNums: 4, writeQueueNums: 4 });
  await master.broker.registerNow();
  const producer = new Producer({ ...fastClient(), producerGroup: 'repl-pg' });
  await producer.start();
  const sent = new Map<number, string[]>();
  try {
    for (let i = 0; i < 200; i++) {
      const r = await producer.send({ topic: 'Repl', body: `repl-${i}-${'x'.repeat(i % 50)}`, tags: i % 2 ? 'odd' : 'even', keys: [`k${i}`] });
      assert.is(r.sendStatus, 'SEND_OK');
      assert.is(r.messageQueue.brokerName, 'broker-r');
      sent.set(r.messageQueue.queueId, [...(sent.get(r.messageQueue.queueId) ?? []), `repl-${i}-${'x'.repeat(i % 50)}`]);
    }
  } finally {
    await producer.shutdown();
  }
  await caughtUp(master, slave);
  assertSameCommitLog(masterDir, slaveDir, master.broker.ctx.store.commitLogMaxOffset);

  // The slave's own consume queues and index: the same queue ends, the same records, found by key.
  await slave.broker.ctx.store.waitDispatched();
  await master.broker.ctx.store.waitDispatched();
  for (let q = 0; q < 4; q++) {
    assert.is(slave.broker.ctx.store.getMaxOffsetInQueue('Repl', q), master.broker.ctx.store.getMaxOffsetInQueue('Repl', q), `queue ${q} end`);
    assert.is(slave.broker.ctx.store.getMaxOffsetInQueue('Repl', q), sent.get(q)?.length ?? 0);
    const fromSlave = slave.broker.ctx.store.getMessage('Repl', q, 0, 32);
    const fromMaster = master.broker.ctx.store.getMessage('Repl', q, 0, 32);
    assert.is(fromSlave.status, 'FOUND');
    assert.equal(fromSlave.messages.map((m) => m.toString('hex')), fromMaster.messages.map((m) => m.toString('hex')));
  }
  assert.is(slave.broker.ctx.store.queryMessagesByKey('Repl', 'k7', 4, 0, Date.now() + 1_000).length, 1, 'the index is built on the slave too');
});

test('topics, subscription groups and consumer offsets made on the master reach the slave and its files', async () => {
  await admin.createTopic(master.addr, { topic: 'SyncedTopic', readQueueNums: 3, writeQueueNums: 2 });
  const group = { groupName: 'synced-group', retryMaxTimes: 5, consumeBroadcastEnable: false, whichBrokerWhenConsumeSlowly: 1 };
  const created = await raw.invoke(master.addr, createRequest(RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, {}, Buffer.from(JSON.stringify(group))), 5_000);
  assert.is(created.code, ResponseCode.SUCCESS);
  const committed = await raw.invoke(master.addr, createRequest(RequestCode.UPDATE_CONSUMER_OFFSET, { consumerGroup: 'synced-group', topic: 'Repl', queueId: 2, commitOffset: 7 }), 5_000);
  assert.is(committed.code, ResponseCode.SUCCESS);

  // The master's side of consumer-offset sync, in RocketMQ's ConsumerOffsetSerializeWrapper shape.
  const all = await raw.invoke(master.addr, createRequest(RequestCode.GET_ALL_CONSUMER_OFFSET, {}), 5_000);
  assert.is(all.code, ResponseCode.SUCCESS);
  assert.equal((JSON.parse(all.body!.toString()) as { offsetTable: Record<string, Record<string, number>> }).offsetTable['Repl@synced-group'], { 2: 7 });

  const s = slave.broker.ctx;
  await until('the slave to copy topic, group and offset', () => s.topics.get('SyncedTopic') !== undefined && s.groups.get('synced-group') !== undefined && s.offsets.query('synced-group', 'Repl', 2) === 7);
  assert.equal({ r: s.topics.get('SyncedTopic')!.readQueueNums, w: s.topics.get('SyncedTopic')!.writeQueueNums }, { r: 3, w: 2 });
  assert.is(s.groups.get('synced-group')!.retryMaxTimes, 5);
  assert.is(s.groups.get('synced-group')!.consumeBroadcastEnable, false);
  assert.equal(s.topics.dataVersion, master.broker.ctx.topics.dataVersion, 'the slave takes the master DataVersion');
  // Written to the slave's own config files, so a restarted slave has them before its first sync.
  await until('the slave offset file', () => readFileSync(join(slaveDir, 'config', 'consumerOffset.json'), 'utf8').includes('Repl@synced-group'));
  assert.ok(JSON.parse(readFileSync(join(slaveDir, 'config', 'topics.json'), 'utf8')).topicConfigTable.SyncedTopic);
  assert.ok(JSON.parse(readFileSync(join(slaveDir, 'config', 'subscriptionGroup.json'), 'utf8')).subscriptionGroupTable['synced-group']);
  assert.ok(readFileSync(join(slaveDir, 'config', 'delayOffset.json'), 'utf8').includes('offsetTable'), 'delay offsets copied too');
  const report = s.slaveSync!.lastReport!;
  assert.equal(report.errors, {}, 'every part of the last sync succeeded');
  assert.is(report.masterAddr, master.addr);
});

test('the slave refuses writes, and sends consumers to the master while it is connected', async () => {
  const res = await rawSend(slave.addr, 'Repl', 0, 'to the slave');
  assert.is(res.code, ResponseCode.SERVICE_NOT_AVAILABLE, res.remark);
  const back = await raw.invoke(slave.addr, createRequest(RequestCode.CONSUMER_SEND_MSG_BACK, { offset: 0, group: 'never-created-here', delayLevel: 0 }), 5_000);
  assert.is(back.code, ResponseCode.SERVICE_NOT_AVAILABLE, back.remark);
  assert.is(slave.broker.ctx.groups.get('never-created-here'), undefined, 'a refused send-back creates nothing on the slave');

  const pull = await rawPull(slave.addr, 'Repl', 0, 0);
  assert.is(pull.code, ResponseCode.PULL_RETRY_IMMEDIATELY, 'slaveReadEnable=false and the master is up');
  assert.is(pull.extFields.suggestWhichBrokerId, '0');
  assert.is(pull.extFields.nextBeginOffset, '0', 'the consumer offset is kept');
  const fromMaster = await rawPull(master.addr, 'Repl', 0, 0);
  assert.is(fromMaster.code, ResponseCode.SUCCESS);
  assert.is(fromMaster.extFields.suggestWhichBrokerId, '0', 'slaveReadEnable=false: always the master');

  const m = await runtimeInfo(master.addr);
  assert.is(m.brokerRole, 'ASYNC_MASTER');
  assert.is(m.haConnectedSlaves, '1');
  assert.is(m.slaveAckOffset, String(master.broker.ctx.store.haStatus().slaveAckOffset));
  const sl = await runtimeInfo(slave.addr);
  assert.is(sl.brokerRole, 'SLAVE');
  assert.is(sl.masterAddr, master.addr);
  assert.is(sl.haMasterConnected, 'true');
});

test('a PushConsumer keeps consuming from the slave while the master is down; its offsets reach the restarted master', async () => {
  await admin.createTopic(master.addr, { topic: 'Failover', readQueueNums: 1, writeQueueNums: 1 });
  await master.broker.registerNow();
  await until('the slave to know the topic', () => slave.broker.ctx.topics.get('Failover') !== undefined);

  const received = new Map<string, number>();
  let gateOpen = true;
  let releaseGate: () => void = () => {};
  let gate = Promise.resolve();
  let heldAtGate = 0;
  // One message per pull and at most two waiting: while the gate is shut the consumer stops pulling,
  // leaving the rest of the backlog for after the master is gone.
  const consumer = new PushConsumer({
    ...fastClient(),
    consumerGroup: 'failover-cg',
    consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
    pullBatchSize: 1,
    pullThresholdForQueue: 1,
    consumeMessageBatchMaxSize: 1,
    pullTimeDelayMsWhenException: 200,
  });
  consumer.subscribe('Failover', '*');
  consumer.registerMessageListener(async (msgs: MessageExt[]) => {
    if (!gateOpen) {
      heldAtGate++;
      await Promise.race([gate, new Promise((r) => setTimeout(r, 30_000))]);
    }
    for (const msg of msgs) received.set(msg.body.toString(), (received.get(msg.body.toString()) ?? 0) + 1);
    return 'CONSUME_SUCCESS' as const;
  });
  const producer = new Producer({ ...fastClient(), producerGroup: 'failover-pg' });
  try {
    await consumer.start();
    await producer.start();
    for (let i = 0; i < 10; i++) assert.is((await producer.send({ topic: 'Failover', body: `a-${i}` })).sendStatus, 'SEND_OK');
    await until('the first 10 from the master', () => received.size === 10);
    await until('the master to hold the committed offset 10', () => master.broker.ctx.offsets.query('failover-cg', 'Failover', 0) === 10);

    gateOpen = false;
    gate = new Promise((r) => (releaseGate = r));
    for (let i = 0; i < 30; i++) assert.is((await producer.send({ topic: 'Failover', body: `b-${i}` })).sendStatus, 'SEND_OK');
    await until('the consumer to stop at the gate', () => heldAtGate >= 1);
    await caughtUp(master, slave);
    await producer.shutdown();

    const slaveGetsBefore = slave.broker.ctx.stats.getMessages;
    const masterPort = master.broker.config.listenPort;
    await master.stop(); // unregisters from the NameServer; the slave HA connection closes
    await until('the slave to see its master gone', () => !slave.broker.ctx.store.haStatus().masterConnected);
    gateOpen = true;
    releaseGate();
    await until('every b- message, the rest from the slave', () => [...received.keys()].filter((k) => k.startsWith('b-')).length === 30, 30_000);
    assert.ok(slave.broker.ctx.stats.getMessages - slaveGetsBefore >= 28, `the slave served ${slave.broker.ctx.stats.getMessages - slaveGetsBefore} messages`);
    assert.equal([...received.values()].filter((n) => n > 1), [], 'nothing consumed twice');
    // Commits go to the slave while the master is away; it keeps them.
    await until('the slave to hold the committed offset 40', () => slave.broker.ctx.offsets.query('failover-cg', 'Failover', 0) === 40);

    // The slave's consume queues serve the whole Repl topic of the first test on their own.
    let replMessages = 0;
    for (let q = 0; q < 4; q++) {
      const records = await pullAll(slave.addr, 'Repl', q);
      assert.is(records.length, master.broker.ctx.store.getMaxOffsetInQueue('Repl', q));
      assert.ok(records.every((r, i) => r.queueOffset === i && r.body.toString().startsWith('repl-')));
      replMessages += records.length;
    }
    assert.is(replMessages, 200);
    const refused = await rawSend(slave.addr, 'Repl', 0, 'still a slave');
    assert.is(refused.code, ResponseCode.SERVICE_NOT_AVAILABLE);

    // The master comes back on the same client port and another HA port: the consumer commits to it,
    // and the slave learns the new HA address at its next registration (≤ registerNameServerPeriod).
    master = await startTestBroker({ ...masterSettings(), listenPort: String(masterPort), haListenPort: String(await freePort()) }, masterDir);
    await until('the restarted master to receive the offset committed on the slave', () => master.broker.ctx.offsets.query('failover-cg', 'Failover', 0) === 40);
    await until('the slave to reconnect to the restarted master', () => slave.broker.ctx.store.haStatus().masterConnected, 30_000);
    assert.is(slave.broker.ctx.masterLink?.haServerAddr, `127.0.0.1:${master.broker.ctx.store.haStatus().haListenPort}`);
    const more = await rawSend(master.addr, 'Failover', 0, 'c-0');
    assert.is(more.code, ResponseCode.SUCCESS);
    await until('c-0', () => received.has('c-0'));
    await caughtUp(master, slave);
    assertSameCommitLog(masterDir, slaveDir, master.broker.ctx.store.commitLogMaxOffset);
    await until('the slave to take the master offsets again', () => slave.broker.ctx.offsets.query('failover-cg', 'Failover', 0) === 41);
  } finally {
    releaseGate();
    await producer.shutdown();
    await consumer.shutdown();
  }
});

test('SYNC_MASTER: SEND_OK with its slave, SLAVE_NOT_AVAILABLE (stored all the same) without', async () => {
  const syncMasterDir = join(root, 'sync-master');
  const syncSlaveDir = join(root, 'sync-slave');
  // slaveReadEnable with ratio 0: every pull of the master counts as reading cold data.
  const m = await startTestBroker({ namesrvAddr, brokerName: 'broker-s', brokerRole: 'SYNC_MASTER', slaveReadEnable: 'true', accessMessageInMemoryMaxRatio: '0' }, syncMasterDir);
  let s: TestBroker | undefined = await startTestBroker({ namesrvAddr, brokerName: 'broker-s', brokerRole: 'SLAVE', brokerId: '1', slaveSyncIntervalMs: '1000', slaveReadEnable: 'true' }, syncSlaveDir);
  const producer = new Producer({ ...fastClient(), producerGroup: 'sync-pg' });
  try {
    await until('the SYNC_MASTER to count its slave', () => m.broker.ctx.store.haStatus().connectedSlaves === 1);
    await admin.createTopic(m.addr, { topic: 'SyncTopic', readQueueNums: 1, writeQueueNums: 1 });
    await m.broker.registerNow();
    const ok = await rawSend(m.addr, 'SyncTopic', 0, 'acked by the slave');
    assert.is(ok.code, ResponseCode.SUCCESS, ok.remark);
    assert.ok(s.broker.ctx.store.commitLogMaxOffset >= m.broker.ctx.store.commitLogMaxOffset, 'the slave had the message before the answer');
    await producer.start();
    assert.is((await producer.send({ topic: 'SyncTopic', body: 'with slave' })).sendStatus, 'SEND_OK');

    // Pull suggestions with slaveReadEnable: cold data goes to whichBrokerWhenConsumeSlowly (1)…
    await until('the slave to know SyncTopic', () => s!.broker.ctx.topics.get('SyncTopic') !== undefined);
    const cold = await rawPull(m.addr, 'SyncTopic', 0, 0);
    assert.is(cold.code, ResponseCode.SUCCESS);
    assert.is(cold.extFields.suggestWhichBrokerId, '1');
    m.broker.ctx.config.accessMessageInMemoryMaxRatio = 40; // …warm data to the group's brokerId (0)
    assert.is((await rawPull(m.addr, 'SyncTopic', 0, 0)).extFields.suggestWhichBrokerId, '0');
    m.broker.ctx.config.accessMessageInMemoryMaxRatio = 0;
    m.broker.ctx.config.slaveReadEnable = false; // …and without slaveReadEnable always the master
    assert.is((await rawPull(m.addr, 'SyncTopic', 0, 0)).extFields.suggestWhichBrokerId, '0');
    // A slave with slaveReadEnable serves pulls while its master is up.
    await s.broker.ctx.store.waitDispatched();
    const fromSlave = await rawPull(s.addr, 'SyncTopic', 0, 0);
    assert.is(fromSlave.code, ResponseCode.SUCCESS, fromSlave.remark);
    assert.equal(decodeStoredRecords(fromSlave.body!).map((r) => r.body.toString()), ['acked by the slave', 'with slave']);

    await s.stop();
    s = undefined;
    await until('the SYNC_MASTER to see no slave', () => m.broker.ctx.store.haStatus().connectedSlaves === 0);
    const alone = await rawSend(m.addr, 'SyncTopic', 0, 'no slave');
    assert.is(alone.code, ResponseCode.SLAVE_NOT_AVAILABLE, alone.remark);
    assert.ok(alone.extFields.msgId, 'msgId is still answered');
    assert.is(alone.extFields.queueId, '0');
    assert.is(alone.extFields.queueOffset, '2');
    const viaProducer = await producer.send({ topic: 'SyncTopic', body: 'no slave either' });
    assert.is(viaProducer.sendStatus, 'SLAVE_NOT_AVAILABLE');
    assert.is(viaProducer.queueOffset, 3);
    await m.broker.ctx.store.waitDispatched();
    const stored = m.broker.ctx.store.getMessage('SyncTopic', 0, 0, 32);
    assert.equal(
      stored.messages.map((b) => decodeStoredRecords(b)[0]!.body.toString()),
      ['acked by the slave', 'with slave', 'no slave', 'no slave either'],
      'SLAVE_NOT_AVAILABLE messages are stored on the master',
    );
    const info = await runtimeInfo(m.addr);
    assert.is(info.brokerRole, 'SYNC_MASTER');
    assert.is(info.haConnectedSlaves, '0');
  } finally {
    await producer.shutdown();
    await s?.stop();
    await m.stop();
  }
});

test.run();
