// Transactional messages end to end over real sockets (facts §7.8): Orbit's TransactionProducer
// against a broker with short check timings (transactionTimeOut 500 ms, check every 300 ms, 3 checks
// at most), a PushConsumer on the real topic, and raw END_TRANSACTION requests where the wire matters.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MQClientError, PushConsumer, silentLogger, TransactionProducer, type LocalTransactionState, type MessageExt, type TransactionMessageExt } from '@orbit/client';
import { decodeOffsetMessageId, decodeStoredRecord, encodeProperties, findProperty, RequestCode, ResponseCode, SysFlag, type DecodedRecord } from '@orbit/common';
import { NamesrvController } from '@orbit/namesrv';
import { createOnewayRequest, createRequest, RemotingClient, type RemotingCommand } from '@orbit/remoting';
import { startTestBroker, type TestBroker } from './test-support.js';

const TOPIC = 'TxTopic';
const GROUP = 'pg-tx';
const HALF_TOPIC = 'RMQ_SYS_TRANS_HALF_TOPIC';
const OP_TOPIC = 'RMQ_SYS_TRANS_OP_HALF_TOPIC';
const MAX_TIME_TOPIC = 'TRANS_CHECK_MAX_TIME_TOPIC';
const TIMEOUT_MS = 500;
const CHECK_MAX = 3;
/** How long "never delivered" is watched for after a later marker arrived. */
const QUIET_MS = 600;

let namesrv: NamesrvController;
let namesrvAddr = '';
let dir: string;
let brokerDir: string;
let b: TestBroker;
let producer: TransactionProducer;
let consumer: PushConsumer;
let instance = 0;
const raw = new RemotingClient({ connectTimeoutMs: 2_000, requestTimeoutMs: 5_000 });
const brokerSettings = () => ({ namesrvAddr, transactionTimeOut: String(TIMEOUT_MS), transactionCheckInterval: '300', transactionCheckMax: String(CHECK_MAX) });

/** Consumed messages, in arrival order. */
const received: MessageExt[] = [];
/** What executeLocalTransaction answers, by body; 'throw' throws. */
const executeAnswers = new Map<string, LocalTransactionState | 'throw'>();
/** What checkLocalTransaction answers, by transaction id (UNKNOW when absent). */
const checkAnswers = new Map<string, LocalTransactionState>();
const checkCalls: { at: number; msg: TransactionMessageExt }[] = [];
const executeCalls: { body: string; transactionId: string; realTopicMessages: number }[] = [];

const fastClient = () => ({ namesrvAddr, instanceName: `tx${++instance}`, rebalanceIntervalMs: 500, persistConsumerOffsetIntervalMs: 500, pollNameServerIntervalMs: 500, heartbeatBrokerIntervalMs: 500, logger: silentLogger });

async function until(what: string, fn: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const deliveriesOf = (uniqKey: string) => received.filter((m) => m.msgId === uniqKey);
const checksOf = (transactionId: string) => checkCalls.filter((c) => c.msg.transactionId === transactionId);

/** Messages on the real topic, all queues (nothing is there while a transaction is open). */
function messagesInTopic(): number {
  let n = 0;
  for (let q = 0; q < 8; q++) n += b.broker.ctx.store.getMaxOffsetInQueue(TOPIC, q);
  return n;
}

/** Every record of a queue, read on the broker. */
function stored(topic: string, queueId = 0): DecodedRecord[] {
  const out: DecodedRecord[] = [];
  for (let offset = 0; ; ) {
    const r = b.broker.ctx.store.getMessage(topic, queueId, offset, 32);
    if (r.status !== 'FOUND') return out;
    out.push(...r.messages.map((m) => decodeStoredRecord(m, 0)));
    offset = r.nextBeginOffset;
  }
}

/** Sends a plain message and waits until the consumer has it: what was committed before it has had its chance. */
let markers = 0;
async function marker(): Promise<void> {
  const body = `marker-${++markers}`;
  await producer.send({ topic: TOPIC, body });
  await until(`${body} consumed`, () => received.some((m) => m.body.toString() === body));
  await sleep(QUIET_MS);
}

function endTransaction(fields: Record<string, string | number | boolean>): Promise<RemotingCommand> {
  return raw.invoke(b.addr, createRequest(RequestCode.END_TRANSACTION, { producerGroup: GROUP, fromTransactionCheck: false, msgId: 'none', ...fields }), 5_000);
}

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'orbit-tx-'));
  brokerDir = mkdtempSync(join(tmpdir(), 'orbit-tx-broker-'));
  namesrv = new NamesrvController({ config: { listenPort: 0, bindAddress: '127.0.0.1', kvConfigPath: join(dir, 'kv.json') } });
  namesrvAddr = `127.0.0.1:${(await namesrv.start()).port}`;
  b = await startTestBroker(brokerSettings(), brokerDir);
  producer = new TransactionProducer({
    ...fastClient(),
    producerGroup: GROUP,
    transactionListener: {
      executeLocalTransaction: (msg, arg) => {
        const body = String(msg.body);
        executeCalls.push({ body, transactionId: msg.transactionId, realTopicMessages: messagesInTopic() });
        assert.is(arg, 'the-arg');
        const answer = executeAnswers.get(body) ?? 'UNKNOW';
        if (answer === 'throw') throw new Error('local transaction failed');
        return answer;
      },
      checkLocalTransaction: async (msg) => {
        checkCalls.push({ at: Date.now(), msg });
        return checkAnswers.get(msg.transactionId) ?? 'UNKNOW';
      },
    },
  });
  await producer.start();
  consumer = new PushConsumer({ ...fastClient(), consumerGroup: 'cg-tx', consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
  consumer.subscribe(TOPIC, '*');
  consumer.registerMessageListener(async (msgs) => {
    received.push(...msgs);
    return 'CONSUME_SUCCESS' as const;
  });
  await producer.send({ topic: TOPIC, body: 'warm-up' }); // creates the topic
  await consumer.start();
  await until('the consumer is live', () => received.some((m) => m.body.toString() === 'warm-up'));
});

test.after(async () => {
  await consumer?.shutdown();
  await producer?.shutdown();
  await raw.close();
  await b?.stop();
  await namesrv?.shutdown();
  rmSync(dir, { recursive: true, force: true });
  rmSync(brokerDir, { recursive: true, force: true });
});

let committed: { halfQueueOffset: number; halfPhysicalOffset: number; uniqKey: string } | undefined;

test('commit: the half waits on RMQ_SYS_TRANS_HALF_TOPIC, then the message is delivered once on its real topic, as sent', async () => {
  executeAnswers.set('commit-me', 'COMMIT_MESSAGE');
  const before = messagesInTopic();
  const result = await producer.sendMessageInTransaction({ topic: TOPIC, body: 'commit-me', tags: 'TagC', keys: 'order-1', properties: { color: 'blue' } }, 'the-arg');
  assert.is(result.sendStatus, 'SEND_OK');
  assert.is(result.localTransactionState, 'COMMIT_MESSAGE');
  assert.is(result.transactionId, result.msgId, 'the transaction id is the UNIQ_KEY');
  const call = executeCalls.find((c) => c.body === 'commit-me')!;
  assert.is(call.transactionId, result.msgId);
  assert.is(call.realTopicMessages, before, 'nothing on the real topic while the local transaction runs');

  // The half: what the send response points at.
  const halfAt = decodeOffsetMessageId(result.offsetMsgId).physicalOffset;
  const half = decodeStoredRecord(b.broker.ctx.store.getMessageByPhysicalOffset(halfAt)!, 0);
  assert.is(half.topic, HALF_TOPIC);
  assert.is(half.queueId, 0);
  assert.is(half.queueOffset, result.queueOffset, 'the response queueOffset is the half queue offset');
  assert.is(half.sysFlag & 0xc, SysFlag.TRANSACTION_NOT_TYPE, 'transaction bits reset to NOT');
  assert.is(findProperty(half.properties, 'REAL_TOPIC'), TOPIC);
  assert.is(findProperty(half.properties, 'REAL_QID'), String(result.messageQueue.queueId));
  assert.is(findProperty(half.properties, '__transactionId__'), result.msgId);
  assert.is(findProperty(half.properties, 'TRAN_MSG'), 'true');
  assert.is(findProperty(half.properties, 'PGROUP'), GROUP);

  await until('the committed message is consumed', () => deliveriesOf(result.msgId).length > 0);
  const got = deliveriesOf(result.msgId)[0]!;
  assert.is(got.topic, TOPIC);
  assert.is(got.queueId, result.messageQueue.queueId);
  assert.is(got.body.toString(), 'commit-me');
  assert.is(got.tags, 'TagC');
  assert.is(got.keys, 'order-1');
  assert.is(got.properties.color, 'blue');
  assert.is(got.properties.PGROUP, GROUP);
  assert.is(got.properties.__transactionId__, result.msgId);
  assert.is(got.properties.TRAN_MSG, undefined, 'TRAN_MSG cleared');
  assert.is(got.properties.REAL_TOPIC, undefined);
  assert.is(got.sysFlag & 0xc, SysFlag.TRANSACTION_COMMIT_TYPE);
  assert.is(got.preparedTransactionOffset, halfAt);
  assert.is(got.bornTimestamp, half.bornTimestamp, "the producer's born time is kept");

  // The op: tag d, body the half queue offset, on the op topic's queue 0.
  await until('the op is stored', () => stored(OP_TOPIC).some((op) => op.body.toString().split(',').includes(String(half.queueOffset))));
  const op = stored(OP_TOPIC).find((o) => o.body.toString().split(',').includes(String(half.queueOffset)))!;
  assert.is(findProperty(op.properties, 'TAGS'), 'd');

  // A second commit of the same half delivers nothing.
  const again = await endTransaction({ tranStateTableOffset: half.queueOffset, commitLogOffset: halfAt, commitOrRollback: 8, msgId: result.msgId });
  assert.is(again.code, ResponseCode.SUCCESS, again.remark);
  assert.match(again.remark ?? '', /already/);
  await marker();
  assert.is(deliveriesOf(result.msgId).length, 1, 'delivered exactly once');
  assert.is(checksOf(result.msgId).length, 0, 'an ended transaction is never checked back');
  committed = { halfQueueOffset: half.queueOffset, halfPhysicalOffset: halfAt, uniqKey: result.msgId };
});

test('rollback: only an op is written and the message is never delivered', async () => {
  executeAnswers.set('roll-me-back', 'ROLLBACK_MESSAGE');
  const result = await producer.sendMessageInTransaction({ topic: TOPIC, body: 'roll-me-back' }, 'the-arg');
  assert.is(result.localTransactionState, 'ROLLBACK_MESSAGE');
  await until('the op is stored', () => stored(OP_TOPIC).some((op) => op.body.toString().split(',').includes(String(result.queueOffset))));
  await sleep(TIMEOUT_MS + 400); // past the time a check would have come
  await marker();
  assert.is(deliveriesOf(result.msgId).length, 0);
  assert.is(checksOf(result.msgId).length, 0);
});

test('UNKNOW (and a throwing local transaction) is checked back with the real message; a COMMIT answer delivers it once', async () => {
  executeAnswers.set('ask-me-later', 'UNKNOW');
  executeAnswers.set('local-throws', 'throw');
  const sentAt = Date.now();
  const unknown = await producer.sendMessageInTransaction({ topic: TOPIC, body: 'ask-me-later', tags: 'TagU', properties: { k: 'v' } }, 'the-arg');
  const thrown = await producer.sendMessageInTransaction({ topic: TOPIC, body: 'local-throws' }, 'the-arg');
  assert.is(unknown.localTransactionState, 'UNKNOW');
  assert.is(thrown.localTransactionState, 'UNKNOW', 'an exception is UNKNOW');
  checkAnswers.set(unknown.msgId, 'COMMIT_MESSAGE');
  checkAnswers.set(thrown.msgId, 'COMMIT_MESSAGE');

  await until('both are consumed', () => deliveriesOf(unknown.msgId).length > 0 && deliveriesOf(thrown.msgId).length > 0);
  const [check] = checksOf(unknown.msgId);
  assert.ok(check, 'checkLocalTransaction was called');
  assert.ok(check!.at - sentAt >= TIMEOUT_MS, `checked after ${check!.at - sentAt} ms, not before transactionTimeOut`);
  const m = check!.msg;
  assert.is(m.transactionId, unknown.msgId);
  assert.is(m.msgId, unknown.msgId);
  assert.is(m.topic, TOPIC, 'the real topic');
  assert.is(m.queueId, unknown.messageQueue.queueId, 'the real queue');
  assert.is(m.body.toString(), 'ask-me-later');
  assert.is(m.tags, 'TagU');
  assert.is(m.properties.k, 'v');
  assert.is(m.properties.PGROUP, GROUP);
  assert.is(m.properties.TRANSACTION_CHECK_TIMES, '1');
  assert.is(m.properties.TRAN_PREPARED_QUEUE_OFFSET, String(unknown.queueOffset), 'a put-back copy names the first half');
  assert.ok(m.queueOffset > unknown.queueOffset, 'the check is about the copy put back at the end of the half queue');

  await marker();
  assert.is(deliveriesOf(unknown.msgId).length, 1);
  assert.is(deliveriesOf(thrown.msgId).length, 1);
  // Answered at the first check; a second one would only come if the answer took longer than a cycle.
  assert.ok(checksOf(unknown.msgId).length >= 1);
  const got = deliveriesOf(unknown.msgId)[0]!;
  assert.is(got.body.toString(), 'ask-me-later');
  assert.is(got.properties.k, 'v');

  // The late verdict on the first half (its END after the check ended the transaction) delivers nothing.
  const late = await endTransaction({ tranStateTableOffset: unknown.queueOffset, commitLogOffset: decodeOffsetMessageId(unknown.offsetMsgId).physicalOffset, commitOrRollback: 8, msgId: unknown.msgId });
  assert.is(late.code, ResponseCode.SUCCESS, late.remark);
  assert.match(late.remark ?? '', /already/);
});

test('UNKNOW forever: transactionCheckMax checks, then TRANS_CHECK_MAX_TIME_TOPIC, never delivered, and a late commit does nothing', async () => {
  executeAnswers.set('never-decided', 'UNKNOW');
  const result = await producer.sendMessageInTransaction({ topic: TOPIC, body: 'never-decided' }, 'the-arg');
  const discarded = () => b.broker.ctx.topics.get(MAX_TIME_TOPIC) !== undefined && stored(MAX_TIME_TOPIC).some((r) => findProperty(r.properties, 'UNIQ_KEY') === result.msgId);
  await until('the half is moved to TRANS_CHECK_MAX_TIME_TOPIC', discarded);
  await until('the checks reached the listener', () => checksOf(result.msgId).length >= CHECK_MAX);
  const [moved] = stored(MAX_TIME_TOPIC).filter((r) => findProperty(r.properties, 'UNIQ_KEY') === result.msgId);
  assert.is(moved!.body.toString(), 'never-decided');
  assert.is(findProperty(moved!.properties, 'TRANSACTION_CHECK_TIMES'), String(CHECK_MAX));
  assert.is(findProperty(moved!.properties, 'REAL_TOPIC'), TOPIC);
  const checks = checksOf(result.msgId);
  assert.is(checks.length, CHECK_MAX, `checked ${checks.length} times`);
  assert.equal(checks.map((c) => c.msg.properties.TRANSACTION_CHECK_TIMES), ['1', '2', '3']);

  // The producer changes its mind too late: the last copy it was asked about is ended already.
  const last = checks[checks.length - 1]!.msg;
  const late = await endTransaction({ tranStateTableOffset: last.queueOffset, commitLogOffset: last.commitLogOffset, commitOrRollback: 8, msgId: result.msgId });
  assert.is(late.code, ResponseCode.SUCCESS, late.remark);
  assert.match(late.remark ?? '', /already/);
  await marker();
  assert.is(deliveriesOf(result.msgId).length, 0);
  assert.is(checksOf(result.msgId).length, CHECK_MAX, 'no check after the move');
});

test('raw END_TRANSACTION: a wrong producer group, queue offset or commit log offset gets SYSTEM_ERROR saying which; nothing is delivered', async () => {
  const sent = await raw.invoke(
    b.addr,
    createRequest(RequestCode.SEND_MESSAGE_V2, { a: 'pg-raw', b: TOPIC, c: 'TBW102', d: 4, e: 0, f: SysFlag.TRANSACTION_PREPARED_TYPE, g: Date.now(), h: 0, i: encodeProperties({ TRAN_MSG: 'true', PGROUP: 'pg-raw', UNIQ_KEY: 'RAW-HALF-1' }), j: 0, k: false }, Buffer.from('raw half')),
    5_000,
  );
  assert.is(sent.code, ResponseCode.SUCCESS, sent.remark);
  const halfAt = decodeOffsetMessageId(sent.extFields.msgId!).physicalOffset;
  const queueOffset = Number(sent.extFields.queueOffset);
  assert.is(sent.extFields.transactionId, 'RAW-HALF-1');
  const ok = { producerGroup: 'pg-raw', tranStateTableOffset: queueOffset, commitLogOffset: halfAt, commitOrRollback: 8, msgId: 'RAW-HALF-1' };

  const wrongGroup = await endTransaction({ ...ok, producerGroup: 'someone-else' });
  assert.is(wrongGroup.code, ResponseCode.SYSTEM_ERROR);
  assert.match(wrongGroup.remark!, /producer group wrong.*pg-raw.*someone-else/);
  const wrongQueueOffset = await endTransaction({ ...ok, tranStateTableOffset: queueOffset + 1 });
  assert.is(wrongQueueOffset.code, ResponseCode.SYSTEM_ERROR);
  assert.match(wrongQueueOffset.remark!, /transaction state table offset wrong/);
  const midRecord = await endTransaction({ ...ok, commitLogOffset: halfAt + 1 });
  assert.is(midRecord.code, ResponseCode.SYSTEM_ERROR);
  assert.match(midRecord.remark!, /Find prepared transaction message failed/);
  const warmUp = received.find((m) => m.body.toString() === 'warm-up')!;
  const notAHalf = await endTransaction({ ...ok, commitLogOffset: warmUp.commitLogOffset });
  assert.is(notAHalf.code, ResponseCode.SYSTEM_ERROR);
  assert.match(notAHalf.remark!, /is on TxTopic, not RMQ_SYS_TRANS_HALF_TOPIC/);
  const badVerdict = await endTransaction({ ...ok, commitOrRollback: 4 });
  assert.is(badVerdict.code, ResponseCode.INVALID_PARAMETER);
  const missing = await raw.invoke(b.addr, createRequest(RequestCode.END_TRANSACTION, { producerGroup: 'pg-raw', commitOrRollback: 8 }), 5_000);
  assert.is(missing.code, ResponseCode.SYSTEM_ERROR);
  assert.match(missing.remark!, /tranStateTableOffset/);
  await raw.invokeOneway(b.addr, createOnewayRequest(RequestCode.END_TRANSACTION, { ...ok, commitOrRollback: 0 })); // unknown: nothing

  const rolledBack = await endTransaction({ ...ok, commitOrRollback: 12 });
  assert.is(rolledBack.code, ResponseCode.SUCCESS, rolledBack.remark);
  const commitAfter = await endTransaction(ok);
  assert.match(commitAfter.remark ?? '', /already/);
  await marker();
  assert.is(deliveriesOf('RAW-HALF-1').length, 0);
});

test('rejectTransactionMessage=true refuses the prepare with NO_PERMISSION; plain sends still go', async () => {
  b.broker.ctx.config.rejectTransactionMessage = true;
  try {
    const rawPrepare = await raw.invoke(
      b.addr,
      createRequest(RequestCode.SEND_MESSAGE_V2, { a: 'pg-raw', b: TOPIC, c: 'TBW102', d: 4, e: 0, f: 0, g: Date.now(), h: 0, i: encodeProperties({ TRAN_MSG: 'true', PGROUP: 'pg-raw' }), j: 0, k: false }, Buffer.from('refused')),
      5_000,
    );
    assert.is(rawPrepare.code, ResponseCode.NO_PERMISSION);
    assert.match(rawPrepare.remark!, /sending transaction message is forbidden/);
    const before = executeCalls.length;
    try {
      await producer.sendMessageInTransaction({ topic: TOPIC, body: 'refused-too' }, 'the-arg');
      assert.unreachable('the prepare should be refused');
    } catch (error) {
      assert.instance(error, MQClientError);
      assert.is((error as MQClientError).responseCode, ResponseCode.NO_PERMISSION);
    }
    assert.is(executeCalls.length, before, 'no local transaction without a half');
    await producer.send({ topic: TOPIC, body: 'plain-while-rejecting' });
  } finally {
    b.broker.ctx.config.rejectTransactionMessage = false;
  }
});

test('a slave answers END_TRANSACTION with SLAVE_NOT_AVAILABLE', async () => {
  const slave = await startTestBroker({ brokerName: 'broker-tx-slave', brokerRole: 'SLAVE', brokerId: '1' });
  try {
    const res = await raw.invoke(slave.addr, createRequest(RequestCode.END_TRANSACTION, { producerGroup: GROUP, tranStateTableOffset: 0, commitLogOffset: 0, commitOrRollback: 8, msgId: 'x' }), 5_000);
    assert.is(res.code, ResponseCode.SLAVE_NOT_AVAILABLE, res.remark);
  } finally {
    await slave.stop();
  }
});

test('restart: an unresolved half is checked back by the restarted broker, and ended ones stay ended', async () => {
  executeAnswers.set('across-restart', 'UNKNOW');
  // Immune for 3 s: put back unchanged each cycle until then, so no check comes before the restart.
  const result = await producer.sendMessageInTransaction({ topic: TOPIC, body: 'across-restart', properties: { CHECK_IMMUNITY_TIME_IN_SECONDS: '3' } }, 'the-arg');
  checkAnswers.set(result.msgId, 'COMMIT_MESSAGE');
  await sleep(700); // a few cycles put it back while immune
  assert.is(checksOf(result.msgId).length, 0, 'immune: not checked yet');
  const restartedAt = Date.now();
  b = await b.restart();

  await until('checked back after the restart and consumed', () => deliveriesOf(result.msgId).length > 0, 20_000);
  const checks = checksOf(result.msgId);
  assert.ok(checks.length >= 1 && checks.every((c) => c.at > restartedAt), 'checked by the restarted broker');
  assert.is(checks[0]!.msg.properties.TRAN_PREPARED_QUEUE_OFFSET, String(result.queueOffset));

  // The ended-halves index came back from the op topic: the first commit is still ended.
  const again = await endTransaction({ tranStateTableOffset: committed!.halfQueueOffset, commitLogOffset: committed!.halfPhysicalOffset, commitOrRollback: 8, msgId: committed!.uniqKey });
  assert.is(again.code, ResponseCode.SUCCESS, again.remark);
  assert.match(again.remark ?? '', /already/);
  await marker();
  assert.is(deliveriesOf(result.msgId).length, 1);
  assert.is(deliveriesOf(committed!.uniqKey).length, 1);
});

test.run();
