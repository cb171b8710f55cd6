// The npm RocketMQ client ali-ons (clients.md §1) reads routes from this NameServer unchanged: its
// own MQClientAPI asks GET_ROUTEINFO_BY_TOPIC (with numeric extFields, version 121), parses the
// body with JSON2 and sorts both arrays; TOPIC_NOT_EXIST becomes its MQClientException code 17.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NamesrvController } from './namesrv-controller.js';
import { FakeBroker, HOST, topicConfig } from './fake-broker.test-support.js';

const require = createRequire(import.meta.url);
const MQClientAPI = require('ali-ons/lib/mq_client_api') as new (options: object) => {
  ready(): Promise<void>;
  close(): Promise<void>;
  getTopicRouteInfoFromNameServer(topic: string, timeoutMs: number): Promise<any>;
};

const quietLogger = { info() {}, warn() {}, error() {}, debug() {} };
const dir = mkdtempSync(join(tmpdir(), 'orbit-namesrv-alions-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('ali-ons MQClientAPI gets routes and TOPIC_NOT_EXIST', async () => {
  const controller = new NamesrvController({ config: { listenPort: 0, bindAddress: HOST, kvConfigPath: join(dir, 'kvConfig.json') } });
  const { port } = await controller.start();
  const addr = `${HOST}:${port}`;
  const brokers = [
    new FakeBroker(addr, { cluster: 'C', brokerName: 'broker-b', brokerId: 0, brokerAddr: '10.0.0.3:10911', topics: [topicConfig('TopicTest')] }),
    new FakeBroker(addr, { cluster: 'C', brokerName: 'broker-a', brokerId: 0, brokerAddr: '10.0.0.1:10911', topics: [topicConfig('TopicTest')] }),
    new FakeBroker(addr, { cluster: 'C', brokerName: 'broker-a', brokerId: 1, brokerAddr: '10.0.0.2:10911', topics: [topicConfig('TopicTest')] }),
  ];
  const api = new MQClientAPI({ nameSrv: addr, httpclient: {}, logger: quietLogger, responseTimeout: 3000 });
  try {
    for (const b of brokers) await b.register();
    await api.ready();
    const route = await api.getTopicRouteInfoFromNameServer('TopicTest', 3000);
    assert.equal(route.queueDatas.map((q: { brokerName: string }) => q.brokerName), ['broker-a', 'broker-b']);
    assert.equal(route.brokerDatas[0].brokerAddrs, { 0: '10.0.0.1:10911', 1: '10.0.0.2:10911' });
    assert.equal(route.queueDatas[0], { brokerName: 'broker-a', perm: 6, readQueueNums: 4, topicSysFlag: 0, writeQueueNums: 4 });

    let failure: { name?: string; code?: number; message?: string } | undefined;
    try {
      await api.getTopicRouteInfoFromNameServer('NoSuchTopic', 3000);
    } catch (error) {
      failure = error as typeof failure;
    }
    assert.is(failure?.name, 'MQClientException');
    assert.is(failure?.code, 17);
    assert.match(failure?.message ?? '', 'No topic route info in name server for the topic: NoSuchTopic');
  } finally {
    await api.close();
    await Promise.all(brokers.map((b) => b.close()));
    await controller.shutdown();
  }
});

test.run();
