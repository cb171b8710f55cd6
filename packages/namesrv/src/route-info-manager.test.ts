// RouteInfoManager alone: no sockets, a hand-driven clock, channels as plain tokens.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { topicConfig } from './fake-broker.test-support.js';
import type { TopicConfigSerializeWrapper } from './register-broker-body.js';
import { topicRouteDataJson, type DataVersion, type TopicConfig } from './route-data.js';
import { RouteInfoManager, type RegisterBrokerRequest } from './route-info-manager.js';

type Channel = { name: string };

/** The route as a client parses it (plain objects). */
function routeJson(route: Parameters<typeof topicRouteDataJson>[0]): any {
  return JSON.parse(JSON.stringify(topicRouteDataJson(route)));
}

function wrapper(topics: TopicConfig[], dataVersion: DataVersion = { stateVersion: 0, timestamp: 1, counter: 1 }): TopicConfigSerializeWrapper {
  return { topicConfigTable: new Map(topics.map((t) => [t.topicName, t])), dataVersion, topicQueueMappingInfoMap: new Map() };
}

function setup(options: { expiredMs?: number; supportActingMaster?: boolean; deleteTopicWithBrokerRegistration?: boolean } = {}) {
  let now = 1_000_000;
  const routes = new RouteInfoManager<Channel>({
    brokerChannelExpiredTimeMs: options.expiredMs ?? 120_000,
    supportActingMaster: options.supportActingMaster,
    deleteTopicWithBrokerRegistration: options.deleteTopicWithBrokerRegistration,
    clock: () => now,
  });
  const register = (req: Partial<RegisterBrokerRequest<Channel>> & { brokerName: string; brokerId: number; brokerAddr: string }) =>
    routes.registerBroker({
      clusterName: 'C',
      haServerAddr: req.brokerAddr.replace('10911', '10912'),
      topicConfigWrapper: wrapper([]),
      filterServerList: [],
      enableActingMaster: false,
      ...req,
    });
  return {
    routes,
    register,
    advance: (ms: number) => {
      now += ms;
    },
    now: () => now,
  };
}

test('register and pick up a route', () => {
  const { routes, register } = setup();
  register({ brokerName: 'a', brokerId: 0, brokerAddr: 'A0:10911', topicConfigWrapper: wrapper([topicConfig('T')]) });
  const route = routes.pickupTopicRouteData('T')!;
  assert.equal(routeJson(route), {
    brokerDatas: [{ brokerAddrs: { 0: 'A0:10911' }, brokerName: 'a', cluster: 'C', enableActingMaster: false }],
    filterServerTable: {},
    queueDatas: [{ brokerName: 'a', perm: 6, readQueueNums: 4, topicSysFlag: 0, writeQueueNums: 4 }],
  });
  assert.is(routes.pickupTopicRouteData('nope'), undefined);
  // The returned route is a copy.
  route.queueDatas[0]!.perm = 0;
  route.brokerDatas[0]!.brokerAddrs.clear();
  assert.is(routes.pickupTopicRouteData('T')!.queueDatas[0]!.perm, 6);
  assert.is(routes.pickupTopicRouteData('T')!.brokerDatas[0]!.brokerAddrs.size, 1);
});

test('the first registration of a slave-only group creates no queue data', () => {
  const { routes, register } = setup();
  const result = register({ brokerName: 'a', brokerId: 1, brokerAddr: 'A1:10911', topicConfigWrapper: wrapper([topicConfig('T')]) });
  assert.equal(result, {});
  assert.is(routes.pickupTopicRouteData('T'), undefined);
  assert.equal(routes.getClusterInfo().clusterAddrTable.get('C'), ['a']);
});

test('a slave gets the master address and HA address', () => {
  const { routes, register } = setup();
  register({ brokerName: 'a', brokerId: 0, brokerAddr: 'A0:10911', haServerAddr: 'A0:10912' });
  assert.equal(register({ brokerName: 'a', brokerId: 2, brokerAddr: 'A2:10911' }), { haServerAddr: 'A0:10912', masterAddr: 'A0:10911' });
  assert.equal([...routes.getClusterInfo().brokerAddrTable.get('a')!.brokerAddrs], [
    [0, 'A0:10911'],
    [2, 'A2:10911'],
  ]);
});

test('a slave promoted to master under the same address keeps one entry', () => {
  const { routes, register } = setup();
  register({ brokerName: 'a', brokerId: 0, brokerAddr: 'A0:10911', topicConfigWrapper: wrapper([topicConfig('T')]) });
  register({ brokerName: 'a', brokerId: 1, brokerAddr: 'A1:10911' });
  routes.unregisterBroker({ clusterName: 'C', brokerName: 'a', brokerAddr: 'A0:10911', brokerId: 0 });
  register({ brokerName: 'a', brokerId: 0, brokerAddr: 'A1:10911', topicConfigWrapper: wrapper([topicConfig('T', { writeQueueNums: 2 })]) });
  const addrs = routes.getClusterInfo().brokerAddrTable.get('a')!.brokerAddrs;
  assert.equal([...addrs], [[0, 'A1:10911']]);
  assert.is(routes.pickupTopicRouteData('T')!.queueDatas[0]!.writeQueueNums, 2);
});

test('a registration with an older stateVersion than the live holder of its id is refused', () => {
  const { routes, register } = setup();
  register({ brokerName: 'a', brokerId: 0, brokerAddr: 'A0:10911', topicConfigWrapper: wrapper([topicConfig('T')], { stateVersion: 5, timestamp: 1, counter: 1 }) });
  const result = register({
    brokerName: 'a',
    brokerId: 0,
    brokerAddr: 'B0:10911',
    topicConfigWrapper: wrapper([topicConfig('T', { writeQueueNums: 1 })], { stateVersion: 4, timestamp: 1, counter: 1 }),
  });
  assert.equal(result, {});
  assert.equal([...routes.getClusterInfo().brokerAddrTable.get('a')!.brokerAddrs], [[0, 'A0:10911']]);
  assert.is(routes.pickupTopicRouteData('T')!.queueDatas[0]!.writeQueueNums, 4);
  assert.equal(routes.liveBrokers().map((b) => b.brokerAddr), ['A0:10911']);
});

test('queue data updates only when the DataVersion changes, or for topics it lacks', () => {
  const { routes, register } = setup();
  const v1 = { stateVersion: 0, timestamp: 10, counter: 1 };
  register({ brokerName: 'a', brokerId: 0, brokerAddr: 'A0:10911', topicConfigWrapper: wrapper([topicConfig('T')], v1) });
  register({ brokerName: 'a', brokerId: 0, brokerAddr: 'A0:10911', topicConfigWrapper: wrapper([topicConfig('T', { perm: 4 })], v1) });
  assert.is(routes.pickupTopicRouteData('T')!.queueDatas[0]!.perm, 6);
  // Deleted from the NameServer only: the next registration brings it back even with the same version.
  routes.deleteTopic('T');
  register({ brokerName: 'a', brokerId: 0, brokerAddr: 'A0:10911', topicConfigWrapper: wrapper([topicConfig('T', { perm: 4 })], v1) });
  assert.is(routes.pickupTopicRouteData('T')!.queueDatas[0]!.perm, 4);
  register({ brokerName: 'a', brokerId: 0, brokerAddr: 'A0:10911', topicConfigWrapper: wrapper([topicConfig('T', { perm: 2 })], { ...v1, counter: 2 }) });
  assert.is(routes.pickupTopicRouteData('T')!.queueDatas[0]!.perm, 2);
  assert.ok(!routes.isBrokerTopicConfigChanged('C', 'A0:10911', { ...v1, counter: 2 }));
  assert.ok(routes.isBrokerTopicConfigChanged('C', 'A0:10911', { ...v1, counter: 3 }));
  assert.ok(routes.isBrokerTopicConfigChanged('C', 'nobody', v1));
});

test('deleteTopicWithBrokerRegistration drops topics the master no longer lists', () => {
  const { routes, register } = setup({ deleteTopicWithBrokerRegistration: true });
  register({ brokerName: 'a', brokerId: 0, brokerAddr: 'A0:10911', topicConfigWrapper: wrapper([topicConfig('T'), topicConfig('U')]) });
  register({ brokerName: 'b', brokerId: 0, brokerAddr: 'B0:10911', topicConfigWrapper: wrapper([topicConfig('U')]) });
  register({ brokerName: 'a', brokerId: 0, brokerAddr: 'A0:10911', topicConfigWrapper: wrapper([topicConfig('T')], { stateVersion: 0, timestamp: 1, counter: 2 }) });
  assert.equal(routes.getAllTopicList().sort(), ['T', 'U']);
  assert.equal(routes.pickupTopicRouteData('U')!.queueDatas.map((q) => q.brokerName), ['b']);
});

test('expiry: silent brokers go after their timeout, heartbeats keep them, headers override the timeout', () => {
  const { routes, register, advance } = setup({ expiredMs: 1000 });
  const chA = { name: 'a' };
  register({ brokerName: 'a', brokerId: 0, brokerAddr: 'A0:10911', channel: chA, topicConfigWrapper: wrapper([topicConfig('T')]) });
  register({ brokerName: 'b', brokerId: 0, brokerAddr: 'B0:10911', topicConfigWrapper: wrapper([topicConfig('T')]) });
  register({ brokerName: 'c', brokerId: 0, brokerAddr: 'C0:10911', heartbeatTimeoutMillis: 5000, topicConfigWrapper: wrapper([topicConfig('T')]) });
  advance(600);
  assert.ok(routes.updateBrokerInfoUpdateTimestamp('C', 'B0:10911'));
  advance(600);
  const expired = routes.scanNotActiveBroker();
  assert.equal(expired.map((e) => [e.brokerAddr, e.channel]), [['A0:10911', chA]]);
  assert.equal(routes.pickupTopicRouteData('T')!.brokerDatas.map((b) => b.brokerName), ['b', 'c']);
  // Exactly at the timeout is not yet past it.
  advance(400);
  assert.equal(routes.scanNotActiveBroker(), []);
  advance(1);
  assert.equal(routes.scanNotActiveBroker().map((e) => e.brokerAddr), ['B0:10911']);
  advance(10_000);
  assert.equal(routes.scanNotActiveBroker().map((e) => e.brokerAddr), ['C0:10911']);
  assert.is(routes.pickupTopicRouteData('T'), undefined);
  assert.equal(routes.getClusterInfo().clusterAddrTable.size, 0);
  assert.equal(routes.getAllTopicList(), []);
});

test('a closed channel unregisters every broker registered over it, and only those', () => {
  const { routes, register } = setup();
  const ch1 = { name: '1' };
  const ch2 = { name: '2' };
  register({ brokerName: 'a', brokerId: 0, brokerAddr: 'A0:10911', channel: ch1, topicConfigWrapper: wrapper([topicConfig('T')]) });
  register({ brokerName: 'a', brokerId: 1, brokerAddr: 'A1:10911', channel: ch1 });
  register({ brokerName: 'b', brokerId: 0, brokerAddr: 'B0:10911', channel: ch2, topicConfigWrapper: wrapper([topicConfig('T')]) });
  // b re-registers over a new connection: closing the old one must not drop it.
  const ch3 = { name: '3' };
  register({ brokerName: 'b', brokerId: 0, brokerAddr: 'B0:10911', channel: ch3, topicConfigWrapper: wrapper([topicConfig('T')]) });
  assert.equal(routes.onChannelClosed(ch2), []);
  assert.equal(routes.onChannelClosed(ch1).map((b) => b.brokerAddr).sort(), ['A0:10911', 'A1:10911']);
  assert.equal(routeJson(routes.pickupTopicRouteData('T')!).brokerDatas, [
    { brokerAddrs: { 0: 'B0:10911' }, brokerName: 'b', cluster: 'C', enableActingMaster: false },
  ]);
  assert.equal(routes.onChannelClosed({ name: 'unknown' }), []);
});

test('topics by cluster, delete by cluster, wipe and add write perm', () => {
  const { routes, register } = setup();
  register({ brokerName: 'a', brokerId: 0, brokerAddr: 'A0:10911', topicConfigWrapper: wrapper([topicConfig('T'), topicConfig('X', { perm: 7 })]) });
  register({ clusterName: 'D', brokerName: 'd', brokerId: 0, brokerAddr: 'D0:10911', topicConfigWrapper: wrapper([topicConfig('T'), topicConfig('Y')]) });
  assert.equal(routes.getTopicsByCluster('C').sort(), ['T', 'X']);
  assert.equal(routes.getTopicsByCluster('D').sort(), ['T', 'Y']);
  assert.equal(routes.getTopicsByCluster('nope'), []);

  assert.is(routes.wipeWritePermOfBroker('a'), 2);
  assert.is(routes.pickupTopicRouteData('X')!.queueDatas[0]!.perm, 5);
  assert.is(routes.addWritePermOfBroker('a'), 2);
  // RocketMQ sets READ|WRITE, dropping other bits.
  assert.is(routes.pickupTopicRouteData('X')!.queueDatas[0]!.perm, 6);

  assert.ok(routes.deleteTopic('T', 'D'));
  assert.equal(routes.pickupTopicRouteData('T')!.queueDatas.map((q) => q.brokerName), ['a']);
  assert.ok(!routes.deleteTopic('T', 'nope'));
  assert.ok(routes.deleteTopic('T'));
  assert.is(routes.pickupTopicRouteData('T'), undefined);
});

test('slave acting master: the prime slave keeps queues read-only and routes show it as id 0', () => {
  const { routes, register } = setup({ supportActingMaster: true });
  register({ brokerName: 'a', brokerId: 0, brokerAddr: 'A0:10911', enableActingMaster: true, topicConfigWrapper: wrapper([topicConfig('T')]) });
  register({ brokerName: 'a', brokerId: 1, brokerAddr: 'A1:10911', enableActingMaster: true, topicConfigWrapper: wrapper([topicConfig('T')]) });
  routes.unregisterBroker({ clusterName: 'C', brokerName: 'a', brokerAddr: 'A0:10911', brokerId: 0 });
  let route = routeJson(routes.pickupTopicRouteData('T')!);
  assert.is(route.queueDatas[0].perm, 4);
  assert.equal(route.brokerDatas[0].brokerAddrs, { 0: 'A1:10911' });
  assert.is(route.brokerDatas[0].enableActingMaster, true);
  // The slave's own changed registration keeps the queues read-only.
  register({ brokerName: 'a', brokerId: 1, brokerAddr: 'A1:10911', enableActingMaster: true, topicConfigWrapper: wrapper([topicConfig('T')], { stateVersion: 0, timestamp: 1, counter: 9 }) });
  route = routeJson(routes.pickupTopicRouteData('T')!);
  assert.is(route.queueDatas[0].perm, 4);
  // The internal table still says id 1.
  assert.equal([...routes.getClusterInfo().brokerAddrTable.get('a')!.brokerAddrs], [[1, 'A1:10911']]);
});

test('names that are JavaScript object keys are just names', () => {
  const { routes, register } = setup();
  register({ clusterName: '__proto__', brokerName: 'constructor', brokerId: 0, brokerAddr: 'A0:10911', topicConfigWrapper: wrapper([topicConfig('__proto__'), topicConfig('toString')]) });
  assert.equal(routes.getAllTopicList().sort(), ['__proto__', 'toString']);
  const json = routeJson(routes.pickupTopicRouteData('__proto__')!);
  assert.is(json.brokerDatas[0].cluster, '__proto__');
  assert.equal(routes.getTopicsByCluster('__proto__').sort(), ['__proto__', 'toString']);
});

test.run();
