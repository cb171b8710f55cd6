// Retries and dead letters over real sockets: CONSUMER_SEND_MSG_BACK driven raw (what any client
// puts on the wire) and through Orbit's PushConsumer (a listener answering RECONSUME_LATER or
// throwing). Short delay tables (an Orbit extension: `ms` units) keep the waits short.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdminClient, Producer, PushConsumer, silentLogger, type MessageExt } from '@orbit/client';
import { createOffsetMessageId, decodeOffsetMessageId, decodeStoredRecord, decodeStoredRecords, encodeProperties, findProperty, Perm, RequestCode, ResponseCode, type DecodedRecord } from '@orbit/common';
import { NamesrvController } from '@orbit/namesrv';
import { createRequest, RemotingClient, type RemotingCommand } from '@orbit/remoting';
import { PullSysFlag } from './processors/pull-message-processor.js';
import { startTestBroker, type TestBroker } from './test-support.js';

/** Level n waits n × 100 ms, so level 3 + reconsumeTimes is 300, 400, 500 ms… */
const FAST_LEVELS = Array.from({ length: 18 }, (_, i) => `${(i + 1) * 100}ms`).join(' ');
const levelMs = (level: number) => level * 100;
/** Every level 20 ms: RocketMQ's 16 retries to the DLQ in about a second. */
const FLAT_LEVELS = Array(18).fill('20ms').join(' ');

let namesrv: NamesrvController;
let namesrvAddr = '';
let dir: string;
let b: TestBroker; // FAST_LEVELS
let flat: TestBroker; // FLAT_LEVELS
let admin: AdminClient;
let instance = 0;
const raw = new RemotingClient({ connectTimeoutMs: 2_000, requestTimeoutMs: 5_000 });

const fastClient = () => ({ namesrvAddr, instanceName: `r${++instance}`, rebalanceIntervalMs: 500, persistConsumerOffsetIntervalMs: 500, pollNameServerIntervalMs: 500, heartbeatBrokerIntervalMs: 1_000, logger: silentLogger });

async function until(what: string, fn: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Sends, and returns once the record is readable (a put may resolve a moment before that). */
async function send(broker: TestBroker, topic: string, body: string, props: Record<string, string> = {}, extra: Record<string, number> = {}): Promise<RemotingCommand> {
  const res = await raw.invoke(broker.addr, createRequest(RequestCode.SEND_MESSAGE_V2, { a: 'pg', b: topic, c: 'TBW102', d: 4, e: 0, f: 0, g: Date.now(), h: 0, i: encodeProperties(props), j: 0, k: false, ...extra }, Buffer.from(body)), 5_000);
  if (res.code === ResponseCode.SUCCESS) await broker.broker.ctx.store.waitDispatched(physicalOf(res) + 1);
  return res;
}

function sendBack(broker: TestBroker, fields: Record<string, string | number | boolean>): Promise<RemotingCommand> {
  return raw.invoke(broker.addr, createRequest(RequestCode.CONSUMER_SEND_MSG_BACK, { delayLevel: 0, unitMode: false, ...fields }), 5_000);
}

function pull(broker: TestBroker, topic: string, queueId: number, offset: number, group = 'puller', suspendMs = 0): Promise<RemotingCommand> {
  return raw.invoke(
    broker.addr,
    createRequest(RequestCode.PULL_MESSAGE, { consumerGroup: group, topic, queueId, queueOffset: offset, maxMsgNums: 32, sysFlag: PullSysFlag.SUBSCRIPTION | (suspendMs ? PullSysFlag.SUSPEND : 0), commitOffset: 0, suspendTimeoutMillis: suspendMs, subscription: '*', subVersion: 0 }),
    suspendMs + 5_000,
  );
}

/** Every record of a topic's queue, read on the broker (the DLQ cannot be pulled). */
function stored(broker: TestBroker, topic: string, queueId = 0): DecodedRecord[] {
  return broker.broker.ctx.store.getMessage(topic, queueId, 0, 32).messages.map((m) => decodeStoredRecord(m, 0));
}

const physicalOf = (res: RemotingCommand) => decodeOffsetMessageId(res.extFields.msgId!).physicalOffset;

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'orbit-retry-'));
  namesrv = new NamesrvController({ config: { listenPort: 0, bindAddress: '127.0.0.1', kvConfigPath: join(dir, 'kv.json') } });
  namesrvAddr = `127.0.0.1:${(await namesrv.start()).port}`;
  b = await startTestBroker({ namesrvAddr, brokerName: 'broker-fast', messageDelayLevel: FAST_LEVELS });
  flat = await startTestBroker({ namesrvAddr, brokerName: 'broker-flat', messageDelayLevel: FLAT_LEVELS });
  admin = new AdminClient({ namesrvAddr, logger: silentLogger });
});

test.after(async () => {
  await admin?.shutdown();
  await raw.close();
  await b?.stop();
  await flat?.stop();
  await namesrv?.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

test('CONSUMER_SEND_MSG_BACK: the copy waits level 3 in SCHEDULE_TOPIC_XXXX, then lands on %RETRY%<group> built as RocketMQ builds it', async () => {
  const sent = await send(b, 'Orders', 'pay me', { TAGS: 'TagA', KEYS: 'order-7' });
  assert.is(sent.code, ResponseCode.SUCCESS, sent.remark);
  const offset = physicalOf(sent);
  const backAt = Date.now();
  const res = await sendBack(b, { offset, group: 'cg-raw', originMsgId: sent.extFields.transactionId!, originTopic: 'Orders', maxReconsumeTimes: 16 });
  assert.is(res.code, ResponseCode.SUCCESS, res.remark);

  const retryTopicConfig = b.broker.ctx.topics.get('%RETRY%cg-raw')!;
  assert.ok(retryTopicConfig, '%RETRY%cg-raw created');
  assert.is(retryTopicConfig.perm, Perm.READ | Perm.WRITE);
  assert.is(retryTopicConfig.writeQueueNums, 1, "the group's retryQueueNums");
  await b.broker.ctx.store.waitDispatched();
  const parked = stored(b, 'SCHEDULE_TOPIC_XXXX', 2); // level 3 → queue 2
  assert.is(parked.length, 1);
  assert.is(findProperty(parked[0]!.properties, 'REAL_TOPIC'), '%RETRY%cg-raw');
  assert.is(findProperty(parked[0]!.properties, 'DELAY'), '3');

  const got = await pull(b, '%RETRY%cg-raw', 0, 0, 'cg-raw', 3_000);
  const arrivedMs = Date.now() - backAt;
  assert.is(got.code, ResponseCode.SUCCESS, got.remark);
  const [retry] = decodeStoredRecords(got.body!);
  assert.ok(arrivedMs >= levelMs(3), `retry arrived after ${arrivedMs} ms, level 3 is ${levelMs(3)} ms`);
  assert.is(retry!.topic, '%RETRY%cg-raw');
  assert.is(retry!.body.toString(), 'pay me');
  assert.is(retry!.reconsumeTimes, 1);
  assert.is(findProperty(retry!.properties, 'RETRY_TOPIC'), 'Orders');
  assert.is(findProperty(retry!.properties, 'ORIGIN_MESSAGE_ID'), createOffsetMessageId(b.broker.ctx.storeHost, offset));
  assert.is(findProperty(retry!.properties, 'TAGS'), 'TagA');
  assert.is(findProperty(retry!.properties, 'KEYS'), 'order-7');
  assert.is(findProperty(retry!.properties, 'UNIQ_KEY'), sent.extFields.transactionId);
  assert.is(findProperty(retry!.properties, 'DELAY'), undefined, 'DELAY is removed on delivery');

  // Handed back again: level 4, RETRY_TOPIC and ORIGIN_MESSAGE_ID kept, reconsumeTimes 2.
  const again = await sendBack(b, { offset: retry!.physicalOffset, group: 'cg-raw', maxReconsumeTimes: 16 });
  assert.is(again.code, ResponseCode.SUCCESS, again.remark);
  await b.broker.ctx.store.waitDispatched();
  const parkedAgain = stored(b, 'SCHEDULE_TOPIC_XXXX', 3);
  assert.is(parkedAgain.length, 1);
  assert.is(parkedAgain[0]!.reconsumeTimes, 2);
  assert.is(findProperty(parkedAgain[0]!.properties, 'RETRY_TOPIC'), 'Orders');
  assert.is(findProperty(parkedAgain[0]!.properties, 'ORIGIN_MESSAGE_ID'), createOffsetMessageId(b.broker.ctx.storeHost, offset));
});

test('CONSUMER_SEND_MSG_BACK errors: a bad offset, an unknown group (no auto-creation), a read-only broker', async () => {
  const bad = await sendBack(b, { offset: 987_654_321, group: 'cg-raw' });
  assert.is(bad.code, ResponseCode.SYSTEM_ERROR);
  assert.is(bad.remark, 'look message by offset failed, 987654321');
  const strict = await startTestBroker({ autoCreateSubscriptionGroup: 'false', messageDelayLevel: FAST_LEVELS });
  try {
    const sent = await send(strict, 'Strict', 'x');
    const unknown = await sendBack(strict, { offset: physicalOf(sent), group: 'nobody' });
    assert.is(unknown.code, ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST);
    assert.match(unknown.remark!, /subscription group not exist, nobody/);
  } finally {
    await strict.stop();
  }
});

test("the group's retryMaxTimes: after that many retries the message goes to %DLQ%<group> (1 queue, write-only) with DLQ_ORIGIN_*", async () => {
  const group = 'cg-two';
  const created = await raw.invoke(b.addr, createRequest(RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, {}, Buffer.from(JSON.stringify({ groupName: group, retryMaxTimes: 2 }))), 5_000);
  assert.is(created.code, ResponseCode.SUCCESS, created.remark);
  const sent = await send(b, 'Payments', 'doomed', { TAGS: 'T' });
  const uniqKey = sent.extFields.transactionId!;
  // No maxReconsumeTimes in the request: the group's 2 applies. Hand back each copy as it lands.
  let offset = physicalOf(sent);
  for (let reconsumeTimes = 0; reconsumeTimes < 2; reconsumeTimes++) {
    const res = await sendBack(b, { offset, group });
    assert.is(res.code, ResponseCode.SUCCESS, res.remark);
    const got = await pull(b, `%RETRY%${group}`, 0, reconsumeTimes, group, 3_000);
    assert.is(got.code, ResponseCode.SUCCESS, got.remark);
    const [copy] = decodeStoredRecords(got.body!);
    assert.is(copy!.reconsumeTimes, reconsumeTimes + 1);
    offset = copy!.physicalOffset;
  }
  const last = await sendBack(b, { offset, group });
  assert.is(last.code, ResponseCode.SUCCESS, last.remark);
  await b.broker.ctx.store.waitDispatched();

  const dlq = b.broker.ctx.topics.get(`%DLQ%${group}`)!;
  assert.ok(dlq, 'the DLQ topic was created');
  assert.is(dlq.perm, Perm.WRITE, 'write-only');
  assert.is(dlq.readQueueNums, 1);
  const [dead] = stored(b, `%DLQ%${group}`);
  assert.is(dead!.body.toString(), 'doomed');
  assert.is(dead!.reconsumeTimes, 3);
  assert.is(findProperty(dead!.properties, 'DLQ_ORIGIN_TOPIC'), 'Payments');
  assert.is(findProperty(dead!.properties, 'DLQ_ORIGIN_MESSAGE_ID'), uniqKey);
  assert.is(findProperty(dead!.properties, 'RETRY_TOPIC'), 'Payments');
  assert.is(findProperty(dead!.properties, 'DELAY'), undefined);
  assert.is(b.broker.ctx.store.getMaxOffsetInQueue(`%RETRY%${group}`, 0), 2, 'no third retry');

  // A consumer cannot pull the DLQ.
  const denied = await pull(b, `%DLQ%${group}`, 0, 0, group);
  assert.is(denied.code, ResponseCode.NO_PERMISSION);
  assert.match(denied.remark!, /pulling message is forbidden/);
});

test('delayLevel < 0 sends straight to the DLQ; a request maxReconsumeTimes overrides the group', async () => {
  const first = await send(b, 'Direct', 'now dead');
  const res = await sendBack(b, { offset: physicalOf(first), group: 'cg-direct', delayLevel: -1 });
  assert.is(res.code, ResponseCode.SUCCESS, res.remark);
  const second = await send(b, 'Direct', 'zero tries');
  const res2 = await sendBack(b, { offset: physicalOf(second), group: 'cg-direct', maxReconsumeTimes: 0 });
  assert.is(res2.code, ResponseCode.SUCCESS, res2.remark);
  await b.broker.ctx.store.waitDispatched();
  assert.equal(stored(b, '%DLQ%cg-direct').map((r) => [r.body.toString(), r.reconsumeTimes]), [['now dead', 1], ['zero tries', 1]]);
});

test('a client re-publishing to %RETRY% itself (send-back failed): delayed by its DELAY, and past maxReconsumeTimes to the DLQ', async () => {
  // Below the limit: a normal retry, delayed like any DELAY message.
  const startedAt = Date.now();
  const ok = await send(b, '%RETRY%cg-self', 'try again', { DELAY: '2', RETRY_TOPIC: 'Self' }, { j: 1, l: 16 });
  assert.is(ok.code, ResponseCode.SUCCESS, ok.remark);
  const got = await pull(b, '%RETRY%cg-self', 0, 0, 'cg-self', 3_000);
  assert.is(got.code, ResponseCode.SUCCESS);
  assert.ok(Date.now() - startedAt >= levelMs(2));
  // At the limit (header l, or the group's retryMaxTimes without it): the DLQ, undelayed.
  const dead = await send(b, '%RETRY%cg-self', 'give up', { DELAY: '5', RETRY_TOPIC: 'Self' }, { j: 16, l: 16 });
  assert.is(dead.code, ResponseCode.SUCCESS, dead.remark);
  const deadByGroup = await send(b, '%RETRY%cg-self', 'group says so', { RETRY_TOPIC: 'Self' }, { j: 16 });
  assert.is(deadByGroup.code, ResponseCode.SUCCESS, deadByGroup.remark);
  await b.broker.ctx.store.waitDispatched();
  assert.equal(stored(b, '%DLQ%cg-self').map((r) => r.body.toString()), ['give up', 'group says so']);
  assert.is(b.broker.ctx.store.getMaxOffsetInQueue('%RETRY%cg-self', 0), 1);
});

test('PushConsumer: a message failing 3 times arrives a 4th time with reconsumeTimes 3, each retry after its level (3, 4, 5)', async () => {
  await admin.createTopic(b.addr, { topic: 'RetryMe', readQueueNums: 1, writeQueueNums: 1 });
  await b.broker.registerNow();
  const arrivals: { at: number; msg: MessageExt }[] = [];
  const consumer = new PushConsumer({ ...fastClient(), consumerGroup: 'cg-push', consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
  consumer.subscribe('RetryMe', '*');
  consumer.registerMessageListener(async (msgs) => {
    for (const msg of msgs) arrivals.push({ at: Date.now(), msg });
    return arrivals.length <= 3 ? 'RECONSUME_LATER' : 'CONSUME_SUCCESS';
  });
  const producer = new Producer({ ...fastClient(), producerGroup: 'pg-push' });
  try {
    await consumer.start();
    await producer.start();
    // %RETRY%cg-push is created by the consumer's first heartbeat; measure once it is pulled too.
    await until('the consumer to own its retry queue', () => consumer.ownedQueues().some((q) => q.topic === '%RETRY%cg-push'));
    const sent = await producer.send({ topic: 'RetryMe', body: 'flaky', tags: 'T1' });
    await until('the 4th delivery', () => arrivals.length >= 4, 10_000);
    await new Promise((r) => setTimeout(r, 700)); // a 5th (wrong) delivery would show up by now
    assert.is(arrivals.length, 4);
    assert.equal(arrivals.map((a) => a.msg.reconsumeTimes), [0, 1, 2, 3]);
    for (const { msg } of arrivals) {
      assert.is(msg.topic, 'RetryMe', 'the client shows the original topic');
      assert.is(msg.msgId, sent.msgId, 'the UNIQ_KEY travels with the retries');
      assert.is(msg.body.toString(), 'flaky');
      assert.is(msg.tags, 'T1');
    }
    const gaps: string[] = [];
    for (let i = 1; i < 4; i++) {
      const gap = arrivals[i]!.at - arrivals[i - 1]!.at;
      const delay = levelMs(3 + i - 1);
      gaps.push(`${gap} ms for level ${3 + i - 1} (${delay} ms)`);
      assert.ok(gap >= delay, `retry ${i} came after ${gap} ms, before its ${delay} ms delay`);
      assert.ok(gap < delay + 250, `retry ${i} came after ${gap} ms, ${gap - delay} ms past its delay`);
    }
    console.log(`retry gaps: ${gaps.join(', ')}`);
  } finally {
    await producer.shutdown();
    await consumer.shutdown();
  }
});

test('PushConsumer with the default 16: a listener that always throws gets 17 deliveries, then the message is in %DLQ%<group>', async () => {
  await admin.createTopic(flat.addr, { topic: 'Poison', readQueueNums: 1, writeQueueNums: 1 });
  await flat.broker.registerNow();
  const seen: number[] = [];
  const consumer = new PushConsumer({ ...fastClient(), consumerGroup: 'cg-poison', consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
  consumer.subscribe('Poison', '*');
  consumer.registerMessageListener(async (msgs) => {
    for (const m of msgs) seen.push(m.reconsumeTimes);
    throw new Error('cannot handle this');
  });
  const producer = new Producer({ ...fastClient(), producerGroup: 'pg-poison' });
  try {
    await consumer.start();
    await producer.start();
    await until('the consumer to own its retry queue', () => consumer.ownedQueues().some((q) => q.topic === '%RETRY%cg-poison'));
    const sent = await producer.send({ topic: 'Poison', body: 'poison pill' });
    await until('the dead letter', async () => {
      await flat.broker.ctx.store.waitDispatched();
      return flat.broker.ctx.store.getMaxOffsetInQueue('%DLQ%cg-poison', 0) > 0;
    }, 15_000);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(seen, Array.from({ length: 17 }, (_, i) => i), 'reconsumeTimes 0..16, then no more');
    const [dead] = stored(flat, '%DLQ%cg-poison');
    assert.is(dead!.body.toString(), 'poison pill');
    assert.is(dead!.reconsumeTimes, 17);
    assert.is(findProperty(dead!.properties, 'DLQ_ORIGIN_TOPIC'), 'Poison');
    assert.is(findProperty(dead!.properties, 'DLQ_ORIGIN_MESSAGE_ID'), sent.msgId);
    const denied = await pull(flat, '%DLQ%cg-poison', 0, 0, 'cg-poison');
    assert.is(denied.code, ResponseCode.NO_PERMISSION);
  } finally {
    await producer.shutdown();
    await consumer.shutdown();
  }
});

test.run();
