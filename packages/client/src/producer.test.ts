// The producer against scripted peers (a NameServer and brokers that record requests and answer as
// told): what goes on the wire, and what the producer does with each response code.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { inflateSync } from 'node:zlib';
import { decodeProperties } from '@orbit/common/properties';
import { RequestCode } from '@orbit/common/request-code';
import { CommandFlag, createResponse, RemotingServer } from '@orbit/remoting';
import { MQBrokerError, MQClientError } from './errors.js';
import { decodeBatchBody } from './message-batch.js';
import { messageQueue } from './message-queue.js';
import { selectMessageQueueByHash } from './message-queue-selector.js';
import { Producer, type ProducerOptions } from './producer.js';
import { buildRoute, HOST, recordingLogger, ScriptedBroker, ScriptedNameServer, waitFor } from './testing/scripted-peers.js';

let instanceCounter = 0;

async function startCluster(queues = 2) {
  const ns = await new ScriptedNameServer().listen();
  const a = await new ScriptedBroker('broker-a').listen();
  const b = await new ScriptedBroker('broker-b').listen();
  ns.routes.set('TopicTest', buildRoute([{ brokerName: 'broker-a', addr: a.addr, queues }, { brokerName: 'broker-b', addr: b.addr, queues }]));
  const producers: Producer[] = [];
  return {
    ns,
    a,
    b,
    async producer(extra: Partial<ProducerOptions> = {}) {
      const logger = recordingLogger();
      const p = new Producer({ producerGroup: 'pg', namesrvAddr: ns.addr, instanceName: `producer-test-${++instanceCounter}`, clientIP: '127.0.0.1', logger, ...extra });
      producers.push(p);
      await p.start();
      return p;
    },
    async close() {
      for (const p of producers) await p.shutdown();
      await Promise.all([ns.close(), a.close(), b.close()]);
    },
  };
}

const sends = (...brokers: ScriptedBroker[]) => brokers.flatMap((br) => br.requests.filter((r) => r.code === RequestCode.SEND_MESSAGE_V2).map((r) => ({ broker: br.brokerName, r })));

test('SEND_MESSAGE_V2 on the wire: short header keys, properties, body; the SendResult', async () => {
  const c = await startCluster();
  try {
    const producer = await c.producer();
    const result = await producer.send({ topic: 'TopicTest', body: 'hello', tags: 'TagA', keys: ['k1', 'k2'], flag: 3 });
    assert.is(c.ns.requestsOf(RequestCode.GET_ROUTEINFO_BY_TOPIC)[0]!.extFields.topic, 'TopicTest');
    const all = sends(c.a, c.b);
    assert.is(all.length, 1);
    const { r, broker } = all[0]!;
    assert.equal(Object.keys(r.extFields).sort(), ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'm', 'n']);
    assert.is(r.extFields.a, 'pg');
    assert.is(r.extFields.b, 'TopicTest');
    assert.is(r.extFields.c, 'TBW102');
    assert.is(r.extFields.d, '4');
    assert.is(r.extFields.f, '0');
    assert.is(r.extFields.h, '3');
    assert.is(r.extFields.j, '0');
    assert.is(r.extFields.k, 'false');
    assert.is(r.extFields.m, 'false');
    assert.is(r.extFields.n, broker);
    assert.ok(Math.abs(Number(r.extFields.g) - Date.now()) < 10_000);
    assert.is(r.language, 'JAVA');
    assert.is(r.version, 479);
    const props = decodeProperties(r.extFields.i!);
    assert.match(props.get('UNIQ_KEY')!, /^7F000001[0-9A-F]{24}$/);
    assert.is(props.get('WAIT'), 'true');
    assert.is(props.get('TAGS'), 'TagA');
    assert.is(props.get('KEYS'), 'k1 k2');
    assert.is(r.body!.toString(), 'hello');
    assert.is(result.sendStatus, 'SEND_OK');
    assert.is(result.msgId, props.get('UNIQ_KEY'));
    assert.match(result.offsetMsgId, /^7F000001[0-9A-F]{24}$/);
    assert.equal(result.messageQueue, messageQueue('TopicTest', broker, Number(r.extFields.e)));
    assert.is(result.queueOffset, 0);
  } finally {
    await c.close();
  }
});

test('retryable codes {17,14,1,2,16,204,205,1500}: the retry goes to the other broker with the same UNIQ_KEY', async () => {
  for (const code of [17, 14, 1, 2, 16, 204, 205, 1500]) {
    const c = await startCluster();
    try {
      c.a.on(RequestCode.SEND_MESSAGE_V2, (req) => createResponse(req, code, `scripted ${code}`));
      const producer = await c.producer();
      for (let i = 0; i < 20 && c.a.requests.length === 0; i++) {
        const result = await producer.send({ topic: 'TopicTest', body: `m${i}` });
        assert.is(result.messageQueue.brokerName, 'broker-b', `code ${code}`);
      }
      const failed = c.a.requestsOf(RequestCode.SEND_MESSAGE_V2);
      assert.ok(failed.length >= 1, `broker-a was tried for code ${code}`);
      const uniq = decodeProperties(failed[0]!.extFields.i!).get('UNIQ_KEY');
      const retried = c.b.requestsOf(RequestCode.SEND_MESSAGE_V2).filter((r) => decodeProperties(r.extFields.i!).get('UNIQ_KEY') === uniq);
      assert.is(retried.length, 1, `retried once on broker-b for code ${code}`);
    } finally {
      await c.close();
    }
  }
});

test('other codes throw MQBrokerError with code and remark, without retry', async () => {
  const c = await startCluster();
  try {
    for (const br of [c.a, c.b]) br.on(RequestCode.SEND_MESSAGE_V2, (req) => createResponse(req, 13, 'the message is illegal, maybe msg body or properties length not matched'));
    const producer = await c.producer();
    try {
      await producer.send({ topic: 'TopicTest', body: 'x' });
      assert.unreachable('should throw');
    } catch (error) {
      assert.instance(error, MQBrokerError);
      assert.is((error as MQBrokerError).code, 13);
      assert.match((error as MQBrokerError).remark, /illegal/);
    }
    assert.is(sends(c.a, c.b).length, 1);
  } finally {
    await c.close();
  }
});

test('retries used up: 1 + retryTimesWhenSendFailed attempts alternating brokers, then MQClientError with the code', async () => {
  const c = await startCluster();
  try {
    for (const br of [c.a, c.b]) br.on(RequestCode.SEND_MESSAGE_V2, (req) => createResponse(req, 14, 'service not available now'));
    const producer = await c.producer();
    const error = await producer.send({ topic: 'TopicTest', body: 'x' }).catch((e: unknown) => e);
    assert.instance(error, MQClientError);
    assert.is((error as MQClientError).responseCode, 14);
    assert.match((error as Error).message, /Send \[3\] times, still failed/);
    const order = sends(c.a, c.b).sort((x, y) => Number(x.r.extFields.g) - Number(y.r.extFields.g)).map((s) => s.broker);
    assert.is(order.length, 3);
    const all = c.a.requests.concat(c.b.requests).filter((r) => r.code === RequestCode.SEND_MESSAGE_V2);
    assert.is(new Set(all.map((r) => decodeProperties(r.extFields.i!).get('UNIQ_KEY'))).size, 1);
    assert.is(c.a.requestsOf(RequestCode.SEND_MESSAGE_V2).length + c.b.requestsOf(RequestCode.SEND_MESSAGE_V2).length, 3);
    assert.ok(Math.abs(c.a.requestsOf(RequestCode.SEND_MESSAGE_V2).length - c.b.requestsOf(RequestCode.SEND_MESSAGE_V2).length) === 1);
  } finally {
    await c.close();
  }
});

test('a broker that refuses connections: the send goes to the other broker', async () => {
  const c = await startCluster();
  const dead = new RemotingServer({ host: HOST, port: 0 });
  const { port } = await dead.listen();
  await dead.close();
  try {
    c.ns.routes.set('TopicTest', buildRoute([{ brokerName: 'broker-a', addr: `${HOST}:${port}`, queues: 2 }, { brokerName: 'broker-b', addr: c.b.addr, queues: 2 }]));
    const producer = await c.producer();
    for (let i = 0; i < 6; i++) assert.is((await producer.send({ topic: 'TopicTest', body: `m${i}` })).messageQueue.brokerName, 'broker-b');
    assert.is(c.b.requestsOf(RequestCode.SEND_MESSAGE_V2).length, 6);
  } finally {
    await c.close();
  }
});

test('async and oneway sends try once; oneway sets the ONEWAY flag', async () => {
  const c = await startCluster();
  try {
    for (const br of [c.a, c.b]) br.on(RequestCode.SEND_MESSAGE_V2, (req) => createResponse(req, 14, 'busy'));
    const producer = await c.producer();
    const error = await producer.sendAsync({ topic: 'TopicTest', body: 'x' }).catch((e: unknown) => e);
    assert.instance(error, MQBrokerError);
    assert.is((error as MQBrokerError).code, 14);
    assert.is(sends(c.a, c.b).length, 1);
    await producer.sendOneway({ topic: 'TopicTest', body: 'y' });
    await waitFor(() => sends(c.a, c.b).length === 2, 3000, 'the oneway send');
    const oneway = sends(c.a, c.b).find((s) => s.r.body?.toString() === 'y')!;
    assert.ok((oneway.r.flag & CommandFlag.ONEWAY) !== 0);
  } finally {
    await c.close();
  }
});

test('sendBatch: SEND_BATCH_MESSAGE(320), m=true, one entry per message, comma-joined ids', async () => {
  const c = await startCluster();
  try {
    const producer = await c.producer();
    const result = await producer.sendBatch([
      { topic: 'TopicTest', body: 'one', tags: 'A', keys: 'k1' },
      { topic: 'TopicTest', body: 'two', flag: 9 },
    ]);
    const batches = [...c.a.requests, ...c.b.requests].filter((r) => r.code === RequestCode.SEND_BATCH_MESSAGE);
    assert.is(batches.length, 1);
    const req = batches[0]!;
    assert.is(req.extFields.m, 'true');
    assert.equal([...decodeProperties(req.extFields.i!).keys()], ['WAIT']);
    const entries = decodeBatchBody(req.body!);
    assert.equal(entries.map((e) => [e.flag, e.body.toString()]), [[0, 'one'], [9, 'two']]);
    const p0 = decodeProperties(entries[0]!.properties);
    const p1 = decodeProperties(entries[1]!.properties);
    assert.is(p0.get('TAGS'), 'A');
    assert.is(p0.get('KEYS'), 'k1');
    assert.is(result.msgId, `${p0.get('UNIQ_KEY')},${p1.get('UNIQ_KEY')}`);
    const mixed = await producer.sendBatch([{ topic: 'TopicTest', body: 'x' }, { topic: 'Other', body: 'y' }]).catch((e: unknown) => e);
    assert.instance(mixed, MQClientError);
    const delayed = await producer.sendBatch([{ topic: 'TopicTest', body: 'x', delayTimeLevel: 2 }]).catch((e: unknown) => e);
    assert.instance(delayed, MQClientError);
  } finally {
    await c.close();
  }
});

test('queue selectors: by hash, or an explicit queue; tried once', async () => {
  const c = await startCluster();
  try {
    const producer = await c.producer();
    const queues = await producer.fetchPublishMessageQueues('TopicTest');
    assert.equal(queues.map((q) => `${q.brokerName}:${q.queueId}`), ['broker-a:0', 'broker-a:1', 'broker-b:0', 'broker-b:1']);
    for (let i = 0; i < 3; i++) {
      const r = await producer.send({ topic: 'TopicTest', body: 'o' }, { selector: selectMessageQueueByHash, arg: 3 });
      assert.equal(r.messageQueue, messageQueue('TopicTest', 'broker-b', 1));
    }
    const custom = await producer.send({ topic: 'TopicTest', body: 'c' }, { selector: (mqs) => mqs[1]! });
    assert.equal(custom.messageQueue, messageQueue('TopicTest', 'broker-a', 1));
    const explicit = await producer.send({ topic: 'TopicTest', body: 'e' }, { messageQueue: messageQueue('TopicTest', 'broker-a', 0) });
    assert.equal(explicit.messageQueue, messageQueue('TopicTest', 'broker-a', 0));
    c.b.on(RequestCode.SEND_MESSAGE_V2, (req) => createResponse(req, 14, 'busy'));
    const error = await producer.send({ topic: 'TopicTest', body: 'o' }, { selector: selectMessageQueueByHash, arg: 3 }).catch((e: unknown) => e);
    assert.instance(error, MQBrokerError);
    assert.is(c.a.requestsOf(RequestCode.SEND_MESSAGE_V2).length, 2); // no retry to broker-a
  } finally {
    await c.close();
  }
});

test('a topic the NameServer does not know goes through TBW102 brokers (auto-create)', async () => {
  const c = await startCluster();
  try {
    c.ns.routes.set('TBW102', buildRoute([{ brokerName: 'broker-a', addr: c.a.addr, queues: 8, perm: 7 }]));
    const producer = await c.producer();
    const queues = await producer.fetchPublishMessageQueues('BrandNewTopic');
    assert.is(queues.length, 4);
    const result = await producer.send({ topic: 'BrandNewTopic', body: 'first' });
    const req = c.a.requestsOf(RequestCode.SEND_MESSAGE_V2)[0]!;
    assert.is(req.extFields.b, 'BrandNewTopic');
    assert.is(req.extFields.c, 'TBW102');
    assert.is(req.extFields.d, '4');
    assert.ok(Number(req.extFields.e) < 4);
    assert.is(result.messageQueue.brokerName, 'broker-a');
    const topicsAsked = c.ns.requestsOf(RequestCode.GET_ROUTEINFO_BY_TOPIC).map((r) => r.extFields.topic);
    assert.ok(topicsAsked.includes('BrandNewTopic') && topicsAsked.includes('TBW102'));
    const missing = await producer.send({ topic: 'Nowhere', body: 'x' }).catch((e: unknown) => e); // still found via TBW102
    assert.not.instance(missing, Error);
    c.ns.routes.delete('TBW102');
    const none = await producer.send({ topic: 'ReallyNowhere', body: 'x' }).catch((e: unknown) => e);
    assert.instance(none, MQClientError);
    assert.match((none as Error).message, /No route info of this topic/);
  } finally {
    await c.close();
  }
});

test('latency fault avoidance: a failed broker is left alone while it is out; disabled, it is tried again', async () => {
  for (const enabled of [true, false]) {
    const c = await startCluster();
    try {
      c.a.on(RequestCode.SEND_MESSAGE_V2, (req) => createResponse(req, 14, 'busy'));
      const producer = await c.producer({ sendLatencyFaultEnable: enabled });
      for (let i = 0; i < 20 && c.a.requests.length === 0; i++) await producer.send({ topic: 'TopicTest', body: 'x' });
      assert.ok(c.a.requests.length > 0, 'broker-a was tried once');
      const before = c.a.requestsOf(RequestCode.SEND_MESSAGE_V2).length;
      for (let i = 0; i < 12; i++) await producer.send({ topic: 'TopicTest', body: `after${i}` });
      const after = c.a.requestsOf(RequestCode.SEND_MESSAGE_V2).length;
      if (enabled) assert.is(after, before, 'broker-a is out for 10 s after a failure');
      else assert.ok(after > before, 'without fault avoidance broker-a is tried again');
    } finally {
      await c.close();
    }
  }
});

test('bodies over compressMsgBodyOverHowmuch are ZLIB-compressed (sysFlag 0x301)', async () => {
  const c = await startCluster();
  try {
    const producer = await c.producer();
    const body = Buffer.alloc(5000, 'a');
    await producer.send({ topic: 'TopicTest', body });
    const req = sends(c.a, c.b)[0]!.r;
    assert.is(req.extFields.f, String(0x301));
    assert.ok(inflateSync(req.body!).equals(body));
    await producer.send({ topic: 'TopicTest', body: Buffer.alloc(4096, 'b') });
    assert.is(sends(c.a, c.b).find((s) => s.r.body?.length === 4096)!.r.extFields.f, '0');
  } finally {
    await c.close();
  }
});

test('validation: empty body, bad topic, too large', async () => {
  const c = await startCluster();
  try {
    const producer = await c.producer({ maxMessageSizeBytes: 100 });
    for (const msg of [{ topic: 'TopicTest', body: '' }, { topic: 'bad topic!', body: 'x' }, { topic: 'TopicTest', body: Buffer.alloc(101) }]) {
      const error = await producer.send(msg).catch((e: unknown) => e);
      assert.instance(error, MQClientError);
    }
    assert.is(sends(c.a, c.b).length, 0);
  } finally {
    await c.close();
  }
});

test('heartbeats list the producer group; shutdown unregisters from every broker', async () => {
  const c = await startCluster();
  try {
    const producer = await c.producer({ heartbeatBrokerIntervalMs: 50 });
    await producer.send({ topic: 'TopicTest', body: 'x' });
    await waitFor(() => c.a.requestsOf(RequestCode.HEART_BEAT).length > 0 && c.b.requestsOf(RequestCode.HEART_BEAT).length > 0, 5000, 'heartbeats');
    const hb = JSON.parse(c.a.requestsOf(RequestCode.HEART_BEAT)[0]!.body!.toString());
    assert.is(hb.clientID, producer.clientId);
    assert.match(hb.clientID, /^127\.0\.0\.1@producer-test-\d+$/);
    assert.equal(hb.producerDataSet, [{ groupName: 'CLIENT_INNER_PRODUCER' }, { groupName: 'pg' }]);
    assert.equal(hb.consumerDataSet, []);
    await producer.shutdown();
    for (const br of [c.a, c.b]) {
      const un = br.requestsOf(RequestCode.UNREGISTER_CLIENT);
      assert.is(un.length, 1);
      assert.is(un[0]!.extFields.clientID, hb.clientID);
      assert.is(un[0]!.extFields.producerGroup, 'pg');
    }
    const after = await producer.send({ topic: 'TopicTest', body: 'x' }).catch((e: unknown) => e);
    assert.instance(after, MQClientError);
  } finally {
    await c.close();
  }
});

test.run();
