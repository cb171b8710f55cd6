// The push consumer against a scripted NameServer and broker: what it sends (heartbeat, consumer
// list, offsets, long-polling pulls, send-back, unregister) and how it reacts to each answer.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RequestCode } from '@orbit/common/request-code';
import { ResponseCode } from '@orbit/common/response-code';
import { CommandFlag, createResponse, type RemotingCommand } from '@orbit/remoting';
import type { MessageExt } from './message.js';
import { parseOffsetFile } from './offset-store.js';
import { PullSysFlag } from './pull-api.js';
import { PushConsumer, type PushConsumerOptions } from './push-consumer.js';
import type { ConsumeConcurrentlyStatus } from './consume-message-concurrently.js';
import { buildRoute, pullResponse, recordingLogger, ScriptedBroker, ScriptedNameServer, ScriptedPullQueues, waitFor } from './testing/scripted-peers.js';

const TOPIC = 'TopicTest';
const GROUP = 'cg';
const RETRY = '%RETRY%cg';
let counter = 0;

interface Setup {
  ns: ScriptedNameServer;
  broker: ScriptedBroker;
  pulls: ScriptedPullQueues;
  consumerIds: string[];
  storedOffsets: Map<string, number>;
  received: MessageExt[];
  consumer: PushConsumer;
  instanceName: string;
  clientId: string;
  close(): Promise<void>;
}

async function setup(options: Partial<PushConsumerOptions> = {}, listener?: (msgs: MessageExt[]) => ConsumeConcurrentlyStatus | Promise<ConsumeConcurrentlyStatus>, subExpression = '*'): Promise<Setup> {
  const ns = await new ScriptedNameServer().listen();
  const broker = await new ScriptedBroker('broker-a').listen();
  ns.routes.set(TOPIC, buildRoute([{ brokerName: 'broker-a', addr: broker.addr, queues: 4 }]));
  ns.routes.set(RETRY, buildRoute([{ brokerName: 'broker-a', addr: broker.addr, queues: 1 }]));
  const pulls = new ScriptedPullQueues(broker, 100);
  const instanceName = `push-test-${++counter}`;
  const clientId = `127.0.0.1@${instanceName}`;
  const consumerIds = [clientId];
  const storedOffsets = new Map<string, number>();
  broker.on(RequestCode.GET_CONSUMER_LIST_BY_GROUP, (req) => {
    const res = createResponse(req);
    res.body = Buffer.from(JSON.stringify({ consumerIdList: consumerIds }));
    return res;
  });
  broker.on(RequestCode.QUERY_CONSUMER_OFFSET, (req) => {
    const stored = storedOffsets.get(`${req.extFields.topic}@${req.extFields.queueId}`);
    if (stored === undefined) return createResponse(req, ResponseCode.QUERY_NOT_FOUND, 'Not found, maybe this group consumer boot first');
    return createResponse(req, 0, undefined, { offset: stored });
  });
  broker.on(RequestCode.GET_MAX_OFFSET, (req) => createResponse(req, 0, undefined, { offset: 5 }));
  broker.on(RequestCode.GET_MIN_OFFSET, (req) => createResponse(req, 0, undefined, { offset: 0 }));
  broker.on(RequestCode.SEARCH_OFFSET_BY_TIMESTAMP, (req) => createResponse(req, 0, undefined, { offset: 3 }));
  const received: MessageExt[] = [];
  const consumer = new PushConsumer({
    consumerGroup: GROUP,
    namesrvAddr: ns.addr,
    instanceName,
    clientIP: '127.0.0.1',
    logger: recordingLogger(),
    rebalanceIntervalMs: 60_000,
    persistConsumerOffsetIntervalMs: 100,
    pullTimeDelayMsWhenException: 300,
    localRetryDelayMs: 300,
    awaitTerminationMsWhenShutdown: 1000,
    ...options,
  });
  consumer.subscribe(TOPIC, subExpression);
  consumer.registerMessageListener(async (msgs) => {
    received.push(...msgs);
    return listener ? listener(msgs) : 'CONSUME_SUCCESS';
  });
  return {
    ns,
    broker,
    pulls,
    consumerIds,
    storedOffsets,
    received,
    consumer,
    instanceName,
    clientId,
    async close() {
      await consumer.shutdown();
      pulls.clear();
      await Promise.all([ns.close(), broker.close()]);
    },
  };
}

const pullsOf = (s: Setup, topic: string, queueId: number) =>
  s.broker.timedRequestsOf(RequestCode.PULL_MESSAGE).filter((t) => t.request.extFields.topic === topic && t.request.extFields.queueId === String(queueId));

function found(s: Setup, queueId: number, offsets: number[], tags: (string | undefined)[] = [], next = offsets[offsets.length - 1]! + 1, topic = TOPIC, properties: Record<string, string> = {}) {
  return (req: RemotingCommand) =>
    pullResponse(
      req,
      ResponseCode.SUCCESS,
      next,
      s.broker.records(offsets.map((queueOffset, i) => ({ topic, queueId, queueOffset, body: `body-${queueOffset}`, properties: { ...(tags[i] ? { TAGS: tags[i]! } : {}), UNIQ_KEY: `ID${queueOffset}`.padEnd(32, '0'), ...properties } }))),
      { maxOffset: next },
    );
}

test('clustering start: heartbeat, consumer list, offsets from consumeFromWhere, long-polling pulls', async () => {
  const s = await setup({}, undefined, 'TagA || TagB');
  try {
    await s.consumer.start();
    await waitFor(() => [0, 1, 2, 3].every((q) => pullsOf(s, TOPIC, q).length > 0) && pullsOf(s, RETRY, 0).length > 0, 5000, 'first pulls');
    const hb = JSON.parse(s.broker.requestsOf(RequestCode.HEART_BEAT)[0]!.body!.toString());
    assert.is(hb.clientID, s.clientId);
    const cd = hb.consumerDataSet[0];
    assert.equal([cd.groupName, cd.consumeType, cd.messageModel, cd.consumeFromWhere, cd.unitMode], [GROUP, 'CONSUME_PASSIVELY', 'CLUSTERING', 'CONSUME_FROM_LAST_OFFSET', false]);
    const subs = Object.fromEntries(cd.subscriptionDataSet.map((x: { topic: string; subString: string; tagsSet: string[] }) => [x.topic, [x.subString, x.tagsSet]]));
    assert.equal(subs, { [TOPIC]: ['TagA || TagB', ['TagA', 'TagB']], [RETRY]: ['*', []] });
    assert.equal(hb.producerDataSet, [{ groupName: 'CLIENT_INNER_PRODUCER' }]);
    assert.is(s.broker.requestsOf(RequestCode.GET_CONSUMER_LIST_BY_GROUP)[0]!.extFields.consumerGroup, GROUP);
    // LAST_OFFSET with no stored offset: GET_MAX_OFFSET for the topic's queues, 0 for the retry queue.
    assert.is(s.broker.requestsOf(RequestCode.QUERY_CONSUMER_OFFSET).length, 5);
    assert.equal(s.broker.requestsOf(RequestCode.GET_MAX_OFFSET).map((r) => r.extFields.topic), [TOPIC, TOPIC, TOPIC, TOPIC]);
    const first = pullsOf(s, TOPIC, 0)[0]!.request.extFields;
    assert.is(first.queueOffset, '5');
    assert.is(first.consumerGroup, GROUP);
    assert.is(first.maxMsgNums, '32');
    assert.is(first.suspendTimeoutMillis, '15000');
    assert.is(first.subscription, 'TagA || TagB');
    assert.is(first.expressionType, 'TAG');
    const sysFlag = Number(first.sysFlag);
    assert.ok((sysFlag & PullSysFlag.SUSPEND) !== 0, 'SUSPEND');
    assert.ok((sysFlag & PullSysFlag.SUBSCRIPTION) !== 0, 'SUBSCRIPTION');
    assert.ok((sysFlag & PullSysFlag.COMMIT_OFFSET) === 0, 'nothing to commit yet');
    assert.is(pullsOf(s, RETRY, 0)[0]!.request.extFields.queueOffset, '0');
  } finally {
    await s.close();
  }
});

test('FOUND: listener gets the messages (tags re-checked), offsets advance, commit every interval, piggyback, and at shutdown', async () => {
  const s = await setup({}, undefined, 'TagA');
  try {
    await s.consumer.start();
    await waitFor(() => pullsOf(s, TOPIC, 0).length > 0, 5000, 'first pull');
    s.pulls.push(TOPIC, 0, found(s, 0, [5, 6, 7], ['TagA', 'TagA', 'TagC']));
    await waitFor(() => s.received.length === 2, 5000, 'two messages');
    assert.equal(s.received.map((m) => [m.queueOffset, m.body.toString(), m.tags, m.msgId.slice(0, 3)]).sort(), [[5, 'body-5', 'TagA', 'ID5'], [6, 'body-6', 'TagA', 'ID6']]);
    // The next pull starts at nextBeginOffset and carries the consumed offset.
    await waitFor(() => pullsOf(s, TOPIC, 0).some((t) => t.request.extFields.queueOffset === '8'), 3000, 'pull at 8');
    await waitFor(() => s.broker.requestsOf(RequestCode.UPDATE_CONSUMER_OFFSET).some((r) => r.extFields.topic === TOPIC && r.extFields.queueId === '0' && Number(r.extFields.commitOffset) >= 7), 3000, 'offset commit');
    const periodic = s.broker.requestsOf(RequestCode.UPDATE_CONSUMER_OFFSET)[0]!;
    assert.ok((periodic.flag & CommandFlag.ONEWAY) !== 0, 'periodic commits are oneway');
    assert.ok(s.broker.requestsOf(RequestCode.UPDATE_CONSUMER_OFFSET).every((r) => Number(r.extFields.commitOffset) >= 0));
    await waitFor(() => pullsOf(s, TOPIC, 0).some((t) => (Number(t.request.extFields.sysFlag) & PullSysFlag.COMMIT_OFFSET) !== 0 && Number(t.request.extFields.commitOffset) >= 7), 3000, 'piggybacked commit');
    const before = s.broker.requestsOf(RequestCode.UPDATE_CONSUMER_OFFSET).length;
    await s.consumer.shutdown();
    const atShutdown = s.broker.requestsOf(RequestCode.UPDATE_CONSUMER_OFFSET).slice(before);
    assert.ok(atShutdown.some((r) => r.extFields.queueId === '0' && (r.flag & CommandFlag.ONEWAY) === 0), 'a synchronous commit at shutdown');
    const un = s.broker.requestsOf(RequestCode.UNREGISTER_CLIENT);
    assert.is(un.length, 1);
    assert.equal([un[0]!.extFields.clientID, un[0]!.extFields.consumerGroup], [s.clientId, GROUP]);
  } finally {
    await s.close();
  }
});

test('pull statuses: NO_NEW_MSG and NO_MATCHED_MSG re-pull at once, OFFSET_ILLEGAL corrects and commits, errors wait', async () => {
  const s = await setup({ pullTimeDelayMsWhenException: 1000 });
  try {
    await s.consumer.start();
    await waitFor(() => pullsOf(s, TOPIC, 1).length > 0, 5000, 'first pull');
    const at = (offset: string) => pullsOf(s, TOPIC, 1).find((t) => t.request.extFields.queueOffset === offset);
    const pushedAt = Date.now();
    s.pulls.push(TOPIC, 1, (req) => pullResponse(req, ResponseCode.PULL_NOT_FOUND, 9));
    await waitFor(() => at('9') !== undefined, 3000, 'pull at 9');
    assert.ok(at('9')!.atMs - pushedAt < 500, 'NO_NEW_MSG: re-pulled at once, not after the 1 s error delay');
    s.pulls.push(TOPIC, 1, (req) => pullResponse(req, ResponseCode.PULL_RETRY_IMMEDIATELY, 12));
    await waitFor(() => at('12') !== undefined, 3000, 'pull at 12');
    s.pulls.push(TOPIC, 1, (req) => pullResponse(req, ResponseCode.PULL_OFFSET_MOVED, 2));
    await waitFor(() => at('2') !== undefined, 3000, 'pull at corrected offset 2');
    assert.ok(s.broker.requestsOf(RequestCode.UPDATE_CONSUMER_OFFSET).some((r) => r.extFields.queueId === '1' && r.extFields.commitOffset === '2' && (r.flag & CommandFlag.ONEWAY) === 0), 'corrected offset persisted');
    // An error code: wait pullTimeDelayMsWhenException (1 s), then the same offset again.
    s.pulls.push(TOPIC, 1, (req) => createResponse(req, ResponseCode.SUBSCRIPTION_NOT_LATEST, 'the consumer subscription not latest'));
    const countBefore = pullsOf(s, TOPIC, 1).length;
    // The failed pull and the one after it: same offset, at least the delay apart.
    const delayedRetry = () => {
      const tail = pullsOf(s, TOPIC, 1).slice(countBefore - 1);
      return tail.slice(1).some((t, i) => t.atMs - tail[i]!.atMs >= 950 && t.request.extFields.queueOffset === tail[i]!.request.extFields.queueOffset);
    };
    await waitFor(delayedRetry, 3000, 'a pull 1 s after the error, at the same offset');
  } finally {
    await s.close();
  }
});

test('a suggested slave gets the next pull, without the commit flag', async () => {
  const s = await setup();
  const slave = await new ScriptedBroker('broker-a').listen();
  const slavePulls = new ScriptedPullQueues(slave, 100);
  try {
    s.ns.routes.set(TOPIC, buildRoute([{ brokerName: 'broker-a', addr: s.broker.addr, queues: 4, slaveAddr: slave.addr }]));
    s.storedOffsets.set(`${TOPIC}@2`, 40);
    await s.consumer.start();
    await waitFor(() => pullsOf(s, TOPIC, 2).length > 0, 5000, 'first pull');
    s.pulls.push(TOPIC, 2, (req) => pullResponse(req, ResponseCode.PULL_NOT_FOUND, 40, undefined, { suggestWhichBrokerId: 1 }));
    await waitFor(() => slave.requestsOf(RequestCode.PULL_MESSAGE).some((r) => r.extFields.queueId === '2'), 3000, 'pull from the slave');
    const r = slave.requestsOf(RequestCode.PULL_MESSAGE).find((x) => x.extFields.queueId === '2')!;
    assert.is(Number(r.extFields.sysFlag) & PullSysFlag.COMMIT_OFFSET, 0);
    assert.is(r.extFields.queueOffset, '40');
    // Consumers heartbeat to slaves too (they may pull from them).
    assert.ok(slave.requestsOf(RequestCode.HEART_BEAT).length > 0);
  } finally {
    await s.close();
    slavePulls.clear();
    await slave.close();
  }
});

test('RECONSUME_LATER: CONSUMER_SEND_MSG_BACK; when it fails, a local retry after localRetryDelayMs holds the offset', async () => {
  let calls = 0;
  const s = await setup({}, () => (++calls === 1 ? 'RECONSUME_LATER' : 'CONSUME_SUCCESS'));
  try {
    await s.consumer.start();
    await waitFor(() => pullsOf(s, TOPIC, 0).length > 0, 5000, 'first pull');
    s.pulls.push(TOPIC, 0, found(s, 0, [5]));
    await waitFor(() => s.broker.requestsOf(RequestCode.CONSUMER_SEND_MSG_BACK).length === 1, 3000, 'send back');
    const back = s.broker.requestsOf(RequestCode.CONSUMER_SEND_MSG_BACK)[0]!.extFields;
    assert.equal(
      [back.offset, back.group, back.delayLevel, back.originMsgId, back.originTopic, back.maxReconsumeTimes, back.unitMode],
      [String(5000 + 5 * 200), GROUP, '0', 'ID5'.padEnd(32, '0'), TOPIC, '16', 'false'],
    );
    await waitFor(() => s.broker.requestsOf(RequestCode.UPDATE_CONSUMER_OFFSET).some((r) => r.extFields.queueId === '0' && r.extFields.commitOffset === '6'), 3000, 'offset 6 after send-back');
    assert.is(s.received.length, 1, 'not consumed again locally');

    // Now the broker refuses the send-back: the message stays, offset 6 is held, and it comes back in ~300 ms.
    calls = 0;
    s.broker.on(RequestCode.CONSUMER_SEND_MSG_BACK, (req) => createResponse(req, ResponseCode.SYSTEM_ERROR, 'no'));
    s.pulls.push(TOPIC, 0, found(s, 0, [6]));
    await waitFor(() => s.received.length === 3, 3000, 'local retry');
    const [firstTry, retry] = s.received.slice(1);
    assert.is(firstTry!.queueOffset, 6);
    assert.is(retry!.queueOffset, 6);
    assert.is(retry!.reconsumeTimes, 1);
    await waitFor(() => s.broker.requestsOf(RequestCode.UPDATE_CONSUMER_OFFSET).some((r) => r.extFields.queueId === '0' && r.extFields.commitOffset === '7'), 3000, 'offset 7 after the local retry');
  } finally {
    await s.close();
  }
});

test('NOTIFY_CONSUMER_IDS_CHANGED triggers an immediate rebalance (averagely over the new member list)', async () => {
  const s = await setup({ rebalanceIntervalMs: 60_000 });
  try {
    await s.consumer.start();
    await waitFor(() => s.consumer.ownedQueues().filter((q) => q.topic === TOPIC).length === 4, 5000, 'all four queues');
    const listCalls = s.broker.requestsOf(RequestCode.GET_CONSUMER_LIST_BY_GROUP).length;
    s.consumerIds.push('127.0.0.1@zzz-other');
    const notified = Date.now();
    assert.is(await s.broker.notifyClients(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED, { consumerGroup: GROUP }), 1);
    await waitFor(() => s.consumer.ownedQueues().filter((q) => q.topic === TOPIC).length === 2, 5000, 'half the queues');
    assert.ok(Date.now() - notified < 5000);
    assert.ok(s.broker.requestsOf(RequestCode.GET_CONSUMER_LIST_BY_GROUP).length > listCalls);
    const owned = s.consumer.ownedQueues().filter((q) => q.topic === TOPIC).map((q) => q.queueId).sort();
    assert.equal(owned, [0, 1]); // we sort first: index 0 of 2 → queues 0 and 1
    assert.ok(s.consumer.ownedQueues().some((q) => q.topic === RETRY)); // 1 retry queue, 2 members: index 0 takes it
    // The queues given up stop being pulled.
    const count = (q: number) => pullsOf(s, TOPIC, q).length;
    const before = count(2) + count(3);
    await new Promise((r) => setTimeout(r, 400));
    assert.ok(count(2) + count(3) <= before + 2, 'no more pulls of dropped queues beyond those in flight');
  } finally {
    await s.close();
  }
});

test('rebalance also runs every rebalanceIntervalMs without a notification', async () => {
  const s = await setup({ rebalanceIntervalMs: 1000 });
  try {
    await s.consumer.start();
    await waitFor(() => s.broker.requestsOf(RequestCode.GET_CONSUMER_LIST_BY_GROUP).length > 0, 5000, 'first rebalance');
    const first = s.broker.requestsOf(RequestCode.GET_CONSUMER_LIST_BY_GROUP).length;
    s.consumerIds.unshift('0.0.0.0@first-in-order'); // we become index 1 of 2 → queues 2 and 3
    await waitFor(() => s.broker.requestsOf(RequestCode.GET_CONSUMER_LIST_BY_GROUP).length > first, 3000, 'periodic rebalance');
    await waitFor(() => s.consumer.ownedQueues().filter((q) => q.topic === TOPIC).map((q) => q.queueId).sort().join() === '2,3', 3000, 'queues 2 and 3');
  } finally {
    await s.close();
  }
});

test('CONSUME_FROM_TIMESTAMP uses SEARCH_OFFSET_BY_TIMESTAMP; a stored offset wins', async () => {
  const ts = 1_690_000_000_000;
  const s = await setup({ consumeFromWhere: 'CONSUME_FROM_TIMESTAMP', consumeTimestamp: ts });
  try {
    s.storedOffsets.set(`${TOPIC}@1`, 11);
    await s.consumer.start();
    await waitFor(() => [0, 1, 2, 3].every((q) => pullsOf(s, TOPIC, q).length > 0), 5000, 'first pulls');
    assert.is(pullsOf(s, TOPIC, 1)[0]!.request.extFields.queueOffset, '11');
    assert.is(pullsOf(s, TOPIC, 0)[0]!.request.extFields.queueOffset, '3');
    const searches = s.broker.requestsOf(RequestCode.SEARCH_OFFSET_BY_TIMESTAMP).filter((r) => r.extFields.topic === TOPIC);
    assert.is(searches.length, 3);
    assert.is(searches[0]!.extFields.timestamp, String(ts));
  } finally {
    await s.close();
  }
});

test('messages from %RETRY%<group> are shown with their original topic', async () => {
  const s = await setup();
  try {
    await s.consumer.start();
    await waitFor(() => pullsOf(s, RETRY, 0).length > 0, 5000, 'retry queue pulled');
    s.pulls.push(RETRY, 0, (req) =>
      pullResponse(req, 0, 1, s.broker.records([{ topic: RETRY, queueId: 0, queueOffset: 0, body: 'again', reconsumeTimes: 1, properties: { RETRY_TOPIC: TOPIC } }])),
    );
    await waitFor(() => s.received.length === 1, 3000, 'retried message');
    assert.is(s.received[0]!.topic, TOPIC);
    assert.is(s.received[0]!.reconsumeTimes, 1);
  } finally {
    await s.close();
  }
});

test('broadcasting: every queue, no group membership, failed messages dropped, offsets in the local file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'orbit-bcast-'));
  const s = await setup({ messageModel: 'BROADCASTING', consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', offsetStoreDir: dir }, () => 'RECONSUME_LATER');
  try {
    await s.consumer.start();
    await waitFor(() => [0, 1, 2, 3].every((q) => pullsOf(s, TOPIC, q).length > 0), 5000, 'first pulls');
    assert.is(s.broker.requestsOf(RequestCode.GET_CONSUMER_LIST_BY_GROUP).length, 0);
    assert.is(pullsOf(s, RETRY, 0).length, 0);
    assert.is(s.broker.requestsOf(RequestCode.GET_MIN_OFFSET).length, 4);
    assert.is(pullsOf(s, TOPIC, 3)[0]!.request.extFields.queueOffset, '0');
    const hb = JSON.parse(s.broker.requestsOf(RequestCode.HEART_BEAT)[0]!.body!.toString());
    assert.is(hb.consumerDataSet[0].messageModel, 'BROADCASTING');
    s.pulls.push(TOPIC, 3, found(s, 3, [0, 1]));
    await waitFor(() => s.received.length === 2, 3000, 'messages');
    await s.consumer.shutdown();
    assert.is(s.broker.requestsOf(RequestCode.CONSUMER_SEND_MSG_BACK).length, 0);
    assert.is(s.broker.requestsOf(RequestCode.UPDATE_CONSUMER_OFFSET).length, 0);
    const file = join(dir, s.clientId, GROUP, 'offsets.json');
    const offsets = parseOffsetFile(await readFile(file, 'utf8'));
    assert.is(offsets.find((e) => e.mq.queueId === 3)!.offset, 2);
  } finally {
    await s.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
