// Orbit's own client against a NameServer and two brokers, over real sockets: route discovery,
// multi-master spreading, a consumer group sharing queues and rebalancing, broadcasting, and
// consumer offsets that survive a broker restart.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdminClient, Producer, PushConsumer, silentLogger, type MessageExt } from '@orbit/client';
import { NamesrvController } from '@orbit/namesrv';
import { startTestBroker, type TestBroker } from './test-support.js';

let namesrv: NamesrvController;
let namesrvAddr = '';
let brokerA: TestBroker;
let brokerB: TestBroker;
let dir: string;
let admin: AdminClient;
let instance = 0;

/** Short client timers so rebalances and commits happen within a test's patience. */
const fastClient = () => ({ namesrvAddr, instanceName: `t${++instance}`, rebalanceIntervalMs: 1_000, persistConsumerOffsetIntervalMs: 500, pollNameServerIntervalMs: 1_000, heartbeatBrokerIntervalMs: 1_000, logger: silentLogger });

async function until(what: string, fn: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function createTopic(topic: string, queues: number, brokers: TestBroker[]): Promise<void> {
  for (const b of brokers) {
    await admin.createTopic(b.addr, { topic, readQueueNums: queues, writeQueueNums: queues });
    await b.broker.registerNow();
  }
}

function collector(consumer: PushConsumer, into: Map<string, number>): void {
  consumer.registerMessageListener(async (msgs: MessageExt[]) => {
    for (const m of msgs) into.set(m.body.toString(), (into.get(m.body.toString()) ?? 0) + 1);
    return 'CONSUME_SUCCESS' as const;
  });
}

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'orbit-cluster-'));
  namesrv = new NamesrvController({ config: { listenPort: 0, bindAddress: '127.0.0.1', kvConfigPath: join(dir, 'kv.json') } });
  namesrvAddr = `127.0.0.1:${(await namesrv.start()).port}`;
  brokerA = await startTestBroker({ namesrvAddr, brokerName: 'broker-a' });
  brokerB = await startTestBroker({ namesrvAddr, brokerName: 'broker-b' });
  admin = new AdminClient({ namesrvAddr, logger: silentLogger });
});

test.after(async () => {
  await admin?.shutdown();
  await brokerA?.stop();
  await brokerB?.stop();
  await namesrv?.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

test('route discovery and multi-master: a producer spreads over every queue of both brokers', async () => {
  await createTopic('Spread', 4, [brokerA, brokerB]);
  const route = await admin.getTopicRoute('Spread');
  assert.equal(route.brokerDatas.map((b) => b.brokerName).sort(), ['broker-a', 'broker-b']);
  assert.equal(route.queueDatas.map((q) => q.writeQueueNums), [4, 4]);
  const producer = new Producer({ ...fastClient(), producerGroup: 'spread-pg' });
  await producer.start();
  try {
    const perQueue = new Map<string, number>();
    for (let i = 0; i < 80; i++) {
      const r = await producer.send({ topic: 'Spread', body: `m${i}` });
      assert.is(r.sendStatus, 'SEND_OK');
      const key = `${r.messageQueue.brokerName}/${r.messageQueue.queueId}`;
      perQueue.set(key, (perQueue.get(key) ?? 0) + 1);
    }
    assert.is(perQueue.size, 8, `queues used: ${[...perQueue.keys()]}`);
    for (const [q, n] of perQueue) assert.is(n, 10, `queue ${q} got ${n}`);
  } finally {
    await producer.shutdown();
  }
  for (const b of [brokerA, brokerB]) {
    await b.broker.ctx.store.waitDispatched(); // consume queues are built after the sends are answered
    let total = 0;
    for (let q = 0; q < 4; q++) total += b.broker.ctx.store.getMaxOffsetInQueue('Spread', q);
    assert.is(total, 40);
  }
});

test('a group of three shares eight queues, and rebalances without losing messages when one leaves', async () => {
  await createTopic('Shared', 4, [brokerA, brokerB]);
  const received = new Map<string, number>();
  const consumers = [1, 2, 3].map(() => {
    const c = new PushConsumer({ ...fastClient(), consumerGroup: 'shared-cg', consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
    c.subscribe('Shared', '*');
    collector(c, received);
    return c;
  });
  const producer = new Producer({ ...fastClient(), producerGroup: 'shared-pg' });
  try {
    for (const c of consumers) await c.start();
    await producer.start();
    // The 8 topic queues are split 3/3/2, each owned by exactly one member.
    const topicQueues = (c: PushConsumer) => c.ownedQueues().filter((q) => q.topic === 'Shared').map((q) => `${q.brokerName}/${q.queueId}`);
    await until('an even split of 8 queues over 3 consumers', () => {
      const counts = consumers.map((c) => topicQueues(c).length).sort();
      return counts.join(',') === '2,3,3' && new Set(consumers.flatMap(topicQueues)).size === 8;
    });
    for (let i = 0; i < 240; i++) await producer.send({ topic: 'Shared', body: `first-${i}` });
    await until('all 240 first-round messages', () => [...received.keys()].filter((k) => k.startsWith('first-')).length === 240);

    await consumers[2]!.shutdown();
    await until('the two remaining consumers to own all 8 queues', () => {
      const counts = consumers.slice(0, 2).map((c) => topicQueues(c).length).sort();
      return counts.join(',') === '4,4';
    });
    for (let i = 0; i < 160; i++) await producer.send({ topic: 'Shared', body: `second-${i}` });
    await until('all 160 second-round messages', () => [...received.keys()].filter((k) => k.startsWith('second-')).length === 160);
    const duplicates = [...received.values()].filter((n) => n > 1).length;
    // At-least-once: a rebalance may redeliver what was consumed but not yet committed; nothing is lost.
    assert.ok(duplicates <= 40, `${duplicates} messages delivered more than once`);
    console.log(`group of three: 400 of 400 delivered, ${duplicates} delivered twice around the rebalance`);
  } finally {
    await producer.shutdown();
    for (const c of consumers.slice(0, 2)) await c.shutdown();
  }
});

test('broadcasting: every member of the group gets every message', async () => {
  await createTopic('Broadcast', 2, [brokerA]);
  const offsetDir = join(dir, 'broadcast-offsets');
  const got = [new Map<string, number>(), new Map<string, number>()];
  const consumers = got.map((into) => {
    const c = new PushConsumer({ ...fastClient(), consumerGroup: 'bc-cg', messageModel: 'BROADCASTING', consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', offsetStoreDir: offsetDir });
    c.subscribe('Broadcast', '*');
    collector(c, into);
    return c;
  });
  const producer = new Producer({ ...fastClient(), producerGroup: 'bc-pg' });
  try {
    for (const c of consumers) await c.start();
    await producer.start();
    await until('each broadcasting consumer to own both queues', () => consumers.every((c) => c.ownedQueues().filter((q) => q.topic === 'Broadcast').length === 2));
    for (let i = 0; i < 50; i++) await producer.send({ topic: 'Broadcast', body: `b${i}` });
    await until('both members to get all 50', () => got.every((m) => m.size === 50));
    for (const m of got) assert.ok([...m.values()].every((n) => n === 1));
  } finally {
    await producer.shutdown();
    for (const c of consumers) await c.shutdown();
  }
});

test('committed offsets survive a broker restart: a new consumer of the group gets only what is new', async () => {
  await createTopic('Durable', 2, [brokerB]);
  const producer = new Producer({ ...fastClient(), producerGroup: 'durable-pg' });
  await producer.start();
  const firstRound = new Map<string, number>();
  let consumer = new PushConsumer({ ...fastClient(), consumerGroup: 'durable-cg', consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
  consumer.subscribe('Durable', '*');
  collector(consumer, firstRound);
  try {
    await consumer.start();
    for (let i = 0; i < 30; i++) await producer.send({ topic: 'Durable', body: `old-${i}` });
    await until('the first 30', () => firstRound.size === 30);
    await consumer.shutdown();
    brokerB = await brokerB.restart();
    await brokerB.broker.registerNow();
    for (let i = 0; i < 10; i++) await producer.send({ topic: 'Durable', body: `new-${i}` });
    const secondRound = new Map<string, number>();
    consumer = new PushConsumer({ ...fastClient(), consumerGroup: 'durable-cg', consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
    consumer.subscribe('Durable', '*');
    collector(consumer, secondRound);
    await consumer.start();
    await until('the 10 new messages', () => secondRound.size >= 10);
    await new Promise((r) => setTimeout(r, 500)); // an old message redelivered would show up by now
    assert.equal([...secondRound.keys()].sort(), Array.from({ length: 10 }, (_, i) => `new-${i}`).sort());
  } finally {
    await consumer.shutdown();
    await producer.shutdown();
  }
});

test.run();
