// The raw cost of request/response over loopback between two Node processes, measured in the same
// run as a server benchmark so its figures have something to be divided by
// (performance-facts.md: "Node↔Node one connection, 1 KiB request / 16 B ack: 16 in flight
// ~290k/s; 256 in flight ~2.0M/s").
//
// Protocol: a request is a 4-byte big-endian length followed by that many bytes (1 KiB in all by
// default); the answer is a 16-byte ack. The server parses the length prefixes of whatever arrived
// and answers all complete requests of one read with one write; the client keeps `inFlight`
// requests outstanding and, for the acks of one read, writes as many new requests in one write.
// Nagle is off on both ends. That is the best a plain Node pair does per message: no headers to
// decode, no storage, no promises per request.
//
// With `writeEach` (mode "each") both ends instead call socket.write once per message, as a
// request/response server that answers message by message does (the remoting layer writes each
// response on its own): the cost of a write call per message, without any protocol work.
//
// The server runs as its own process (like the broker):
//   node --import tsx benchmarks/lib/tcp-echo.ts serve [port] [batch|each]
//   → prints "tcp-echo listening on 127.0.0.1:<port>"
import { createServer, connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

export const ACK_BYTES = 16;
export type EchoWriteMode = 'batch' | 'each';
export const LISTENING_PATTERN = /tcp-echo listening on (127\.0\.0\.1:\d+)/;

/** The server's entry point: answers every complete request with a 16-byte ack. */
export function serveAcks(port = 0, host = '127.0.0.1', mode: EchoWriteMode = 'batch'): Promise<{ port: number; close: () => Promise<void> }> {
  const ack = Buffer.alloc(ACK_BYTES, 0x61);
  const acks = Buffer.alloc(ACK_BYTES * 4096, 0x61);
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    let pending: Buffer | undefined;
    socket.on('data', (chunk: Buffer) => {
      const buf = pending ? Buffer.concat([pending, chunk]) : chunk;
      let pos = 0;
      let complete = 0;
      while (buf.length - pos >= 4) {
        const len = buf.readUInt32BE(pos);
        if (buf.length - pos - 4 < len) break;
        pos += 4 + len;
        complete++;
      }
      pending = pos < buf.length ? Buffer.from(buf.subarray(pos)) : undefined;
      if (mode === 'each') {
        for (let i = 0; i < complete; i++) socket.write(ack);
        return;
      }
      while (complete > 0) {
        const n = Math.min(complete, 4096);
        socket.write(n === 1 ? ack : acks.subarray(0, n * ACK_BYTES));
        complete -= n;
      }
    });
    socket.on('error', () => socket.destroy());
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const bound = (server.address() as { port: number }).port;
      resolve({
        port: bound,
        close: () => new Promise<void>((r) => server.close(() => r())),
      });
    });
  });
}

export interface EchoRunResult {
  /** Acks received per second inside the measured window. */
  requestsPerSecond: number;
  requests: number;
  seconds: number;
}

/**
 * One client connection keeping `inFlight` requests of `requestBytes` (length prefix included)
 * outstanding: warm-up, then counts acks for `measureMs`.
 */
export function runEchoClient(address: string, options: { inFlight: number; requestBytes?: number; warmupMs: number; measureMs: number; writeEach?: boolean }): Promise<EchoRunResult> {
  const requestBytes = options.requestBytes ?? 1024;
  if (requestBytes < 8) throw new RangeError('requestBytes must be at least 8');
  const [host, portText] = address.split(':');
  const inFlight = options.inFlight;
  // inFlight back-to-back requests, so any number of them up to inFlight is one subarray.
  const requests = Buffer.alloc(requestBytes * inFlight, 0x62);
  for (let i = 0; i < inFlight; i++) requests.writeUInt32BE(requestBytes - 4, i * requestBytes);

  return new Promise((resolve, reject) => {
    const socket: Socket = connect({ host: host!, port: Number(portText) });
    socket.setNoDelay(true);
    let ackBytes = 0; // bytes of a partial ack carried over
    let received = 0;
    let phase: 'warmup' | 'measure' | 'done' = 'warmup';
    let windowStartCount = 0;
    let windowStartMs = 0;
    socket.once('connect', () => {
      if (options.writeEach) for (let i = 0; i < inFlight; i++) socket.write(requests.subarray(i * requestBytes, (i + 1) * requestBytes));
      else socket.write(requests);
      setTimeout(() => {
        phase = 'measure';
        windowStartCount = received;
        windowStartMs = performance.now();
        setTimeout(() => {
          const seconds = (performance.now() - windowStartMs) / 1000;
          const count = received - windowStartCount;
          phase = 'done';
          socket.destroy();
          resolve({ requestsPerSecond: count / seconds, requests: count, seconds });
        }, options.measureMs);
      }, options.warmupMs);
    });
    socket.on('data', (chunk: Buffer) => {
      ackBytes += chunk.length;
      const n = Math.floor(ackBytes / ACK_BYTES);
      ackBytes -= n * ACK_BYTES;
      received += n;
      if (phase === 'done' || n === 0) return;
      if (options.writeEach) {
        for (let i = 0; i < n; i++) socket.write(requests.subarray(0, requestBytes));
      } else {
        socket.write(requests.subarray(0, n * requestBytes));
      }
    });
    socket.on('error', (err) => {
      if (phase !== 'done') reject(err);
    });
  });
}

// `node --import tsx benchmarks/lib/tcp-echo.ts serve [port]`
if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === 'serve') {
  const mode = process.argv[4] === 'each' ? 'each' : 'batch';
  const { port } = await serveAcks(Number(process.argv[3] ?? 0), '127.0.0.1', mode);
  process.stdout.write(`tcp-echo listening on 127.0.0.1:${port} (${mode})\n`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(0));
}
