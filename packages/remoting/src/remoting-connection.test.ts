import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { RequestCode } from '@orbit/common/request-code';
import { FrameDecoder } from './frame-codec.js';
import { ProcessorTable } from './processor-table.js';
import { createRequest } from './remoting-command.js';
import { formatHostPort, RemotingConnection, type RemotingConnectionOptions } from './remoting-connection.js';
import { FrameError, RemotingConnectError } from './remoting-errors.js';

const options: RemotingConnectionOptions = {
  maxPendingPerConnection: 16,
  idleTimeoutMs: 0,
  requestTimeoutMs: 2000,
  maxFrameBytes: 1024 * 1024,
  writeBufferLimitBytes: 1024 * 1024,
};

/** A peer written with plain sockets, answering each request frame with `reply(opaque)`. */
async function rawPeer(reply: (opaque: number) => Buffer): Promise<{ server: Server; port: number; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    const decoder = new FrameDecoder();
    socket.on('data', (chunk: Buffer) => {
      for (const cmd of decoder.feed(chunk)) socket.write(reply(cmd.opaque));
    });
    socket.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as { port: number }).port, sockets };
}

function frameWithHeader(text: string): Buffer {
  const h = Buffer.from(text);
  const prefix = Buffer.alloc(8);
  prefix.writeInt32BE(4 + h.length, 0);
  prefix.writeInt32BE(h.length, 4);
  return Buffer.concat([prefix, h]);
}

async function openConnection(port: number): Promise<RemotingConnection> {
  const socket = connect({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  return new RemotingConnection(socket, new ProcessorTable(), options);
}

test('formatHostPort', () => {
  assert.is(formatHostPort('127.0.0.1', 10911), '127.0.0.1:10911');
  assert.is(formatHostPort('::ffff:10.0.0.1', 5), '10.0.0.1:5');
  assert.is(formatHostPort('::1', 9876), '[::1]:9876');
  assert.is(formatHostPort(undefined, undefined), 'unknown');
});

test('a malformed response whose opaque is readable fails that request with FrameError', async () => {
  const peer = await rawPeer((opaque) => frameWithHeader(`{"opaque":${opaque},"flag":1,"remark":"no code here"}`));
  const conn = await openConnection(peer.port);
  try {
    const error = await conn.invoke(createRequest(RequestCode.HEART_BEAT)).catch((e) => e);
    assert.instance(error, FrameError);
    assert.ok((error as FrameError).message.includes('"code"'));
    assert.is(conn.pendingCount, 0);
    assert.not.ok(conn.closed, 'a bad header inside a good frame keeps the connection');
  } finally {
    conn.close();
    await conn.whenClosed();
    peer.server.close();
  }
});

test('a peer breaking the framing closes the connection and fails what is pending', async () => {
  const peer = await rawPeer(() => Buffer.from([0x7f, 0xff, 0xff, 0xff]));
  const conn = await openConnection(peer.port);
  const frameErrors: FrameError[] = [];
  conn.on('frameError', (e: FrameError) => frameErrors.push(e));
  try {
    const error = await conn.invoke(createRequest(RequestCode.HEART_BEAT)).catch((e) => e);
    assert.instance(error, RemotingConnectError);
    assert.ok((error as Error).message.includes('larger than maxFrameBytes'), (error as Error).message);
    await conn.whenClosed();
    assert.ok(conn.closed);
    assert.is(frameErrors.length, 1);
    assert.ok(frameErrors[0]!.fatal);
    const after = await conn.invoke(createRequest(RequestCode.HEART_BEAT)).catch((e) => e);
    assert.instance(after, RemotingConnectError);
    const oneway = await conn.invokeOneway(createRequest(RequestCode.HEART_BEAT)).catch((e) => e);
    assert.instance(oneway, RemotingConnectError);
  } finally {
    peer.server.close();
  }
});

test.run();
