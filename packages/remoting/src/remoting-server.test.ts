import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { RequestCode } from '@orbit/common/request-code';
import { ResponseCode } from '@orbit/common/response-code';
import { encodeFrameBuffer, FrameDecoder } from './frame-codec.js';
import { SerializeType } from './header-codec.js';
import {
  CommandFlag,
  createOnewayRequest,
  createRequest,
  createResponse,
  requireInt,
  requireString,
  type RemotingCommand,
} from './remoting-command.js';
import { OVERLOAD_REMARK, type RemotingConnection } from './remoting-connection.js';
import { RemotingClient } from './remoting-client.js';
import { RemotingConnectError, RemotingTimeoutError } from './remoting-errors.js';
import { RemotingServer, type RemotingServerOptions } from './remoting-server.js';

const HOST = '127.0.0.1';
const STEP_TIMEOUT_MS = 5_000;

async function startServer(options: Partial<RemotingServerOptions> = {}) {
  const server = new RemotingServer({ host: HOST, port: 0, ...options });
  server.registerProcessor(RequestCode.HEART_BEAT, (req) => createResponse(req, ResponseCode.SUCCESS, undefined, { echo: req.body?.toString() ?? '' }));
  server.registerProcessor(RequestCode.QUERY_CONSUMER_OFFSET, (req) => {
    const queueId = requireInt(req, 'queueId');
    return createResponse(req, ResponseCode.SUCCESS, undefined, { offset: queueId * 100, topic: requireString(req, 'topic') });
  });
  server.registerProcessor(RequestCode.GET_BROKER_CONFIG, () => {
    throw new Error('config store on fire');
  });
  server.registerProcessor(RequestCode.GET_MAX_OFFSET, async () => {
    await new Promise((r) => setTimeout(r, 5));
    throw new Error('async failure');
  });
  const { port } = await server.listen();
  return { server, port, addr: `${HOST}:${port}` };
}

/** A raw socket that collects decoded frames, for byte-level tests. */
async function rawSocket(port: number) {
  const socket = connect({ host: HOST, port });
  await once(socket, 'connect');
  const decoder = new FrameDecoder();
  const frames: RemotingCommand[] = [];
  const waiters: Array<() => void> = [];
  const rawHeaderWords: number[] = [];
  socket.on('data', (chunk: Buffer) => {
    if (frames.length === 0 && rawHeaderWords.length === 0 && chunk.length >= 8) rawHeaderWords.push(chunk.readInt32BE(4));
    for (const cmd of decoder.feed(chunk)) frames.push(cmd);
    waiters.splice(0).forEach((w) => w());
  });
  socket.on('error', () => undefined);
  const closed = once(socket, 'close').then(() => true);
  async function nextFrame(): Promise<RemotingCommand> {
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    while (frames.length === 0) {
      if (Date.now() > deadline || socket.destroyed) throw new Error('no frame arrived');
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
    return frames.shift()!;
  }
  return { socket, frames, nextFrame, closed, rawHeaderWords };
}

function withTimeout<T>(promise: Promise<T>, what: string, ms = STEP_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
    }),
  ]);
}

test('request/response over 127.0.0.1 with typed header fields', async () => {
  const { server, addr } = await startServer();
  const client = new RemotingClient();
  try {
    const res = await client.invoke(addr, createRequest(RequestCode.QUERY_CONSUMER_OFFSET, { topic: 'T', queueId: 3 }), 2000);
    assert.is(res.code, ResponseCode.SUCCESS);
    assert.is(res.flag & CommandFlag.RESPONSE, CommandFlag.RESPONSE);
    assert.equal(res.extFields, { offset: '300', topic: 'T' });
    const hb = await client.invoke(addr, createRequest(RequestCode.HEART_BEAT, {}, Buffer.from('{"clientID":"c1"}')));
    assert.is(hb.extFields.echo, '{"clientID":"c1"}');
    const missing = await client.invoke(addr, createRequest(RequestCode.QUERY_CONSUMER_OFFSET, { queueId: 1 }));
    assert.is(missing.code, ResponseCode.SYSTEM_ERROR);
    assert.is(missing.remark, 'the custom field <topic> is null');
    const badInt = await client.invoke(addr, createRequest(RequestCode.QUERY_CONSUMER_OFFSET, { topic: 'T', queueId: 'abc' }));
    assert.is(badInt.remark, 'the custom field <queueId> is not a valid integer: "abc"');
  } finally {
    await client.close();
    await server.close();
  }
});

test('unknown code → 3 with RocketMQ remark; handler throw → 1 with its message', async () => {
  const { server, addr } = await startServer();
  const client = new RemotingClient();
  const handlerErrors: unknown[] = [];
  server.on('handlerError', (e) => handlerErrors.push(e));
  try {
    const unknown = await client.invoke(addr, createRequest(999));
    assert.is(unknown.code, ResponseCode.REQUEST_CODE_NOT_SUPPORTED);
    assert.is(unknown.remark, ' request type 999 not supported');
    const thrown = await client.invoke(addr, createRequest(RequestCode.GET_BROKER_CONFIG));
    assert.is(thrown.code, ResponseCode.SYSTEM_ERROR);
    assert.is(thrown.remark, 'config store on fire');
    const rejected = await client.invoke(addr, createRequest(RequestCode.GET_MAX_OFFSET));
    assert.is(rejected.code, ResponseCode.SYSTEM_ERROR);
    assert.is(rejected.remark, 'async failure');
    assert.is(handlerErrors.length, 2);
    server.setDefaultProcessor((req) => createResponse(req, ResponseCode.SUCCESS, `default for ${req.code}`));
    const viaDefault = await client.invoke(addr, createRequest(999));
    assert.is(viaDefault.remark, 'default for 999');
  } finally {
    await client.close();
    await server.close();
  }
});

test('oneway requests never get a response, even unknown or failing ones', async () => {
  const { server, port } = await startServer();
  let onewaySeen = 0;
  server.registerProcessor(RequestCode.UPDATE_CONSUMER_OFFSET, (req) => {
    onewaySeen++;
    return createResponse(req); // returned, but must not be sent
  });
  const raw = await rawSocket(port);
  try {
    raw.socket.write(encodeFrameBuffer(createOnewayRequest(999)));
    raw.socket.write(encodeFrameBuffer(createOnewayRequest(RequestCode.GET_BROKER_CONFIG)));
    raw.socket.write(encodeFrameBuffer(createOnewayRequest(RequestCode.UPDATE_CONSUMER_OFFSET)));
    const probe = createRequest(RequestCode.HEART_BEAT);
    raw.socket.write(encodeFrameBuffer(probe));
    const first = await raw.nextFrame();
    assert.is(first.opaque, probe.opaque, 'the first response is the probe’s');
    await new Promise((r) => setTimeout(r, 50));
    assert.is(raw.frames.length, 0);
    assert.is(onewaySeen, 1);
  } finally {
    raw.socket.destroy();
    await server.close();
  }
});

test('ali-ons style request (numbers and booleans in extFields, flag 0) gets a JSON answer', async () => {
  const { server, port } = await startServer();
  const raw = await rawSocket(port);
  try {
    const header = '{"code":14,"language":"JAVA","opaque":1,"flag":0,"version":121,"extFields":{"topic":"TopicTest","consumerGroup":"g","queueId":2,"unitMode":false}}';
    const h = Buffer.from(header);
    const prefix = Buffer.alloc(8);
    prefix.writeInt32BE(4 + h.length, 0);
    prefix.writeInt32BE(h.length, 4);
    raw.socket.write(Buffer.concat([prefix, h]));
    const res = await raw.nextFrame();
    assert.is(res.opaque, 1);
    assert.is(res.flag, 1);
    assert.is(res.extFields.offset, '200');
    // ali-ons reads the header-length word without masking the type byte: it must be JSON (0).
    assert.is(raw.rawHeaderWords[0]! >>> 24, 0);
  } finally {
    raw.socket.destroy();
    await server.close();
  }
});

test('a ROCKETMQ binary-header request is answered in JSON', async () => {
  const { server, port } = await startServer();
  const raw = await rawSocket(port);
  try {
    const req = createRequest(RequestCode.QUERY_CONSUMER_OFFSET, { topic: 'B', queueId: 5 });
    raw.socket.write(encodeFrameBuffer(req, { serializeType: SerializeType.ROCKETMQ }));
    const res = await raw.nextFrame();
    assert.is(res.opaque, req.opaque);
    assert.is(res.extFields.offset, '500');
    assert.is(raw.rawHeaderWords[0]! >>> 24, 0);
  } finally {
    raw.socket.destroy();
    await server.close();
  }
});

test('bad JSON inside a well-formed frame → SYSTEM_ERROR for that opaque, connection kept', async () => {
  const { server, port } = await startServer();
  const frameErrors: unknown[] = [];
  server.on('frameError', (e) => frameErrors.push(e));
  const raw = await rawSocket(port);
  try {
    const h = Buffer.from('{"code":34,"opaque":4242,"flag":0,"extFields":{');
    const prefix = Buffer.alloc(8);
    prefix.writeInt32BE(4 + h.length, 0);
    prefix.writeInt32BE(h.length, 4);
    raw.socket.write(Buffer.concat([prefix, h]));
    const errorResponse = await raw.nextFrame();
    assert.is(errorResponse.opaque, 4242);
    assert.is(errorResponse.code, ResponseCode.SYSTEM_ERROR);
    assert.ok(errorResponse.remark!.includes('invalid JSON header'), errorResponse.remark);
    // A JSON array header: opaque unknown, nothing to answer, stream still in step.
    const arr = Buffer.from('[1]');
    const p2 = Buffer.alloc(8);
    p2.writeInt32BE(4 + arr.length, 0);
    p2.writeInt32BE(arr.length, 4);
    raw.socket.write(Buffer.concat([p2, arr]));
    const probe = createRequest(RequestCode.HEART_BEAT);
    raw.socket.write(encodeFrameBuffer(probe));
    const ok = await raw.nextFrame();
    assert.is(ok.opaque, probe.opaque);
    assert.is(ok.code, ResponseCode.SUCCESS);
    assert.is(frameErrors.length, 2);
    assert.is(server.connections.size, 1);
  } finally {
    raw.socket.destroy();
    await server.close();
  }
});

test('broken framing closes that connection only; another keeps working', async () => {
  const { server, port, addr } = await startServer({ maxFrameBytes: 1024 * 1024 });
  const client = new RemotingClient();
  try {
    await client.invoke(addr, createRequest(RequestCode.HEART_BEAT));
    for (const bytes of [
      (() => { const b = Buffer.alloc(8); b.writeInt32BE(1024 * 1024); return b; })(), // length too large
      (() => { const b = Buffer.alloc(8); b.writeInt32BE(20); b.writeInt32BE(100, 4); return b; })(), // header past frame
      (() => { const b = Buffer.alloc(8); b.writeInt32BE(20); b.writeInt32BE(0x05000002, 4); return b; })(), // type 5
    ]) {
      const raw = await rawSocket(port);
      raw.socket.write(bytes);
      assert.ok(await withTimeout(raw.closed, 'server closes a broken connection'));
    }
    const res = await client.invoke(addr, createRequest(RequestCode.QUERY_CONSUMER_OFFSET, { topic: 'T', queueId: 1 }));
    assert.is(res.extFields.offset, '100');
  } finally {
    await client.close();
    await server.close();
  }
});

test('server-initiated requests: answered by the client processor, unsupported, timeout, oneway', async () => {
  const { server, addr } = await startServer({ requestTimeoutMs: 300 });
  const client = new RemotingClient();
  let notified = 0;
  client.registerProcessor(RequestCode.GET_CONSUMER_RUNNING_INFO, (req) =>
    createResponse(req, ResponseCode.SUCCESS, undefined, { clientId: `answered ${req.extFields.consumerGroup}` }),
  );
  client.registerProcessor(RequestCode.CHECK_TRANSACTION_STATE, () => null); // never answers
  client.registerProcessor(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED, () => {
    notified++;
    return null;
  });
  const connected = once(server, 'connection') as Promise<[RemotingConnection]>;
  try {
    await client.invoke(addr, createRequest(RequestCode.HEART_BEAT));
    const [conn] = await connected;
    assert.match(conn.remoteAddress, /^127\.0\.0\.1:\d+$/);
    assert.is(conn.localAddress, addr);

    const info = await conn.invoke(createRequest(RequestCode.GET_CONSUMER_RUNNING_INFO, { consumerGroup: 'g1' }), 2000);
    assert.is(info.extFields.clientId, 'answered g1');

    const unsupported = await conn.invoke(createRequest(RequestCode.RESET_CONSUMER_CLIENT_OFFSET));
    assert.is(unsupported.code, ResponseCode.REQUEST_CODE_NOT_SUPPORTED);

    const started = Date.now();
    const timedOut = await conn.invoke(createRequest(RequestCode.CHECK_TRANSACTION_STATE)).catch((e) => e);
    assert.instance(timedOut, RemotingTimeoutError);
    assert.ok(Date.now() - started >= 250, 'default requestTimeoutMs applies');
    assert.ok((timedOut as Error).message.includes(conn.remoteAddress));
    assert.is(conn.pendingCount, 0);

    await conn.invokeOneway(createRequest(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED, { consumerGroup: 'g1' }));
    for (let i = 0; i < 100 && notified === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.is(notified, 1);
  } finally {
    await client.close();
    await server.close();
  }
});

test('pending bound per connection: the excess gets SYSTEM_BUSY [OVERLOAD]', async () => {
  const { server, addr } = await startServer({ maxPendingPerConnection: 2 });
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  server.registerProcessor(RequestCode.PULL_MESSAGE, async (req) => {
    await gate;
    return createResponse(req, ResponseCode.PULL_NOT_FOUND);
  });
  const client = new RemotingClient();
  try {
    const held = [client.invoke(addr, createRequest(RequestCode.PULL_MESSAGE)), client.invoke(addr, createRequest(RequestCode.PULL_MESSAGE))];
    const busy = await client.invoke(addr, createRequest(RequestCode.PULL_MESSAGE));
    assert.is(busy.code, ResponseCode.SYSTEM_BUSY);
    assert.is(busy.remark, OVERLOAD_REMARK);
    release();
    for (const res of await Promise.all(held)) assert.is(res.code, ResponseCode.PULL_NOT_FOUND);
    const after = await client.invoke(addr, createRequest(RequestCode.PULL_MESSAGE));
    assert.is(after.code, ResponseCode.PULL_NOT_FOUND, 'slots are given back');
  } finally {
    await client.close();
    await server.close();
  }
});

test('a handler may answer later with conn.writeResponse (held pull)', async () => {
  const { server, addr } = await startServer();
  server.registerProcessor(RequestCode.PULL_MESSAGE, (req, conn) => {
    setTimeout(() => {
      const res = createResponse(req, ResponseCode.SUCCESS);
      res.body = Buffer.alloc(1_000_000, 9); // large: written as header + body buffers
      conn.writeResponse(req, res);
    }, 20);
    return null;
  });
  const client = new RemotingClient();
  try {
    const res = await client.invoke(addr, createRequest(RequestCode.PULL_MESSAGE));
    assert.is(res.body!.length, 1_000_000);
    assert.ok(res.body!.every((b) => b === 9));
  } finally {
    await client.close();
    await server.close();
  }
});

test('idle connections are closed after idleTimeoutMs; the client reconnects lazily', async () => {
  const { server, addr } = await startServer({ idleTimeoutMs: 150 });
  const client = new RemotingClient();
  try {
    await client.invoke(addr, createRequest(RequestCode.HEART_BEAT));
    const [conn] = [...server.connections];
    const startedMs = Date.now();
    await withTimeout(conn!.whenClosed(), 'idle close');
    assert.ok(Date.now() - startedMs >= 100);
    assert.is(server.connections.size, 0);
    const again = await client.invoke(addr, createRequest(RequestCode.HEART_BEAT));
    assert.is(again.code, ResponseCode.SUCCESS);
  } finally {
    await client.close();
    await server.close();
  }
});

test('a response too large for a frame becomes SYSTEM_ERROR', async () => {
  const { server, addr } = await startServer({ maxFrameBytes: 64 * 1024 });
  server.registerProcessor(RequestCode.QUERY_MESSAGE, (req) => {
    const res = createResponse(req);
    res.body = Buffer.alloc(100 * 1024);
    return res;
  });
  const client = new RemotingClient();
  try {
    const res = await client.invoke(addr, createRequest(RequestCode.QUERY_MESSAGE));
    assert.is(res.code, ResponseCode.SYSTEM_ERROR);
    assert.ok(res.remark!.includes('larger than maxFrameBytes'), res.remark);
  } finally {
    await client.close();
    await server.close();
  }
});

test('a slow reader pauses reading until its responses drain', async () => {
  const { server, port } = await startServer({ writeBufferLimitBytes: 256 * 1024 });
  let handled = 0;
  server.registerProcessor(RequestCode.QUERY_MESSAGE, (req) => {
    handled++;
    const res = createResponse(req);
    res.body = Buffer.alloc(512 * 1024, handled & 0xff);
    return res;
  });
  const raw = await rawSocket(port);
  try {
    raw.socket.pause(); // a client that does not read
    const requests = Array.from({ length: 20 }, () => createRequest(RequestCode.QUERY_MESSAGE));
    raw.socket.write(Buffer.concat(requests.map((r) => encodeFrameBuffer(r))));
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(handled < requests.length, `server stopped taking requests (handled ${handled})`);
    raw.socket.resume();
    for (const req of requests) {
      const res = await raw.nextFrame();
      assert.is(res.opaque, req.opaque);
      assert.is(res.body!.length, 512 * 1024);
    }
    assert.is(handled, requests.length);
  } finally {
    raw.socket.destroy();
    await server.close();
  }
});

test('close() fails pending client requests and closes connections', async () => {
  const { server, addr } = await startServer();
  server.registerProcessor(RequestCode.PULL_MESSAGE, () => new Promise<null>(() => undefined));
  const client = new RemotingClient();
  try {
    await client.invoke(addr, createRequest(RequestCode.HEART_BEAT));
    const pending = client.invoke(addr, createRequest(RequestCode.PULL_MESSAGE), 5000).catch((e) => e);
    await new Promise((r) => setTimeout(r, 30));
    await server.close();
    const error = await pending;
    assert.instance(error, RemotingConnectError);
    assert.is(server.connections.size, 0);
  } finally {
    await client.close();
  }
});

test.run();
