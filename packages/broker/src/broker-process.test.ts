// mqbroker as a real process: killed with SIGKILL in the middle of a load, it is dropped from the
// NameServer's routes, and once restarted every acknowledged message is readable.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeStoredRecords, RequestCode, ResponseCode } from '@orbit/common';
import { NamesrvController } from '@orbit/namesrv';
import { createRequest, RemotingClient } from '@orbit/remoting';
import { PullSysFlag } from './processors/pull-message-processor.js';

const MQBROKER = join(import.meta.dirname, '..', 'bin', 'mqbroker');
const BROKER_EXPIRY_MS = 3_000;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

function startBrokerProcess(confPath: string, namesrvAddr: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(MQBROKER, ['-n', namesrvAddr, '-c', confPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`mqbroker did not boot: ${out}`)), 30_000);
    const onData = (c: Buffer) => {
      out += c;
      if (out.includes('boot success')) {
        clearTimeout(timer);
        resolve(child);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`mqbroker exited ${code}: ${out}`));
    });
  });
}

async function routeBrokers(client: RemotingClient, namesrvAddr: string, topic: string): Promise<string[]> {
  const res = await client.invoke(namesrvAddr, createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic }), 3_000);
  if (res.code !== ResponseCode.SUCCESS) return [];
  return (JSON.parse(res.body!.toString()).brokerDatas as { brokerAddrs: Record<string, string> }[]).map((b) => b.brokerAddrs['0']!);
}

test('SIGKILL under load: the NameServer drops the broker; after a restart every acknowledged message is there', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'orbit-broker-proc-'));
  const namesrv = new NamesrvController({ config: { listenPort: 0, bindAddress: '127.0.0.1', kvConfigPath: join(dir, 'kv.json'), brokerChannelExpiredTime: BROKER_EXPIRY_MS, scanNotActiveBrokerInterval: 500 } });
  const client = new RemotingClient({ connectTimeoutMs: 1_000, requestTimeoutMs: 3_000 });
  let broker: ChildProcess | undefined;
  try {
    const { port } = await namesrv.start();
    const namesrvAddr = `127.0.0.1:${port}`;
    const brokerPort = await freePort();
    const brokerAddr = `127.0.0.1:${brokerPort}`;
    const conf = join(dir, 'broker.conf');
    writeFileSync(conf, [`brokerName=broker-k`, `listenPort=${brokerPort}`, 'brokerIP1=127.0.0.1', `storePathRootDir=${join(dir, 'store')}`, `mappedFileSizeCommitLog=${16 * 1024 * 1024}`, 'flushDiskType=ASYNC_FLUSH'].join('\n'));
    broker = await startBrokerProcess(conf, namesrvAddr);
    const create = await client.invoke(brokerAddr, createRequest(RequestCode.UPDATE_AND_CREATE_TOPIC, { topic: 'Killed', defaultTopic: 'TBW102', readQueueNums: 4, writeQueueNums: 4, perm: 6 }), 3_000);
    assert.is(create.code, ResponseCode.SUCCESS, create.remark);
    const deadline = Date.now() + 5_000;
    while (!(await routeBrokers(client, namesrvAddr, 'Killed')).includes(brokerAddr)) {
      assert.ok(Date.now() < deadline, 'the topic never reached the NameServer');
      await new Promise((r) => setTimeout(r, 100));
    }

    // Load: 8 senders until the broker dies under them.
    const acked = new Map<string, number>(); // body -> queue
    let killed = false;
    const senders = Array.from({ length: 8 }, async (_, s) => {
      for (let i = 0; !killed && i < 100_000; i++) {
        const body = `s${s}-m${i}`;
        try {
          const res = await client.invoke(brokerAddr, createRequest(RequestCode.SEND_MESSAGE_V2, { a: 'pg', b: 'Killed', c: 'TBW102', d: 4, e: i % 4, f: 0, g: Date.now(), h: 0, i: '' }, Buffer.from(body)), 3_000);
          if (res.code === ResponseCode.SUCCESS) acked.set(body, i % 4);
        } catch {
          return; // the broker is gone
        }
        if (acked.size >= 1500 && !killed) {
          killed = true;
          broker!.kill('SIGKILL');
        }
      }
    });
    await Promise.all(senders);
    assert.ok(killed && acked.size >= 1500);

    const killedAt = Date.now();
    while ((await routeBrokers(client, namesrvAddr, 'Killed')).includes(brokerAddr)) {
      assert.ok(Date.now() - killedAt < BROKER_EXPIRY_MS + 2_000, 'the NameServer kept a dead broker past the expiry');
      await new Promise((r) => setTimeout(r, 100));
    }

    broker = await startBrokerProcess(conf, namesrvAddr);
    const found = new Set<string>();
    for (let q = 0; q < 4; q++) {
      let offset = 0;
      for (let guard = 0; guard < 1000; guard++) {
        const res = await client.invoke(brokerAddr, createRequest(RequestCode.PULL_MESSAGE, { consumerGroup: 'verify', topic: 'Killed', queueId: q, queueOffset: offset, maxMsgNums: 32, sysFlag: PullSysFlag.SUBSCRIPTION, commitOffset: 0, suspendTimeoutMillis: 0, subscription: '*', subVersion: 0 }), 3_000);
        if (res.code !== ResponseCode.SUCCESS) break;
        for (const r of decodeStoredRecords(res.body!)) found.add(r.body.toString());
        offset = Number(res.extFields.nextBeginOffset);
      }
    }
    const missing = [...acked.keys()].filter((b) => !found.has(b));
    console.log(`acknowledged ${acked.size} before SIGKILL, ${found.size} readable after restart, dropped from routes ${Date.now() - killedAt} ms after the kill`);
    assert.equal(missing, [], `${missing.length} acknowledged messages lost`);
    assert.ok((await routeBrokers(client, namesrvAddr, 'Killed')).includes(brokerAddr), 'the restarted broker registered again');
  } finally {
    if (broker && broker.exitCode === null) {
      broker.kill('SIGTERM');
      await new Promise((r) => broker!.once('exit', r));
    }
    await client.close();
    await namesrv.shutdown();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
