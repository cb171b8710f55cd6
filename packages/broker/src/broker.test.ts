// The broker over a real socket, driven with raw RocketMQ requests (what any client puts on the wire).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rmSync } from 'node:fs';
import { createOffsetMessageId, decodeOffsetMessageId, decodeStoredRecords, encodeProperties, findProperty, RequestCode, ResponseCode } from '@orbit/common';
import { createRequest, RemotingClient, type RemotingCommand } from '@orbit/remoting';
import { PullSysFlag } from './processors/pull-message-processor.js';
import { startTestBroker, type TestBroker } from './test-support.js';

const client = new RemotingClient({ connectTimeoutMs: 2_000, requestTimeoutMs: 5_000 });
let b: TestBroker;

test.before(async () => {
  b = await startTestBroker();
});
test.after(async () => {
  await b.stop();
  await client.close();
});

function send(topic: string, queueId: number, body: string, props: Record<string, string> = {}, code: number = RequestCode.SEND_MESSAGE_V2): Promise<RemotingCommand> {
  const v2 = code === RequestCode.SEND_MESSAGE_V2;
  const fields = v2
    ? { a: 'pg', b: topic, c: 'TBW102', d: 4, e: queueId, f: 0, g: Date.now(), h: 0, i: encodeProperties(props), j: 0, k: false }
    : { producerGroup: 'pg', topic, defaultTopic: 'TBW102', defaultTopicQueueNums: 4, queueId, sysFlag: 0, bornTimestamp: Date.now(), flag: 0, properties: encodeProperties(props), reconsumeTimes: 0 };
  return client.invoke(b.addr, createRequest(code, fields, Buffer.from(body)), 5_000);
}

function pull(topic: string, queueId: number, offset: number, opts: { suspendMs?: number; subscription?: string; group?: string; maxMsgNums?: number } = {}): Promise<RemotingCommand> {
  let sysFlag = PullSysFlag.SUBSCRIPTION;
  if (opts.suspendMs) sysFlag |= PullSysFlag.SUSPEND;
  return client.invoke(
    b.addr,
    createRequest(RequestCode.PULL_MESSAGE, {
      consumerGroup: opts.group ?? 'cg',
      topic,
      queueId,
      queueOffset: offset,
      maxMsgNums: opts.maxMsgNums ?? 32,
      sysFlag,
      commitOffset: 0,
      suspendTimeoutMillis: opts.suspendMs ?? 0,
      subscription: opts.subscription ?? '*',
      subVersion: 0,
    }),
    (opts.suspendMs ?? 0) + 5_000,
  );
}

test('send then pull: the response ids and the pulled records are RocketMQ-exact', async () => {
  const res = await send('Orders', 1, 'hello', { TAGS: 'TagA', KEYS: 'order-1' });
  assert.is(res.code, ResponseCode.SUCCESS, res.remark);
  assert.is(res.extFields.queueId, '1');
  assert.is(res.extFields.queueOffset, '0');
  const id = decodeOffsetMessageId(res.extFields.msgId!);
  assert.is(`${id.storeHost.ip.join('.')}:${id.storeHost.port}`, b.addr);
  await b.broker.ctx.store.waitDispatched();
  const p = await pull('Orders', 1, 0);
  assert.is(p.code, ResponseCode.SUCCESS, p.remark);
  assert.is(p.extFields.nextBeginOffset, '1');
  assert.is(p.extFields.minOffset, '0');
  assert.is(p.extFields.maxOffset, '1');
  const records = decodeStoredRecords(p.body!);
  assert.is(records.length, 1);
  assert.is(records[0]!.body.toString(), 'hello');
  assert.is(records[0]!.physicalOffset, id.physicalOffset);
  assert.is(findProperty(records[0]!.properties, 'TAGS'), 'TagA');
  assert.ok(findProperty(records[0]!.properties, 'UNIQ_KEY'), 'the broker adds a UNIQ_KEY when the client sent none');
  assert.is(findProperty(records[0]!.properties, 'CLUSTER'), 'DefaultCluster');
  // SEND_MESSAGE (V1 header names) works the same.
  const v1 = await send('Orders', 1, 'v1', {}, RequestCode.SEND_MESSAGE);
  assert.is(v1.code, ResponseCode.SUCCESS, v1.remark);
  assert.is(v1.extFields.queueOffset, '1');
});

test('a held pull is answered within 50 ms of the send that satisfies it', async () => {
  await send('Held', 0, 'first');
  await b.broker.ctx.store.waitDispatched();
  const started = Date.now();
  const held = pull('Held', 0, 1, { suspendMs: 10_000 });
  await new Promise((r) => setTimeout(r, 200));
  const sentAt = Date.now();
  await send('Held', 0, 'second');
  const res = await held;
  const answeredMs = Date.now() - sentAt;
  assert.is(res.code, ResponseCode.SUCCESS, res.remark);
  assert.ok(Date.now() - started >= 200, 'the pull was held');
  assert.ok(answeredMs < 50, `answered ${answeredMs} ms after the send`);
  assert.is(decodeStoredRecords(res.body!)[0]!.body.toString(), 'second');
});

test('a held pull with nothing arriving is answered PULL_NOT_FOUND when its hold ends', async () => {
  await send('Quiet', 1, 'elsewhere'); // the topic exists; queue 0 stays empty
  const started = Date.now();
  const res = await pull('Quiet', 0, 0, { suspendMs: 300 });
  assert.is(res.code, ResponseCode.PULL_NOT_FOUND);
  assert.ok(Date.now() - started >= 290);
});

test('tag subscriptions filter on the server', async () => {
  for (let i = 0; i < 12; i++) await send('Tagged', 0, `m${i}`, { TAGS: i % 3 === 0 ? 'A' : 'B' });
  await b.broker.ctx.store.waitDispatched();
  const res = await pull('Tagged', 0, 0, { subscription: 'A' });
  assert.equal(decodeStoredRecords(res.body!).map((r) => r.body.toString()), ['m0', 'm3', 'm6', 'm9']);
  assert.is(res.extFields.nextBeginOffset, '12');
});

test('pull statuses and corrected offsets (facts §2.4)', async () => {
  await send('Status', 0, 'x');
  await b.broker.ctx.store.waitDispatched();
  const moved = await pull('Status', 0, 50);
  assert.is(moved.code, ResponseCode.PULL_OFFSET_MOVED);
  assert.is(moved.extFields.nextBeginOffset, '1');
  const notFound = await pull('Status', 0, 1);
  assert.is(notFound.code, ResponseCode.PULL_NOT_FOUND);
  const unknown = await pull('NoSuchTopic', 0, 0);
  assert.is(unknown.code, ResponseCode.TOPIC_NOT_EXIST);
  const badQueue = await pull('Status', 99, 0);
  assert.is(badQueue.code, ResponseCode.SYSTEM_ERROR);
  assert.match(badQueue.remark!, /queueId\[99\] is illegal/);
});

test('batches get consecutive offsets, one id per message, and properties completed as for single sends', async () => {
  // Entry 0: no UNIQ_KEY (the broker adds one); entry 1: its own UNIQ_KEY and a non-ASCII value;
  // entry 2: a properties string without the trailing separator.
  const propsOf = [encodeProperties({ KEYS: 'k0' }), encodeProperties({ KEYS: 'k1', UNIQ_KEY: 'CLIENTKEY1', note: 'ünï値' }), 'KEYS\u0001k2'];
  const entries = ['b0', 'b1', 'b2'].map((body, i) => {
    const props = Buffer.from(propsOf[i]!);
    const e = Buffer.alloc(22 + body.length + props.length);
    e.writeInt32BE(e.length, 0);
    e.writeInt32BE(0, 4);
    e.writeInt32BE(0, 8);
    e.writeInt32BE(0, 12);
    e.writeInt32BE(body.length, 16);
    e.write(body, 20);
    e.writeInt16BE(props.length, 20 + body.length);
    props.copy(e, 22 + body.length);
    return e;
  });
  const res = await client.invoke(b.addr, createRequest(RequestCode.SEND_BATCH_MESSAGE, { a: 'pg', b: 'Batch', c: 'TBW102', d: 4, e: 0, f: 0, g: Date.now(), h: 0, i: '', j: 0, k: false, m: true }, Buffer.concat(entries)), 5_000);
  assert.is(res.code, ResponseCode.SUCCESS, res.remark);
  assert.is(res.extFields.msgId!.split(',').length, 3);
  await b.broker.ctx.store.waitDispatched();
  const p = await pull('Batch', 0, 0);
  const records = decodeStoredRecords(p.body!);
  assert.equal(records.map((r) => [r.body.toString(), r.queueOffset]), [['b0', 0], ['b1', 1], ['b2', 2]]);
  assert.equal(res.extFields.msgId!.split(','), records.map((r) => createOffsetMessageId(b.broker.ctx.storeHost, r.physicalOffset)));
  for (const [i, r] of records.entries()) {
    assert.is(findProperty(r.properties, 'KEYS'), `k${i}`);
    assert.is(findProperty(r.properties, 'CLUSTER'), 'DefaultCluster');
    assert.ok(r.properties.endsWith('\u0002'), 'properties end with the separator');
  }
  assert.match(findProperty(records[0]!.properties, 'UNIQ_KEY')!, /^[0-9A-F]{32}$/);
  assert.is(findProperty(records[1]!.properties, 'UNIQ_KEY'), 'CLIENTKEY1');
  assert.is(findProperty(records[1]!.properties, 'note'), 'ünï値');
  assert.ok(findProperty(records[2]!.properties, 'UNIQ_KEY'));
  const garbage = await client.invoke(b.addr, createRequest(RequestCode.SEND_BATCH_MESSAGE, { a: 'pg', b: 'Batch', c: 'TBW102', d: 4, e: 0, f: 0, g: Date.now(), h: 0 }, Buffer.from([0, 0, 0, 99, 1, 2, 3])), 5_000);
  assert.is(garbage.code, ResponseCode.MESSAGE_ILLEGAL);
  assert.match(garbage.remark!, /bad batch body/);
});

test('heartbeat registers the consumer, creates %RETRY%, and GET_CONSUMER_LIST_BY_GROUP lists it', async () => {
  const heartbeat = { clientID: '127.0.0.1@test-1', producerDataSet: [{ groupName: 'pg' }], consumerDataSet: [{ groupName: 'cg-hb', consumeType: 'CONSUME_PASSIVELY', messageModel: 'CLUSTERING', consumeFromWhere: 'CONSUME_FROM_LAST_OFFSET', unitMode: false, subscriptionDataSet: [{ topic: 'Orders', subString: '*', tagsSet: [], codeSet: [], subVersion: 1, classFilterMode: false }] }] };
  const hb = await client.invoke(b.addr, createRequest(RequestCode.HEART_BEAT, {}, Buffer.from(JSON.stringify(heartbeat))), 5_000);
  assert.is(hb.code, ResponseCode.SUCCESS, hb.remark);
  assert.ok(b.broker.ctx.topics.get('%RETRY%cg-hb'), 'retry topic created');
  const list = await client.invoke(b.addr, createRequest(RequestCode.GET_CONSUMER_LIST_BY_GROUP, { consumerGroup: 'cg-hb' }), 5_000);
  assert.equal(JSON.parse(list.body!.toString()), { consumerIdList: ['127.0.0.1@test-1'] });
  // A pull without the subscription flag uses what the heartbeat registered.
  const p = await client.invoke(b.addr, createRequest(RequestCode.PULL_MESSAGE, { consumerGroup: 'cg-hb', topic: 'Orders', queueId: 1, queueOffset: 0, maxMsgNums: 32, sysFlag: 0, commitOffset: 0, suspendTimeoutMillis: 0, subVersion: 0 }), 5_000);
  assert.is(p.code, ResponseCode.SUCCESS, p.remark);
  const unregistered = await client.invoke(b.addr, createRequest(RequestCode.UNREGISTER_CLIENT, { clientID: '127.0.0.1@test-1', consumerGroup: 'cg-hb' }), 5_000);
  assert.is(unregistered.code, ResponseCode.SUCCESS);
  const empty = await client.invoke(b.addr, createRequest(RequestCode.GET_CONSUMER_LIST_BY_GROUP, { consumerGroup: 'cg-hb' }), 5_000);
  assert.is(empty.code, ResponseCode.SYSTEM_ERROR);
  assert.match(empty.remark!, /no consumer for this group, cg-hb/);
  const bad = await client.invoke(b.addr, createRequest(RequestCode.HEART_BEAT, {}, Buffer.from('{not json')), 5_000);
  assert.is(bad.code, ResponseCode.SYSTEM_ERROR);
  assert.match(bad.remark!, /not JSON/);
});

test('consumer offsets: new group starts at 0, commits stick, negatives are ignored, and they survive a restart', async () => {
  const q = (group: string) => client.invoke(b.addr, createRequest(RequestCode.QUERY_CONSUMER_OFFSET, { consumerGroup: group, topic: 'Orders', queueId: 1 }), 5_000);
  const u = (group: string, offset: number) => client.invoke(b.addr, createRequest(RequestCode.UPDATE_CONSUMER_OFFSET, { consumerGroup: group, topic: 'Orders', queueId: 1, commitOffset: offset }), 5_000);
  assert.is((await q('fresh')).extFields.offset, '0');
  await u('og', 2);
  await u('og', -1);
  assert.is((await q('og')).extFields.offset, '2');
  const dir = b.dir;
  b = await b.restart();
  assert.is((await q('og')).extFields.offset, '2');
  assert.ok(dir === b.dir);
});

test('bad requests get a response code and a remark, and the broker keeps serving', async () => {
  const unknown = await client.invoke(b.addr, createRequest(9999, {}), 5_000);
  assert.is(unknown.code, ResponseCode.REQUEST_CODE_NOT_SUPPORTED);
  const missing = await client.invoke(b.addr, createRequest(RequestCode.SEND_MESSAGE_V2, { a: 'pg' }, Buffer.from('x')), 5_000);
  assert.is(missing.code, ResponseCode.SYSTEM_ERROR);
  assert.match(missing.remark!, /the custom field <b> is null/);
  const illegal = await send('bad topic!', 0, 'x');
  assert.is(illegal.code, ResponseCode.INVALID_PARAMETER);
  assert.match(illegal.remark!, /illegal characters/);
  const system = await send('SCHEDULE_TOPIC_XXXX', 0, 'x');
  assert.is(system.code, ResponseCode.NO_PERMISSION);
  const badQueue = await send('Orders', 4000, 'x');
  assert.is(badQueue.code, ResponseCode.INVALID_PARAMETER);
  const tooBig = await client.invoke(b.addr, createRequest(RequestCode.SEND_MESSAGE_V2, { a: 'pg', b: 'Orders', c: 'TBW102', d: 4, e: 0, f: 0, g: Date.now(), h: 0 }, Buffer.alloc(4 * 1024 * 1024 + 1)), 10_000);
  assert.is(tooBig.code, ResponseCode.MESSAGE_ILLEGAL);
  const mistyped = await client.invoke(b.addr, createRequest(RequestCode.QUERY_CONSUMER_OFFSET, { consumerGroup: 'g', topic: 'Orders', queueId: 'one' }), 5_000);
  assert.is(mistyped.code, ResponseCode.SYSTEM_ERROR);
  assert.match(mistyped.remark!, /not a valid integer/);
  const ok = await send('Orders', 0, 'still fine');
  assert.is(ok.code, ResponseCode.SUCCESS);
});

test('admin: create a topic, read offsets by time, view by id, query by key', async () => {
  const created = await client.invoke(b.addr, createRequest(RequestCode.UPDATE_AND_CREATE_TOPIC, { topic: 'Admin', defaultTopic: 'TBW102', readQueueNums: 2, writeQueueNums: 2, perm: 6, topicFilterType: 'SINGLE_TAG', order: false }), 5_000);
  assert.is(created.code, ResponseCode.SUCCESS, created.remark);
  const sent = await send('Admin', 1, 'findme', { KEYS: 'needle' });
  await b.broker.ctx.store.waitDispatched();
  const max = await client.invoke(b.addr, createRequest(RequestCode.GET_MAX_OFFSET, { topic: 'Admin', queueId: 1 }), 5_000);
  assert.is(max.extFields.offset, '1');
  const physical = decodeOffsetMessageId(sent.extFields.msgId!).physicalOffset;
  const view = await client.invoke(b.addr, createRequest(RequestCode.VIEW_MESSAGE_BY_ID, { offset: physical }), 5_000);
  assert.is(decodeStoredRecords(view.body!)[0]!.body.toString(), 'findme');
  const query = await client.invoke(b.addr, createRequest(RequestCode.QUERY_MESSAGE, { topic: 'Admin', key: 'needle', maxNum: 32, beginTimestamp: 0, endTimestamp: Date.now() + 1000 }), 5_000);
  assert.is(query.code, ResponseCode.SUCCESS, query.remark);
  assert.is(decodeStoredRecords(query.body!)[0]!.body.toString(), 'findme');
  const search = await client.invoke(b.addr, createRequest(RequestCode.SEARCH_OFFSET_BY_TIMESTAMP, { topic: 'Admin', queueId: 1, timestamp: 0 }), 5_000);
  assert.is(search.extFields.offset, '0');
  const all = await client.invoke(b.addr, createRequest(RequestCode.GET_ALL_TOPIC_CONFIG, {}), 5_000);
  assert.ok(JSON.parse(all.body!.toString()).topicConfigTable.Admin);
});

test.run();
