// The TCP server side of the remoting protocol: accepts connections and answers requests with the
// registered processors. Brokers and NameServers each run one.
import { EventEmitter } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { DEFAULT_MAX_FRAME_BYTES } from './frame-codec.js';
import { ProcessorTable, type RequestHandler } from './processor-table.js';
import {
  DEFAULT_WRITE_BUFFER_LIMIT_BYTES,
  RemotingConnection,
  type RemotingConnectionOptions,
} from './remoting-connection.js';

export interface RemotingServerOptions {
  host: string;
  /** 0 picks a free port; listen() tells which. */
  port: number;
  /** Peer requests handled at once per connection (excess → SYSTEM_BUSY); also bounds conn.invoke. */
  maxPendingPerConnection?: number;
  /** RocketMQ's serverChannelMaxIdleTimeSeconds (120 s); 0 = never. */
  idleTimeoutMs?: number;
  /** Default timeout of conn.invoke (requests the server sends to clients). */
  requestTimeoutMs?: number;
  maxFrameBytes?: number;
  writeBufferLimitBytes?: number;
}

export const DEFAULT_SERVER_MAX_PENDING_PER_CONNECTION = 4096;
export const DEFAULT_IDLE_TIMEOUT_MS = 120_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 3_000;

/**
 * Events: 'connection' (conn), 'disconnect' (conn, error?), 'frameError' (error, conn),
 * 'handlerError' (error, request, conn), 'serverError' (error: the listening socket failed).
 */
export class RemotingServer extends EventEmitter {
  private readonly processors = new ProcessorTable();
  private readonly connectionOptions: RemotingConnectionOptions;
  private readonly live = new Set<RemotingConnection>();
  private server: Server | undefined;

  constructor(readonly options: RemotingServerOptions) {
    super();
    this.connectionOptions = {
      maxPendingPerConnection: options.maxPendingPerConnection ?? DEFAULT_SERVER_MAX_PENDING_PER_CONNECTION,
      idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
      requestTimeoutMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
      writeBufferLimitBytes: options.writeBufferLimitBytes ?? DEFAULT_WRITE_BUFFER_LIMIT_BYTES,
    };
    if (!(this.connectionOptions.maxPendingPerConnection >= 1)) throw new RangeError('maxPendingPerConnection must be at least 1');
  }

  registerProcessor(code: number, handler: RequestHandler): void {
    this.processors.register(code, handler);
  }

  /** Answers every code without its own processor (instead of REQUEST_CODE_NOT_SUPPORTED). */
  setDefaultProcessor(handler: RequestHandler): void {
    this.processors.setDefault(handler);
  }

  /** Open connections. */
  get connections(): ReadonlySet<RemotingConnection> {
    return this.live;
  }

  listen(): Promise<{ host: string; port: number }> {
    if (this.server !== undefined) return Promise.reject(new Error('RemotingServer.listen() called twice'));
    const server = createServer({ noDelay: true }, (socket) => this.accept(socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      server.once('error', onError);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', onError);
        // Later server errors (accept failures such as EMFILE) must not crash the process.
        server.on('error', (error) => this.emit('serverError', error));
        const address = server.address() as AddressInfo;
        resolve({ host: address.address, port: address.port });
      });
    });
  }

  /** Stops listening and closes every connection (their pending requests fail). */
  async close(): Promise<void> {
    const server = this.server;
    const closing = [...this.live].map((conn) => {
      conn.close(new Error('server closing'));
      return conn.whenClosed();
    });
    if (server !== undefined && server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    await Promise.all(closing);
  }

  private accept(socket: Socket): void {
    const conn = new RemotingConnection(socket, this.processors, this.connectionOptions);
    this.live.add(conn);
    conn.on('frameError', (error) => this.emit('frameError', error, conn));
    conn.on('handlerError', (error, request) => this.emit('handlerError', error, request, conn));
    conn.once('close', (error?: Error) => {
      this.live.delete(conn);
      this.emit('disconnect', conn, error);
    });
    this.emit('connection', conn);
  }
}
