// The NameServer over real sockets on 127.0.0.1: fake brokers register, clients ask for routes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RequestCode } from '@orbit/common/request-code';
import { ResponseCode } from '@orbit/common/response-code';
import { createRequest, RemotingClient, type ExtFieldValue, type RemotingCommand } from '@orbit/remoting';
import { NamesrvController } from './namesrv-controller.js';
import type { NamesrvConfig } from './namesrv-config.js';
import { bodyJson, bodyText, FakeBroker, HOST, topicConfig, waitFor } from './fake-broker.test-support.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'orbit-namesrv-'));
  dirs.push(dir);
  return dir;
}

async function startNamesrv(config: Partial<NamesrvConfig> = {}) {
  const controller = new NamesrvController({
    config: { listenPort: 0, bindAddress: HOST, kvConfigPath: join(tempDir(), 'kvConfig.json'), ...config },
  });
  const { port } = await controller.start();
  const addr = `${HOST}:${port}`;
  const client = new RemotingClient();
  const call = (code: number, ext: Record<string, ExtFieldValue> = {}, body?: Buffer): Promise<RemotingCommand> =>
    client.invoke(addr, createRequest(code, ext, body));
  const brokers: FakeBroker[] = [];
  const broker = (options: ConstructorParameters<typeof FakeBroker>[1]) => {
    const b = new FakeBroker(addr, options);
    brokers.push(b);
    return b;
  };
  const stop = async () => {
    await Promise.all(brokers.map((b) => b.close()));
    await client.close();
    await controller.shutdown();
  };
  return { controller, addr, client, call, broker, stop };
}

async function expectRejection(promise: Promise<unknown>, message: RegExp): Promise<void> {
  try {
    await promise;
  } catch (error) {
    assert.match((error as Error).message, message);
    return;
  }
  assert.unreachable('expected a rejection');
}

type Namesrv = Awaited<ReturnType<typeof startNamesrv>>;

/** broker-a (master 0 + slave 1) and broker-b (master 0) in DefaultCluster. */
async function twoBrokerCluster(ns: Namesrv) {
  const masterA = ns.broker({
    cluster: 'DefaultCluster',
    brokerName: 'broker-a',
    brokerId: 0,
    brokerAddr: '10.0.0.1:10911',
    topics: [topicConfig('TopicTest'), topicConfig('OnlyA', { readQueueNums: 2, writeQueueNums: 2 })],
  });
  const slaveA = ns.broker({
    cluster: 'DefaultCluster',
    brokerName: 'broker-a',
    brokerId: 1,
    brokerAddr: '10.0.0.2:10911',
    topics: [topicConfig('TopicTest'), topicConfig('OnlyA', { readQueueNums: 2, writeQueueNums: 2 })],
  });
  const masterB = ns.broker({
    cluster: 'DefaultCluster',
    brokerName: 'broker-b',
    brokerId: 0,
    brokerAddr: '10.0.0.3:10911',
    topics: [topicConfig('TopicTest', { readQueueNums: 8, writeQueueNums: 8 })],
  });
  for (const b of [masterA, slaveA, masterB]) assert.is((await b.register()).code, ResponseCode.SUCCESS);
  return { masterA, slaveA, masterB };
}

test.after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

test('routes come back in RocketMQ JSON shape, brokerAddrs keyed by brokerId', async () => {
  const ns = await startNamesrv();
  try {
    await twoBrokerCluster(ns);
    const res = await ns.call(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'TopicTest' });
    assert.is(res.code, ResponseCode.SUCCESS);
    assert.is(
      bodyText(res),
      '{"brokerDatas":[' +
        '{"brokerAddrs":{"0":"10.0.0.1:10911","1":"10.0.0.2:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false},' +
        '{"brokerAddrs":{"0":"10.0.0.3:10911"},"brokerName":"broker-b","cluster":"DefaultCluster","enableActingMaster":false}],' +
        '"filterServerTable":{},' +
        '"queueDatas":[' +
        '{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4},' +
        '{"brokerName":"broker-b","perm":6,"readQueueNums":8,"topicSysFlag":0,"writeQueueNums":8}]}',
    );
    const onlyA = bodyJson(await ns.call(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'OnlyA' }));
    assert.equal(onlyA.queueDatas, [{ brokerName: 'broker-a', perm: 6, readQueueNums: 2, topicSysFlag: 0, writeQueueNums: 2 }]);
    assert.equal(onlyA.brokerDatas.map((b: { brokerName: string }) => b.brokerName), ['broker-a']);
    // The acceptStandardJsonOnly header and an old client version change nothing: always quoted keys.
    const old = createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'OnlyA', acceptStandardJsonOnly: false });
    old.version = 121;
    assert.match(bodyText(await ns.client.invoke(ns.addr, old)), '"brokerAddrs":{"0":"10.0.0.1:10911","1":"10.0.0.2:10911"}');
  } finally {
    await ns.stop();
  }
});

test('an unknown topic is TOPIC_NOT_EXIST (17) with RocketMQ remark', async () => {
  const ns = await startNamesrv();
  try {
    await twoBrokerCluster(ns);
    const res = await ns.call(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'NoSuchTopic' });
    assert.is(res.code, 17);
    assert.ok(res.remark?.startsWith('No topic route info in name server for the topic: NoSuchTopic'), res.remark);
    assert.is(res.body, undefined);
  } finally {
    await ns.stop();
  }
});

test('a slave learns its master address and HA address; a master gets neither', async () => {
  const ns = await startNamesrv();
  try {
    const master = ns.broker({ cluster: 'C', brokerName: 'broker-a', brokerId: 0, brokerAddr: '10.0.0.1:10911', haServerAddr: '10.0.1.1:10912' });
    const slave = ns.broker({ cluster: 'C', brokerName: 'broker-a', brokerId: 1, brokerAddr: '10.0.0.2:10911', haServerAddr: '10.0.1.2:10912' });
    // A slave before its master: nothing to tell yet.
    const early = await slave.register();
    assert.is(early.code, ResponseCode.SUCCESS);
    assert.is(early.extFields.masterAddr, undefined);
    const m = await master.register();
    assert.is(m.code, ResponseCode.SUCCESS);
    assert.is(m.extFields.masterAddr, undefined);
    assert.is(m.extFields.haServerAddr, undefined);
    const s = await slave.register();
    assert.is(s.extFields.masterAddr, '10.0.0.1:10911');
    assert.is(s.extFields.haServerAddr, '10.0.1.1:10912');
  } finally {
    await ns.stop();
  }
});

test('cluster info, the topic list and topics by cluster', async () => {
  const ns = await startNamesrv();
  try {
    await twoBrokerCluster(ns);
    const other = ns.broker({ cluster: 'OtherCluster', brokerName: 'broker-x', brokerId: 0, brokerAddr: '10.0.9.1:10911', topics: [topicConfig('XTopic')] });
    await other.register();

    const info = await ns.call(RequestCode.GET_BROKER_CLUSTER_INFO);
    assert.is(info.code, ResponseCode.SUCCESS);
    assert.is(
      bodyText(info),
      '{"brokerAddrTable":{' +
        '"broker-a":{"brokerAddrs":{"0":"10.0.0.1:10911","1":"10.0.0.2:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false},' +
        '"broker-b":{"brokerAddrs":{"0":"10.0.0.3:10911"},"brokerName":"broker-b","cluster":"DefaultCluster","enableActingMaster":false},' +
        '"broker-x":{"brokerAddrs":{"0":"10.0.9.1:10911"},"brokerName":"broker-x","cluster":"OtherCluster","enableActingMaster":false}},' +
        '"clusterAddrTable":{"DefaultCluster":["broker-a","broker-b"],"OtherCluster":["broker-x"]}}',
    );

    const all = await ns.call(RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER);
    assert.is(bodyText(all), '{"topicList":["OnlyA","TopicTest","XTopic"]}');
    const byCluster = await ns.call(RequestCode.GET_TOPICS_BY_CLUSTER, { cluster: 'DefaultCluster' });
    assert.is(bodyText(byCluster), '{"topicList":["OnlyA","TopicTest"]}');
    const none = await ns.call(RequestCode.GET_TOPICS_BY_CLUSTER, { cluster: 'Nope' });
    assert.is(bodyText(none), '{"topicList":[]}');
  } finally {
    await ns.stop();
  }
});

test('topic lists can be disabled', async () => {
  const ns = await startNamesrv({ enableAllTopicList: false, enableTopicList: false });
  try {
    const all = await ns.call(RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER);
    assert.is(all.code, ResponseCode.SYSTEM_ERROR);
    assert.is(all.remark, 'disable');
    const byCluster = await ns.call(RequestCode.GET_TOPICS_BY_CLUSTER, { cluster: 'DefaultCluster' });
    assert.is(byCluster.code, ResponseCode.SYSTEM_ERROR);
    assert.is(byCluster.remark, 'disable');
  } finally {
    await ns.stop();
  }
});

test('DELETE_TOPIC_IN_NAMESRV removes a route, everywhere or in one cluster', async () => {
  const ns = await startNamesrv();
  try {
    await twoBrokerCluster(ns);
    const other = ns.broker({ cluster: 'OtherCluster', brokerName: 'broker-x', brokerId: 0, brokerAddr: '10.0.9.1:10911', topics: [topicConfig('TopicTest')] });
    await other.register();

    assert.is((await ns.call(RequestCode.DELETE_TOPIC_IN_NAMESRV, { topic: 'TopicTest', clusterName: 'DefaultCluster' })).code, ResponseCode.SUCCESS);
    const left = bodyJson(await ns.call(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'TopicTest' }));
    assert.equal(left.queueDatas.map((q: { brokerName: string }) => q.brokerName), ['broker-x']);

    assert.is((await ns.call(RequestCode.DELETE_TOPIC_IN_NAMESRV, { topic: 'TopicTest' })).code, ResponseCode.SUCCESS);
    assert.is((await ns.call(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'TopicTest' })).code, ResponseCode.TOPIC_NOT_EXIST);
    assert.is(bodyText(await ns.call(RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER)), '{"topicList":["OnlyA"]}');
  } finally {
    await ns.stop();
  }
});

test('WIPE/ADD_WRITE_PERM_OF_BROKER change perm in routes and report the topic count', async () => {
  const ns = await startNamesrv();
  try {
    const { masterA } = await twoBrokerCluster(ns);
    const permOf = async (topic: string, brokerName: string) => {
      const route = bodyJson(await ns.call(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic }));
      return route.queueDatas.find((q: { brokerName: string }) => q.brokerName === brokerName).perm as number;
    };
    const wipe = await ns.call(RequestCode.WIPE_WRITE_PERM_OF_BROKER, { brokerName: 'broker-a' });
    assert.is(wipe.code, ResponseCode.SUCCESS);
    assert.is(wipe.extFields.wipeTopicCount, '2');
    assert.is(await permOf('TopicTest', 'broker-a'), 4);
    assert.is(await permOf('OnlyA', 'broker-a'), 4);
    assert.is(await permOf('TopicTest', 'broker-b'), 6);
    // A heartbeat with an unchanged DataVersion does not undo it.
    await masterA.register();
    assert.is(await permOf('TopicTest', 'broker-a'), 4);

    const add = await ns.call(RequestCode.ADD_WRITE_PERM_OF_BROKER, { brokerName: 'broker-a' });
    assert.is(add.code, ResponseCode.SUCCESS);
    assert.is(add.extFields.addTopicCount, '2');
    assert.is(await permOf('TopicTest', 'broker-a'), 6);
    const unknown = await ns.call(RequestCode.WIPE_WRITE_PERM_OF_BROKER, { brokerName: 'nobody' });
    assert.is(unknown.extFields.wipeTopicCount, '0');
  } finally {
    await ns.stop();
  }
});

test('queue data follows the master and only changes with its DataVersion', async () => {
  const ns = await startNamesrv();
  try {
    const { masterA, slaveA } = await twoBrokerCluster(ns);
    const queuesOfA = async () =>
      bodyJson(await ns.call(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'TopicTest' })).queueDatas.find((q: { brokerName: string }) => q.brokerName === 'broker-a');

    // Same DataVersion, different table: ignored (a broker bumps its version when the table changes).
    masterA.topics = [topicConfig('TopicTest', { writeQueueNums: 16, readQueueNums: 16 }), topicConfig('OnlyA')];
    await masterA.register();
    assert.is((await queuesOfA()).writeQueueNums, 4);

    // A slave never changes queue data, whatever its version.
    slaveA.changeTopics([topicConfig('TopicTest', { writeQueueNums: 1, readQueueNums: 1 })]);
    await slaveA.register();
    assert.is((await queuesOfA()).writeQueueNums, 4);
    assert.is((await ns.call(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'SlaveOnly' })).code, ResponseCode.TOPIC_NOT_EXIST);

    masterA.changeTopics([topicConfig('TopicTest', { writeQueueNums: 16, readQueueNums: 16 }), topicConfig('OnlyA'), topicConfig('NewTopic')]);
    await masterA.register();
    assert.is((await queuesOfA()).writeQueueNums, 16);
    assert.is((await ns.call(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'NewTopic' })).code, ResponseCode.SUCCESS);
  } finally {
    await ns.stop();
  }
});

test('QUERY_DATA_VERSION says changed or unchanged and returns the known DataVersion', async () => {
  const ns = await startNamesrv();
  try {
    const broker = ns.broker({ cluster: 'C', brokerName: 'broker-a', brokerId: 0, brokerAddr: '10.0.0.1:10911', topics: [topicConfig('T')] });
    const before = await broker.queryDataVersion();
    assert.is(before.code, ResponseCode.SUCCESS);
    assert.is(before.extFields.changed, 'true');
    assert.is(before.body, undefined);

    await broker.register();
    const same = await broker.queryDataVersion();
    assert.is(same.extFields.changed, 'false');
    assert.equal(bodyJson(same), { counter: 1, stateVersion: 0, timestamp: 1_700_000_000_000 });

    broker.changeTopics([topicConfig('T'), topicConfig('U')]);
    const changed = await broker.queryDataVersion();
    assert.is(changed.extFields.changed, 'true');
    assert.equal(bodyJson(changed).counter, 1);
  } finally {
    await ns.stop();
  }
});

test('compressed registration with bodyCrc32 is accepted; a wrong crc is refused', async () => {
  const ns = await startNamesrv();
  try {
    const broker = ns.broker({
      cluster: 'C',
      brokerName: 'broker-z',
      brokerId: 0,
      brokerAddr: '10.0.0.9:10911',
      topics: [topicConfig('Zipped', { readQueueNums: 3, writeQueueNums: 5, attributes: { '+message.type': 'NORMAL' } })],
    });
    const bad = await broker.register({ compressed: true, crcOverride: 12345 });
    assert.is(bad.code, ResponseCode.SYSTEM_ERROR);
    assert.match(bad.remark ?? '', /^crc32 not match/);
    assert.is((await ns.call(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'Zipped' })).code, ResponseCode.TOPIC_NOT_EXIST);

    const ok = await broker.register({ compressed: true, withCrc: true });
    assert.is(ok.code, ResponseCode.SUCCESS, ok.remark);
    const route = bodyJson(await ns.call(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'Zipped' }));
    assert.equal(route.queueDatas, [{ brokerName: 'broker-z', perm: 6, readQueueNums: 3, topicSysFlag: 0, writeQueueNums: 5 }]);
    const plainWithCrc = await broker.register({ withCrc: true });
    assert.is(plainWithCrc.code, ResponseCode.SUCCESS, plainWithCrc.remark);
  } finally {
    await ns.stop();
  }
});

test('a broker whose connection closes is dropped at once', async () => {
  const ns = await startNamesrv();
  try {
    const { masterB } = await twoBrokerCluster(ns);
    await masterB.close();
    const waitedMs = await waitFor(async () => {
      const route = bodyJson(await ns.call(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'TopicTest' }));
      return route.brokerDatas.length === 1;
    }, 'broker-b to leave the route', 2000);
    assert.ok(waitedMs < 1000, `took ${waitedMs} ms`);
    const route = bodyJson(await ns.call(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'TopicTest' }));
    assert.equal(route.queueDatas.map((q: { brokerName: string }) => q.brokerName), ['broker-a']);
    const cluster = bodyJson(await ns.call(RequestCode.GET_BROKER_CLUSTER_INFO));
    assert.equal(cluster.clusterAddrTable.DefaultCluster, ['broker-a']);
    assert.is(cluster.brokerAddrTable['broker-b'], undefined);
  } finally {
    await ns.stop();
  }
});

test('the slave stays in the route when only the master leaves; UNREGISTER_BROKER removes at once', async () => {
  const ns = await startNamesrv();
  try {
    const { masterA, slaveA } = await twoBrokerCluster(ns);
    assert.is((await masterA.unregister()).code, ResponseCode.SUCCESS);
    let route = bodyJson(await ns.call(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'OnlyA' }));
    assert.equal(route.brokerDatas[0].brokerAddrs, { 1: '10.0.0.2:10911' });
    assert.is(route.queueDatas.length, 1);
    await slaveA.unregister();
    assert.is((await ns.call(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'OnlyA' })).code, ResponseCode.TOPIC_NOT_EXIST);
    route = bodyJson(await ns.call(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'TopicTest' }));
    assert.equal(route.brokerDatas.map((b: { brokerName: string }) => b.brokerName), ['broker-b']);
  } finally {
    await ns.stop();
  }
});

test('a broker that stops heartbeating is dropped after the expiry; one that keeps on stays', async () => {
  const ns = await startNamesrv({ brokerChannelExpiredTime: 800, scanNotActiveBrokerInterval: 100 });
  try {
    const silent = ns.broker({ cluster: 'C', brokerName: 'silent', brokerId: 0, brokerAddr: '10.0.0.1:10911', topics: [topicConfig('T')] });
    const alive = ns.broker({ cluster: 'C', brokerName: 'alive', brokerId: 0, brokerAddr: '10.0.0.2:10911', topics: [topicConfig('T')] });
    await silent.register();
    await alive.register();
    let silentConnClosed = false;
    (await silent.client.getConnection(ns.addr)).once('close', () => {
      silentConnClosed = true;
    });
    const started = Date.now();
    const beat = setInterval(() => {
      // Alternate full registrations and QUERY_DATA_VERSION: both count as heartbeats.
      void (Math.random() < 0.5 ? alive.register() : alive.queryDataVersion()).catch(() => undefined);
    }, 150);
    try {
      await waitFor(async () => {
        const route = bodyJson(await ns.call(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'T' }));
        return route.brokerDatas.length === 1;
      }, 'the silent broker to expire', 4000);
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 700, `dropped too early, after ${elapsed} ms`);
      const route = bodyJson(await ns.call(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'T' }));
      assert.equal(route.brokerDatas.map((b: { brokerName: string }) => b.brokerName), ['alive']);
      await waitFor(() => silentConnClosed, 'the NameServer to close the expired broker connection', 2000);
      // Still there well past the expiry.
      await new Promise((r) => setTimeout(r, 1000));
      const later = bodyJson(await ns.call(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'T' }));
      assert.equal(later.brokerDatas.map((b: { brokerName: string }) => b.brokerName), ['alive']);
    } finally {
      clearInterval(beat);
    }
  } finally {
    await ns.stop();
  }
});

test('KV config: put, get, delete, and it survives a restart', async () => {
  const kvConfigPath = join(tempDir(), 'nested', 'kvConfig.json');
  const first = await startNamesrv({ kvConfigPath });
  try {
    const put = await first.call(RequestCode.PUT_KV_CONFIG, { namespace: 'ORDER_TOPIC_CONFIG', key: 'OrderTopic', value: 'broker-a:4;broker-b:4' });
    assert.is(put.code, ResponseCode.SUCCESS);
    await first.call(RequestCode.PUT_KV_CONFIG, { namespace: 'ns2', key: 'k1', value: 'v1' });
    await first.call(RequestCode.PUT_KV_CONFIG, { namespace: 'ns2', key: 'k2', value: 'v2' });
    assert.is((await first.call(RequestCode.DELETE_KV_CONFIG, { namespace: 'ns2', key: 'k1' })).code, ResponseCode.SUCCESS);
    const got = await first.call(RequestCode.GET_KV_CONFIG, { namespace: 'ns2', key: 'k2' });
    assert.is(got.code, ResponseCode.SUCCESS);
    assert.is(got.extFields.value, 'v2');
  } finally {
    await first.stop();
  }
  assert.equal(JSON.parse(readFileSync(kvConfigPath, 'utf8')), {
    configTable: { ORDER_TOPIC_CONFIG: { OrderTopic: 'broker-a:4;broker-b:4' }, ns2: { k2: 'v2' } },
  });

  const second = await startNamesrv({ kvConfigPath });
  try {
    const got = await second.call(RequestCode.GET_KV_CONFIG, { namespace: 'ORDER_TOPIC_CONFIG', key: 'OrderTopic' });
    assert.is(got.extFields.value, 'broker-a:4;broker-b:4');
    const deleted = await second.call(RequestCode.GET_KV_CONFIG, { namespace: 'ns2', key: 'k1' });
    assert.is(deleted.code, ResponseCode.QUERY_NOT_FOUND);
    assert.is(deleted.remark, 'No config item, Namespace: ns2 Key: k1');
    const list = await second.call(RequestCode.GET_KVLIST_BY_NAMESPACE, { namespace: 'ns2' });
    assert.is(bodyText(list), '{"table":{"k2":"v2"}}');
    assert.is((await second.call(RequestCode.GET_KVLIST_BY_NAMESPACE, { namespace: 'none' })).code, ResponseCode.QUERY_NOT_FOUND);
    // REGISTER_BROKER answers with the order-topic namespace as a KVTable.
    const b = second.broker({ cluster: 'C', brokerName: 'broker-a', brokerId: 0, brokerAddr: '10.0.0.1:10911', topics: [topicConfig('OrderTopic')] });
    const reg = await b.register();
    assert.is(bodyText(reg), '{"table":{"OrderTopic":"broker-a:4;broker-b:4"}}');
    // orderMessageEnable is off: no orderTopicConf in the route.
    assert.is(bodyJson(await second.call(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'OrderTopic' })).orderTopicConf, undefined);
  } finally {
    await second.stop();
  }

  const third = await startNamesrv({ kvConfigPath, orderMessageEnable: true });
  try {
    const b = third.broker({ cluster: 'C', brokerName: 'broker-a', brokerId: 0, brokerAddr: '10.0.0.1:10911', topics: [topicConfig('OrderTopic')] });
    await b.register();
    const route = await third.call(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'OrderTopic' });
    assert.match(bodyText(route), '"filterServerTable":{},"orderTopicConf":"broker-a:4;broker-b:4","queueDatas"');
  } finally {
    await third.stop();
  }
});

test('malformed requests get a code and a remark that says what was wrong', async () => {
  const ns = await startNamesrv();
  try {
    const reg = (ext: Record<string, ExtFieldValue>, body?: Buffer) =>
      ns.call(
        RequestCode.REGISTER_BROKER,
        { brokerName: 'b', brokerAddr: '10.0.0.1:10911', clusterName: 'C', haServerAddr: '10.0.0.1:10912', brokerId: 0, ...ext },
        body,
      );
    const cases: Array<[string, Promise<RemotingCommand>, number, RegExp]> = [
      ['missing brokerName', reg({ brokerName: undefined }), ResponseCode.SYSTEM_ERROR, /the custom field <brokerName> is null/],
      ['empty clusterName', reg({ clusterName: '' }), ResponseCode.SYSTEM_ERROR, /<clusterName> is empty/],
      ['brokerId not a number', reg({ brokerId: 'abc' }), ResponseCode.SYSTEM_ERROR, /<brokerId> is not a valid long/],
      ['negative brokerId', reg({ brokerId: -1 }), ResponseCode.SYSTEM_ERROR, /<brokerId> must not be negative/],
      ['bodyCrc32 not a number', reg({ bodyCrc32: 'x' }), ResponseCode.SYSTEM_ERROR, /<bodyCrc32> is not a valid integer/],
      ['garbage body', reg({}, Buffer.from('{not json')), ResponseCode.SYSTEM_ERROR, /Failed to decode RegisterBrokerBody: RegisterBrokerBody is not valid JSON/],
      ['body is an array', reg({}, Buffer.from('[1,2]')), ResponseCode.SYSTEM_ERROR, /expected a JSON object, got an array/],
      [
        'readQueueNums of the wrong type',
        reg({}, Buffer.from('{"topicConfigSerializeWrapper":{"topicConfigTable":{"T":{"topicName":"T","readQueueNums":"many"}}}}')),
        ResponseCode.SYSTEM_ERROR,
        /topicConfigTable\.T\.readQueueNums: expected an int, got the string "many"/,
      ],
      [
        'bad dataVersion',
        reg({}, Buffer.from('{"topicConfigSerializeWrapper":{"dataVersion":"yesterday"}}')),
        ResponseCode.SYSTEM_ERROR,
        /dataVersion: expected a DataVersion object/,
      ],
      ['compressed garbage', reg({ compressed: true }, Buffer.from('not zlib')), ResponseCode.SYSTEM_ERROR, /compressed RegisterBrokerBody does not inflate/],
      ['route without topic', ns.call(RequestCode.GET_ROUTEINFO_BY_TOPIC, {}), ResponseCode.SYSTEM_ERROR, /the custom field <topic> is null/],
      ['KV put without value', ns.call(RequestCode.PUT_KV_CONFIG, { namespace: 'n', key: 'k' }), ResponseCode.SYSTEM_ERROR, /<value> is null/],
      [
        'QUERY_DATA_VERSION without body',
        ns.call(RequestCode.QUERY_DATA_VERSION, { clusterName: 'C', brokerAddr: 'a', brokerName: 'b', brokerId: 0 }),
        ResponseCode.SYSTEM_ERROR,
        /needs a DataVersion JSON body/,
      ],
      [
        'QUERY_DATA_VERSION with garbage body',
        ns.call(RequestCode.QUERY_DATA_VERSION, { clusterName: 'C', brokerAddr: 'a', brokerName: 'b', brokerId: 0 }, Buffer.from('{"counter":"lots"}')),
        ResponseCode.SYSTEM_ERROR,
        /Failed to decode DataVersion: DataVersion.counter: expected a long/,
      ],
      ['UNREGISTER_BROKER without brokerId', ns.call(RequestCode.UNREGISTER_BROKER, { clusterName: 'C', brokerAddr: 'a', brokerName: 'b' }), ResponseCode.SYSTEM_ERROR, /<brokerId> is null/],
      ['wipe without brokerName', ns.call(RequestCode.WIPE_WRITE_PERM_OF_BROKER, {}), ResponseCode.SYSTEM_ERROR, /<brokerName> is null/],
      ['unknown request code', ns.call(RequestCode.SEND_MESSAGE_V2, {}), ResponseCode.REQUEST_CODE_NOT_SUPPORTED, /request type 310 not supported/],
    ];
    for (const [what, pending, code, remark] of cases) {
      const res = await pending;
      assert.is(res.code, code, `${what}: code ${res.code} ${res.remark}`);
      assert.match(res.remark ?? '', remark, `${what}: remark ${res.remark}`);
    }
    // Nothing was registered, and the server still answers.
    assert.is(bodyText(await ns.call(RequestCode.GET_BROKER_CLUSTER_INFO)), '{"brokerAddrTable":{},"clusterAddrTable":{}}');
    // A registration with no body at all is fine (Java accepts it): the broker is known, with no topics.
    assert.is((await reg({})).code, ResponseCode.SUCCESS);
    assert.equal(bodyJson(await ns.call(RequestCode.GET_BROKER_CLUSTER_INFO)).clusterAddrTable, { C: ['b'] });
  } finally {
    await ns.stop();
  }
});

test('GET_NAMESRV_CONFIG returns the effective config; needWaitForService holds routes back', async () => {
  const ns = await startNamesrv({ needWaitForService: true, waitSecondsForService: 60 });
  try {
    const config = await ns.call(RequestCode.GET_NAMESRV_CONFIG);
    assert.match(bodyText(config), /^listenPort=0$/m);
    assert.match(bodyText(config), /^needWaitForService=true$/m);
    const route = await ns.call(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'T' });
    assert.is(route.code, ResponseCode.SYSTEM_ERROR);
    assert.is(route.remark, 'name server not ready');
  } finally {
    await ns.stop();
  }
});

test('start fails cleanly on a port in use, and on a corrupt kvConfig file', async () => {
  const ns = await startNamesrv();
  try {
    const port = Number(ns.addr.split(':')[1]);
    const clash = new NamesrvController({ config: { listenPort: port, bindAddress: HOST, kvConfigPath: join(tempDir(), 'kv.json') } });
    await expectRejection(clash.start(), /EADDRINUSE/);
  } finally {
    await ns.stop();
  }
  const dir = tempDir();
  writeFileSync(join(dir, 'kv.json'), '{"configTable":{"ns":{"k":1}}}');
  const corrupt = new NamesrvController({ config: { listenPort: 0, bindAddress: HOST, kvConfigPath: join(dir, 'kv.json') } });
  await expectRejection(corrupt.start(), /configTable\.ns\.k must be a string/);
});

test.run();
