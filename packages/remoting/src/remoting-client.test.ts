import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RequestCode } from '@orbit/common/request-code';
import { ResponseCode } from '@orbit/common/response-code';
import { CommandFlag, createRequest, createResponse, isOneway } from './remoting-command.js';
import { parseHostPort, RemotingClient } from './remoting-client.js';
import { RemotingConnectError, RemotingOverloadError, RemotingTimeoutError } from './remoting-errors.js';
import { RemotingServer } from './remoting-server.js';

const HOST = '127.0.0.1';

async function startServer() {
  const server = new RemotingServer({ host: HOST, port: 0 });
  server.registerProcessor(RequestCode.HEART_BEAT, (req) => createResponse(req));
  const { port } = await server.listen();
  return { server, addr: `${HOST}:${port}` };
}

test('parseHostPort', () => {
  assert.equal(parseHostPort('127.0.0.1:9876'), { host: '127.0.0.1', port: 9876 });
  assert.equal(parseHostPort('[::1]:10911'), { host: '::1', port: 10911 });
  assert.equal(parseHostPort('broker-a:10911'), { host: 'broker-a', port: 10911 });
  for (const bad of ['nohost', ':1', 'h:', 'h:70000', 'h:12x']) assert.throws(() => parseHostPort(bad), (e: unknown) => e instanceof RangeError, bad);
});

test('one pooled connection per address; opaques are distinct', async () => {
  const { server, addr } = await startServer();
  let connections = 0;
  server.on('connection', () => connections++);
  const client = new RemotingClient();
  try {
    const responses = await Promise.all(Array.from({ length: 50 }, () => client.invoke(addr, createRequest(RequestCode.HEART_BEAT))));
    assert.is(connections, 1);
    assert.is(new Set(responses.map((r) => r.opaque)).size, 50);
    const conn = await client.getConnection(addr);
    assert.is(conn.pendingCount, 0);
  } finally {
    await client.close();
    await server.close();
  }
});

test('lazy reconnect after the connection closes', async () => {
  const { server, addr } = await startServer();
  let connections = 0;
  server.on('connection', () => connections++);
  const client = new RemotingClient();
  try {
    await client.invoke(addr, createRequest(RequestCode.HEART_BEAT));
    const first = await client.getConnection(addr);
    for (const conn of server.connections) conn.close();
    await first.whenClosed();
    const res = await client.invoke(addr, createRequest(RequestCode.HEART_BEAT));
    assert.is(res.code, ResponseCode.SUCCESS);
    assert.is(connections, 2);
    assert.is.not(await client.getConnection(addr), first);
    client.closeConnection(addr);
    await first.whenClosed();
    assert.is((await client.invoke(addr, createRequest(RequestCode.HEART_BEAT))).code, 0);
    assert.is(connections, 3);
  } finally {
    await client.close();
    await server.close();
  }
});

test('timeout rejects with RemotingTimeoutError and forgets the request; a late answer is dropped', async () => {
  const { server, addr } = await startServer();
  server.registerProcessor(RequestCode.PULL_MESSAGE, async (req) => {
    await new Promise((r) => setTimeout(r, 150));
    return createResponse(req, ResponseCode.PULL_NOT_FOUND);
  });
  const client = new RemotingClient();
  try {
    await client.invoke(addr, createRequest(RequestCode.HEART_BEAT));
    const conn = await client.getConnection(addr);
    const unmatched = new Promise((resolve) => conn.once('unmatchedResponse', resolve));
    const error = await client.invoke(addr, createRequest(RequestCode.PULL_MESSAGE), 50).catch((e) => e);
    assert.instance(error, RemotingTimeoutError);
    const timeout = error as RemotingTimeoutError;
    assert.is(timeout.addr, addr);
    assert.is(timeout.requestCode, RequestCode.PULL_MESSAGE);
    assert.is(timeout.timeoutMs, 50);
    assert.ok(timeout.message.includes(addr) && timeout.message.includes('50'));
    assert.is(conn.pendingCount, 0);
    await unmatched;
    assert.is((await client.invoke(addr, createRequest(RequestCode.HEART_BEAT))).code, 0, 'connection still usable');
  } finally {
    await client.close();
    await server.close();
  }
});

test('pending requests fail with RemotingConnectError when the connection closes', async () => {
  const { server, addr } = await startServer();
  server.registerProcessor(RequestCode.PULL_MESSAGE, () => null); // holds forever
  const client = new RemotingClient();
  try {
    const pending = Array.from({ length: 5 }, () => client.invoke(addr, createRequest(RequestCode.PULL_MESSAGE), 10_000).catch((e) => e));
    await new Promise((r) => setTimeout(r, 50));
    for (const conn of server.connections) conn.close();
    for (const error of await Promise.all(pending)) {
      assert.instance(error, RemotingConnectError);
      assert.ok((error as Error).message.includes('closed before the response'));
    }
  } finally {
    await client.close();
    await server.close();
  }
});

test('outbound pending bound: excess invoke rejects with RemotingOverloadError', async () => {
  const { server, addr } = await startServer();
  server.registerProcessor(RequestCode.PULL_MESSAGE, (req, conn) => {
    setTimeout(() => conn.writeResponse(req, createResponse(req)), 50);
    return null;
  });
  const client = new RemotingClient({ maxPendingPerConnection: 3 });
  try {
    await client.getConnection(addr);
    const held = Array.from({ length: 3 }, () => client.invoke(addr, createRequest(RequestCode.PULL_MESSAGE)));
    const error = await client.invoke(addr, createRequest(RequestCode.PULL_MESSAGE)).catch((e) => e);
    assert.instance(error, RemotingOverloadError);
    for (const res of await Promise.all(held)) assert.is(res.code, 0);
  } finally {
    await client.close();
    await server.close();
  }
});

test('invokeOneway sends the ONEWAY flag and gets nothing back', async () => {
  const { server, addr } = await startServer();
  const seen: number[] = [];
  server.registerProcessor(RequestCode.UPDATE_CONSUMER_OFFSET, (req) => {
    seen.push(req.flag);
    return createResponse(req);
  });
  const client = new RemotingClient();
  try {
    const conn = await client.getConnection(addr);
    let unmatched = 0;
    conn.on('unmatchedResponse', () => unmatched++);
    await client.invokeOneway(addr, createRequest(RequestCode.UPDATE_CONSUMER_OFFSET, { commitOffset: 5 }));
    for (let i = 0; i < 100 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(seen, [CommandFlag.ONEWAY]);
    assert.ok(isOneway({ flag: seen[0]! }));
    await client.invoke(addr, createRequest(RequestCode.HEART_BEAT)); // anything sent back would arrive first
    assert.is(unmatched, 0);
  } finally {
    await client.close();
    await server.close();
  }
});

test('connect failures and a closed client reject with RemotingConnectError', async () => {
  const { server, addr } = await startServer();
  await server.close(); // the port is now refused
  const client = new RemotingClient({ connectTimeoutMs: 1000 });
  const refused = await client.invoke(addr, createRequest(RequestCode.HEART_BEAT)).catch((e) => e);
  assert.instance(refused, RemotingConnectError);
  assert.ok((refused as Error).message.includes(addr));
  const badAddr = await client.invoke('no-port', createRequest(RequestCode.HEART_BEAT)).catch((e) => e);
  assert.instance(badAddr, RemotingConnectError);

  const live = await startServer();
  assert.is((await client.invoke(live.addr, createRequest(RequestCode.HEART_BEAT))).code, 0);
  await client.close();
  const afterClose = await client.invoke(live.addr, createRequest(RequestCode.HEART_BEAT)).catch((e) => e);
  assert.instance(afterClose, RemotingConnectError);
  await live.server.close();
});

test.run();
