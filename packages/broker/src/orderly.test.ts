// Ordered messages over real sockets (facts §7.5). First the broker's queue locks driven raw
// (LOCK_BATCH_MQ / UNLOCK_BATCH_MQ bodies as RocketMQ's Java client writes them); then orderly
// PushConsumers end to end: keys sent with a hash selector, a consumer joining and another leaving
// while messages flow, per-key order and per-queue exclusivity checked at every delivery; then
// suspend (local redelivery) and the DLQ past maxReconsumeTimes. Short lock and rebalance intervals
// keep the file well under a minute.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdminClient, Producer, PushConsumer, selectMessageQueueByHash, silentLogger, type ConsumeOrderlyStatus, type MessageExt, type MessageListenerOrderly } from '@orbit/client';
import { decodeStoredRecord, encodeProperties, findProperty, javaStringHash, RequestCode, ResponseCode } from '@orbit/common';
import { NamesrvController } from '@orbit/namesrv';
import { createRequest, RemotingClient, type RemotingCommand } from '@orbit/remoting';
import { startTestBroker, type TestBroker } from './test-support.js';

/** The broker's lock lifetime here (60 s in RocketMQ). */
const LOCK_MAX_LIVE_MS = 1_500;

let namesrv: NamesrvController;
let namesrvAddr = '';
let dir: string;
let b: TestBroker;
let admin: AdminClient;
const raw = new RemotingClient({ connectTimeoutMs: 2_000, requestTimeoutMs: 5_000 });

const fastClient = (instanceName: string) => ({
  namesrvAddr,
  instanceName,
  rebalanceIntervalMs: 500,
  persistConsumerOffsetIntervalMs: 500,
  pollNameServerIntervalMs: 500,
  heartbeatBrokerIntervalMs: 1_000,
  logger: silentLogger,
});
/** Locks renewed every 250 ms, and trusted by the client for 1 s (below the broker's 1.5 s). */
const fastOrderly = { lockIntervalMs: 250, rebalanceLockMaxLiveTimeMs: 1_000, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' as const };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, fn: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** A LockBatchRequestBody as Java's fastjson writes it. */
function lockBody(group: string, clientId: string, queueIds: number[], topic = 'LockT'): Buffer {
  const mqSet = queueIds.map((queueId) => ({ brokerName: 'broker-a', queueId, topic }));
  return Buffer.from(JSON.stringify({ consumerGroup: group, clientId, onlyThisBroker: false, mqSet }));
}

function invoke(code: number, body: Buffer | undefined): Promise<RemotingCommand> {
  return raw.invoke(b.addr, createRequest(code, {}, body), 5_000);
}

/** LOCK_BATCH_MQ; the queue ids now held, sorted. */
async function lock(group: string, clientId: string, queueIds: number[]): Promise<number[]> {
  const res = await invoke(RequestCode.LOCK_BATCH_MQ, lockBody(group, clientId, queueIds));
  assert.is(res.code, ResponseCode.SUCCESS, res.remark);
  const { lockOKMQSet } = JSON.parse(res.body!.toString()) as { lockOKMQSet: { queueId: number }[] };
  return lockOKMQSet.map((q) => q.queueId).sort((x, y) => x - y);
}

async function unlock(group: string, clientId: string, queueIds: number[]): Promise<void> {
  const res = await invoke(RequestCode.UNLOCK_BATCH_MQ, lockBody(group, clientId, queueIds));
  assert.is(res.code, ResponseCode.SUCCESS, res.remark);
  assert.is(res.body, undefined, 'UNLOCK_BATCH_MQ answers with a code only');
}

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'orbit-orderly-'));
  namesrv = new NamesrvController({ config: { listenPort: 0, bindAddress: '127.0.0.1', kvConfigPath: join(dir, 'kv.json') } });
  namesrvAddr = `127.0.0.1:${(await namesrv.start()).port}`;
  b = await startTestBroker({ namesrvAddr, brokerName: 'broker-a', rebalanceLockMaxLiveTimeMs: String(LOCK_MAX_LIVE_MS) });
  admin = new AdminClient({ namesrvAddr, logger: silentLogger });
});

test.after(async () => {
  await admin?.shutdown();
  await raw.close();
  await b?.stop();
  await namesrv?.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

test('LOCK_BATCH_MQ / UNLOCK_BATCH_MQ: held locks are not taken, own locks renew, unlock frees, expiry frees', async () => {
  const g = 'cg-lock';
  const res = await invoke(RequestCode.LOCK_BATCH_MQ, lockBody(g, 'client-A', [0, 1, 2, 3]));
  assert.is(res.code, ResponseCode.SUCCESS, res.remark);
  // The answer is LockBatchResponseBody with MessageQueue in fastjson's field order.
  assert.is(
    res.body!.toString(),
    '{"lockOKMQSet":[{"brokerName":"broker-a","queueId":0,"topic":"LockT"},{"brokerName":"broker-a","queueId":1,"topic":"LockT"},{"brokerName":"broker-a","queueId":2,"topic":"LockT"},{"brokerName":"broker-a","queueId":3,"topic":"LockT"}]}',
  );
  assert.equal(await lock(g, 'client-B', [2, 3, 4, 5]), [4, 5], "B gets only what A does not hold");
  assert.equal(await lock(g, 'client-A', [0, 1, 2, 3]), [0, 1, 2, 3], 'A renews its own');
  assert.equal(await lock(g, 'client-A', [2, 2, 2]), [2], 'a queue named twice is held once');
  await unlock(g, 'client-B', [0, 1]); // not B's: nothing happens
  assert.is(b.broker.rebalanceLockManager.holder(g, { topic: 'LockT', brokerName: 'broker-a', queueId: 0 }), 'client-A');
  await unlock(g, 'client-A', [2]);
  assert.equal(await lock(g, 'client-B', [2, 3, 4, 5]), [2, 4, 5], 'B takes 2 once A let it go; 3 is still A’s');
  assert.equal(await lock('cg-other', 'client-B', [0, 1]), [0, 1], 'locks are per group');

  // Nobody renews for longer than the lock's lifetime: every lock is free again.
  await sleep(LOCK_MAX_LIVE_MS + 300);
  assert.ok(b.broker.rebalanceLockManager.isLockAllExpired(g));
  assert.equal(await lock(g, 'client-B', [0, 1, 2, 3]), [0, 1, 2, 3], "B takes A's expired locks");
  assert.equal(await lock(g, 'client-A', [0, 1, 2, 3, 4, 5]), [4, 5], "A gets B's expired 4 and 5 back, not B's fresh 0-3");
  await unlock(g, 'client-B', [0, 1, 2, 3]);
  await unlock(g, 'client-A', [4, 5]);
  assert.ok(b.broker.rebalanceLockManager.isLockAllExpired(g));
  assert.equal(await lock(g, 'client-A', []), [], 'an empty mqSet locks nothing');
});

test('a send to %RETRY%<group> while the group holds live queue locks goes to %DLQ%<group> at once (ordered groups); once unlocked, to %RETRY%', async () => {
  const group = 'cg-retry-locked';
  const retryTopic = `%RETRY%${group}`;
  const sendRetry = (body: string) =>
    raw.invoke(b.addr, createRequest(RequestCode.SEND_MESSAGE_V2, { a: 'pg', b: retryTopic, c: 'TBW102', d: 1, e: 0, f: 0, g: Date.now(), h: 0, i: encodeProperties({ RETRY_TOPIC: 'LockT' }), j: 0, k: false, l: 16 }, Buffer.from(body)), 5_000);
  const stored = (topic: string) => b.broker.ctx.store.getMaxOffsetInQueue(topic, 0);
  assert.equal(await lock(group, 'client-r', [0]), [0]);
  const locked = await sendRetry('while locked');
  assert.is(locked.code, ResponseCode.SUCCESS, locked.remark);
  await b.broker.ctx.store.waitDispatched();
  assert.is(stored(`%DLQ%${group}`), 1, 'the message is in the DLQ');
  assert.is(stored(retryTopic), 0, 'and not in %RETRY%');
  await unlock(group, 'client-r', [0]);
  const free = await sendRetry('after unlock');
  assert.is(free.code, ResponseCode.SUCCESS, free.remark);
  await b.broker.ctx.store.waitDispatched();
  assert.is(stored(retryTopic), 1, 'an unlocked group retries through %RETRY%');
  assert.is(stored(`%DLQ%${group}`), 1);
});

test('LOCK_BATCH_MQ / UNLOCK_BATCH_MQ: a malformed body gets SYSTEM_ERROR with a remark saying what is wrong', async () => {
  const cases: [Buffer | undefined, RegExp][] = [
    [undefined, /needs a body/],
    [Buffer.from('{"consumerGroup":"g",'), /not JSON/],
    [Buffer.from('[1,2]'), /must be a JSON object/],
    [Buffer.from('{"clientId":"c","mqSet":[]}'), /needs a consumerGroup string/],
    [Buffer.from('{"consumerGroup":"g","mqSet":[]}'), /needs a clientId string/],
    [Buffer.from('{"consumerGroup":"g","clientId":"c","mqSet":{"topic":"T"}}'), /mqSet must be an array/],
    [Buffer.from('{"consumerGroup":"g","clientId":"c","mqSet":[{"topic":"T","brokerName":"b","queueId":0},{"topic":"T","brokerName":"b","queueId":"x"}]}'), /mqSet\[1\] needs a queueId/],
    [Buffer.from('{"consumerGroup":"g","clientId":"c","mqSet":[{"brokerName":"b","queueId":0}]}'), /mqSet\[0\] needs a topic/],
    [lockBody('g', 'c', Array.from({ length: 4097 }, (_, i) => i)), /4097 queues, more than 4096/],
  ];
  for (const code of [RequestCode.LOCK_BATCH_MQ, RequestCode.UNLOCK_BATCH_MQ]) {
    for (const [body, remark] of cases) {
      const res = await invoke(code, body);
      assert.is(res.code, ResponseCode.SYSTEM_ERROR, `${body?.toString().slice(0, 60)}`);
      assert.match(res.remark ?? '', remark);
    }
  }
  // fastjson's unquoted numeric keys are read too (the lenient parser); the connection still serves.
  const lenient = await invoke(RequestCode.LOCK_BATCH_MQ, Buffer.from('{"consumerGroup":"g-lenient","clientId":"c","mqSet":[{"brokerName":"broker-a","queueId":7,"topic":"T"}],"extra":{0:"x"}}'));
  assert.is(lenient.code, ResponseCode.SUCCESS, lenient.remark);
  assert.match(lenient.body!.toString(), /"queueId":7/);
});

/** A key whose hash selector lands on `queueId` of 8 (abs(String.hashCode) % 8). */
function keyForQueue(queueId: number): string {
  for (let i = 0; ; i++) {
    const key = `order-${i}`;
    if (Math.abs(javaStringHash(key)) % 8 === queueId) return key;
  }
}

interface Delivery {
  seq: number;
  by: string;
  queueId: number;
  reconsumeTimes: number;
}

test('orderly PushConsumers: 4 keys × 1000 in order per key through a join and a leave; never two consumers on one queue', async () => {
  const topic = 'OrderT';
  const group = 'cg-orderly';
  await admin.createTopic(b.addr, { topic, readQueueNums: 8, writeQueueNums: 8 });
  await b.broker.registerNow();
  // With 3 consumers a, b, c (client ids sort that way) the queues go a:0-2 b:3-5 c:6-7; with a and
  // b: a:0-3 b:4-7; with b and c: b:0-3 c:4-7. Queues 2, 3, 5 and 6 each change owner at least once.
  const keys = [2, 3, 5, 6].map(keyForQueue);
  const perKey = 1000;
  const deliveries = new Map<string, Delivery[]>(keys.map((k) => [k, []]));
  const inFlight = new Map<number, string>();
  const overlaps: string[] = [];
  const notHolder: string[] = [];
  const consumers = new Map<string, PushConsumer>();

  const listener = (name: string): MessageListenerOrderly => async (msgs, context): Promise<ConsumeOrderlyStatus> => {
    const mq = context.messageQueue;
    if (mq.topic !== topic) return 'SUCCESS';
    const busy = inFlight.get(mq.queueId);
    if (busy !== undefined) overlaps.push(`queue ${mq.queueId}: ${name} called while ${busy} was consuming it`);
    inFlight.set(mq.queueId, name);
    // The broker's lock table names this consumer as the queue's holder at every delivery.
    const holder = b.broker.rebalanceLockManager.holder(group, mq);
    if (holder !== consumers.get(name)!.clientId) notHolder.push(`queue ${mq.queueId} consumed by ${name} while the broker says ${holder ?? 'nobody'} holds it`);
    for (const msg of msgs) {
      const { key, seq } = JSON.parse(msg.body.toString()) as { key: string; seq: number };
      deliveries.get(key)!.push({ seq, by: name, queueId: msg.queueId, reconsumeTimes: msg.reconsumeTimes });
    }
    await new Promise((r) => setImmediate(r)); // other consumers run meanwhile
    inFlight.delete(mq.queueId);
    return 'SUCCESS';
  };
  const newConsumer = (name: string) => {
    const consumer = new PushConsumer({ ...fastClient(`orderly-${name}`), ...fastOrderly, consumerGroup: group });
    consumer.subscribe(topic, '*');
    consumer.registerMessageListenerOrderly(listener(name));
    consumers.set(name, consumer);
    return consumer;
  };
  const producer = new Producer({ ...fastClient('orderly-producer'), producerGroup: 'pg-orderly' });
  const firstTimes = () => keys.reduce((n, k) => n + new Set(deliveries.get(k)!.map((d) => d.seq)).size, 0);
  const started: Promise<void>[] = [];
  try {
    await producer.start();
    const a = newConsumer('a');
    const bb = newConsumer('b');
    await Promise.all([a.start(), bb.start()]);
    await until('a and b to own 4 queues each', () => a.ownedQueues().filter((q) => q.topic === topic).length === 4 && bb.ownedQueues().filter((q) => q.topic === topic).length === 4);

    const sentQueue = new Map<string, Set<number>>(keys.map((k) => [k, new Set()]));
    const startedAt = Date.now();
    let leaving: Promise<void> | undefined;
    for (let seq = 0; seq < perKey; seq++) {
      for (const key of keys) {
        const r = await producer.send({ topic, body: JSON.stringify({ key, seq }), keys: [key] }, { selector: selectMessageQueueByHash, arg: key });
        sentQueue.get(key)!.add(r.messageQueue.queueId);
      }
      if (seq % 10 === 9) await sleep(5); // ~100 rounds: the membership changes below happen mid-stream
      if (seq === 250) started.push(newConsumer('c').start()); // a third consumer joins
      if (seq === 650) leaving = a.shutdown(); // and the first one leaves
    }
    const sendMs = Date.now() - startedAt;
    await Promise.all(started);
    await leaving;
    await until('every message to arrive once', () => firstTimes() === keys.length * perKey, 45_000);
    await sleep(300); // nothing more should come

    for (const key of keys) assert.equal([...sentQueue.get(key)!], [Math.abs(javaStringHash(key)) % 8], `the selector keeps ${key} on one queue`);
    let duplicates = 0;
    const owners = new Map<string, string[]>();
    for (const key of keys) {
      const list = deliveries.get(key)!;
      const queueId = Math.abs(javaStringHash(key)) % 8;
      assert.ok(list.every((d) => d.queueId === queueId && d.reconsumeTimes === 0));
      // First-time deliveries come strictly in order: 0, 1, …, 999.
      const seen = new Set<number>();
      const firsts: number[] = [];
      for (const d of list) if (!seen.has(d.seq)) (seen.add(d.seq), firsts.push(d.seq));
      assert.equal(firsts, Array.from({ length: perKey }, (_, i) => i), `${key}: first deliveries in order, none missing`);
      // Every delivery follows the previous one (seq + 1), or re-runs from an earlier, committed
      // offset when the queue changed hands (the new owner starts where the old one committed).
      assert.is(list[0]!.seq, 0);
      for (let i = 1; i < list.length; i++) {
        const prev = list[i - 1]!;
        const d = list[i]!;
        if (d.seq === prev.seq + 1) continue;
        assert.ok(d.seq <= prev.seq && d.by !== prev.by, `${key}: delivery ${i} is seq ${d.seq} by ${d.by} after seq ${prev.seq} by ${prev.by}`);
      }
      duplicates += list.length - perKey;
      const chain: string[] = [];
      for (const d of list) if (chain[chain.length - 1] !== d.by) chain.push(d.by);
      owners.set(key, chain);
    }
    assert.equal(overlaps, [], 'one queue, one consumer at a time');
    assert.equal(notHolder, [], 'consumed only while holding the broker lock');
    const handedOver = [...owners.values()].filter((chain) => chain.length > 1).length;
    assert.ok(handedOver >= 2, `queues changed hands mid-stream: ${JSON.stringify([...owners])}`);
    assert.ok([...owners.values()].some((chain) => chain.includes('c')), 'the consumer that joined consumed');
    console.log(`orderly: ${keys.length}×${perKey} sent in ${sendMs} ms; owners per key ${JSON.stringify(Object.fromEntries(owners))}; ${duplicates} redeliveries`);
  } finally {
    await producer.shutdown();
    for (const consumer of consumers.values()) await consumer.shutdown();
  }
  // Consumers unlock at shutdown: the group holds nothing any more.
  assert.ok(b.broker.rebalanceLockManager.isLockAllExpired(group), 'shutdown unlocked every queue');
});

test('orderly: SUSPEND redelivers the same message (reconsumeTimes + 1) after suspendCurrentQueueTimeMillis, nothing later in between; past maxReconsumeTimes to the DLQ', async () => {
  await admin.createTopic(b.addr, { topic: 'SuspendT', readQueueNums: 1, writeQueueNums: 1 });
  await b.broker.registerNow();
  const producer = new Producer({ ...fastClient('suspend-producer'), producerGroup: 'pg-suspend' });
  const seen: { body: string; reconsumeTimes: number; at: number; group: string }[] = [];
  const suspendMs = 200;
  const suspender = new PushConsumer({ ...fastClient('suspend-a'), ...fastOrderly, consumerGroup: 'cg-suspend', suspendCurrentQueueTimeMillis: suspendMs });
  suspender.subscribe('SuspendT', '*');
  suspender.registerMessageListenerOrderly((msgs) => {
    const [msg] = msgs as [MessageExt];
    seen.push({ body: msg.body.toString(), reconsumeTimes: msg.reconsumeTimes, at: Date.now(), group: 'cg-suspend' });
    if (msg.body.toString() === 'm1' && msg.reconsumeTimes < 3) return 'SUSPEND_CURRENT_QUEUE_A_MOMENT';
    return 'SUCCESS';
  });
  // Another group on the same queue: m1 always fails (a throw counts as suspend); 2 reconsumes, then the DLQ.
  const giveUp = new PushConsumer({ ...fastClient('suspend-b'), ...fastOrderly, consumerGroup: 'cg-giveup', suspendCurrentQueueTimeMillis: 50, maxReconsumeTimes: 2 });
  giveUp.subscribe('SuspendT', '*');
  giveUp.registerMessageListenerOrderly((msgs) => {
    const [msg] = msgs as [MessageExt];
    seen.push({ body: msg.body.toString(), reconsumeTimes: msg.reconsumeTimes, at: Date.now(), group: 'cg-giveup' });
    if (msg.body.toString() === 'm1') throw new Error('cannot handle m1');
    return 'SUCCESS';
  });
  try {
    await producer.start();
    for (let i = 0; i < 4; i++) await producer.send({ topic: 'SuspendT', body: `m${i}` });
    await suspender.start();
    await giveUp.start();
    const of = (group: string) => seen.filter((s) => s.group === group);
    await until('m3 in both groups', () => of('cg-suspend').some((s) => s.body === 'm3') && of('cg-giveup').some((s) => s.body === 'm3'), 15_000);
    await sleep(300);

    const suspended = of('cg-suspend');
    assert.equal(
      suspended.map((s) => `${s.body}/${s.reconsumeTimes}`),
      ['m0/0', 'm1/0', 'm1/1', 'm1/2', 'm1/3', 'm2/0', 'm3/0'],
      'm1 again and again, reconsumeTimes counting up, and nothing after it until it succeeded',
    );
    for (let i = 2; i <= 4; i++) {
      const gap = suspended[i]!.at - suspended[i - 1]!.at;
      assert.ok(gap >= suspendMs - 5, `redelivery ${i - 1} came after ${gap} ms, before the ${suspendMs} ms suspend`);
    }
    assert.equal(
      of('cg-giveup').map((s) => `${s.body}/${s.reconsumeTimes}`),
      ['m0/0', 'm1/0', 'm1/1', 'm1/2', 'm2/0', 'm3/0'],
      'at reconsumeTimes 2 (= maxReconsumeTimes) m1 is handed back, and m2 follows',
    );
    const store = b.broker.ctx.store;
    await store.waitDispatched();
    const dead = store.getMessage('%DLQ%cg-giveup', 0, 0, 32).messages.map((m) => decodeStoredRecord(m, 0));
    assert.equal(dead.map((r) => r.body.toString()), ['m1'], 'm1 is in the DLQ');
    assert.is(findProperty(dead[0]!.properties, 'DLQ_ORIGIN_TOPIC'), 'SuspendT');
    assert.is(store.getMaxOffsetInQueue('%DLQ%cg-suspend', 0), 0, 'the group that succeeded sent nothing back');
    // Both groups committed past m3 (offset 4), the DLQ'd m1 included.
    const mq = { topic: 'SuspendT', brokerName: 'broker-a', queueId: 0 };
    assert.is(suspender.offsetStore!.readOffsetFromMemory(mq), 4);
    assert.is(giveUp.offsetStore!.readOffsetFromMemory(mq), 4);
  } finally {
    await producer.shutdown();
    await suspender.shutdown();
    await giveUp.shutdown();
  }
  assert.is(b.broker.ctx.offsets.query('cg-giveup', 'SuspendT', 0), 4, 'the broker has the committed offset');
  assert.is(b.broker.ctx.offsets.query('cg-suspend', 'SuspendT', 0), 4);
});

test.run();
