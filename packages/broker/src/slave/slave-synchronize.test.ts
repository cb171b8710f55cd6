// SlaveSynchronize against a stand-in master (a RemotingServer answering the four requests): what it
// applies, and that a master that is away or answers nonsense is recorded, never thrown.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RequestCode, ResponseCode } from '@orbit/common';
import { createResponse, RemotingClient, RemotingServer, type RemotingCommand } from '@orbit/remoting';
import { ConsumerOffsetManager } from '../consumer-offset-manager.js';
import { SubscriptionGroupManager } from '../subscription-group-manager.js';
import { TopicConfigManager } from '../topic-config-manager.js';
import { SlaveSynchronize } from './slave-synchronize.js';

const client = new RemotingClient({ connectTimeoutMs: 1_000, requestTimeoutMs: 2_000 });
let dir: string;

test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'orbit-slave-sync-'));
});
test.after(async () => {
  await client.close();
  rmSync(dir, { recursive: true, force: true });
});

function targets(sub: string) {
  const root = join(dir, sub);
  const topics = new TopicConfigManager(root, { brokerClusterName: 'C', brokerName: 'b', autoCreateTopicEnable: true, defaultTopicQueueNums: 8 });
  const groups = new SubscriptionGroupManager(root, true);
  const offsets = new ConsumerOffsetManager(root);
  const delay: Record<string, unknown>[] = [];
  const schedule = { replaceOffsets: (table: Record<string, unknown>) => void delay.push(table) };
  return { topics, groups, offsets, schedule, delay };
}

async function fakeMaster(answers: Map<number, (req: RemotingCommand) => RemotingCommand>): Promise<{ addr: string; server: RemotingServer }> {
  const server = new RemotingServer({ host: '127.0.0.1', port: 0, idleTimeoutMs: 60_000 });
  for (const [code, answer] of answers) server.registerProcessor(code, (req) => answer(req));
  const { port } = await server.listen();
  return { addr: `127.0.0.1:${port}`, server };
}

const body = (req: RemotingCommand, text: string) => ({ ...createResponse(req, ResponseCode.SUCCESS, undefined, {}), body: Buffer.from(text) });

test('applies what the master answers, in the shapes RocketMQ writes (fastjson bare numeric keys too)', async () => {
  const version = { stateVersion: 0, timestamp: 1_700_000_000_000, counter: 42 };
  const { addr, server } = await fakeMaster(
    new Map([
      [RequestCode.GET_ALL_TOPIC_CONFIG, (req) => body(req, JSON.stringify({ topicConfigTable: { T1: { topicName: 'T1', readQueueNums: 2, writeQueueNums: 2, perm: 6 } }, dataVersion: version }))],
      [RequestCode.GET_ALL_CONSUMER_OFFSET, (req) => body(req, '{"offsetTable":{"T1@g1":{0:5,1:9}}}')],
      [RequestCode.GET_ALL_DELAY_OFFSET, (req) => body(req, '{"offsetTable":{1:3,2:0}}')],
      [RequestCode.GET_ALL_SUBSCRIPTIONGROUP_CONFIG, (req) => body(req, JSON.stringify({ subscriptionGroupTable: { g1: { groupName: 'g1', retryMaxTimes: 3 } }, dataVersion: version }))],
    ]),
  );
  const t = targets('ok');
  t.offsets.commit('g1', 'T1', 0, 1); // overwritten by the master's
  t.offsets.commit('g2', 'T1', 0, 4); // only here: kept
  const sync = new SlaveSynchronize(client, t, { intervalMs: 60_000, warn: () => {} });
  try {
    sync.setMasterAddr(addr);
    const report = await sync.syncAll();
    assert.equal(report?.errors, {});
    assert.ok(report?.topicsReplaced && report.groupsReplaced);
    assert.is(t.topics.get('T1')?.readQueueNums, 2);
    assert.is(t.topics.get('TBW102'), undefined, 'the table is replaced, not merged (the master has its own system topics)');
    assert.equal(t.topics.dataVersion, version);
    assert.is(t.groups.get('g1')?.retryMaxTimes, 3);
    assert.equal([t.offsets.query('g1', 'T1', 0), t.offsets.query('g1', 'T1', 1), t.offsets.query('g2', 'T1', 0)], [5, 9, 4]);
    assert.equal(t.delay, [{ 1: 3, 2: 0 }]);
    assert.ok(sync.lastFullSuccessMs > 0);
    // Same DataVersion next time: nothing replaced.
    const again = await sync.syncAll();
    assert.equal([again?.topicsReplaced, again?.groupsReplaced], [false, false]);
  } finally {
    await sync.stop();
    await server.close();
  }
});

test('a failing part is recorded and the others still run; an unreachable master is recorded, never thrown', async () => {
  const { addr, server } = await fakeMaster(
    new Map([
      [RequestCode.GET_ALL_TOPIC_CONFIG, (req) => body(req, 'not json')],
      [RequestCode.GET_ALL_CONSUMER_OFFSET, (req) => createResponse(req, ResponseCode.SYSTEM_ERROR, 'No consumer offset in this broker', {})],
      [RequestCode.GET_ALL_DELAY_OFFSET, (req) => body(req, '{"offsetTable":{"1":7}}')],
      [RequestCode.GET_ALL_SUBSCRIPTIONGROUP_CONFIG, (req) => body(req, '{"dataVersion":{"timestamp":1,"counter":1}}')],
    ]),
  );
  const t = targets('bad');
  const warnings: string[] = [];
  const sync = new SlaveSynchronize(client, t, { intervalMs: 60_000, requestTimeoutMs: 1_000, warn: (w) => warnings.push(w) });
  try {
    sync.setMasterAddr(addr);
    const report = (await sync.syncAll())!;
    assert.equal(Object.keys(report.errors).sort(), ['consumerOffset', 'subscriptionGroupConfig', 'topicConfig']);
    assert.match(report.errors.consumerOffset!, /code 1: No consumer offset/);
    assert.equal(t.delay, [{ 1: 7 }], 'the part that worked was applied');
    assert.is(warnings.length, 1, 'one line per run');
    await sync.syncAll();
    assert.is(warnings.length, 1, 'the same failures are not reported again');
  } finally {
    await server.close();
  }
  const started = Date.now();
  const gone = (await sync.syncAll())!;
  assert.match(gone.errors.topicConfig!, /^no answer/);
  assert.match(gone.errors.subscriptionGroupConfig!, /^skipped, no answer/);
  assert.ok(Date.now() - started < 3_000, 'the other parts are skipped, not each timed out');
  sync.setMasterAddr(undefined);
  assert.is(await sync.syncAll(), undefined, 'no master known: nothing to do');
  await sync.stop();
});

test.run();
