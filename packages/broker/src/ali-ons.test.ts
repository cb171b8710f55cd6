// A real client no one here wrote: the npm package `ali-ons`, unchanged, produces and consumes
// through Orbit's NameServer and broker (clustering group, several queues, a consumer restart in
// between so its offsets are read back from the broker).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RequestCode, ResponseCode } from '@orbit/common';
import { NamesrvController } from '@orbit/namesrv';
import { createRequest, RemotingClient } from '@orbit/remoting';
import { runJsonLinesFixture, startTestBroker, type TestBroker } from './test-support.js';

const FIXTURE = join(import.meta.dirname, 'ali-ons.fixture.cjs');
const TOPIC = 'AliOnsTopic';
const QUEUES = 4;

let namesrv: NamesrvController;
let namesrvAddr = '';
let broker: TestBroker;
let kvDir: string;
const admin = new RemotingClient({ connectTimeoutMs: 2_000, requestTimeoutMs: 5_000 });

const runFixture = (args: string[], timeoutMs = 60_000) => runJsonLinesFixture(FIXTURE, args, timeoutMs);

test.before(async () => {
  kvDir = mkdtempSync(join(tmpdir(), 'orbit-namesrv-'));
  namesrv = new NamesrvController({ config: { listenPort: 0, bindAddress: '127.0.0.1', kvConfigPath: join(kvDir, 'kv.json') } });
  const { port } = await namesrv.start();
  namesrvAddr = `127.0.0.1:${port}`;
  broker = await startTestBroker({ namesrvAddr });
  const created = await admin.invoke(
    broker.addr,
    createRequest(RequestCode.UPDATE_AND_CREATE_TOPIC, { topic: TOPIC, defaultTopic: 'TBW102', readQueueNums: QUEUES, writeQueueNums: QUEUES, perm: 6, topicFilterType: 'SINGLE_TAG', order: false }),
    5_000,
  );
  assert.is(created.code, ResponseCode.SUCCESS, created.remark);
  await broker.broker.registerNow();
});

test.after(async () => {
  await broker?.stop();
  await namesrv?.shutdown();
  await admin.close();
  rmSync(kvDir, { recursive: true, force: true });
});

test('ali-ons produces to several queues and a clustering consumer gets every message once, then resumes from its committed offsets', async () => {
  const sent = await runFixture(['produce', namesrvAddr, TOPIC, '40', 'A']);
  assert.is(sent.length, 40, JSON.stringify(sent.find((l) => l.error)));
  for (const s of sent) assert.is(s.status, 'SEND_OK');
  const queuesUsed = new Set(sent.map((s) => s.queueId));
  assert.ok(queuesUsed.size >= 2, `only queues ${[...queuesUsed]} used`);

  const first = await runFixture(['consume', namesrvAddr, TOPIC, 'ali_ons_cg', '40', '30000']);
  const firstBodies = first.map((m) => m.body as string).sort();
  assert.equal(firstBodies, Array.from({ length: 40 }, (_, i) => `body-A-${i}`).sort(), 'first consumer run: every message exactly once');
  // ali-ons recomputes msgId from the stored record; it must equal what the broker answered at send.
  assert.equal(new Set(first.map((m) => m.msgId)), new Set(sent.map((s) => s.msgId)));
  for (const m of first) assert.ok(m.tags === 'A0' || m.tags === 'A1');

  const committed = [0, 1, 2, 3].reduce((sum, q) => sum + Math.max(0, broker.broker.ctx.offsets.query('ali_ons_cg', TOPIC, q)), 0);
  assert.is(committed, 40, 'the consumer committed its offsets at close');

  const more = await runFixture(['produce', namesrvAddr, TOPIC, '20', 'B']);
  assert.is(more.length, 20);
  const second = await runFixture(['consume', namesrvAddr, TOPIC, 'ali_ons_cg', '20', '30000']);
  assert.equal(second.map((m) => m.body as string).sort(), Array.from({ length: 20 }, (_, i) => `body-B-${i}`).sort(), 'the restarted consumer resumed from its offsets: only the new messages');
});

test.run();
