// `bin/mqnamesrv` as a real process: started from another directory with a config file, queried,
// stopped with SIGTERM; `-p` and bad options.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RequestCode } from '@orbit/common/request-code';
import { ResponseCode } from '@orbit/common/response-code';
import { createRequest, RemotingClient } from '@orbit/remoting';
import { BOOT_SUCCESS_LINE } from './command-line.js';
import { FakeBroker, topicConfig } from './fake-broker.test-support.js';

const BIN = fileURLToPath(new URL('../bin/mqnamesrv', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'orbit-mqnamesrv-'));
const children: ChildProcess[] = [];

test.after(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function waitForLine(child: ChildProcess, line: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no "${line}" within ${timeoutMs} ms; output so far:\n${out}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (out.split('\n').includes(line)) {
        clearTimeout(timer);
        resolve(out);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before "${line}"; output:\n${out}`));
    });
  });
}

test('mqnamesrv -c <file> boots on the configured port, serves, and exits 0 on SIGTERM', async () => {
  const port = await freePort();
  const configFile = join(dir, 'namesrv.properties');
  writeFileSync(configFile, `listenPort=${port}\nbindAddress=127.0.0.1\nkvConfigPath=${join(dir, 'kv', 'kvConfig.json')}\n`);
  // Started from / so nothing depends on the working directory.
  const child = spawn(BIN, ['-c', configFile], { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const output = await waitForLine(child, BOOT_SUCCESS_LINE, 20_000);
  assert.match(output, `listening on 127.0.0.1:${port}`);

  const addr = `127.0.0.1:${port}`;
  const broker = new FakeBroker(addr, { cluster: 'C', brokerName: 'broker-a', brokerId: 0, brokerAddr: '10.0.0.1:10911', topics: [topicConfig('TopicTest')] });
  const client = new RemotingClient();
  try {
    assert.is((await broker.register()).code, ResponseCode.SUCCESS);
    const route = await client.invoke(addr, createRequest(RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic: 'TopicTest' }));
    assert.is(route.code, ResponseCode.SUCCESS);
    assert.match(route.body!.toString(), '"brokerAddrs":{"0":"10.0.0.1:10911"}');
    assert.is((await client.invoke(addr, createRequest(RequestCode.PUT_KV_CONFIG, { namespace: 'n', key: 'k', value: 'v' }))).code, ResponseCode.SUCCESS);
  } finally {
    await broker.close();
    await client.close();
  }

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  child.kill('SIGTERM');
  const { code, signal } = await exited;
  assert.is(signal, null);
  assert.is(code, 0);
});

test('mqnamesrv -p prints the effective config and exits 0', () => {
  const configFile = join(dir, 'print.properties');
  writeFileSync(configFile, 'listenPort=12345\nenableAllTopicList=false\n');
  const r = spawnSync(BIN, ['-c', configFile, '-p'], { cwd: '/', encoding: 'utf8', timeout: 20_000 });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /^listenPort=12345$/m);
  assert.match(r.stdout, /^enableAllTopicList=false$/m);
  assert.match(r.stdout, /^scanNotActiveBrokerInterval=5000$/m);
  assert.not.match(r.stdout, BOOT_SUCCESS_LINE);
});

test('mqnamesrv refuses unknown options and unusable config with exit 1', () => {
  const n = spawnSync(BIN, ['-n', '127.0.0.1:9876'], { cwd: '/', encoding: 'utf8', timeout: 20_000 });
  assert.is(n.status, 1);
  assert.match(n.stderr, /Unrecognized option: -n/);
  assert.match(n.stderr, /usage: mqnamesrv/);

  const bad = join(dir, 'bad.properties');
  writeFileSync(bad, 'listenPort=nine\n');
  const r = spawnSync(BIN, ['-c', bad], { cwd: '/', encoding: 'utf8', timeout: 20_000 });
  assert.is(r.status, 1);
  assert.match(r.stderr, /listenPort=nine: not a number/);

  const missing = spawnSync(BIN, ['-c', join(dir, 'nope.properties')], { cwd: '/', encoding: 'utf8', timeout: 20_000 });
  assert.is(missing.status, 1);
  assert.match(missing.stderr, /ENOENT/);
});

test.run();
