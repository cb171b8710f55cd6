// Random and mutated frames at a live broker and a live NameServer: neither may crash, hang or store
// anything bogus, and both must go on serving normal clients afterwards. Seeded, so a failure
// replays; bounded in frames and time.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkStoredRecord, decodeStoredRecord, decodeStoredRecords, encodeProperties, RequestCode, ResponseCode, topicNameProblem } from '@orbit/common';
import { NamesrvController } from '@orbit/namesrv';
import { createRequest, encodeFrameBuffer, FrameDecoder, RemotingClient, type RemotingCommand } from '@orbit/remoting';
import { PullSysFlag } from './processors/pull-message-processor.js';
import { startTestBroker, type TestBroker } from './test-support.js';
import { SeededRandom } from '@orbit/common/seeded-random';

const FRAMES_PER_TARGET = 100_000;
const FRAMES_PER_CONNECTION = 200;
const PARALLEL_CONNECTIONS = 4;
const CONNECTION_IDLE_MS = 300;
const TOTAL_BUDGET_MS = 240_000;


const TOPICS = ['FuzzTopic', 'FuzzTopic', 'Other', '', 'bad topic', '%RETRY%g', 'SCHEDULE_TOPIC_XXXX', 'T'.repeat(200), 'TBW102'];
const VALUES: unknown[] = ['0', '1', '-1', 'abc', '', '99999999999999999999', 2147483648, -5, true, 'null', '{}', '\u0000\u0001\u0002', 'x'.repeat(3000)];

function value(rng: SeededRandom, sensible: () => unknown): unknown {
  return rng.next() < 0.8 ? sensible() : rng.pick(VALUES);
}

/** A request that looks like something a client would send, with odd values mixed in. */
function plausibleRequest(rng: SeededRandom, target: 'broker' | 'namesrv'): RemotingCommand {
  const topic = () => rng.pick(TOPICS);
  const q = () => rng.int(6) - 1;
  const body = () => Buffer.from(`fuzz-${rng.int(1e9)}`.repeat(1 + rng.int(4)));
  if (target === 'namesrv') {
    switch (rng.int(7)) {
      case 0:
        return createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: value(rng, topic) as string });
      case 1:
        return createRequest(RequestCode.REGISTER_BROKER, { brokerName: value(rng, () => 'fz') as string, brokerAddr: value(rng, () => `127.0.0.1:${rng.int(65536)}`) as string, clusterName: 'FuzzCluster', haServerAddr: '127.0.0.1:1', brokerId: value(rng, () => rng.int(3)) as number }, rng.next() < 0.5 ? Buffer.from(JSON.stringify({ topicConfigSerializeWrapper: { topicConfigTable: { [topic()]: { topicName: 'x', readQueueNums: rng.int(9), writeQueueNums: rng.int(9), perm: rng.int(8) } }, dataVersion: { timestamp: rng.int(1e9), counter: rng.int(9) } }, filterServerList: [] })) : body());
      case 2:
        return createRequest(RequestCode.GET_BROKER_CLUSTER_INFO, {});
      case 3:
        return createRequest(RequestCode.PUT_KV_CONFIG, { namespace: value(rng, () => 'ns') as string, key: value(rng, () => 'k') as string, value: value(rng, () => 'v') as string });
      case 4:
        return createRequest(RequestCode.UNREGISTER_BROKER, { brokerName: 'fz', brokerAddr: '127.0.0.1:1', clusterName: 'FuzzCluster', brokerId: 0 });
      case 5:
        return createRequest(RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER, {});
      default:
        return createRequest(rng.int(400), { x: value(rng, () => 'y') as string }, body());
    }
  }
  switch (rng.int(10)) {
    case 0:
    case 1:
      return createRequest(
        RequestCode.SEND_MESSAGE_V2,
        { a: 'pg', b: value(rng, topic) as string, c: 'TBW102', d: value(rng, () => 4) as number, e: value(rng, q) as number, f: value(rng, () => 0) as number, g: value(rng, () => Date.now()) as number, h: 0, i: value(rng, () => encodeProperties({ TAGS: 'T', KEYS: 'k' })) as string },
        rng.next() < 0.02 ? Buffer.alloc(4 * 1024 * 1024 + 1) : body(),
      );
    case 2:
      return createRequest(RequestCode.SEND_BATCH_MESSAGE, { a: 'pg', b: topic(), c: 'TBW102', d: 4, e: q(), f: 0, g: Date.now(), h: 0, m: true }, body());
    case 3:
      return createRequest(RequestCode.PULL_MESSAGE, { consumerGroup: value(rng, () => 'cg') as string, topic: value(rng, topic) as string, queueId: value(rng, q) as number, queueOffset: value(rng, () => rng.int(100) - 10) as number, maxMsgNums: value(rng, () => 32) as number, sysFlag: rng.int(32) & ~PullSysFlag.SUSPEND, commitOffset: value(rng, () => rng.int(50)) as number, suspendTimeoutMillis: 0, subscription: value(rng, () => rng.pick(['*', 'T', 'A || B', '||'])) as string, subVersion: 0 });
    case 4:
      return createRequest(RequestCode.HEART_BEAT, {}, rng.next() < 0.5 ? body() : Buffer.from(JSON.stringify({ clientID: value(rng, () => 'fz@1'), consumerDataSet: [{ groupName: value(rng, () => 'cg'), subscriptionDataSet: [{ topic: topic(), subString: '*' }] }] })));
    case 5:
      return createRequest(rng.pick([RequestCode.QUERY_CONSUMER_OFFSET, RequestCode.UPDATE_CONSUMER_OFFSET, RequestCode.GET_MAX_OFFSET, RequestCode.GET_MIN_OFFSET, RequestCode.SEARCH_OFFSET_BY_TIMESTAMP]), { consumerGroup: 'cg', topic: value(rng, topic) as string, queueId: value(rng, q) as number, commitOffset: value(rng, () => rng.int(100)) as number, timestamp: value(rng, () => Date.now()) as number });
    case 6:
      return createRequest(RequestCode.UPDATE_AND_CREATE_TOPIC, { topic: value(rng, topic) as string, defaultTopic: 'TBW102', readQueueNums: value(rng, () => rng.int(10)) as number, writeQueueNums: value(rng, () => rng.int(10)) as number, perm: value(rng, () => 6) as number });
    case 7:
      return createRequest(rng.pick([RequestCode.VIEW_MESSAGE_BY_ID, RequestCode.QUERY_MESSAGE]), { offset: value(rng, () => rng.int(100000)) as number, topic: topic(), key: 'k', maxNum: value(rng, () => 32) as number, beginTimestamp: 0, endTimestamp: Date.now() });
    case 8:
      return createRequest(RequestCode.GET_CONSUMER_LIST_BY_GROUP, { consumerGroup: value(rng, () => 'cg') as string });
    default:
      return createRequest(rng.int(1000), {}, body());
  }
}

/**
 * A well-framed frame: plausible, or with bytes flipped inside its header (the frame boundary stays
 * intact, so the server must answer or skip it and keep the connection).
 */
function framedBytes(rng: SeededRandom, target: 'broker' | 'namesrv'): Buffer {
  const frame = encodeFrameBuffer(plausibleRequest(rng, target));
  if (rng.int(3) > 0) return frame;
  const m = Buffer.from(frame);
  const headerBytes = m.readInt32BE(4) & 0xffffff;
  for (let i = 0; i < 1 + rng.int(6); i++) m[8 + rng.int(Math.max(1, headerBytes))] ^= 1 << rng.int(8);
  return m;
}

/** A frame that breaks the framing (the server must drop only this connection), or noise. */
function breakingBytes(rng: SeededRandom, target: 'broker' | 'namesrv'): Buffer {
  const m = Buffer.from(encodeFrameBuffer(plausibleRequest(rng, target)));
  switch (rng.int(4)) {
    case 0: // lie about the header length
      m.writeInt32BE((rng.int(2) << 24) | (m.length + rng.int(m.length)), 4);
      return m;
    case 1: // lie about the frame length
      m.writeInt32BE(rng.pick([-1, 0, 3, 0x7fffffff, 17 * 1024 * 1024]), 0);
      return m;
    case 2: // unknown serialize type
      m[4] = 2 + rng.int(250);
      return m;
    default: // noise
      return Buffer.from(Array.from({ length: 8 + rng.int(64) }, () => rng.int(256)));
  }
}

/** Sends frames on one connection and waits until the peer is quiet or closes; counts responses. */
function blast(port: number, frames: Buffer[], counts: { responses: number }): Promise<void> {
  const decoder = new FrameDecoder();
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let idle: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(idle);
      socket.destroy();
      resolve();
    };
    const bump = () => {
      clearTimeout(idle);
      idle = setTimeout(finish, CONNECTION_IDLE_MS);
    };
    socket.on('connect', () => {
      socket.write(Buffer.concat(frames));
      bump();
    });
    socket.on('data', (chunk: Buffer) => {
      bump();
      try {
        for (const _ of decoder.feed(chunk)) counts.responses++;
      } catch {
        finish(); // the server only ever sends well-formed frames; a decode error would fail the count
      }
    });
    socket.on('error', finish);
    socket.on('close', finish);
  });
}

async function fuzz(port: number, target: 'broker' | 'namesrv', seed: number, deadline: number): Promise<{ sent: number; responses: number }> {
  const rng = new SeededRandom(seed);
  const counts = { responses: 0 };
  let sent = 0;
  while (sent < FRAMES_PER_TARGET && Date.now() < deadline) {
    // Each connection: well-framed frames, then one that breaks the framing and ends it.
    const batches = Array.from({ length: PARALLEL_CONNECTIONS }, () => [
      ...Array.from({ length: FRAMES_PER_CONNECTION - 1 }, () => framedBytes(rng, target)),
      breakingBytes(rng, target),
    ]);
    await Promise.all(batches.map((frames) => blast(port, frames, counts)));
    sent += PARALLEL_CONNECTIONS * FRAMES_PER_CONNECTION;
  }
  return { sent, responses: counts.responses };
}

let namesrv: NamesrvController;
let broker: TestBroker;
let kvDir: string;
const client = new RemotingClient({ connectTimeoutMs: 2_000, requestTimeoutMs: 10_000 });

test.before(async () => {
  kvDir = mkdtempSync(join(tmpdir(), 'orbit-fuzz-ns-'));
  namesrv = new NamesrvController({ config: { listenPort: 0, bindAddress: '127.0.0.1', kvConfigPath: join(kvDir, 'kv.json') } });
  const { port } = await namesrv.start();
  broker = await startTestBroker({ namesrvAddr: `127.0.0.1:${port}` });
});

test.after(async () => {
  await broker?.stop();
  await namesrv?.shutdown();
  await client.close();
  rmSync(kvDir, { recursive: true, force: true });
});

test('100k random and mutated frames each at a live broker and NameServer; both keep serving; nothing bogus is stored', async () => {
  const deadline = Date.now() + TOTAL_BUDGET_MS;
  const brokerPort = Number(broker.addr.split(':')[1]);
  const namesrvPort = Number(broker.broker.config.namesrvAddr.split(':')[1]);
  const [toBroker, toNamesrv] = await Promise.all([fuzz(brokerPort, 'broker', 0x5eed1, deadline), fuzz(namesrvPort, 'namesrv', 0x5eed2, deadline)]);
  assert.ok(toBroker.sent >= FRAMES_PER_TARGET, `only ${toBroker.sent} frames reached the broker in the time budget`);
  assert.ok(toNamesrv.sent >= FRAMES_PER_TARGET, `only ${toNamesrv.sent} frames reached the NameServer in the time budget`);
  // Broken framing closes a connection, so not every frame is answered; most well-framed ones are.
  console.log(`fuzz: broker answered ${toBroker.responses} of ${toBroker.sent} frames, NameServer ${toNamesrv.responses} of ${toNamesrv.sent}`);
  assert.ok(toBroker.responses > 50_000 && toNamesrv.responses > 50_000, 'too few frames were processed to call this a fuzz');

  // A normal client is served as usual (the fuzz may have rewritten TBW102, so create the topic).
  const created = await client.invoke(broker.addr, createRequest(RequestCode.UPDATE_AND_CREATE_TOPIC, { topic: 'AfterFuzz', defaultTopic: 'TBW102', readQueueNums: 1, writeQueueNums: 1, perm: 6 }), 10_000);
  assert.is(created.code, ResponseCode.SUCCESS, created.remark);

  const sent = await client.invoke(broker.addr, createRequest(RequestCode.SEND_MESSAGE_V2, { a: 'pg', b: 'AfterFuzz', c: 'TBW102', d: 4, e: 0, f: 0, g: Date.now(), h: 0, i: '' }, Buffer.from('still here')), 10_000);
  assert.is(sent.code, ResponseCode.SUCCESS, sent.remark);
  await broker.broker.ctx.store.waitDispatched();
  const pulled = await client.invoke(broker.addr, createRequest(RequestCode.PULL_MESSAGE, { consumerGroup: 'cg', topic: 'AfterFuzz', queueId: 0, queueOffset: 0, maxMsgNums: 32, sysFlag: PullSysFlag.SUBSCRIPTION, commitOffset: 0, suspendTimeoutMillis: 0, subscription: '*', subVersion: 0 }), 10_000);
  assert.is(pulled.code, ResponseCode.SUCCESS, pulled.remark);
  assert.is(decodeStoredRecords(pulled.body!)[0]!.body.toString(), 'still here');
  await broker.broker.registerNow();
  const route = await client.invoke(broker.broker.config.namesrvAddr, createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'AfterFuzz' }), 10_000);
  assert.is(route.code, ResponseCode.SUCCESS, route.remark);
  assert.ok(JSON.parse(route.body!.toString()).brokerDatas.some((b: { brokerAddrs: Record<string, string> }) => b.brokerAddrs['0'] === broker.addr));

  // Every record in the log is whole and legal: checked CRC, a legal topic, a queue
  // id within bounds. (Well-formed fuzzed sends are legitimately stored.)
  const store = broker.broker.ctx.store;
  let at = store.commitLogMinOffset;
  let records = 0;
  const segmentBytes = broker.broker.storeConfig.mappedFileSizeCommitLog;
  while (at < store.commitLogMaxOffset) {
    const rec = store.getMessageByPhysicalOffset(at);
    if (!rec) {
      at = at - (at % segmentBytes) + segmentBytes;
      continue;
    }
    assert.is(checkStoredRecord(rec, 0, rec.length, true).kind, 'message', `record at ${at}`);
    const d = decodeStoredRecord(rec, 0);
    assert.is(topicNameProblem(d.topic), undefined, `illegal topic stored: ${d.topic}`);
    // Admin requests in the fuzz may shrink a topic after messages were stored, so the bound checked
    // is the protocol's (queue numbers are at most 65535), not today's topic config.
    assert.ok(d.queueId >= 0 && d.queueId < 65_535, `queue ${d.queueId} stored for ${d.topic}`);
    at += rec.length;
    records++;
  }
  assert.ok(records > 0);
});

test.run();
