// SQL92 property filters end to end over real sockets: a broker with enablePropertyFilter=true and
// one without, a NameServer, Orbit's PushConsumer and LitePullConsumer (MessageSelector.bySql), and
// raw requests (PULL_MESSAGE, HEART_BEAT, CHECK_CLIENT_CONFIG) as any client would send them. What
// each consumer receives must be exactly what an independent oracle computes from what was sent.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdminClient, LitePullConsumer, MessageSelector, MQClientError, PushConsumer, silentLogger, type MessageExt } from '@orbit/client';
import { decodeStoredRecords, encodeProperties, findProperty, RequestCode, ResponseCode } from '@orbit/common';
import { NamesrvController } from '@orbit/namesrv';
import { createRequest, RemotingClient, type RemotingCommand } from '@orbit/remoting';
import { PullSysFlag } from './processors/pull-message-processor.js';
import { startTestBroker, type TestBroker } from './test-support.js';

const TOPIC = 'SqlTopic';
const PLAIN_TOPIC = 'PlainTopic';
const QUEUES = 4;
const MESSAGES = 200;
const WAIT_MS = 30_000;

/** What each message carries; undefined = the property is absent. */
interface Sent {
  body: string;
  a: string | undefined;
  b: string | undefined;
  tag: string | undefined;
}

function sentMessage(i: number): Sent {
  const a = i % 50 === 49 ? 'n/a' : i % 40 === 39 ? undefined : String(i % 10);
  const b = (['x', 'y', 'x', undefined, 'y', 'x', 'y'] as const)[i % 7];
  const tag = (['TagA', 'TagB', 'TagC', undefined] as const)[Math.floor(i / 3) % 4];
  return { body: `m-${i}`, a, b, tag };
}

const numericA = (m: Sent) => (m.a !== undefined && /^\d+$/.test(m.a) ? Number(m.a) : undefined);

/** The subscriptions under test, each with an oracle written without the evaluator. */
const CASES = {
  between: { sql: "a BETWEEN 3 AND 5 AND b = 'x'", wanted: (m: Sent) => numericA(m) !== undefined && numericA(m)! >= 3 && numericA(m)! <= 5 && m.b === 'x' },
  inOrNull: { sql: 'a IN (1,2) OR b IS NULL', wanted: (m: Sent) => m.a === '1' || m.a === '2' || m.b === undefined },
  // NOT of UNKNOWN is UNKNOWN: a missing or non-numeric `a` never matches.
  notWithTags: { sql: "NOT (a > 4) AND TAGS IN ('TagA', 'TagC')", wanted: (m: Sent) => numericA(m) !== undefined && numericA(m)! <= 4 && (m.tag === 'TagA' || m.tag === 'TagC') },
};
const TAG_WANTED = (m: Sent) => m.tag === 'TagA' || m.tag === 'TagB';

let namesrv: NamesrvController;
let namesrvAddr = '';
let dir: string;
let sqlBroker: TestBroker; // enablePropertyFilter=true
let plainBroker: TestBroker; // the default: false
let admin: AdminClient;
let instance = 0;
const sent: Sent[] = [];
const raw = new RemotingClient({ connectTimeoutMs: 2_000, requestTimeoutMs: 5_000 });

const fastClient = () => ({
  namesrvAddr,
  instanceName: `sql${++instance}`,
  rebalanceIntervalMs: 500,
  persistConsumerOffsetIntervalMs: 500,
  pollNameServerIntervalMs: 500,
  heartbeatBrokerIntervalMs: 1_000,
  logger: silentLogger,
});
/** Held pulls come back after 1 s, so a queue whose tail does not match is seen through quickly. */
const fastPush = (group: string) => ({ ...fastClient(), consumerGroup: group, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' as const, brokerSuspendMaxTimeMs: 1_000, consumerTimeoutMsWhenSuspend: 5_000, awaitTerminationMsWhenShutdown: 2_000 });

async function until(what: string, fn: () => boolean | Promise<boolean>, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function expectedBodies(wanted: (m: Sent) => boolean): string[] {
  return sent.filter(wanted).map((m) => m.body).sort();
}

function pull(broker: TestBroker, fields: Record<string, string | number>, sysFlag: number = PullSysFlag.SUBSCRIPTION): Promise<RemotingCommand> {
  return raw.invoke(
    broker.addr,
    createRequest(RequestCode.PULL_MESSAGE, { consumerGroup: 'raw-puller', topic: TOPIC, queueId: 0, queueOffset: 0, maxMsgNums: 32, sysFlag, commitOffset: 0, suspendTimeoutMillis: 0, subVersion: 0, ...fields }),
    5_000,
  );
}

function checkClientConfig(broker: TestBroker, body: Buffer | undefined): Promise<RemotingCommand> {
  return raw.invoke(broker.addr, createRequest(RequestCode.CHECK_CLIENT_CONFIG, {}, body), 5_000);
}

const checkBody = (subString: string, expressionType: string) =>
  Buffer.from(JSON.stringify({ clientId: '127.0.0.1@raw', group: 'raw-check', subscriptionData: { topic: TOPIC, subString, expressionType, tagsSet: [], codeSet: [], subVersion: Date.now(), classFilterMode: false } }));

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'orbit-sql-'));
  namesrv = new NamesrvController({ config: { listenPort: 0, bindAddress: '127.0.0.1', kvConfigPath: join(dir, 'kv.json') } });
  namesrvAddr = `127.0.0.1:${(await namesrv.start()).port}`;
  sqlBroker = await startTestBroker({ namesrvAddr, brokerName: 'broker-sql', enablePropertyFilter: 'true' });
  plainBroker = await startTestBroker({ namesrvAddr, brokerName: 'broker-plain' });
  admin = new AdminClient({ namesrvAddr, logger: silentLogger });
  await admin.createTopic(sqlBroker.addr, { topic: TOPIC, readQueueNums: QUEUES, writeQueueNums: QUEUES });
  await admin.createTopic(plainBroker.addr, { topic: PLAIN_TOPIC, readQueueNums: 1, writeQueueNums: 1 });
  await Promise.all([sqlBroker.broker.registerNow(), plainBroker.broker.registerNow()]);
  for (let i = 0; i < MESSAGES; i++) {
    const m = sentMessage(i);
    const props: Record<string, string> = {};
    if (m.a !== undefined) props.a = m.a;
    if (m.b !== undefined) props.b = m.b;
    if (m.tag !== undefined) props.TAGS = m.tag;
    const res = await raw.invoke(
      sqlBroker.addr,
      createRequest(RequestCode.SEND_MESSAGE_V2, { a: 'pg', b: TOPIC, c: 'TBW102', d: QUEUES, e: i % QUEUES, f: 0, g: Date.now(), h: 0, i: encodeProperties(props), j: 0, k: false }, Buffer.from(m.body)),
      5_000,
    );
    assert.is(res.code, ResponseCode.SUCCESS, res.remark);
    sent.push(m);
  }
  await sqlBroker.broker.ctx.store.waitDispatched();
  // The data set exercises every branch of the oracles.
  for (const [name, c] of Object.entries(CASES)) {
    const n = expectedBodies(c.wanted).length;
    assert.ok(n > 5 && n < MESSAGES - 5, `${name} selects ${n} of ${MESSAGES}`);
  }
});

test.after(async () => {
  await admin?.shutdown();
  await raw.close();
  await sqlBroker?.stop();
  await plainBroker?.stop();
  await namesrv?.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

test('PushConsumers with SQL92 and tag subscriptions receive exactly the matching messages', async () => {
  const subscriptions = [
    ...Object.entries(CASES).map(([name, c]) => ({ name, selector: MessageSelector.bySql(c.sql) as MessageSelector | string, wanted: c.wanted })),
    { name: 'tags', selector: 'TagA || TagB' as MessageSelector | string, wanted: TAG_WANTED },
  ];
  const runs = subscriptions.map(({ name, selector, wanted }) => {
    const consumer = new PushConsumer(fastPush(`cg-${name}`));
    const received: string[] = [];
    consumer.subscribe(TOPIC, selector);
    consumer.registerMessageListener(async (msgs: MessageExt[]) => {
      for (const m of msgs) received.push(m.body.toString());
      return 'CONSUME_SUCCESS' as const;
    });
    return { name, consumer, received, expected: expectedBodies(wanted) };
  });
  try {
    await Promise.all(runs.map((r) => r.consumer.start()));
    const maxOffsets = Array.from({ length: QUEUES }, (_, q) => sqlBroker.broker.ctx.store.getMaxOffsetInQueue(TOPIC, q));
    assert.is(maxOffsets.reduce((x, y) => x + y, 0), MESSAGES);
    for (const r of runs) {
      await until(`${r.name}: ${r.expected.length} messages (got ${r.received.length})`, () => r.received.length >= r.expected.length);
      // Nothing more can come once the consumer's offset of every queue has reached its end.
      await until(`${r.name}: every queue read to its end`, () => {
        const owned = r.consumer.ownedQueues().filter((q) => q.topic === TOPIC);
        return owned.length === QUEUES && owned.every((q) => r.consumer.offsetStore!.readOffsetFromMemory(q) === maxOffsets[q.queueId]);
      });
    }
    for (const r of runs) {
      assert.equal([...r.received].sort(), r.expected, `${r.name}: the received set is the expected set`);
      assert.is(new Set(r.received).size, r.received.length, `${r.name}: no duplicates`);
    }
    // The client passes every SQL92 result on (tagsMatch), so the exact sets above are the broker's
    // filtering; it learnt the expression type from the heartbeat as well as from the pull header.
    const registered = sqlBroker.broker.ctx.clients.subscription('cg-between', TOPIC);
    assert.equal([registered?.expressionType, registered?.subString, registered?.tagsSet], ['SQL92', CASES.between.sql, []], 'the heartbeat carried the expression type');
  } finally {
    await Promise.all(runs.map((r) => r.consumer.shutdown()));
  }
});

test('LitePullConsumer.subscribe with MessageSelector.bySql polls exactly the matching messages', async () => {
  const consumer = new LitePullConsumer({ ...fastClient(), consumerGroup: 'cg-lite-sql', consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', brokerSuspendMaxTimeMs: 1_000, consumerTimeoutMsWhenSuspend: 5_000 });
  consumer.subscribe(TOPIC, MessageSelector.bySql(CASES.inOrNull.sql));
  const expected = expectedBodies(CASES.inOrNull.wanted);
  const received: string[] = [];
  try {
    await consumer.start();
    const deadline = Date.now() + WAIT_MS;
    while (received.length < expected.length && Date.now() < deadline) for (const m of await consumer.poll(500)) received.push(m.body.toString());
    // Anything extra would be buffered by now (every queue is pulled past its end within ~1 s).
    const settle = Date.now() + 2_000;
    while (Date.now() < settle) for (const m of await consumer.poll(250)) received.push(m.body.toString());
    assert.equal([...received].sort(), expected);
  } finally {
    await consumer.shutdown();
  }
});

test('a malformed expression: start() fails with SUBSCRIPTION_PARSE_FAILED and the position, before any heartbeat', async () => {
  const consumer = new PushConsumer(fastPush('cg-bad-sql'));
  consumer.subscribe(TOPIC, MessageSelector.bySql("a > 3 AND AND b = 'x'"));
  consumer.registerMessageListener(async () => 'CONSUME_SUCCESS' as const);
  try {
    const error = await consumer.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.instance(error, MQClientError);
    const e = error as MQClientError;
    assert.is(e.responseCode, ResponseCode.SUBSCRIPTION_PARSE_FAILED);
    assert.match(e.message, 'Encountered "AND" at column 11, expected an expression');
    assert.match(e.message, sqlBroker.addr);
    assert.is(sqlBroker.broker.ctx.clients.consumers.get('cg-bad-sql'), undefined, 'the group never registered');
    assert.throws(() => consumer.subscribe(TOPIC, '*'), /shut down/, 'a failed consumer stays down');
  } finally {
    await consumer.shutdown();
  }
  // An empty SQL92 expression is refused at subscribe, as FilterAPI.build does.
  const empty = new PushConsumer(fastPush('cg-empty-sql'));
  assert.throws(() => empty.subscribe(TOPIC, MessageSelector.bySql('  ')), (e: unknown) => e instanceof MQClientError && /Expression can't be null/.test(e.message));
  assert.throws(() => empty.subscribe(TOPIC, { type: 'XPATH', expression: 'x' } as unknown as MessageSelector), (e: unknown) => e instanceof MQClientError && /XPATH/.test(e.message));
});

test('a broker without enablePropertyFilter: start() fails with SYSTEM_ERROR; a SQL92 pull gets NO_PERMISSION', async () => {
  const consumer = new PushConsumer(fastPush('cg-plain-sql'));
  consumer.subscribe(PLAIN_TOPIC, MessageSelector.bySql('a > 1'));
  consumer.registerMessageListener(async () => 'CONSUME_SUCCESS' as const);
  try {
    const error = (await consumer.start().then(
      () => undefined,
      (e: unknown) => e,
    )) as MQClientError | undefined;
    assert.instance(error, MQClientError);
    assert.is(error!.responseCode, ResponseCode.SYSTEM_ERROR);
    assert.match(error!.message, 'The broker does not support consumer to filter message by SQL92');
  } finally {
    await consumer.shutdown();
  }
  const refused = await pull(plainBroker, { topic: PLAIN_TOPIC, subscription: 'a > 1', expressionType: 'SQL92' });
  assert.is(refused.code, ResponseCode.NO_PERMISSION);
  assert.is(refused.remark, 'The broker does not support consumer to filter message by SQL92');
  // Tag subscriptions are served there as before.
  const tags = await pull(plainBroker, { topic: PLAIN_TOPIC, subscription: 'TagA', expressionType: 'TAG' });
  assert.is(tags.code, ResponseCode.PULL_NOT_FOUND, tags.remark);
  // enablePropertyFilter is read per request: switched on with UPDATE_BROKER_CONFIG, SQL92 is served.
  const update = (value: boolean) => raw.invoke(plainBroker.addr, createRequest(RequestCode.UPDATE_BROKER_CONFIG, {}, Buffer.from(`enablePropertyFilter=${value}\n`)), 5_000);
  assert.is((await update(true)).code, ResponseCode.SUCCESS);
  try {
    const served = await pull(plainBroker, { topic: PLAIN_TOPIC, subscription: 'a > 1', expressionType: 'SQL92' });
    assert.is(served.code, ResponseCode.PULL_NOT_FOUND, served.remark);
  } finally {
    assert.is((await update(false)).code, ResponseCode.SUCCESS);
  }
});

test('raw PULL_MESSAGE: a bad SQL92 header gets SUBSCRIPTION_PARSE_FAILED; a good one returns only matching records', async () => {
  const bad = await pull(sqlBroker, { subscription: "b = 'x' OR", expressionType: 'SQL92' });
  assert.is(bad.code, ResponseCode.SUBSCRIPTION_PARSE_FAILED);
  assert.is(bad.remark, 'Invalid MessageSelector (SQL92): Encountered end of expression at column 11, expected an expression');
  const unknownType = await pull(sqlBroker, { subscription: 'x', expressionType: 'XPATH' });
  assert.is(unknownType.code, ResponseCode.SUBSCRIPTION_PARSE_FAILED);

  // Queue 0 read to its end with the expression in each pull header.
  const bodies: string[] = [];
  let offset = 0;
  const max = sqlBroker.broker.ctx.store.getMaxOffsetInQueue(TOPIC, 0);
  for (let pulls = 0; offset < max; pulls++) {
    assert.ok(pulls < 50, 'bounded');
    const res = await pull(sqlBroker, { subscription: CASES.between.sql, expressionType: 'SQL92', queueOffset: offset });
    assert.ok(res.code === ResponseCode.SUCCESS || res.code === ResponseCode.PULL_RETRY_IMMEDIATELY, `code ${res.code} ${res.remark}`);
    if (res.code === ResponseCode.SUCCESS) {
      for (const r of decodeStoredRecords(res.body!)) {
        assert.is(findProperty(r.properties, 'b'), 'x');
        bodies.push(r.body.toString());
      }
    }
    offset = Number(res.extFields.nextBeginOffset);
  }
  const expected = sent.filter((m, i) => i % QUEUES === 0 && CASES.between.wanted(m)).map((m) => m.body);
  assert.equal(bodies, expected);
});

test('HEART_BEAT keeps a bad SQL92 subscription without failing; pulls relying on it get SUBSCRIPTION_PARSE_FAILED', async () => {
  const heartbeat = {
    clientID: '127.0.0.1@raw-hb',
    producerDataSet: [],
    consumerDataSet: [
      { groupName: 'cg-raw-hb', consumeType: 'CONSUME_ACTIVELY', messageModel: 'CLUSTERING', consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', unitMode: false, subscriptionDataSet: [{ topic: TOPIC, subString: 'a >', expressionType: 'SQL92', subVersion: 1, tagsSet: [], codeSet: [] }] },
    ],
  };
  const hb = await raw.invoke(sqlBroker.addr, createRequest(RequestCode.HEART_BEAT, {}, Buffer.from(JSON.stringify(heartbeat))), 5_000);
  assert.is(hb.code, ResponseCode.SUCCESS, hb.remark);
  assert.is(sqlBroker.broker.ctx.clients.subscription('cg-raw-hb', TOPIC)?.expressionType, 'SQL92');
  const res = await pull(sqlBroker, { consumerGroup: 'cg-raw-hb', subscription: '', expressionType: 'TAG' }, 0);
  assert.is(res.code, ResponseCode.SUBSCRIPTION_PARSE_FAILED, 'the registered type wins over the header');
  assert.match(res.remark!, 'column 4');
  // A later heartbeat with a good expression replaces it.
  heartbeat.consumerDataSet[0]!.subscriptionDataSet[0]!.subString = 'a > 7'; // queue 0 holds a = 0, 2, 4, 6, 8
  heartbeat.consumerDataSet[0]!.subscriptionDataSet[0]!.subVersion = 2;
  assert.is((await raw.invoke(sqlBroker.addr, createRequest(RequestCode.HEART_BEAT, {}, Buffer.from(JSON.stringify(heartbeat))), 5_000)).code, ResponseCode.SUCCESS);
  const good = await pull(sqlBroker, { consumerGroup: 'cg-raw-hb' }, 0);
  assert.is(good.code, ResponseCode.SUCCESS, good.remark);
  const records = decodeStoredRecords(good.body!);
  assert.ok(records.length > 0);
  for (const r of records) assert.is(findProperty(r.properties, 'a'), '8');
});

test('CHECK_CLIENT_CONFIG (46): TAG always passes; SQL92 needs the switch and an expression that compiles; the body is bounded', async () => {
  assert.is((await checkClientConfig(plainBroker, checkBody('TagA || TagB', 'TAG'))).code, ResponseCode.SUCCESS);
  const disabled = await checkClientConfig(plainBroker, checkBody('a > 1', 'SQL92'));
  assert.equal([disabled.code, disabled.remark], [ResponseCode.SYSTEM_ERROR, 'The broker does not support consumer to filter message by SQL92']);
  assert.is((await checkClientConfig(sqlBroker, checkBody('a > 1', 'SQL92'))).code, ResponseCode.SUCCESS);
  const bad = await checkClientConfig(sqlBroker, checkBody('a BETWEEN 5 AND 3', 'SQL92'));
  assert.equal([bad.code, bad.remark], [ResponseCode.SUBSCRIPTION_PARSE_FAILED, 'Invalid MessageSelector (SQL92): Encountered "5" at column 11, expected a lower bound not above the upper bound 3']);
  const tooLong = await checkClientConfig(sqlBroker, checkBody(`a = '${'x'.repeat(5000)}'`, 'SQL92'));
  assert.is(tooLong.code, ResponseCode.SUBSCRIPTION_PARSE_FAILED);
  assert.match(tooLong.remark!, 'expected at most 4096 characters');
  assert.is((await checkClientConfig(sqlBroker, undefined)).code, ResponseCode.SUCCESS, 'no body: nothing to check');
  assert.is((await checkClientConfig(sqlBroker, Buffer.from('{"clientId":"c"}'))).code, ResponseCode.SUCCESS, 'no subscription: nothing to check');
  assert.is((await checkClientConfig(sqlBroker, Buffer.from('{not json'))).code, ResponseCode.SYSTEM_ERROR);
  const huge = await checkClientConfig(sqlBroker, Buffer.alloc(70 * 1024, 32));
  assert.is(huge.code, ResponseCode.SYSTEM_ERROR);
  assert.match(huge.remark!, 'at most 65536');
});

test.run();
