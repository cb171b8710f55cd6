// bin/mqadmin as a real process against a live NameServer and two in-process brokers on 127.0.0.1:
// every command runs, and the tests check its output, its exit code and the state it leaves behind
// (routes, topic and group configs on the brokers, committed offsets). A scripted broker shows what
// goes on the wire for requests whose answers Orbit's brokers cannot be made to vary.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdminClient, Producer, PushConsumer, silentLogger, type MessageExt } from '@orbit/client';
import { buildRoute, ScriptedBroker, ScriptedNameServer } from '@orbit/client/testing/scripted-peers';
import { RequestCode, ResponseCode } from '@orbit/common';
import { NamesrvController } from '@orbit/namesrv';
import { createRequest, createResponse } from '@orbit/remoting';
import { startTestBroker, type TestBroker } from '@orbit/broker/test-support';

const MQADMIN = join(import.meta.dirname, '..', 'bin', 'mqadmin');
const RUN_TIMEOUT_MS = 20_000;

let dir: string;
let bodyDir: string;
let namesrv: NamesrvController;
let namesrvAddr = '';
let brokerA: TestBroker;
let brokerB: TestBroker;
let admin: AdminClient;
let instance = 0;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs bin/mqadmin with NAMESRV_ADDR set (unless overridden) and a private TMPDIR; kills it after 20 s. */
function mqadmin(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(MQADMIN, args, { env: { ...process.env, NAMESRV_ADDR: namesrvAddr, TMPDIR: bodyDir, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`mqadmin ${args.join(' ')} did not finish within ${RUN_TIMEOUT_MS} ms\n${stdout}\n${stderr}`));
    }, RUN_TIMEOUT_MS);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Asserts exit code 0 and returns stdout. */
function ok(r: Run, what: string): string {
  assert.is(r.code, 0, `${what} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

function okJson<T = any>(r: Run, what: string): T {
  return JSON.parse(ok(r, what)) as T;
}

async function until(what: string, fn: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function createTopic(topic: string, queues: number): Promise<void> {
  for (const b of [brokerA, brokerB]) {
    await admin.createTopic(b.addr, { topic, readQueueNums: queues, writeQueueNums: queues });
    await b.broker.registerNow();
  }
}

const routeWriteQueues = async (topic: string): Promise<Record<string, number>> => {
  const route = await admin.api.getTopicRouteInfoFromNameServer(topic);
  return Object.fromEntries((route?.queueDatas ?? []).map((q) => [q.brokerName, q.writeQueueNums]));
};

const committed = (b: TestBroker, group: string, topic: string, queueId: number) => b.broker.ctx.offsets.query(group, topic, queueId);
const groupNames = (b: TestBroker) => b.broker.ctx.groups.all().map((g) => g.groupName);
const fastClient = () => ({ namesrvAddr, instanceName: `adm${++instance}`, rebalanceIntervalMs: 1_000, persistConsumerOffsetIntervalMs: 300, pollNameServerIntervalMs: 1_000, heartbeatBrokerIntervalMs: 1_000, logger: silentLogger });

test.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'orbit-admin-'));
  bodyDir = join(dir, 'tmp');
  namesrv = new NamesrvController({ config: { listenPort: 0, bindAddress: '127.0.0.1', kvConfigPath: join(dir, 'kv.json') } });
  namesrvAddr = `127.0.0.1:${(await namesrv.start()).port}`;
  brokerA = await startTestBroker({ namesrvAddr, brokerName: 'broker-a' });
  brokerB = await startTestBroker({ namesrvAddr, brokerName: 'broker-b' });
  admin = new AdminClient({ namesrvAddr, logger: silentLogger });
});

test.after(async () => {
  await admin?.shutdown();
  await brokerA?.stop();
  await brokerB?.stop();
  await namesrv?.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

test('help and usage errors of the real binary; clusterList and brokerStatus show both brokers', async () => {
  const [bare, bogus, missing, noNamesrv, cluster, clusterJson, more, statusA, statusC, statusDown] = await Promise.all([
    mqadmin([]),
    mqadmin(['bogus']),
    mqadmin(['updateTopic', '-t', 'T']),
    mqadmin(['topicList'], { NAMESRV_ADDR: '' }),
    mqadmin(['clusterList']),
    mqadmin(['clusterList', '--json']),
    mqadmin(['clusterList', '-m', '-c', 'DefaultCluster']),
    mqadmin(['brokerStatus', '-b', brokerA.addr]),
    mqadmin(['brokerStatus', '-c', 'DefaultCluster', '--json']),
    mqadmin(['brokerStatus', '-b', '127.0.0.1:1']),
  ]);
  assert.match(ok(bare, 'mqadmin'), /updateTopic[\s\S]*updateBrokerConfig/);
  assert.is(bogus.code, 2);
  assert.match(bogus.stderr, /unknown command 'bogus'/);
  assert.is(missing.code, 2);
  assert.match(missing.stderr, /Missing required option: one of -b, -c[\s\S]*usage: mqadmin updateTopic/);
  assert.is(noNamesrv.code, 2);
  assert.match(noNamesrv.stderr, /NAMESRV_ADDR/);

  const lines = ok(cluster, 'clusterList').trim().split('\n');
  assert.match(lines[0]!, /^#Cluster Name\s+#Broker Name\s+#BID\s+#Addr\s+#Version\s+#InTPS\(LOAD\)\s+#OutTPS\(LOAD\)\s+#Timer\(Progress\)\s+#PCWait\(ms\)\s+#Hour\s+#SPACE\s+#ACTIVATED$/);
  assert.is(lines.length, 3);
  assert.match(lines[1]!, new RegExp(`^DefaultCluster\\s+broker-a\\s+0\\s+${brokerA.addr}\\s+V5_3_3`));
  assert.match(lines[2]!, new RegExp(`^DefaultCluster\\s+broker-b\\s+0\\s+${brokerB.addr}`));
  const cj = okJson(clusterJson, 'clusterList --json');
  assert.equal(cj.brokers.map((b: any) => [b.brokerName, b.brokerId, b.addr]), [['broker-a', 0, brokerA.addr], ['broker-b', 0, brokerB.addr]]);
  assert.match(cj.brokers[0].runtime.brokerVersionDesc, /V5_3_3/);
  assert.match(ok(more, 'clusterList -m'), /#Cluster Name\s+#Broker Name\s+#InTotalYest\s+#OutTotalYest\s+#InTotalToday\s+#OutTotalToday\n.*broker-a/);

  const status = ok(statusA, 'brokerStatus -b');
  assert.match(status, /^bootTimestamp\s+: \d+$/m);
  assert.match(status, /^brokerVersionDesc\s+: V5_3_3/m);
  assert.equal(Object.keys(okJson(statusC, 'brokerStatus -c').brokers).sort(), [brokerA.addr, brokerB.addr].sort());
  assert.is(statusDown.code, 1);
  assert.match(statusDown.stderr, /brokerStatus: command failed: .*127\.0\.0\.1:1/);
});

test('updateTopic creates the topic on every master of a cluster (or one broker, with an order conf); topicRoute, topicStatus, topicList show it', async () => {
  const created = await mqadmin(['updateTopic', '-c', 'DefaultCluster', '-t', 'AdmTopic', '-r', '4', '-w', '4']);
  const out = ok(created, 'updateTopic -c');
  assert.ok(out.includes(`create topic to ${brokerA.addr} success.`), out);
  assert.ok(out.includes(`create topic to ${brokerB.addr} success.`), out);
  assert.ok(out.includes('TopicConfig [topicName=AdmTopic, readQueueNums=4, writeQueueNums=4, perm=RW-, topicFilterType=SINGLE_TAG, topicSysFlag=0, order=false, attributes={}]'), out);
  assert.is(brokerA.broker.ctx.topics.get('AdmTopic')?.writeQueueNums, 4);
  assert.is(brokerB.broker.ctx.topics.get('AdmTopic')?.readQueueNums, 4);
  await until('AdmTopic route on both brokers', async () => JSON.stringify(await routeWriteQueues('AdmTopic')) === JSON.stringify({ 'broker-a': 4, 'broker-b': 4 }));

  const order = okJson(await mqadmin(['updateTopic', '-b', brokerA.addr, '-t', 'AdmOrder', '-r', '2', '-w', '2', '-p', '6', '-o', 'true', '--json']), 'updateTopic -b -o');
  assert.equal(order.brokers, [{ addr: brokerA.addr, success: true }]);
  assert.is(order.orderConf, 'broker-a:2');
  assert.is(brokerA.broker.ctx.topics.get('AdmOrder')?.order, true);
  assert.is(brokerB.broker.ctx.topics.get('AdmOrder'), undefined);
  const kv = await admin.remoting.invoke(namesrvAddr, createRequest(RequestCode.GET_KV_CONFIG, { namespace: 'ORDER_TOPIC_CONFIG', key: 'AdmOrder' }));
  assert.is(kv.extFields.value, 'broker-a:2');
  await until('AdmOrder route', async () => (await routeWriteQueues('AdmOrder'))['broker-a'] === 2);

  const [list, listJson, route, routeJson, status, statusJson, topics, topicsCluster, missing] = await Promise.all([
    mqadmin(['topicRoute', '-t', 'AdmTopic', '-l']),
    mqadmin(['topicRoute', '-t', 'AdmTopic', '--json']),
    mqadmin(['topicRoute', '-t', 'AdmOrder']),
    mqadmin(['topicRoute', '-t', 'AdmOrder', '--json']),
    mqadmin(['topicStatus', '-t', 'AdmTopic']),
    mqadmin(['topicStatus', '-t', 'AdmTopic', '--json']),
    mqadmin(['topicList']),
    mqadmin(['topicList', '-c', '--json']),
    mqadmin(['topicRoute', '-t', 'NoSuchTopic']),
  ]);
  const table = ok(list, 'topicRoute -l').trim().split('\n');
  assert.match(table[0]!, /^#ClusterName\s+#BrokerName\s+#BrokerAddrs\s+#ReadQueue\s+#WriteQueue\s+#Perm$/);
  assert.match(table[1]!, new RegExp(`^DefaultCluster\\s+broker-a\\s+\\{0=${brokerA.addr}\\}\\s+4\\s+4\\s+6$`));
  assert.match(table[2]!, /^DefaultCluster\s+broker-b\s+\{0=.*\}\s+4\s+4\s+6$/);
  assert.match(table[3]!, /^-+$/);
  assert.match(table[4]!, /^Total:\s+2\s+8\s+8$/);
  assert.equal(okJson(listJson, 'topicRoute --json').queueDatas.map((q: any) => [q.brokerName, q.readQueueNums, q.writeQueueNums, q.perm]).sort(), [['broker-a', 4, 4, 6], ['broker-b', 4, 4, 6]]);
  assert.equal(JSON.parse(ok(route, 'topicRoute (pretty JSON)')).brokerDatas.map((b: any) => b.brokerName), ['broker-a']);
  assert.equal(okJson(routeJson, 'topicRoute --json').queueDatas[0].writeQueueNums, 2);

  const st = ok(status, 'topicStatus').trim().split('\n');
  assert.match(st[0]!, /^#Broker Name\s+#QID\s+#Min Offset\s+#Max Offset\s+#Last Updated$/);
  assert.is(st.filter((l) => /^broker-[ab]\s+\d\s+0\s+0$/.test(l)).length, 8, st.join('\n'));
  assert.match(st.at(-1)!, /^Topic Put TPS: 0\.0$/);
  const sj = okJson(statusJson, 'topicStatus --json');
  assert.equal(sj.queues.map((q: any) => `${q.brokerName}/${q.queueId}`), ['broker-a/0', 'broker-a/1', 'broker-a/2', 'broker-a/3', 'broker-b/0', 'broker-b/1', 'broker-b/2', 'broker-b/3']);

  const names = ok(topics, 'topicList').trim().split('\n');
  for (const t of ['AdmTopic', 'AdmOrder', 'TBW102']) assert.ok(names.includes(t), `${t} in ${names}`);
  const model = okJson(topicsCluster, 'topicList -c').clusterModel;
  assert.ok(model.some((r: any) => r.topic === 'AdmTopic' && r.clusterName === 'DefaultCluster'), JSON.stringify(model));

  assert.is(missing.code, 1);
  assert.match(missing.stderr, /topicRoute: command failed: No topic route info in name server for the topic: NoSuchTopic.*TOPIC_NOT_EXIST/);
});

test('sendMessage, then queryMsgById (both ids), queryMsgByKey, queryMsgByOffset and consumeMessage find it', async () => {
  await createTopic('AdmMsg', 2);
  await until('AdmMsg route', async () => Object.keys(await routeWriteQueues('AdmMsg')).length === 2);
  const sent = okJson(await mqadmin(['sendMessage', '-t', 'AdmMsg', '-p', 'hello mqadmin', '-k', 'key-1', '-c', 'TagA', '--json']), 'sendMessage --json');
  assert.is(sent.sendStatus, 'SEND_OK');
  assert.match(sent.msgId, /^[0-9A-F]{32}$/);
  assert.match(sent.offsetMsgId, /^[0-9A-F]{32}$/);
  const toB = ok(await mqadmin(['sendMessage', '-t', 'AdmMsg', '-p', 'to b', '-b', 'broker-b', '-i', '1']), 'sendMessage -b -i').trim().split('\n');
  assert.match(toB[0]!, /^#Broker Name\s+#QID\s+#Send Result\s+#MsgId$/);
  assert.match(toB[1]!, /^broker-b\s+1\s+SEND_OK\s+[0-9A-F]{32}$/);
  const mq = sent.messageQueue as { brokerName: string; queueId: number };

  const [byOffsetId, byUniqKey, byKey, byQueueOffset, consumed, oneQueue, notFound, noKey] = await Promise.all([
    mqadmin(['queryMsgById', '-t', 'AdmMsg', '-i', sent.offsetMsgId, '-f', 'UTF-8']),
    mqadmin(['queryMsgById', '-t', 'AdmMsg', '-i', sent.msgId, '--json']),
    mqadmin(['queryMsgByKey', '-t', 'AdmMsg', '-k', 'key-1']),
    mqadmin(['queryMsgByOffset', '-t', 'AdmMsg', '-b', mq.brokerName, '-i', String(mq.queueId), '-o', String(sent.queueOffset), '-f', 'UTF-8']),
    mqadmin(['consumeMessage', '-t', 'AdmMsg']),
    mqadmin(['consumeMessage', '-t', 'AdmMsg', '-b', 'broker-b', '-i', '1', '-o', '0', '--json']),
    mqadmin(['queryMsgById', '-t', 'AdmMsg', '-i', '7F000001000000010000000000ABCDEF']),
    mqadmin(['queryMsgByKey', '-t', 'AdmMsg', '-k', 'no-such-key']),
  ]);
  const detail = ok(byOffsetId, 'queryMsgById offsetMsgId');
  assert.match(detail, new RegExp(`^OffsetID:\\s+${sent.offsetMsgId}$`, 'm'));
  assert.match(detail, /^Topic:\s+AdmMsg$/m);
  assert.match(detail, /^Tags:\s+\[TagA\]$/m);
  assert.match(detail, /^Keys:\s+\[key-1\]$/m);
  assert.match(detail, new RegExp(`^Queue ID:\\s+${mq.queueId}$`, 'm'));
  assert.match(detail, new RegExp(`^Properties:\\s+\\{UNIQ_KEY=${sent.msgId}, `, 'm'));
  assert.match(detail, /^Message Body:\s+hello mqadmin$/m);
  const bodyPath = /^Message Body Path:\s+(.+)$/m.exec(detail)![1]!;
  assert.ok(bodyPath.startsWith(bodyDir), bodyPath);
  assert.is(readFileSync(bodyPath, 'utf8'), 'hello mqadmin');

  const viaUniq = okJson(byUniqKey, 'queryMsgById UNIQ_KEY').messages;
  assert.is(viaUniq.length, 1);
  assert.is(viaUniq[0].message.offsetMsgId, sent.offsetMsgId);
  assert.is(viaUniq[0].message.body, 'hello mqadmin');

  const keyRows = ok(byKey, 'queryMsgByKey').trim().split('\n');
  assert.match(keyRows[0]!, /^#Message ID\s+#QID\s+#Offset$/);
  assert.equal(keyRows.slice(1).map((l) => l.split(/\s+/)), [[sent.msgId, String(mq.queueId), String(sent.queueOffset)]]);

  assert.match(ok(byQueueOffset, 'queryMsgByOffset'), new RegExp(`^OffsetID:\\s+${sent.offsetMsgId}[\\s\\S]*^Message Body:\\s+hello mqadmin$`, 'm'));

  const printed = ok(consumed, 'consumeMessage');
  assert.match(printed, new RegExp(`^MSGID: ${sent.msgId} MessageExt \\[.*\\] BODY: hello mqadmin$`, 'm'));
  assert.match(printed, /BODY: to b$/m);
  const firstOnB1 = mq.brokerName === 'broker-b' && mq.queueId === 1;
  const onB1 = firstOnB1 ? ['hello mqadmin', 'to b'] : ['to b'];
  assert.match(printed, new RegExp(`^MessageQueue \\[topic=AdmMsg, brokerName=broker-b, queueId=1\\] print msg finished\\. status=FOUND, offset=${onB1.length}$`, 'm'));
  assert.is(printed.split('\n').filter((l) => l.startsWith('MSGID: ')).length, 2);
  const q = okJson(oneQueue, 'consumeMessage -b -i -o');
  assert.equal(q.messages.map((m: MessageExt & { body: string }) => m.body), onB1);
  assert.equal(q.queues, [{ brokerName: 'broker-b', queueId: 1, beginOffset: 0, endOffset: onB1.length, status: 'FOUND', nextOffset: onB1.length }]);

  assert.is(notFound.code, 1);
  assert.match(notFound.stderr, /Message not found: topic AdmMsg, msgId 7F000001000000010000000000ABCDEF/);
  assert.is(noKey.code, 1);
  assert.match(noKey.stderr, /query message by key finished, but no message/);
});

test('updateSubGroup creates the group on every master (or one broker); deleteSubGroup removes it', async () => {
  const out = ok(await mqadmin(['updateSubGroup', '-c', 'DefaultCluster', '-g', 'AdmGroup', '-r', '3', '-q', '2', '-o', 'true']), 'updateSubGroup -c');
  assert.ok(out.includes(`create subscription group to ${brokerA.addr} success.`));
  assert.ok(out.includes(`create subscription group to ${brokerB.addr} success.`));
  assert.match(out, /^SubscriptionGroupConfig\{groupName=AdmGroup, consumeEnable=true, consumeFromMinEnable=false, consumeBroadcastEnable=false, consumeMessageOrderly=true, retryQueueNums=2, retryMaxTimes=3, /m);
  for (const b of [brokerA, brokerB]) {
    const g = b.broker.ctx.groups.all().find((x) => x.groupName === 'AdmGroup');
    assert.ok(g, `AdmGroup on ${b.addr}`);
    assert.is(g!.retryMaxTimes, 3);
    assert.is(g!.retryQueueNums, 2);
    assert.is(g!.consumeMessageOrderly, true);
    assert.is(g!.consumeBroadcastEnable, false);
  }
  const one = okJson(await mqadmin(['updateSubGroup', '-b', brokerB.addr, '-g', 'AdmGroupB', '-s', 'false', '--json']), 'updateSubGroup -b');
  assert.is(one.config.consumeEnable, false);
  assert.ok(groupNames(brokerB).includes('AdmGroupB'));
  assert.not.ok(groupNames(brokerA).includes('AdmGroupB'));

  assert.match(ok(await mqadmin(['deleteSubGroup', '-b', brokerA.addr, '-g', 'AdmGroup']), 'deleteSubGroup -b'), new RegExp(`^delete subscription group \\[AdmGroup\\] from broker \\[${brokerA.addr}\\] success\\.$`, 'm'));
  assert.not.ok(groupNames(brokerA).includes('AdmGroup'));
  assert.ok(groupNames(brokerB).includes('AdmGroup'));
  const all = ok(await mqadmin(['deleteSubGroup', '-c', 'DefaultCluster', '-g', 'AdmGroup', '-r', 'true']), 'deleteSubGroup -c');
  assert.match(all, new RegExp(`from broker \\[${brokerB.addr}\\] in cluster \\[DefaultCluster\\] success\\.`));
  assert.not.ok(groupNames(brokerB).includes('AdmGroup'));
});

test('consumerProgress and consumerConnection show a live consumer; resetOffsetByTime moves the committed offsets', async () => {
  await createTopic('AdmCons', 2);
  const producer = new Producer({ ...fastClient(), producerGroup: 'adm-pg' });
  await producer.start();
  for (let i = 0; i < 10; i++) await producer.send({ topic: 'AdmCons', body: `m${i}` });
  await producer.shutdown();
  const maxOf = (b: TestBroker, q: number) => b.broker.ctx.store.getMaxOffsetInQueue('AdmCons', q);
  const total = () => [brokerA, brokerB].reduce((s, b) => s + [0, 1].reduce((t, q) => t + Math.max(0, committed(b, 'adm-cg', 'AdmCons', q)), 0), 0);

  const consumer = new PushConsumer({ ...fastClient(), consumerGroup: 'adm-cg', consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
  consumer.subscribe('AdmCons', '*');
  const got = new Set<string>();
  consumer.registerMessageListener(async (msgs: MessageExt[]) => {
    for (const m of msgs) got.add(m.body.toString());
    return 'CONSUME_SUCCESS' as const;
  });
  await consumer.start();
  try {
    await until('10 messages consumed and committed', () => got.size === 10 && total() === 10, 15_000);
    await until('%RETRY%adm-cg route', async () => (await admin.api.getTopicRouteInfoFromNameServer('%RETRY%adm-cg')) !== undefined);
    const [progress, progressJson, connection, groups, withIP, topicsCluster] = await Promise.all([
      mqadmin(['consumerProgress', '-g', 'adm-cg', '-t', 'AdmCons']),
      mqadmin(['consumerProgress', '-g', 'adm-cg', '--json']),
      mqadmin(['consumerConnection', '-g', 'adm-cg']),
      mqadmin(['consumerProgress']),
      mqadmin(['consumerProgress', '-g', 'adm-cg', '-t', 'AdmCons', '-s', 'true']),
      mqadmin(['topicList', '-c', '--json']),
    ]);
    const rows = ok(progress, 'consumerProgress -g -t').trim().split('\n');
    assert.match(rows[0]!, /^#Topic\s+#Broker Name\s+#QID\s+#Broker Offset\s+#Consumer Offset\s+#Diff\s+#Inflight\s+#LastTime$/);
    const queueRows = rows.filter((l) => l.startsWith('AdmCons '));
    assert.is(queueRows.length, 4, rows.join('\n'));
    for (const l of queueRows) {
      const [, brokerName, qid, brokerOffset, consumerOffset, diff] = l.split(/\s+/);
      const b = brokerName === 'broker-a' ? brokerA : brokerB;
      assert.is(Number(brokerOffset), maxOf(b, Number(qid)), l);
      assert.is(consumerOffset, brokerOffset, l);
      assert.is(diff, '0', l);
    }
    assert.match(rows.join('\n'), /^Consume TPS: 0\.00\nConsume Diff Total: 0\nConsume Inflight Total: 0$/m);
    const pj = okJson(progressJson, 'consumerProgress --json');
    assert.is(pj.mode, 'group');
    assert.is(pj.queues.filter((q: any) => q.topic === 'AdmCons').reduce((s: number, q: any) => s + q.consumerOffset, 0), 10);

    const conn = ok(connection, 'consumerConnection');
    assert.match(conn, new RegExp(`^#ClientId\\s+#ClientAddr\\s+#Language\\s+#Version\\n${consumer.clientId!.replace(/[#.]/g, '\\$&')}\\s+127\\.0\\.0\\.1:\\d+\\s+JAVA\\s+V5_3_3$`, 'm'));
    assert.match(conn, /Below is subscription:\n#Topic\s+#SubExpression\n(.*\n)*AdmCons\s+\*$/m);
    assert.match(conn, /^ConsumeType: CONSUME_PASSIVELY\nMessageModel: CLUSTERING\nConsumeFromWhere: CONSUME_FROM_FIRST_OFFSET$/m);
    // -s asks each client for its queues (GET_CONSUMER_RUNNING_INFO, passed on by the broker)
    const ipRows = ok(withIP, 'consumerProgress -s true').trim().split('\n');
    assert.match(ipRows[0]!, /^#Topic\s+#Broker Name\s+#QID\s+#Broker Offset\s+#Consumer Offset\s+#Client IP\s+#Diff\s+#Inflight\s+#LastTime$/);
    const clientIP = consumer.clientId!.split('@')[0]!.replace(/\./g, '\\.');
    assert.is(ipRows.filter((l) => new RegExp(`^AdmCons\\s+broker-[ab]\\s+\\d\\s+\\d+\\s+\\d+\\s+${clientIP}\\s+0\\s+0\\s+`).test(l)).length, 4, ipRows.join('\n'));
    // -c names each topic's consumer groups (QUERY_TOPIC_CONSUME_BY_WHO)
    const model = okJson(topicsCluster, 'topicList -c').clusterModel;
    assert.ok(model.some((r: any) => r.topic === 'AdmCons' && r.consumerGroup === 'adm-cg' && r.clusterName === 'DefaultCluster'), JSON.stringify(model));
    assert.match(ok(groups, 'consumerProgress (all groups)'), /^#Group\s+#Count\s+#Version\s+#Type\s+#Model\s+#TPS\s+#Diff Total\n(.*\n)*adm-cg\s+1\s+V5_3_3\s+PUSH\s+CLUSTERING\s+0\s+0$/m);
  } finally {
    await consumer.shutdown();
  }

  // Offline group: the brokers answer INVOKE_BROKER_TO_RESET_OFFSET with CONSUMER_NOT_ONLINE, so
  // mqadmin resets client side (RocketMQ's resetOffsetByTimestampOld).
  const toStart = await mqadmin(['resetOffsetByTime', '-g', 'adm-cg', '-t', 'AdmCons', '-s', '0']);
  const startOut = ok(toStart, 'resetOffsetByTime -s 0');
  assert.match(startOut, /^reset consumer offset by specified consumerGroup\[adm-cg\], topic\[AdmCons\], force\[true\], timestamp\(string\)\[0\], timestamp\(long\)\[0\]\n#brokerName\s+#queueId\s+#brokerOffset\s+#consumerOffset\s+#timestampOffset\s+#resetOffset$/m);
  assert.is(startOut.split('\n').filter((l) => /^broker-[ab]\s+\d\s+\d+\s+\d+\s+0\s+0$/.test(l)).length, 4, startOut);
  assert.not.match(toStart.stderr, /does not support/);
  for (const b of [brokerA, brokerB]) for (const q of [0, 1]) assert.is(committed(b, 'adm-cg', 'AdmCons', q), 0, `${b.addr} q${q}`);

  const toNow = okJson(await mqadmin(['resetOffsetByTime', '-g', 'adm-cg', '-t', 'AdmCons', '-s', 'now', '--json']), 'resetOffsetByTime -s now');
  assert.is(toNow.clientReset.length, 4);
  for (const r of toNow.clientReset) assert.is(r.resetOffset, r.brokerOffset, JSON.stringify(r));
  for (const b of [brokerA, brokerB]) for (const q of [0, 1]) assert.is(committed(b, 'adm-cg', 'AdmCons', q), maxOf(b, q));

  const one = ok(await mqadmin(['resetOffsetByTime', '-g', 'adm-cg', '-t', 'AdmCons', '-s', 'now', '-b', brokerA.addr, '-q', '0', '-o', '1']), 'resetOffsetByTime -b -q -o');
  assert.match(one, /reset consumer offset to 1$/m);
  assert.is(committed(brokerA, 'adm-cg', 'AdmCons', 0), 1);
  assert.is(committed(brokerA, 'adm-cg', 'AdmCons', 1), maxOf(brokerA, 1));

  const offline = await mqadmin(['consumerConnection', '-g', 'no-such-group']);
  assert.is(offline.code, 1);
  assert.match(offline.stderr, /not online.*CONSUMER_NOT_ONLINE/);
});

test('resetOffsetByTime with the consumer online: the brokers reset and tell it (RESET_CONSUMER_CLIENT_OFFSET), and it consumes again from there', async () => {
  await createTopic('AdmReset', 2);
  const producer = new Producer({ ...fastClient(), producerGroup: 'adm-reset-pg' });
  await producer.start();
  for (let i = 0; i < 6; i++) await producer.send({ topic: 'AdmReset', body: `old${i}` });
  await new Promise((r) => setTimeout(r, 30));
  const resetTo = Date.now();
  await new Promise((r) => setTimeout(r, 30));
  for (let i = 0; i < 6; i++) await producer.send({ topic: 'AdmReset', body: `new${i}` });
  await producer.shutdown();
  const total = () => [brokerA, brokerB].reduce((s, b) => s + [0, 1].reduce((t, q) => t + Math.max(0, committed(b, 'adm-reset', 'AdmReset', q)), 0), 0);

  const consumer = new PushConsumer({ ...fastClient(), consumerGroup: 'adm-reset', consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', brokerSuspendMaxTimeMs: 1_000, consumerTimeoutMsWhenSuspend: 3_000 });
  consumer.subscribe('AdmReset', '*');
  const deliveries: string[] = [];
  consumer.registerMessageListener(async (msgs: MessageExt[]) => {
    for (const m of msgs) deliveries.push(m.body.toString());
    return 'CONSUME_SUCCESS' as const;
  });
  await consumer.start();
  try {
    await until('12 messages consumed and committed', () => deliveries.length === 12 && total() === 12, 15_000);
    const reset = okJson(await mqadmin(['resetOffsetByTime', '-g', 'adm-reset', '-t', 'AdmReset', '-s', String(resetTo), '--json']), 'resetOffsetByTime online');
    // Every queue reset by its broker (none client side), each to the first message stored at or after resetTo.
    assert.is(reset.clientReset.length, 0, JSON.stringify(reset));
    assert.is(reset.brokerReset.length, 4, JSON.stringify(reset));
    for (const r of reset.brokerReset) {
      const b = r.brokerName === 'broker-a' ? brokerA : brokerB;
      assert.is(r.offset, b.broker.ctx.store.getOffsetInQueueByTime('AdmReset', r.queueId, resetTo), JSON.stringify(r));
    }
    // The online consumer drops what it had and consumes the six newer messages again, nothing older.
    await until('the six newer messages consumed a second time', () => deliveries.length >= 18, 15_000);
    await new Promise((r) => setTimeout(r, 500));
    const again = deliveries.slice(12).sort();
    assert.equal(again, ['new0', 'new1', 'new2', 'new3', 'new4', 'new5'], deliveries.join(','));
    await until('offsets committed back to the end', () => total() === 12, 10_000);
  } finally {
    await consumer.shutdown();
  }
});

test('deleteTopic removes the topic from every master and the NameServer', async () => {
  await createTopic('AdmDel', 1);
  await until('AdmDel route', async () => Object.keys(await routeWriteQueues('AdmDel')).length === 2);
  const out = ok(await mqadmin(['deleteTopic', '-t', 'AdmDel', '-c', 'DefaultCluster']), 'deleteTopic');
  assert.match(out, /^delete topic \[AdmDel\] from cluster \[DefaultCluster\] success\.\ndelete topic \[AdmDel\] from NameServer success\.$/m);
  assert.is(brokerA.broker.ctx.topics.get('AdmDel'), undefined);
  assert.is(brokerB.broker.ctx.topics.get('AdmDel'), undefined);
  assert.is(await admin.api.getTopicRouteInfoFromNameServer('AdmDel'), undefined);
  const gone = await mqadmin(['topicRoute', '-t', 'AdmDel', '--json']);
  assert.is(gone.code, 1);
  assert.is(JSON.parse(gone.stderr).code, 17);
});

test("getBrokerConfig / updateBrokerConfig against Orbit's broker: its answer is printed and the exit code follows it", async () => {
  const [get, update] = await Promise.all([mqadmin(['getBrokerConfig', '-b', brokerA.addr]), mqadmin(['updateBrokerConfig', '-b', brokerA.addr, '-k', 'flushDiskType', '-v', 'ASYNC_FLUSH'])]);
  assert.is(get.code, 0, get.stderr);
  assert.match(get.stdout, new RegExp(`^============${brokerA.addr}============\\n`));
  assert.match(get.stdout, /^brokerName\s+=\s+broker-a$/m);
  assert.is(update.code, 0, update.stderr);
  assert.match(update.stdout, new RegExp(`^update broker config success, ${brokerA.addr}$`, 'm'));
});

test('broker config and broker-side offset reset on the wire (a scripted broker that answers them)', async () => {
  const ns = await new ScriptedNameServer().listen();
  const broker = await new ScriptedBroker('broker-x').listen();
  try {
    ns.routes.set('T', buildRoute([{ brokerName: 'broker-x', addr: broker.addr, queues: 2 }]));
    ns.on(RequestCode.GET_BROKER_CLUSTER_INFO, (req) => {
      const res = createResponse(req);
      res.body = Buffer.from(JSON.stringify({ brokerAddrTable: { 'broker-x': { cluster: 'C', brokerName: 'broker-x', brokerAddrs: { 0: broker.addr } } }, clusterAddrTable: { C: ['broker-x'] } }));
      return res;
    });
    broker.on(RequestCode.GET_BROKER_CONFIG, (req) => {
      const res = createResponse(req, ResponseCode.SUCCESS, undefined, { version: '{"counter":1}' });
      res.body = Buffer.from('#Mon Jan 01 00:00:00 UTC 2024\nbrokerName=broker-x\nflushDiskType=SYNC_FLUSH\nmessageDelayLevel=1s 5s\n');
      return res;
    });
    broker.on(RequestCode.UPDATE_BROKER_CONFIG, (req) => createResponse(req));
    broker.on(RequestCode.INVOKE_BROKER_TO_RESET_OFFSET, (req) => {
      const res = createResponse(req);
      res.body = Buffer.from(`{"offsetTable":{{"brokerName":"broker-x","queueId":1,"topic":"T"}:5,{"brokerName":"broker-x","queueId":0,"topic":"T"}:3}}`);
      return res;
    });
    const env = { NAMESRV_ADDR: ns.addr };
    const [get, update, reset] = await Promise.all([
      mqadmin(['getBrokerConfig', '-c', 'C'], env),
      mqadmin(['updateBrokerConfig', '-c', 'C', '-k', 'flushDiskType', '-v', 'ASYNC_FLUSH'], env),
      mqadmin(['resetOffsetByTime', '-g', 'G', '-t', 'T', '-s', '1700000000000', '-f', 'false'], env),
    ]);
    const config = ok(get, 'getBrokerConfig -c');
    assert.match(config, new RegExp(`^============Master: ${broker.addr}============$`, 'm'));
    assert.match(config, /^flushDiskType {37}=  SYNC_FLUSH$/m);
    assert.match(config, /^messageDelayLevel {33}=  1s 5s$/m);
    assert.match(ok(update, 'updateBrokerConfig -c'), new RegExp(`^update broker config success, ${broker.addr}$`, 'm'));
    const [updateReq] = broker.requestsOf(RequestCode.UPDATE_BROKER_CONFIG);
    assert.is(updateReq!.body!.toString(), 'flushDiskType=ASYNC_FLUSH\n');
    const out = ok(reset, 'resetOffsetByTime (broker side)');
    assert.match(out, /^start reset consumer offset by specified, group\[G\], topic\[T\], force\[false\], timestamp\(string\)\[1700000000000\], timestamp\(long\)\[1700000000000\]\n#brokerName\s+#queueId\s+#offset\nbroker-x\s+0\s+3\nbroker-x\s+1\s+5$/m);
    const [resetReq] = broker.requestsOf(RequestCode.INVOKE_BROKER_TO_RESET_OFFSET);
    assert.equal(resetReq!.extFields, { topic: 'T', group: 'G', timestamp: '1700000000000', isForce: 'false', offset: '-1' });
    assert.is(reset.stderr, '');
  } finally {
    await broker.close();
    await ns.close();
  }
});

test.run();
