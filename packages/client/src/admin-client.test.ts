// Admin calls against a scripted NameServer and broker: request headers and response handling.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createOffsetMessageId } from '@orbit/common/message-id';
import { RequestCode } from '@orbit/common/request-code';
import { ResponseCode } from '@orbit/common/response-code';
import { parseSocketAddress } from '@orbit/common/socket-address';
import { createResponse } from '@orbit/remoting';
import { AdminClient } from './admin-client.js';
import { MQBrokerError } from './errors.js';
import { messageQueue } from './message-queue.js';
import { buildRoute, recordingLogger, ScriptedBroker, ScriptedNameServer } from './testing/scripted-peers.js';

async function setup() {
  const ns = await new ScriptedNameServer().listen();
  const broker = await new ScriptedBroker('broker-a').listen();
  ns.routes.set('T', buildRoute([{ brokerName: 'broker-a', addr: broker.addr, queues: 2 }]));
  const admin = new AdminClient({ namesrvAddr: ns.addr, logger: recordingLogger() });
  await admin.start();
  return {
    ns,
    broker,
    admin,
    async close() {
      await admin.shutdown();
      await Promise.all([ns.close(), broker.close()]);
    },
  };
}

test('createTopic sends UPDATE_AND_CREATE_TOPIC with the TopicConfig fields; errors carry the code', async () => {
  const s = await setup();
  try {
    s.broker.on(RequestCode.UPDATE_AND_CREATE_TOPIC, (req) => createResponse(req));
    await s.admin.createTopic(s.broker.addr, { topic: 'NewTopic', writeQueueNums: 4, readQueueNums: 4 });
    const f = s.broker.requestsOf(RequestCode.UPDATE_AND_CREATE_TOPIC)[0]!.extFields;
    assert.equal(f, { topic: 'NewTopic', defaultTopic: 'TBW102', readQueueNums: '4', writeQueueNums: '4', perm: '6', topicFilterType: 'SINGLE_TAG', topicSysFlag: '0', order: 'false' });
    s.broker.on(RequestCode.UPDATE_AND_CREATE_TOPIC, (req) => createResponse(req, ResponseCode.NO_PERMISSION, 'no'));
    const error = await s.admin.createTopic(s.broker.addr, { topic: 'X' }).catch((e: unknown) => e);
    assert.instance(error, MQBrokerError);
    assert.is((error as MQBrokerError).code, 16);
  } finally {
    await s.close();
  }
});

test('routes, cluster info (fastjson keys), offsets at the master', async () => {
  const s = await setup();
  try {
    const route = await s.admin.getTopicRoute('T');
    assert.is(route.brokerDatas[0]!.brokerAddrs['0'], s.broker.addr);
    assert.equal((await s.admin.fetchSubscribeMessageQueues('T')).map((q) => q.queueId), [0, 1]);
    const missing = await s.admin.getTopicRoute('Nope').catch((e: unknown) => e);
    assert.instance(missing, Error);
    s.ns.on(RequestCode.GET_BROKER_CLUSTER_INFO, (req) => {
      const res = createResponse(req);
      res.body = Buffer.from(`{"brokerAddrTable":{"broker-a":{"brokerAddrs":{0:"${s.broker.addr}"},"brokerName":"broker-a","cluster":"DefaultCluster"}},"clusterAddrTable":{"DefaultCluster":["broker-a"]}}`);
      return res;
    });
    const info = await s.admin.getClusterInfo();
    assert.is(info.brokerAddrTable['broker-a']!.brokerAddrs['0'], s.broker.addr);
    assert.equal(info.clusterAddrTable, { DefaultCluster: ['broker-a'] });
    s.broker.on(RequestCode.GET_MIN_OFFSET, (req) => createResponse(req, 0, undefined, { offset: 1 }));
    s.broker.on(RequestCode.GET_MAX_OFFSET, (req) => createResponse(req, 0, undefined, { offset: 9 }));
    s.broker.on(RequestCode.QUERY_CONSUMER_OFFSET, (req) => createResponse(req, ResponseCode.QUERY_NOT_FOUND, 'none'));
    const mq = messageQueue('T', 'broker-a', 1);
    assert.is(await s.admin.getMinOffset(mq), 1);
    assert.is(await s.admin.getMaxOffset(mq), 9);
    assert.is(await s.admin.queryConsumerOffset('g', mq), -1);
    const max = s.broker.requestsOf(RequestCode.GET_MAX_OFFSET)[0]!.extFields;
    assert.equal([max.topic, max.queueId], ['T', '1']);
  } finally {
    await s.close();
  }
});

test('viewMessageById goes to the store host in the id; queryMessageByKey filters by KEYS', async () => {
  const s = await setup();
  try {
    const record = s.broker.records([{ topic: 'T', queueId: 1, queueOffset: 7, body: 'found me', properties: { KEYS: 'order-1 order-2', UNIQ_KEY: 'U'.repeat(32) } }]);
    s.broker.on(RequestCode.VIEW_MESSAGE_BY_ID, (req) => {
      const res = createResponse(req);
      res.body = record;
      return res;
    });
    const id = createOffsetMessageId(parseSocketAddress(s.broker.addr), 5000 + 7 * 200);
    const msg = await s.admin.viewMessageById(id);
    assert.is(s.broker.requestsOf(RequestCode.VIEW_MESSAGE_BY_ID)[0]!.extFields.offset, String(5000 + 7 * 200));
    assert.is(msg.body.toString(), 'found me');
    assert.is(msg.offsetMsgId, id);
    const other = s.broker.records([{ topic: 'T', queueId: 0, queueOffset: 1, body: 'other', properties: { KEYS: 'order-10' } }]);
    s.broker.on(RequestCode.QUERY_MESSAGE, (req) => {
      const res = createResponse(req);
      res.body = Buffer.concat([record, other]);
      return res;
    });
    const byKey = await s.admin.queryMessageByKey('T', 'order-2');
    assert.equal(byKey.map((m) => m.body.toString()), ['found me']);
    const q = s.broker.requestsOf(RequestCode.QUERY_MESSAGE)[0]!.extFields;
    assert.equal([q.topic, q.key, q.maxNum, q.beginTimestamp], ['T', 'order-2', '64', '0']);
    const byUniq = await s.admin.queryMessageByKey('T', 'U'.repeat(32), { uniqKey: true });
    assert.is(byUniq.length, 1);
    assert.is(s.broker.requestsOf(RequestCode.QUERY_MESSAGE)[1]!.extFields._UNIQUE_KEY_QUERY, 'true');
    s.broker.on(RequestCode.QUERY_MESSAGE, (req) => createResponse(req, ResponseCode.QUERY_NOT_FOUND, 'can not find message'));
    assert.equal(await s.admin.queryMessageByKey('T', 'nothing'), []);
  } finally {
    await s.close();
  }
});

test.run();
