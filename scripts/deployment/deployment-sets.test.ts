// The conf/ sets say what conf/README.md says, and a broker's effective conf is its file plus the
// local overrides, in the documented order.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEPLOYMENTS, loadDeploymentSet } from './deployment-sets.js';
import { effectiveBrokerConf } from './effective-conf.js';
import { portsOf } from './ports.js';

const ROCKETMQ_SAMPLE_KEYS = { brokerClusterName: 'DefaultCluster', deleteWhen: '04', fileReservedTime: '48', flushDiskType: 'ASYNC_FLUSH' };
const EXPECTED_PORTS: Record<string, number> = { 'broker-a': 10911, 'broker-b': 10921, 'broker-a-s': 11011, 'broker-b-s': 11021 };

test('every set: RocketMQ sample keys, roles, ids and the documented ports', () => {
  for (const deployment of DEPLOYMENTS) {
    const specs = loadDeploymentSet(deployment);
    for (const s of specs) {
      for (const [k, v] of Object.entries(ROCKETMQ_SAMPLE_KEYS)) assert.is(s.properties.get(k), v, `${deployment}/${s.name} ${k}`);
      assert.is(Number(s.properties.get('listenPort')), EXPECTED_PORTS[s.name], `${deployment}/${s.name} listenPort`);
      const masterRole = deployment === '2m-2s-sync' ? 'SYNC_MASTER' : 'ASYNC_MASTER';
      assert.is(s.role, s.name.endsWith('-s') ? 'SLAVE' : masterRole, `${deployment}/${s.name} role`);
      assert.is(s.brokerId, s.role === 'SLAVE' ? 1 : 0);
    }
    const names = specs.map((s) => s.name);
    const expected = { single: ['broker-a'], '2m-noslave': ['broker-a', 'broker-b'], '2m-2s-async': ['broker-a', 'broker-b', 'broker-a-s', 'broker-b-s'], '2m-2s-sync': ['broker-a', 'broker-b', 'broker-a-s', 'broker-b-s'] }[deployment];
    assert.equal(names, expected, `${deployment}: masters first`);
  }
});

test('ports: NameServer, then each listenPort and its HA port, all shifted', () => {
  assert.equal(portsOf(loadDeploymentSet('2m-2s-sync'), 100), [9976, 11011, 11012, 11021, 11022, 11111, 11112, 11121, 11122]);
  assert.throws(() => portsOf(loadDeploymentSet('single'), 60_000), /outside/);
});

test('effective conf: file < local overrides < overrides < brokerName overrides < instance overrides', () => {
  const slave = loadDeploymentSet('2m-2s-async').find((s) => s.name === 'broker-a-s')!;
  const conf = effectiveBrokerConf(slave, {
    dataDir: '/data',
    namesrvAddr: '127.0.0.1:9976',
    portOffset: 100,
    overrides: { flushDiskType: 'SYNC_FLUSH', deleteWhen: '05' },
    brokerOverrides: { 'broker-a': { deleteWhen: '06', fileReservedTime: '1' }, 'broker-a-s': { fileReservedTime: '2' } },
  });
  const p = Object.fromEntries(conf.properties);
  assert.is(p.brokerIP1, '127.0.0.1');
  assert.is(p.namesrvAddr, '127.0.0.1:9976');
  assert.is(p.storePathRootDir, '/data/broker-a-s/store');
  assert.is(p.listenPort, '11111');
  assert.is(p.brokerRole, 'SLAVE');
  assert.is(p.flushDiskType, 'SYNC_FLUSH');
  assert.is(p.deleteWhen, '06');
  assert.is(p.fileReservedTime, '2');
  assert.is(conf.haPort, 11112);
  assert.is(conf.storeDir, '/data/broker-a-s/store');
});

test.run();
