// MessageSelector and SQL92 subscriptions on the client: what subscribe() builds, that the client
// never re-filters SQL92 results, and the CHECK_CLIENT_CONFIG round at start against scripted
// brokers (sent to every master, a refusal fails start() with the broker's code and remark, an
// unreachable broker does not), plus expressionType in pull headers and heartbeats.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RequestCode } from '@orbit/common/request-code';
import { ResponseCode } from '@orbit/common/response-code';
import { createResponse } from '@orbit/remoting';
import { MQClientError } from './errors.js';
import { MessageSelector, subscriptionOf } from './message-selector.js';
import { PushConsumer } from './push-consumer.js';
import { LitePullConsumer } from './lite-pull-consumer.js';
import { buildSubscriptionData, tagsMatch } from './subscription.js';
import { buildRoute, recordingLogger, ScriptedBroker, ScriptedNameServer, ScriptedPullQueues, waitFor } from './testing/scripted-peers.js';

const TOPIC = 'SqlTopic';
const SQL = "a BETWEEN 3 AND 5 AND b = 'x'";
let counter = 0;

test('MessageSelector.bySql / byTag and what subscribe() builds from them', () => {
  assert.equal(MessageSelector.bySql(SQL), { type: 'SQL92', expression: SQL });
  assert.equal(MessageSelector.byTag('TagA || TagB'), { type: 'TAG', expression: 'TagA || TagB' });
  const sql = subscriptionOf(TOPIC, MessageSelector.bySql(`  ${SQL} `));
  assert.equal([sql.topic, sql.subString, sql.expressionType, sql.tagsSet, sql.codeSet], [TOPIC, SQL, 'SQL92', [], []], 'no tag splitting (the SQL holds no ||, but "OR" would not be split either)');
  assert.equal(subscriptionOf(TOPIC, MessageSelector.bySql("a = 'x||y'")).tagsSet, []);
  const tags = subscriptionOf(TOPIC, MessageSelector.byTag('TagA || TagB'));
  assert.equal([tags.expressionType, tags.tagsSet], ['TAG', ['TagA', 'TagB']]);
  assert.equal(subscriptionOf(TOPIC, 'TagA').tagsSet, ['TagA'], 'a plain string is a tag expression, as before');
  assert.is(subscriptionOf(TOPIC, undefined).subString, '*');
  assert.throws(() => subscriptionOf(TOPIC, MessageSelector.bySql('')), (e: unknown) => e instanceof MQClientError && /Expression can't be null! SQL92/.test(e.message));
  assert.throws(() => subscriptionOf(TOPIC, { type: 'CLASS', expression: 'x' } as unknown as MessageSelector), (e: unknown) => e instanceof MQClientError && /CLASS/.test(e.message));
  assert.throws(() => subscriptionOf(TOPIC, MessageSelector.byTag(' || ')), (e: unknown) => e instanceof MQClientError);
});

test('the client never re-filters a SQL92 subscription by tags', () => {
  const sql = buildSubscriptionData(TOPIC, 'TAGS IS NULL', 'SQL92');
  assert.ok(tagsMatch(sql, 'TagA'));
  assert.ok(tagsMatch(sql, undefined));
  const tag = buildSubscriptionData(TOPIC, 'TagB');
  assert.not.ok(tagsMatch(tag, 'TagA'));
});

interface Peers {
  ns: ScriptedNameServer;
  brokers: ScriptedBroker[];
  pulls: ScriptedPullQueues[];
  close(): Promise<void>;
}

async function peers(brokerCount: number, extraRoute: { brokerName: string; addr: string }[] = []): Promise<Peers> {
  const ns = await new ScriptedNameServer().listen();
  const brokers = await Promise.all(Array.from({ length: brokerCount }, (_, i) => new ScriptedBroker(`broker-${i}`).listen()));
  ns.routes.set(TOPIC, buildRoute([...brokers.map((b) => ({ brokerName: b.brokerName, addr: b.addr, queues: 1 })), ...extraRoute.map((r) => ({ ...r, queues: 1 }))]));
  const pulls = brokers.map((b) => new ScriptedPullQueues(b, 100));
  for (const b of brokers) {
    b.on(RequestCode.CHECK_CLIENT_CONFIG, (req) => createResponse(req));
    b.on(RequestCode.GET_CONSUMER_LIST_BY_GROUP, (req) => {
      const res = createResponse(req);
      res.body = Buffer.from(JSON.stringify({ consumerIdList: [...new Set(b.requestsOf(RequestCode.HEART_BEAT).map((h) => JSON.parse(h.body!.toString()).clientID as string))] }));
      return res;
    });
    b.on(RequestCode.QUERY_CONSUMER_OFFSET, (req) => createResponse(req, 0, undefined, { offset: 0 }));
  }
  return {
    ns,
    brokers,
    pulls,
    async close() {
      for (const p of pulls) p.clear();
      await Promise.all([ns.close(), ...brokers.map((b) => b.close())]);
    },
  };
}

function pushConsumer(ns: ScriptedNameServer, logger = recordingLogger()): PushConsumer {
  const consumer = new PushConsumer({
    consumerGroup: `cg-sel-${++counter}`,
    namesrvAddr: ns.addr,
    instanceName: `sel-${counter}`,
    clientIP: '127.0.0.1',
    logger,
    rebalanceIntervalMs: 60_000,
    pullTimeDelayMsWhenException: 300,
    awaitTerminationMsWhenShutdown: 1_000,
  });
  consumer.registerMessageListener(async () => 'CONSUME_SUCCESS' as const);
  return consumer;
}

test('start() asks every master with CHECK_CLIENT_CONFIG; pulls and heartbeats carry expressionType SQL92', async () => {
  const p = await peers(2);
  const consumer = pushConsumer(p.ns);
  consumer.subscribe(TOPIC, MessageSelector.bySql(SQL));
  try {
    await consumer.start();
    for (const b of p.brokers) {
      const checks = b.requestsOf(RequestCode.CHECK_CLIENT_CONFIG);
      assert.is(checks.length, 1, `one check at ${b.brokerName}`);
      const body = JSON.parse(checks[0]!.body!.toString());
      assert.is(body.clientId, consumer.clientId);
      assert.is(body.group, consumer.groupName);
      assert.equal([body.subscriptionData.topic, body.subscriptionData.subString, body.subscriptionData.expressionType], [TOPIC, SQL, 'SQL92']);
    }
    // The check comes before the first heartbeat.
    const first = p.brokers[0]!.requests.findIndex((r) => r.code === RequestCode.CHECK_CLIENT_CONFIG || r.code === RequestCode.HEART_BEAT);
    assert.is(p.brokers[0]!.requests[first]!.code, RequestCode.CHECK_CLIENT_CONFIG);
    const hb = JSON.parse(p.brokers[0]!.requestsOf(RequestCode.HEART_BEAT)[0]!.body!.toString());
    const sub = hb.consumerDataSet[0].subscriptionDataSet.find((s: { topic: string }) => s.topic === TOPIC);
    assert.equal([sub.subString, sub.expressionType, sub.tagsSet], [SQL, 'SQL92', []]);
    await waitFor(() => p.brokers.every((b) => b.requestsOf(RequestCode.PULL_MESSAGE).some((r) => r.extFields.topic === TOPIC)), 5_000, 'pulls of the topic');
    const pull = p.brokers[0]!.requestsOf(RequestCode.PULL_MESSAGE).find((r) => r.extFields.topic === TOPIC)!;
    assert.equal([pull.extFields.subscription, pull.extFields.expressionType], [SQL, 'SQL92']);
    const retryPull = p.brokers[0]!.requestsOf(RequestCode.PULL_MESSAGE).find((r) => r.extFields.topic !== TOPIC);
    if (retryPull) assert.is(retryPull.extFields.expressionType, 'TAG');
  } finally {
    await consumer.shutdown();
    await p.close();
  }
});

test("a broker's refusal fails start() with its code and remark; the consumer leaves before any heartbeat", async () => {
  const p = await peers(2);
  const remark = 'Invalid MessageSelector (SQL92): Encountered "AND" at column 11, expected an expression';
  p.brokers[1]!.on(RequestCode.CHECK_CLIENT_CONFIG, (req) => createResponse(req, ResponseCode.SUBSCRIPTION_PARSE_FAILED, remark));
  const consumer = pushConsumer(p.ns);
  consumer.subscribe(TOPIC, MessageSelector.bySql("a > 3 AND AND b = 'x'"));
  try {
    const error = await consumer.start().then(() => undefined, (e: unknown) => e);
    assert.instance(error, MQClientError);
    assert.is((error as MQClientError).responseCode, ResponseCode.SUBSCRIPTION_PARSE_FAILED);
    assert.match((error as MQClientError).message, remark);
    assert.match((error as MQClientError).message, p.brokers[1]!.addr);
    for (const b of p.brokers) assert.is(b.requestsOf(RequestCode.HEART_BEAT).length, 0, `no heartbeat to ${b.brokerName}`);
    const again = await consumer.start().then(() => undefined, (e: unknown) => e);
    assert.instance(again, MQClientError, 'a consumer whose start failed does not start again');
  } finally {
    await consumer.shutdown();
    await p.close();
  }
});

test('tag-only consumers send no CHECK_CLIENT_CONFIG; an unreachable master is logged, not fatal', async () => {
  const p = await peers(1, [{ brokerName: 'broker-gone', addr: '127.0.0.1:1' }]);
  const tagConsumer = pushConsumer(p.ns);
  tagConsumer.subscribe(TOPIC, 'TagA');
  const logger = recordingLogger();
  const lite = new LitePullConsumer({ consumerGroup: `cg-sel-${++counter}`, namesrvAddr: p.ns.addr, instanceName: `sel-${counter}`, clientIP: '127.0.0.1', logger, pullTimeDelayMsWhenException: 300 });
  lite.subscribe(TOPIC, MessageSelector.bySql(SQL));
  try {
    await tagConsumer.start();
    assert.is(p.brokers[0]!.requestsOf(RequestCode.CHECK_CLIENT_CONFIG).length, 0);
    await lite.start();
    assert.is(p.brokers[0]!.requestsOf(RequestCode.CHECK_CLIENT_CONFIG).length, 1, 'the lite pull consumer checks too');
    assert.ok(logger.lines.some((l) => l.includes('CHECK_CLIENT_CONFIG at 127.0.0.1:1')), logger.lines.join('\n'));
  } finally {
    await tagConsumer.shutdown();
    await lite.shutdown();
    await p.close();
  }
});

test.run();
