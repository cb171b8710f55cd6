// The client side of the remoting protocol: one pooled connection per "host:port", opened on first
// use and again on the first use after it closed. Producers, consumers, admin tools and the
// broker's own calls to NameServers all go through one of these.
import { EventEmitter } from 'node:events';
import { connect } from 'node:net';
import { assert } from '@orbit/common/errors';
import { DEFAULT_MAX_FRAME_BYTES } from './frame-codec.js';
import { ProcessorTable, type RequestHandler } from './processor-table.js';
import type { RemotingCommand } from './remoting-command.js';
import {
  DEFAULT_WRITE_BUFFER_LIMIT_BYTES,
  RemotingConnection,
  type RemotingConnectionOptions,
} from './remoting-connection.js';
import { RemotingConnectError, RemotingTimeoutError } from './remoting-errors.js';

/** Each client connection's read buffer (reused for every read). */
const READ_BUFFER_BYTES = 128 * 1024;

export interface RemotingClientOptions {
  /** RocketMQ's connectTimeoutMillis default is 3 s. */
  connectTimeoutMs?: number;
  /** Timeout of invoke() when the caller gives none. */
  requestTimeoutMs?: number;
  /** Our requests waiting per connection (excess → RemotingOverloadError); also bounds server requests handled at once. */
  maxPendingPerConnection?: number;
  /** RocketMQ's clientChannelMaxIdleTimeSeconds (120 s); 0 = never. */
  idleTimeoutMs?: number;
  maxFrameBytes?: number;
  writeBufferLimitBytes?: number;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 3_000;
export const DEFAULT_CLIENT_REQUEST_TIMEOUT_MS = 3_000;
/** RocketMQ's clientAsyncSemaphoreValue. */
export const DEFAULT_CLIENT_MAX_PENDING_PER_CONNECTION = 65_535;
export const DEFAULT_CLIENT_IDLE_TIMEOUT_MS = 120_000;

/** Splits "host:port" or "[v6]:port". */
export function parseHostPort(addr: string): { host: string; port: number } {
  const colon = addr.lastIndexOf(':');
  if (colon <= 0) throw new RangeError(`bad address "${addr}": expected host:port`);
  let host = addr.slice(0, colon);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  const portText = addr.slice(colon + 1);
  const port = Number(portText);
  if (!/^[0-9]{1,5}$/.test(portText) || port > 65535) throw new RangeError(`bad port in address "${addr}"`);
  return { host, port };
}

interface PoolEntry {
  opening: Promise<RemotingConnection>;
  /** Set once connected. */
  conn: RemotingConnection | undefined;
}

/**
 * Events: 'connection' (addr, conn), 'disconnect' (addr, conn, error?), 'frameError' (error, conn),
 * 'handlerError' (error, request, conn).
 */
export class RemotingClient extends EventEmitter {
  private readonly processors = new ProcessorTable();
  private readonly connectionOptions: RemotingConnectionOptions;
  private readonly connectTimeoutMs: number;
  private readonly pool = new Map<string, PoolEntry>();
  private closed = false;

  constructor(options: RemotingClientOptions = {}) {
    super();
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.connectionOptions = {
      maxPendingPerConnection: options.maxPendingPerConnection ?? DEFAULT_CLIENT_MAX_PENDING_PER_CONNECTION,
      idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_CLIENT_IDLE_TIMEOUT_MS,
      requestTimeoutMs: options.requestTimeoutMs ?? DEFAULT_CLIENT_REQUEST_TIMEOUT_MS,
      maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
      writeBufferLimitBytes: options.writeBufferLimitBytes ?? DEFAULT_WRITE_BUFFER_LIMIT_BYTES,
    };
    if (!(this.connectionOptions.maxPendingPerConnection >= 1)) throw new RangeError('maxPendingPerConnection must be at least 1');
  }

  /** Handles requests the server sends us (CHECK_TRANSACTION_STATE, GET_CONSUMER_RUNNING_INFO, …). */
  registerProcessor(code: number, handler: RequestHandler): void {
    this.processors.register(code, handler);
  }

  setDefaultProcessor(handler: RequestHandler): void {
    this.processors.setDefault(handler);
  }

  /**
   * Sends a request and resolves with the response. `timeoutMs` covers connecting too, as in
   * RocketMQ's invokeSync: what connecting used is taken off the wait for the response.
   */
  async invoke(addr: string, request: RemotingCommand, timeoutMs: number = this.connectionOptions.requestTimeoutMs): Promise<RemotingCommand> {
    const startedMs = Date.now();
    const conn = await this.getConnection(addr, Math.min(timeoutMs, this.connectTimeoutMs));
    const leftMs = timeoutMs - (Date.now() - startedMs);
    if (leftMs <= 0) throw new RemotingTimeoutError(addr, request.code, timeoutMs);
    return conn.invoke(request, leftMs);
  }

  /** Sends a request the server must not answer; resolves once it is written. */
  async invokeOneway(addr: string, request: RemotingCommand): Promise<void> {
    const conn = await this.getConnection(addr);
    return conn.invokeOneway(request);
  }

  /** The pooled connection to addr, connecting when there is none. */
  getConnection(addr: string, connectTimeoutMs: number = this.connectTimeoutMs): Promise<RemotingConnection> {
    if (this.closed) return Promise.reject(new RemotingConnectError(addr, 'remoting client is closed'));
    const existing = this.pool.get(addr);
    if (existing !== undefined && !(existing.conn?.closed ?? false)) return existing.opening;
    const entry: PoolEntry = { opening: this.connect(addr, connectTimeoutMs), conn: undefined };
    this.pool.set(addr, entry);
    entry.opening.then(
      (conn) => {
        entry.conn = conn;
        // Forget a closed connection at once, so the next request opens a new one.
        conn.once('close', () => {
          if (this.pool.get(addr) === entry) this.pool.delete(addr);
        });
      },
      () => {
        // A failed connect leaves no entry, so the next call tries again.
        if (this.pool.get(addr) === entry) this.pool.delete(addr);
      },
    );
    return entry.opening;
  }

  /** Closes the connection to addr, if any; the next request reconnects. */
  closeConnection(addr: string): void {
    const entry = this.pool.get(addr);
    if (entry === undefined) return;
    this.pool.delete(addr);
    entry.opening.then((conn) => conn.close(), () => undefined);
  }

  /** Closes every connection; pending requests fail with RemotingConnectError. */
  async close(): Promise<void> {
    this.closed = true;
    const entries = [...this.pool.values()];
    this.pool.clear();
    await Promise.all(
      entries.map((entry) =>
        entry.opening.then(
          (conn) => {
            conn.close(new Error('remoting client closing'));
            return conn.whenClosed();
          },
          () => undefined,
        ),
      ),
    );
  }

  private connect(addr: string, connectTimeoutMs: number): Promise<RemotingConnection> {
    let target: { host: string; port: number };
    try {
      target = parseHostPort(addr);
    } catch (error) {
      return Promise.reject(new RemotingConnectError(addr, (error as Error).message));
    }
    return new Promise<RemotingConnection>((resolve, reject) => {
      // Reads land in one buffer of this connection's own, reused from read to read (onread), and the
      // decoder copies each frame out of it once (FrameDecoder.pushCopy), instead of a new 64 KiB
      // buffer per read plus a copy of every frame that spans reads: for a consumer reading large
      // pull responses that churn was most of its garbage collection.
      let receiver: RemotingConnection | undefined;
      const socket = connect({
        host: target.host,
        port: target.port,
        noDelay: true,
        onread: {
          buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES),
          callback: (bytes: number, buffer: Uint8Array) => {
            // Reading starts once connected, and the connection exists from then on.
            assert(receiver !== undefined, 'a read before the connection was set up');
            receiver.receiveCopy((buffer as Buffer).subarray(0, bytes));
            return true;
          },
        },
      });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new RemotingConnectError(addr, `connect to <${addr}> timed out after ${connectTimeoutMs} ms`));
      }, connectTimeoutMs);
      const onError = (error: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(new RemotingConnectError(addr, `connect to <${addr}> failed: ${error.message}`));
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        if (this.closed) {
          socket.destroy();
          reject(new RemotingConnectError(addr, 'remoting client is closed'));
          return;
        }
        const conn = new RemotingConnection(socket, this.processors, this.connectionOptions);
        receiver = conn;
        conn.on('frameError', (error) => this.emit('frameError', error, conn));
        conn.on('handlerError', (error, request) => this.emit('handlerError', error, request, conn));
        conn.once('close', (error?: Error) => this.emit('disconnect', addr, conn, error));
        this.emit('connection', addr, conn);
        resolve(conn);
      });
    });
  }
}
