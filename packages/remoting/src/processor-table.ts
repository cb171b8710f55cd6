// Which handler answers which request code. The server and the client each own one: brokers
// receive client requests, and clients receive the broker's requests (CHECK_TRANSACTION_STATE,
// GET_CONSUMER_RUNNING_INFO, …) over the same connection (facts §1.4).
import type { RemotingCommand } from './remoting-command.js';
import type { RemotingConnection } from './remoting-connection.js';

/**
 * Answers one request. Return the response (its opaque and RESPONSE bit are set for you), null to
 * send nothing now (the handler may answer later with conn.writeResponse), or a promise of either.
 * A throw becomes a SYSTEM_ERROR response; a HeaderFieldError's remark is sent as is.
 */
export type RequestHandler = (
  request: RemotingCommand,
  conn: RemotingConnection,
) => RemotingCommand | null | Promise<RemotingCommand | null>;

export class ProcessorTable {
  private readonly handlers = new Map<number, RequestHandler>();
  private fallback: RequestHandler | undefined;

  register(code: number, handler: RequestHandler): void {
    if (!Number.isInteger(code)) throw new RangeError(`request code must be an integer, got ${code}`);
    this.handlers.set(code, handler);
  }

  setDefault(handler: RequestHandler | undefined): void {
    this.fallback = handler;
  }

  /** The handler for a code: its own, else the default, else undefined (REQUEST_CODE_NOT_SUPPORTED). */
  find(code: number): RequestHandler | undefined {
    return this.handlers.get(code) ?? this.fallback;
  }
}
