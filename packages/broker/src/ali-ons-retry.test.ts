// The retry path of a client no one here wrote: the npm package `ali-ons`, unchanged. Its handler
// returns Consumer.ACTION_RETRY or throws; ali-ons hands the message back with
// CONSUMER_SEND_MSG_BACK (delayLevel 0), Orbit parks it at level 3 + reconsumeTimes and delivers it
// on %RETRY%<group>, and ali-ons consumes it again under its original topic. (ali-ons's %RETRY%
// subscription drops its handler's return value, so ACTION_RETRY retries a message once; a throw
// retries it every time: that is the client, not the broker.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeProperties, RequestCode, ResponseCode } from '@orbit/common';
import { NamesrvController } from '@orbit/namesrv';
import { createRequest, RemotingClient } from '@orbit/remoting';
import { runJsonLinesFixture, startTestBroker, type TestBroker } from './test-support.js';

const FIXTURE = join(import.meta.dirname, 'ali-ons-retry.fixture.cjs');
const TOPIC = 'AliRetryTopic';
const GROUP = 'ali_retry_cg';
/** Level n waits n × 100 ms: ali-ons's retries come after 300 ms, then 400 ms. */
const FAST_LEVELS = Array.from({ length: 18 }, (_, i) => `${(i + 1) * 100}ms`).join(' ');

let namesrv: NamesrvController;
let namesrvAddr = '';
let broker: TestBroker;
let kvDir: string;
const admin = new RemotingClient({ connectTimeoutMs: 2_000, requestTimeoutMs: 5_000 });

interface Delivery {
  body: string;
  msgId: string;
  topic: string;
  reconsumeTimes: number;
  properties: Record<string, string>;
  at: number;
}

const runFixture = (args: string[], timeoutMs = 60_000) => runJsonLinesFixture(FIXTURE, args, timeoutMs);

async function createTopic(topic: string, queues: number): Promise<void> {
  const res = await admin.invoke(
    broker.addr,
    createRequest(RequestCode.UPDATE_AND_CREATE_TOPIC, { topic, defaultTopic: 'TBW102', readQueueNums: queues, writeQueueNums: queues, perm: 6, topicFilterType: 'SINGLE_TAG', order: false }),
    5_000,
  );
  assert.is(res.code, ResponseCode.SUCCESS, res.remark);
}

test.before(async () => {
  kvDir = mkdtempSync(join(tmpdir(), 'orbit-namesrv-'));
  namesrv = new NamesrvController({ config: { listenPort: 0, bindAddress: '127.0.0.1', kvConfigPath: join(kvDir, 'kv.json') } });
  const { port } = await namesrv.start();
  namesrvAddr = `127.0.0.1:${port}`;
  broker = await startTestBroker({ namesrvAddr, messageDelayLevel: FAST_LEVELS });
  await createTopic(TOPIC, 2);
  // ali-ons looks up its retry topic's route once at start; have it there (a heartbeat would create
  // it too, but the client would only see it at its next 30 s route refresh).
  await createTopic(`%RETRY%${GROUP}`, 1);
  await broker.broker.registerNow();
});

test.after(async () => {
  await broker?.stop();
  await namesrv?.shutdown();
  await admin.close();
  rmSync(kvDir, { recursive: true, force: true });
});

test('ali-ons: ACTION_RETRY and a throwing handler both end in redelivery through CONSUMER_SEND_MSG_BACK, after level 3 (then 4)', async () => {
  for (const body of ['retry-me', 'throw-me']) {
    const res = await admin.invoke(broker.addr, createRequest(RequestCode.SEND_MESSAGE_V2, { a: 'pg', b: TOPIC, c: 'TBW102', d: 4, e: 0, f: 0, g: Date.now(), h: 0, i: encodeProperties({ TAGS: 'T' }), j: 0, k: false }, Buffer.from(body)), 5_000);
    assert.is(res.code, ResponseCode.SUCCESS, res.remark);
  }
  const store = broker.broker.ctx.store;
  const parkedBefore = [2, 3].map((q) => store.getMaxOffsetInQueue('SCHEDULE_TOPIC_XXXX', q));

  // Each fails twice: retry-me is delivered twice (the ali-ons quirk above), throw-me three times.
  const lines = await runFixture(['retry-consume', namesrvAddr, TOPIC, GROUP, '2', '5', '30000']);
  const fatal = lines.find((l) => l.error);
  assert.not.ok(fatal, JSON.stringify(fatal));
  const errors = lines.filter((l) => l.consumerError).map((l) => String(l.consumerError));
  assert.not.ok(errors.some((e) => /sendMessageBack|send reconsume/i.test(e)), `a send-back failed, so ali-ons fell back to re-publishing: ${errors.join(' | ')}`);
  const deliveries = lines.filter((l) => l.body) as unknown as Delivery[];

  for (const [body, times] of [['retry-me', 2], ['throw-me', 3]] as const) {
    const mine = deliveries.filter((d) => d.body === body);
    assert.equal(mine.map((d) => d.reconsumeTimes), Array.from({ length: times }, (_, i) => i), `${body}: delivered ${times} times`);
    const [first, ...again] = mine as [Delivery, ...Delivery[]];
    assert.is(first.topic, TOPIC);
    for (const retry of again) {
      assert.is(retry.topic, TOPIC, 'ali-ons shows the original topic (RETRY_TOPIC)');
      assert.is(retry.properties.RETRY_TOPIC, TOPIC);
      assert.is(retry.properties.REAL_TOPIC, `%RETRY%${GROUP}`, 'it went through SCHEDULE_TOPIC_XXXX, i.e. CONSUMER_SEND_MSG_BACK');
      assert.is(retry.properties.DELAY, undefined);
      assert.is(retry.properties.ORIGIN_MESSAGE_ID, first.msgId, 'ORIGIN_MESSAGE_ID is the first delivery id');
      assert.is(retry.properties.TAGS, 'T');
    }
    const gaps = mine.slice(1).map((d, i) => d.at - mine[i]!.at);
    gaps.forEach((gap, i) => assert.ok(gap >= (3 + i) * 100, `${body}: retry ${i + 1} after ${gap} ms, level ${3 + i} is ${(3 + i) * 100} ms`));
    console.log(`ali-ons ${body}: redelivered after ${gaps.join(' ms, then ')} ms`);
  }
  await store.waitDispatched();
  const parkedAfter = [2, 3].map((q) => store.getMaxOffsetInQueue('SCHEDULE_TOPIC_XXXX', q));
  assert.equal([parkedAfter[0]! - parkedBefore[0]!, parkedAfter[1]! - parkedBefore[1]!], [2, 1], 'two messages parked at level 3, one at level 4');
});

test.run();
