// One TCP connection speaking the remoting protocol, used the same way on both ends: a broker's
// connection from a client, and a client's connection to a broker or NameServer. Either side sends
// requests (matched to responses by opaque in a pending table) and answers the other side's
// requests with its ProcessorTable (facts §1.4).
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { assert } from '@orbit/common/errors';
import { ResponseCode } from '@orbit/common/response-code';
import { encodeFrame, FrameDecoder } from './frame-codec.js';
import type { ProcessorTable } from './processor-table.js';
import {
  CommandFlag,
  createResponse,
  isOneway,
  isResponse,
  nextOpaque,
  type RemotingCommand,
} from './remoting-command.js';
import {
  FrameError,
  HeaderFieldError,
  RemotingConnectError,
  RemotingOverloadError,
  RemotingTimeoutError,
} from './remoting-errors.js';

/** RocketMQ's remark when a full thread pool refuses a request (facts §1.4). */
export const OVERLOAD_REMARK = '[OVERLOAD]system busy, start flow control for a while';

export interface RemotingConnectionOptions {
  /**
   * Bound in each direction: requests from the peer still being handled (the excess is answered
   * SYSTEM_BUSY), and our requests still waiting for a response (the excess is refused with
   * RemotingOverloadError).
   */
  maxPendingPerConnection: number;
  /** Close after this long without a byte read or written; 0 = never. */
  idleTimeoutMs: number;
  /** Timeout of invoke() when the caller gives none. */
  requestTimeoutMs: number;
  maxFrameBytes: number;
  /**
   * When more than this is queued for the socket and not yet sent, stop reading the peer's
   * requests until the queue drains, and refuse invokeOneway. Bounds memory held for a slow reader.
   */
  writeBufferLimitBytes: number;
}

export const DEFAULT_WRITE_BUFFER_LIMIT_BYTES = 32 * 1024 * 1024;
/** Error remarks are cut to this length: a remark is for a human, not a transport for data. */
export const MAX_ERROR_REMARK_CHARS = 2048;

function errorRemark(text: string): string {
  return text.length > MAX_ERROR_REMARK_CHARS ? `${text.slice(0, MAX_ERROR_REMARK_CHARS)}…` : text;
}

interface PendingRequest {
  resolve: (response: RemotingCommand) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
  code: number;
}

/** "ip:port" as Java's RemotingHelper prints it; IPv6 in brackets, IPv4-mapped IPv6 as IPv4. */
export function formatHostPort(host: string | undefined, port: number | undefined): string {
  if (host === undefined || port === undefined) return 'unknown';
  const bare = host.startsWith('::ffff:') && host.includes('.') ? host.slice(7) : host;
  return bare.includes(':') ? `[${bare}]:${port}` : `${bare}:${port}`;
}

let connectionCounter = 0;

/**
 * Events: 'close' (error?: Error), 'frameError' (FrameError), 'handlerError' (error, request),
 * 'unmatchedResponse' (RemotingCommand: a response whose request timed out or was never ours),
 * 'idle' (just before an idle close), 'overload' (request refused for the pending bound).
 */
export class RemotingConnection extends EventEmitter {
  /** Process-unique id, for logs and maps. */
  readonly id = ++connectionCounter;
  readonly remoteAddress: string;
  readonly localAddress: string;
  private readonly decoder: FrameDecoder;
  private readonly pending = new Map<number, PendingRequest>();
  private inflightRequests = 0;
  private closing = false;
  private closedFlag = false;
  private readPaused = false;
  private closeReason: Error | undefined;
  private readonly closedPromise: Promise<void>;
  private resolveClosed!: () => void;

  constructor(
    readonly socket: Socket,
    private readonly processors: ProcessorTable,
    readonly options: RemotingConnectionOptions,
  ) {
    super();
    this.closedPromise = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    this.remoteAddress = formatHostPort(socket.remoteAddress, socket.remotePort);
    this.localAddress = formatHostPort(socket.localAddress, socket.localPort);
    this.decoder = new FrameDecoder({ maxFrameBytes: options.maxFrameBytes });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error: Error) => {
      this.closeReason ??= error;
    });
    socket.on('close', () => this.onClose());
    if (options.idleTimeoutMs > 0) {
      // Node's socket timeout restarts on every read and every completed write: "no traffic".
      socket.setTimeout(options.idleTimeoutMs);
      socket.on('timeout', () => {
        this.emit('idle');
        this.close(new Error(`idle for ${options.idleTimeoutMs} ms`));
      });
    }
  }

  get closed(): boolean {
    return this.closing || this.closedFlag;
  }

  /** Settles once the socket has closed and pending requests were failed. */
  whenClosed(): Promise<void> {
    return this.closedPromise;
  }

  /** Our requests waiting for a response. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Peer requests being handled now. */
  get inflightCount(): number {
    return this.inflightRequests;
  }

  /** Sends a request and resolves with the peer's response. The opaque is assigned here. */
  invoke(request: RemotingCommand, timeoutMs: number = this.options.requestTimeoutMs): Promise<RemotingCommand> {
    if (this.closed) return Promise.reject(this.closedError(request.code));
    if (this.pending.size >= this.options.maxPendingPerConnection) {
      this.emit('overload');
      return Promise.reject(
        new RemotingOverloadError(
          this.remoteAddress,
          `too many requests waiting on <${this.remoteAddress}>: ${this.pending.size} of ${this.options.maxPendingPerConnection}`,
        ),
      );
    }
    const outgoing: RemotingCommand = {
      ...request,
      opaque: nextOpaque(),
      flag: request.flag & ~(CommandFlag.RESPONSE | CommandFlag.ONEWAY),
    };
    return new Promise<RemotingCommand>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.pending.delete(outgoing.opaque)) reject(new RemotingTimeoutError(this.remoteAddress, request.code, timeoutMs));
      }, timeoutMs);
      this.pending.set(outgoing.opaque, { resolve, reject, timer, code: request.code });
      let failure: unknown;
      try {
        if (!this.writeCommand(outgoing)) failure = this.closedError(request.code);
      } catch (error) {
        failure = error;
      }
      if (failure !== undefined) {
        this.pending.delete(outgoing.opaque);
        clearTimeout(timer);
        reject(failure);
      }
    });
  }

  /** Sends a request the peer must not answer. Resolves once it is handed to the kernel. */
  invokeOneway(request: RemotingCommand): Promise<void> {
    if (this.closed) return Promise.reject(this.closedError(request.code));
    if (this.socket.writableLength > this.options.writeBufferLimitBytes) {
      this.emit('overload');
      return Promise.reject(
        new RemotingOverloadError(this.remoteAddress, `send queue to <${this.remoteAddress}> is over ${this.options.writeBufferLimitBytes} bytes`),
      );
    }
    const outgoing: RemotingCommand = {
      ...request,
      opaque: nextOpaque(),
      flag: (request.flag | CommandFlag.ONEWAY) & ~CommandFlag.RESPONSE,
    };
    return new Promise<void>((resolve, reject) => {
      try {
        const written = this.writeCommand(outgoing, (error) => {
          if (error) reject(new RemotingConnectError(this.remoteAddress, `send to <${this.remoteAddress}> failed: ${error.message}`));
          else resolve();
        });
        if (!written) reject(this.closedError(request.code));
      } catch (error) {
        reject(error);
      }
    });
  }

  /**
   * Answers `request` (for handlers that answer later, such as a held pull). Copies the opaque and
   * sets the RESPONSE bit. Oneway requests are never answered. Returns false when nothing was sent.
   */
  writeResponse(request: RemotingCommand, response: RemotingCommand): boolean {
    if (isOneway(request)) return false;
    response.opaque = request.opaque;
    response.flag = (response.flag | CommandFlag.RESPONSE) & ~CommandFlag.ONEWAY;
    try {
      return this.writeCommand(response);
    } catch (error) {
      // Most likely a body too large for a frame: the peer still gets an answer.
      const fallback = createResponse(request, ResponseCode.SYSTEM_ERROR, errorRemark(`response could not be encoded: ${(error as Error).message}`));
      return this.writeCommand(fallback);
    }
  }

  /** Closes the connection now; pending requests fail with RemotingConnectError. */
  close(reason?: Error): void {
    if (this.closed) return;
    this.closing = true;
    this.closeReason ??= reason;
    // Answers corked in this tick (see writeCommand) go out before the socket does: destroy()
    // discards anything still corked.
    if (this.corkedThisTick) {
      this.corkedThisTick = false;
      this.socket.uncork();
    }
    this.socket.destroy();
  }

  // -------------------------------------------------------------------------------------------

  private closedError(code: number): RemotingConnectError {
    return new RemotingConnectError(this.remoteAddress, `connection <${this.remoteAddress}> is closed; request code ${code} not sent`);
  }

  /** Writes one command; false when the socket can no longer be written. Throws when encoding fails. */
  private corkedThisTick = false;

  private writeCommand(cmd: RemotingCommand, callback?: (error?: Error | null) => void): boolean {
    const socket = this.socket;
    if (this.closed || socket.destroyed || !socket.writable) return false;
    const parts = encodeFrame(cmd, { maxFrameBytes: this.options.maxFrameBytes });
    // Everything written in one turn of the event loop (e.g. the answers to a batch of sends whose
    // appends completed together) leaves in one writev instead of one syscall per frame.
    if (!this.corkedThisTick) {
      this.corkedThisTick = true;
      socket.cork();
      process.nextTick(() => {
        this.corkedThisTick = false;
        socket.uncork();
      });
    }
    if (parts.length === 1) {
      socket.write(parts[0]!, callback);
    } else {
      // One writev for header and body buffers: no join, one syscall.
      socket.cork();
      const last = parts.length - 1;
      for (let i = 0; i < last; i++) socket.write(parts[i]!);
      socket.write(parts[last]!, callback);
      socket.uncork();
    }
    if (!this.readPaused && socket.writableLength > this.options.writeBufferLimitBytes) {
      // The peer reads slower than it asks: stop taking its requests until the queue drains.
      this.readPaused = true;
      socket.pause();
      socket.once('drain', () => {
        this.readPaused = false;
        if (this.closed) return;
        socket.resume();
        // Frames that arrived in the same chunk as the ones before the pause are still buffered.
        this.processBuffered();
      });
    }
    return true;
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.decoder.push(chunk);
    this.processBuffered();
  }

  /**
   * Bytes read into a buffer the socket reuses for its next read (net's `onread`, which client
   * connections use; a server's accepted sockets cannot): the decoder copies what it keeps.
   */
  receiveCopy(view: Buffer): void {
    if (this.closed) return;
    this.decoder.pushCopy(view);
    this.processBuffered();
  }

  /** Handles every complete frame buffered, stopping early while reading is paused. */
  private processBuffered(): void {
    // Each turn consumes at least one frame of the buffered bytes, so the loop ends.
    while (!this.closed && !this.readPaused) {
      let cmd: RemotingCommand | null;
      try {
        cmd = this.decoder.next();
      } catch (error) {
        if (!this.onFrameError(error as FrameError)) return;
        continue;
      }
      if (cmd === null) return;
      if (isResponse(cmd)) this.onResponse(cmd);
      else this.onRequest(cmd);
    }
  }

  /** Returns whether reading may go on. */
  private onFrameError(error: FrameError): boolean {
    this.emit('frameError', error);
    if (!(error instanceof FrameError) || error.fatal) {
      // The frame boundary is lost: nothing after it can be trusted (Java closes the channel too).
      this.close(error);
      return false;
    }
    if (error.opaque === undefined) return true; // nobody to answer; the stream is still in step
    const flag = error.flag ?? 0;
    if ((flag & CommandFlag.RESPONSE) !== 0) {
      const waiting = this.pending.get(error.opaque);
      if (waiting !== undefined) {
        this.pending.delete(error.opaque);
        clearTimeout(waiting.timer);
        waiting.reject(error);
      }
      return true;
    }
    if ((flag & CommandFlag.ONEWAY) === 0) {
      this.writeCommand(createResponse({ opaque: error.opaque }, ResponseCode.SYSTEM_ERROR, errorRemark(`decode request failed: ${error.message}`)));
    }
    return true;
  }

  private onResponse(response: RemotingCommand): void {
    const waiting = this.pending.get(response.opaque);
    if (waiting === undefined) {
      this.emit('unmatchedResponse', response);
      return;
    }
    this.pending.delete(response.opaque);
    clearTimeout(waiting.timer);
    waiting.resolve(response);
  }

  private onRequest(request: RemotingCommand): void {
    const oneway = isOneway(request);
    if (this.inflightRequests >= this.options.maxPendingPerConnection) {
      this.emit('overload');
      if (!oneway) this.writeCommand(createResponse(request, ResponseCode.SYSTEM_BUSY, OVERLOAD_REMARK));
      return;
    }
    const handler = this.processors.find(request.code);
    if (handler === undefined) {
      if (!oneway) {
        this.writeCommand(createResponse(request, ResponseCode.REQUEST_CODE_NOT_SUPPORTED, ` request type ${request.code} not supported`));
      }
      return;
    }
    this.inflightRequests++;
    let result: RemotingCommand | null | Promise<RemotingCommand | null>;
    try {
      result = handler(request, this);
    } catch (error) {
      this.finishRequest();
      this.answerFailure(request, error);
      return;
    }
    if (result !== null && result !== undefined && typeof (result as Promise<unknown>).then === 'function') {
      (result as Promise<RemotingCommand | null>).then(
        (response) => {
          this.finishRequest();
          if (response) this.writeResponse(request, response);
        },
        (error: unknown) => {
          this.finishRequest();
          this.answerFailure(request, error);
        },
      );
      return;
    }
    this.finishRequest();
    if (result) this.writeResponse(request, result as RemotingCommand);
  }

  private finishRequest(): void {
    this.inflightRequests--;
    assert(this.inflightRequests >= 0, 'more requests finished than started');
  }

  private answerFailure(request: RemotingCommand, error: unknown): void {
    this.emit('handlerError', error, request);
    const remark =
      error instanceof HeaderFieldError ? error.remark : error instanceof Error ? error.message || error.name : String(error);
    this.writeResponse(request, createResponse(request, ResponseCode.SYSTEM_ERROR, errorRemark(remark)));
  }

  private onClose(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.closing = true;
    const why = this.closeReason ? `: ${this.closeReason.message}` : '';
    for (const waiting of this.pending.values()) {
      clearTimeout(waiting.timer);
      waiting.reject(
        new RemotingConnectError(
          this.remoteAddress,
          `connection <${this.remoteAddress}> closed before the response to request code ${waiting.code} came back${why}`,
        ),
      );
    }
    this.pending.clear();
    this.emit('close', this.closeReason);
    this.resolveClosed();
  }
}
