// Admin and client-management requests over a real socket: stats bodies in RocketMQ's shapes,
// subscription groups, topic deletion, NOTIFY_CONSUMER_IDS_CHANGED and channel expiry.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RequestCode, ResponseCode } from '@orbit/common';
import { createRequest, parseLenientJson, RemotingClient, type RemotingCommand } from '@orbit/remoting';
import { loadBrokerConfig } from './broker-config.js';
import { startTestBroker, type TestBroker } from './test-support.js';

let b: TestBroker;
const client = new RemotingClient({ connectTimeoutMs: 2_000, requestTimeoutMs: 5_000 });
const call = (code: number, fields: Record<string, string | number | boolean> = {}, body?: Buffer) => client.invoke(b.addr, createRequest(code, fields, body), 5_000);
const json = (res: RemotingCommand) => parseLenientJson(res.body!.toString()) as Record<string, any>;

function heartbeat(clientId: string, group: string): Buffer {
  return Buffer.from(JSON.stringify({ clientID: clientId, producerDataSet: [], consumerDataSet: [{ groupName: group, consumeType: 'CONSUME_PASSIVELY', messageModel: 'CLUSTERING', consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', subscriptionDataSet: [{ topic: 'Stats', subString: '*', tagsSet: [], codeSet: [], subVersion: 1 }] }] }));
}

test.before(async () => {
  b = await startTestBroker({ channelExpiredTimeout: '1500' });
});
test.after(async () => {
  await client.close();
  await b.stop();
});

test("RocketMQ's sample broker.conf loads as is", () => {
  const conf = 'brokerClusterName = DefaultCluster\nbrokerName = broker-a\nbrokerId = 0\ndeleteWhen = 04\nfileReservedTime = 48\nbrokerRole = ASYNC_MASTER\nflushDiskType = ASYNC_FLUSH\n';
  const { broker, store, unknownKeys } = loadBrokerConfig(conf);
  assert.equal(unknownKeys, []);
  assert.is(broker.brokerName, 'broker-a');
  assert.is(broker.brokerRole, 'ASYNC_MASTER');
  assert.is(store.deleteWhen, '04');
  assert.is(store.fileReservedTime, 48);
  assert.throws(() => loadBrokerConfig('brokerRole=SLAVE\nbrokerId=0\n'), /brokerId must be > 0/);
  assert.throws(() => loadBrokerConfig('listenPort=abc\n'), /not a number/);
});

test('the role and HA port are set once for broker and store; a master is forced to brokerId 0', () => {
  const slave = loadBrokerConfig('brokerRole=SLAVE\nbrokerId=2\nlistenPort=10921\nlistenHost=127.0.0.1\nhaMasterAddress=10.0.0.1:10912\n');
  assert.equal([slave.broker.brokerRole, slave.store.brokerRole, slave.broker.brokerId], ['SLAVE', 'SLAVE', 2]);
  assert.equal([slave.broker.haListenPort, slave.store.haListenPort, slave.store.haListenHost], [10922, 10922, '127.0.0.1']);
  assert.is(slave.store.haMasterAddress, '10.0.0.1:10912');
  assert.is(slave.broker.slaveSyncIntervalMs, 10_000);
  const master = loadBrokerConfig('brokerRole=SYNC_MASTER\nbrokerId=3\nhaListenPort=20000\nhaListenHost=10.1.1.1\n');
  assert.equal([master.broker.brokerId, master.store.brokerRole, master.store.haListenPort, master.store.haListenHost], [0, 'SYNC_MASTER', 20000, '10.1.1.1']);
  assert.is(loadBrokerConfig('listenPort=0\n').store.haListenPort, 0, 'listenPort 0 (tests): any free HA port');
  assert.throws(() => loadBrokerConfig('brokerRole=BOSS\n'), /is not ASYNC_MASTER, SYNC_MASTER or SLAVE/);
});

test('topic stats, consume stats, runtime info and the consumer connection list', async () => {
  assert.is((await call(RequestCode.UPDATE_AND_CREATE_TOPIC, { topic: 'Stats', defaultTopic: 'TBW102', readQueueNums: 2, writeQueueNums: 2, perm: 6 })).code, ResponseCode.SUCCESS);
  for (let i = 0; i < 5; i++) {
    const r = await call(RequestCode.SEND_MESSAGE_V2, { a: 'pg', b: 'Stats', c: 'TBW102', d: 4, e: i % 2, f: 0, g: Date.now(), h: 0 }, Buffer.from(`s${i}`));
    assert.is(r.code, ResponseCode.SUCCESS, r.remark);
  }
  await b.broker.ctx.store.waitDispatched();
  await call(RequestCode.UPDATE_CONSUMER_OFFSET, { consumerGroup: 'stats-cg', topic: 'Stats', queueId: 0, commitOffset: 2 });

  const topicStats = json(await call(RequestCode.GET_TOPIC_STATS_INFO, { topic: 'Stats' }));
  const entries = Object.entries(topicStats.offsetTable) as [string, { minOffset: number; maxOffset: number }][];
  assert.is(entries.length, 2);
  assert.equal(entries.map(([, v]) => v.maxOffset).sort(), [2, 3]);

  const consume = json(await call(RequestCode.GET_CONSUME_STATS, { consumerGroup: 'stats-cg', topic: 'Stats' }));
  const queue0 = Object.entries(consume.offsetTable).find(([k]) => k.includes('"queueId":0'))![1] as { brokerOffset: number; consumerOffset: number };
  assert.equal([queue0.brokerOffset, queue0.consumerOffset], [3, 2]);

  const runtime = json(await call(RequestCode.GET_BROKER_RUNTIME_INFO));
  assert.ok(Number(runtime.table.msgPutTotalTodayNow) >= 5);
  assert.ok(Number(runtime.table.commitLogMaxOffset) > 0);

  assert.is((await call(RequestCode.GET_CONSUMER_CONNECTION_LIST, { consumerGroup: 'nobody' })).code, ResponseCode.CONSUMER_NOT_ONLINE);
  assert.is((await call(RequestCode.HEART_BEAT, {}, heartbeat('127.0.0.1@admin-1', 'stats-cg'))).code, ResponseCode.SUCCESS);
  const connections = json(await call(RequestCode.GET_CONSUMER_CONNECTION_LIST, { consumerGroup: 'stats-cg' }));
  assert.equal(connections.connectionSet.map((c: { clientId: string }) => c.clientId), ['127.0.0.1@admin-1']);
  assert.is(connections.messageModel, 'CLUSTERING');
  assert.ok(connections.subscriptionTable.Stats);
  await call(RequestCode.UNREGISTER_CLIENT, { clientID: '127.0.0.1@admin-1', consumerGroup: 'stats-cg' });
});

test('subscription groups: create, list, delete', async () => {
  const body = Buffer.from(JSON.stringify({ groupName: 'made-by-admin', retryMaxTimes: 3, consumeBroadcastEnable: false }));
  assert.is((await call(RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, {}, body)).code, ResponseCode.SUCCESS);
  const all = json(await call(RequestCode.GET_ALL_SUBSCRIPTIONGROUP_CONFIG));
  assert.is(all.subscriptionGroupTable['made-by-admin'].retryMaxTimes, 3);
  assert.is((await call(RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, {}, Buffer.from('{"nope":1}'))).code, ResponseCode.SYSTEM_ERROR);
  assert.is((await call(RequestCode.DELETE_SUBSCRIPTIONGROUP, { groupName: 'made-by-admin' })).code, ResponseCode.SUCCESS);
  assert.not.ok(json(await call(RequestCode.GET_ALL_SUBSCRIPTIONGROUP_CONFIG)).subscriptionGroupTable['made-by-admin']);
});

test('deleting a topic removes it from the broker', async () => {
  await call(RequestCode.UPDATE_AND_CREATE_TOPIC, { topic: 'Doomed', defaultTopic: 'TBW102', readQueueNums: 1, writeQueueNums: 1, perm: 6 });
  assert.ok(json(await call(RequestCode.GET_ALL_TOPIC_CONFIG)).topicConfigTable.Doomed);
  assert.is((await call(RequestCode.DELETE_TOPIC_IN_BROKER, { topic: 'Doomed' })).code, ResponseCode.SUCCESS);
  assert.not.ok(json(await call(RequestCode.GET_ALL_TOPIC_CONFIG)).topicConfigTable.Doomed);
  const pull = await call(RequestCode.PULL_MESSAGE, { consumerGroup: 'g', topic: 'Doomed', queueId: 0, queueOffset: 0, maxMsgNums: 1, sysFlag: 4, commitOffset: 0, suspendTimeoutMillis: 0, subscription: '*', subVersion: 0 });
  assert.is(pull.code, ResponseCode.TOPIC_NOT_EXIST);
});

test('members hear NOTIFY_CONSUMER_IDS_CHANGED when the group changes; silent clients expire', async () => {
  const notified: string[] = [];
  const member = new RemotingClient({ connectTimeoutMs: 2_000, requestTimeoutMs: 5_000 });
  member.registerProcessor(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED, (req) => {
    notified.push(req.extFields.consumerGroup!);
    return null;
  });
  const other = new RemotingClient({ connectTimeoutMs: 2_000, requestTimeoutMs: 5_000 });
  try {
    assert.is((await member.invoke(b.addr, createRequest(RequestCode.HEART_BEAT, {}, heartbeat('127.0.0.1@m1', 'notify-cg')), 5_000)).code, ResponseCode.SUCCESS);
    const before = notified.length;
    await other.invoke(b.addr, createRequest(RequestCode.HEART_BEAT, {}, heartbeat('127.0.0.1@m2', 'notify-cg')), 5_000);
    const deadline = Date.now() + 2_000;
    while (notified.length === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(notified.length > before, 'the existing member was not told that m2 joined');
    assert.is(notified.at(-1), 'notify-cg');
    // Nobody heartbeats again: after channelExpiredTimeout (1.5 s here) plus the 10 s scan both are gone.
    b.broker.ctx.clients.scanExpired(Date.now() + 2_000, 1_500);
    assert.equal(b.broker.ctx.clients.consumerIds('notify-cg'), []);
  } finally {
    await member.close();
    await other.close();
  }
});

test('GET_BROKER_CONFIG lists every key; UPDATE_BROKER_CONFIG applies valid keys live and persists them, refusing bad ones whole', async () => {
  const get = await call(RequestCode.GET_BROKER_CONFIG);
  assert.is(get.code, ResponseCode.SUCCESS);
  assert.ok(JSON.parse(get.extFields.version!).counter >= 0);
  const text = get.body!.toString();
  assert.match(text, /^autoCreateTopicEnable=true$/m);
  assert.match(text, /^flushDiskType=ASYNC_FLUSH$/m);
  assert.match(text, /^brokerRole=ASYNC_MASTER$/m);

  const update = (body: string) => call(RequestCode.UPDATE_BROKER_CONFIG, {}, Buffer.from(body));
  const bad = await update('autoCreateTopicEnable=false\nslaveReadEnable=maybe\n');
  assert.is(bad.code, ResponseCode.INVALID_PARAMETER);
  assert.match(bad.remark!, /slaveReadEnable=maybe: not true or false/);
  const unknown = await update('noSuchKey=1\n');
  assert.is(unknown.code, ResponseCode.INVALID_PARAMETER);
  assert.match(unknown.remark!, /unknown config key noSuchKey/);
  const readOnly = await update('storePathRootDir=/tmp/elsewhere\n');
  assert.is(readOnly.code, ResponseCode.NO_PERMISSION);
  const storeBad = await update('flushDiskType=SOMETIMES\n');
  assert.is(storeBad.code, ResponseCode.INVALID_PARAMETER);
  assert.is(b.broker.config.autoCreateTopicEnable, true, 'a refused update changes nothing');

  const good = await update('autoCreateTopicEnable=false\nmaxMessageSize=65536\n');
  assert.is(good.code, ResponseCode.SUCCESS, good.remark);
  const after = (await call(RequestCode.GET_BROKER_CONFIG)).body!.toString();
  assert.match(after, /^autoCreateTopicEnable=false$/m);
  assert.match(after, /^maxMessageSize=65536$/m);
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  assert.match(readFileSync(join(b.broker.storeConfig.storePathRootDir, 'config', 'broker.properties'), 'utf8'), /^autoCreateTopicEnable=false$/m);
  // Live: a send to a new topic is no longer auto-created.
  const send = await call(RequestCode.SEND_MESSAGE, { producerGroup: 'pg', topic: 'NeverCreated', defaultTopic: 'TBW102', defaultTopicQueueNums: 4, queueId: 0, sysFlag: 0, bornTimestamp: Date.now(), flag: 0, reconsumeTimes: 0, unitMode: false, batch: false }, Buffer.from('x'));
  assert.is(send.code, ResponseCode.TOPIC_NOT_EXIST);
  assert.is((await update('autoCreateTopicEnable=true\n')).code, ResponseCode.SUCCESS);
});

test.run();
