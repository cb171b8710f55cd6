// The lite pull consumer against a scripted NameServer and broker: assign/subscribe, poll, commit,
// seek, auto-commit.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RequestCode } from '@orbit/common/request-code';
import { ResponseCode } from '@orbit/common/response-code';
import { CommandFlag, createResponse, type RemotingCommand } from '@orbit/remoting';
import { MQClientError } from './errors.js';
import { LitePullConsumer, type LitePullConsumerOptions } from './lite-pull-consumer.js';
import { messageQueue } from './message-queue.js';
import { PullSysFlag } from './pull-api.js';
import { buildRoute, pullResponse, recordingLogger, ScriptedBroker, ScriptedNameServer, ScriptedPullQueues, waitFor } from './testing/scripted-peers.js';

const TOPIC = 'TopicTest';
const GROUP = 'lite-group';
let counter = 0;

async function setup(options: Partial<LitePullConsumerOptions> = {}) {
  const ns = await new ScriptedNameServer().listen();
  const broker = await new ScriptedBroker('broker-a').listen();
  ns.routes.set(TOPIC, buildRoute([{ brokerName: 'broker-a', addr: broker.addr, queues: 4 }]));
  const pulls = new ScriptedPullQueues(broker, 100);
  const instanceName = `lite-test-${++counter}`;
  const clientId = `127.0.0.1@${instanceName}`;
  const stored = new Map<string, number>();
  broker.on(RequestCode.GET_CONSUMER_LIST_BY_GROUP, (req) => {
    const res = createResponse(req);
    res.body = Buffer.from(JSON.stringify({ consumerIdList: [clientId] }));
    return res;
  });
  broker.on(RequestCode.QUERY_CONSUMER_OFFSET, (req) => {
    const offset = stored.get(req.extFields.queueId!);
    return offset === undefined ? createResponse(req, ResponseCode.QUERY_NOT_FOUND, 'not found') : createResponse(req, 0, undefined, { offset });
  });
  broker.on(RequestCode.GET_MAX_OFFSET, (req) => createResponse(req, 0, undefined, { offset: 5 }));
  broker.on(RequestCode.GET_MIN_OFFSET, (req) => createResponse(req, 0, undefined, { offset: 0 }));
  const consumer = new LitePullConsumer({
    consumerGroup: GROUP,
    namesrvAddr: ns.addr,
    instanceName,
    clientIP: '127.0.0.1',
    logger: recordingLogger(),
    autoCommit: false,
    rebalanceIntervalMs: 60_000,
    ...options,
  });
  const records = (queueId: number, offsets: number[]) => (req: RemotingCommand) =>
    pullResponse(req, 0, offsets[offsets.length - 1]! + 1, broker.records(offsets.map((queueOffset) => ({ topic: TOPIC, queueId, queueOffset, body: `m${queueOffset}` }))));
  const pullsOf = (queueId: number) => broker.requestsOf(RequestCode.PULL_MESSAGE).filter((r) => r.extFields.queueId === String(queueId));
  return {
    ns,
    broker,
    pulls,
    stored,
    consumer,
    clientId,
    records,
    pullsOf,
    async close() {
      await consumer.shutdown();
      pulls.clear();
      await Promise.all([ns.close(), broker.close()]);
    },
  };
}

const q0 = messageQueue(TOPIC, 'broker-a', 0);
const q1 = messageQueue(TOPIC, 'broker-a', 1);

test('assign, poll and commitSync', async () => {
  const s = await setup();
  try {
    s.stored.set('0', 4);
    s.consumer.assign([q0, q1]);
    await s.consumer.start();
    await waitFor(() => s.pullsOf(0).length > 0 && s.pullsOf(1).length > 0, 5000, 'pulls');
    const first = s.pullsOf(0)[0]!.extFields;
    assert.equal([first.queueOffset, first.maxMsgNums, first.suspendTimeoutMillis, first.subscription], ['4', '10', '20000', '*']);
    assert.is(Number(first.sysFlag), PullSysFlag.SUSPEND | PullSysFlag.SUBSCRIPTION);
    assert.is(s.pullsOf(1)[0]!.extFields.queueOffset, '5'); // none stored: LAST → max offset
    const hb = JSON.parse(s.broker.requestsOf(RequestCode.HEART_BEAT)[0]!.body!.toString());
    assert.is(hb.consumerDataSet[0].consumeType, 'CONSUME_ACTIVELY');
    assert.is(s.broker.requestsOf(RequestCode.GET_CONSUMER_LIST_BY_GROUP).length, 0); // assign mode: no rebalance
    const started = Date.now();
    assert.equal(await s.consumer.poll(150), []);
    assert.ok(Date.now() - started >= 140);
    s.pulls.push(TOPIC, 0, s.records(0, [4, 5]));
    const msgs = await s.consumer.poll(3000);
    assert.equal(msgs.map((m) => [m.queueId, m.queueOffset, m.body.toString()]), [[0, 4, 'm4'], [0, 5, 'm5']]);
    await waitFor(() => s.pullsOf(0).some((r) => r.extFields.queueOffset === '6'), 3000, 'next pull at 6');
    await s.consumer.commitSync();
    const commits = s.broker.requestsOf(RequestCode.UPDATE_CONSUMER_OFFSET);
    assert.equal(commits.map((r) => [r.extFields.queueId, r.extFields.commitOffset, (r.flag & CommandFlag.ONEWAY) !== 0]), [['0', '6', false]]);
    s.stored.set('0', 6);
    assert.is(await s.consumer.committed(q0), 6);
  } finally {
    await s.close();
  }
});

test('seek moves the next pull at once; buffered messages of the old position are dropped', async () => {
  const s = await setup();
  try {
    s.consumer.assign([q0]);
    await s.consumer.start();
    await waitFor(() => s.pullsOf(0).length > 0, 5000, 'pull');
    s.pulls.push(TOPIC, 0, s.records(0, [5]));
    await waitFor(() => s.pullsOf(0).some((r) => r.extFields.queueOffset === '6'), 3000, 'pull at 6 (message buffered)');
    await s.consumer.seek(q0, 2);
    await waitFor(() => s.pullsOf(0).some((r) => r.extFields.queueOffset === '2'), 1000, 'pull at 2 right after seek');
    s.pulls.push(TOPIC, 0, s.records(0, [2]), 2);
    const msgs = await s.consumer.poll(3000);
    assert.equal(msgs.map((m) => m.queueOffset), [2]);
    const bad = await s.consumer.seek(q0, 99).catch((e: unknown) => e);
    assert.instance(bad, MQClientError);
    const notAssigned = await s.consumer.seek(q1, 1).catch((e: unknown) => e);
    assert.instance(notAssigned, MQClientError);
  } finally {
    await s.close();
  }
});

test('subscribe mode rebalances; auto-commit writes polled offsets', async () => {
  const s = await setup({ autoCommit: true, autoCommitIntervalMs: 50, persistConsumerOffsetIntervalMs: 50 });
  try {
    s.consumer.subscribe(TOPIC, '*');
    assert.throws(() => s.consumer.assign([q0]), (e: unknown) => e instanceof MQClientError);
    await s.consumer.start();
    await waitFor(() => [0, 1, 2, 3].every((q) => s.pullsOf(q).length > 0), 5000, 'all queues pulled');
    assert.ok(s.broker.requestsOf(RequestCode.GET_CONSUMER_LIST_BY_GROUP).length > 0);
    assert.is(s.consumer.assignment().length, 4);
    s.pulls.push(TOPIC, 2, s.records(2, [5, 6, 7]));
    assert.equal((await s.consumer.poll(3000)).map((m) => m.queueOffset), [5, 6, 7]);
    await waitFor(() => s.broker.requestsOf(RequestCode.UPDATE_CONSUMER_OFFSET).some((r) => r.extFields.queueId === '2' && r.extFields.commitOffset === '8'), 3000, 'auto-commit');
  } finally {
    await s.close();
  }
});

test.run();
