import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { autoCreateRouteFromTemplate, parseTopicRouteData, routeFingerprint, toTopicPublishInfo, toTopicSubscribeInfo } from './topic-route.js';

// fastjson's bare numeric keys in brokerAddrs (facts §1.5), brokers out of order, one without a master.
const body =
  '{"brokerDatas":[{"brokerAddrs":{1:"10.0.0.3:10911"},"brokerName":"broker-c","cluster":"C"},' +
  '{"brokerAddrs":{0:"10.0.0.2:10911",1:"10.0.0.22:10911"},"brokerName":"broker-b","cluster":"C"},' +
  '{"brokerAddrs":{0:"10.0.0.1:10911"},"brokerName":"broker-a","cluster":"C"}],' +
  '"filterServerTable":{},' +
  '"queueDatas":[{"brokerName":"broker-c","perm":6,"readQueueNums":2,"topicSysFlag":0,"writeQueueNums":2},' +
  '{"brokerName":"broker-b","perm":6,"readQueueNums":2,"topicSysFlag":0,"writeQueueNums":3},' +
  '{"brokerName":"broker-a","perm":4,"readQueueNums":1,"topicSysFlag":0,"writeQueueNums":1}]}';

test('parse: bare numeric keys; brokerAddrs keyed by id text', () => {
  const route = parseTopicRouteData(body);
  assert.equal(route.brokerDatas[1]!.brokerAddrs, { '0': '10.0.0.2:10911', '1': '10.0.0.22:10911' });
  assert.is(route.queueDatas.length, 3);
  assert.throws(() => parseTopicRouteData('{"queueDatas":[{"brokerName":1}]}'));
  assert.throws(() => parseTopicRouteData('[]'));
});

test('publish info: writable queues of brokers with a master, sorted by broker name', () => {
  const info = toTopicPublishInfo('T', parseTopicRouteData(body));
  // broker-a is read-only, broker-c has no master: only broker-b's 3 write queues.
  assert.equal(info.messageQueues.map((q) => `${q.brokerName}:${q.queueId}`), ['broker-b:0', 'broker-b:1', 'broker-b:2']);
  const ordered = toTopicPublishInfo('T', { ...parseTopicRouteData(body), orderTopicConf: 'broker-x:2;broker-y:1' });
  assert.ok(ordered.orderTopic);
  assert.equal(ordered.messageQueues.map((q) => `${q.brokerName}:${q.queueId}`), ['broker-x:0', 'broker-x:1', 'broker-y:0']);
});

test('subscribe info: every readable queue, sorted', () => {
  const mqs = toTopicSubscribeInfo('T', parseTopicRouteData(body));
  assert.equal(mqs.map((q) => `${q.brokerName}:${q.queueId}`), ['broker-a:0', 'broker-b:0', 'broker-b:1', 'broker-c:0', 'broker-c:1']);
});

test('auto-create from TBW102: min(4, writeQueueNums) queues per broker; fingerprints ignore order', () => {
  const template = parseTopicRouteData(
    '{"brokerDatas":[{"brokerAddrs":{"0":"a:1"},"brokerName":"broker-a","cluster":"C"}],"queueDatas":[{"brokerName":"broker-a","perm":7,"readQueueNums":8,"writeQueueNums":8,"topicSysFlag":0}]}',
  );
  const route = autoCreateRouteFromTemplate(template, 4);
  assert.equal(toTopicPublishInfo('New', route).messageQueues.length, 4);
  assert.equal(toTopicPublishInfo('New', autoCreateRouteFromTemplate({ ...template, queueDatas: [{ ...template.queueDatas[0]!, writeQueueNums: 2 }] }, 4)).messageQueues.length, 2);
  const reordered = { ...parseTopicRouteData(body) };
  reordered.brokerDatas = [...reordered.brokerDatas].reverse();
  assert.is(routeFingerprint(reordered), routeFingerprint(parseTopicRouteData(body)));
});

test.run();
