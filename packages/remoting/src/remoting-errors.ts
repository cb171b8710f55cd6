// Every failure of the remoting layer is one of these classes, so callers can act on the kind
// (close the connection, answer SYSTEM_ERROR, retry another broker) without parsing messages.
import { OrbitError } from '@orbit/common/errors';

/**
 * Bytes from a peer that are not a valid frame or header.
 * `fatal`: the frame boundary is lost (bad length, header length past the frame, unknown serialize
 * type), so nothing after it can be trusted and the connection must be closed.
 * Not fatal: the frame was cut out cleanly but its header is bad; the stream stays usable, and
 * when `opaque` is known the receiver can answer that request with SYSTEM_ERROR.
 */
export class FrameError extends OrbitError {
  constructor(
    message: string,
    readonly fatal: boolean,
    /** The opaque of the bad frame, when it could still be read. */
    readonly opaque?: number,
    /** The flag of the bad frame, when it could still be read (tells a response from a request). */
    readonly flag?: number,
  ) {
    super('FRAME_ERROR', message);
    this.name = 'FrameError';
  }
}

/**
 * A custom-header field (extFields) is missing or does not parse as the type a processor needs.
 * Its message is the remark a RocketMQ broker would send back in the SYSTEM_ERROR response.
 */
export class HeaderFieldError extends OrbitError {
  constructor(
    readonly field: string,
    remark: string,
  ) {
    super('HEADER_FIELD_ERROR', remark);
    this.name = 'HeaderFieldError';
  }

  get remark(): string {
    return this.message;
  }
}

/** No response came back within the timeout. The request is removed from the pending table. */
export class RemotingTimeoutError extends OrbitError {
  constructor(
    readonly addr: string,
    readonly requestCode: number,
    readonly timeoutMs: number,
  ) {
    super('REMOTING_TIMEOUT', `wait response on the channel <${addr}> timeout, ${timeoutMs}(ms), request code ${requestCode}`);
    this.name = 'RemotingTimeoutError';
  }
}

/** Could not connect, or the connection closed before the response came back. */
export class RemotingConnectError extends OrbitError {
  constructor(
    readonly addr: string,
    message: string,
  ) {
    super('REMOTING_CONNECT', message);
    this.name = 'RemotingConnectError';
  }
}

/** Too many requests already waiting on one connection (RocketMQ's RemotingTooMuchRequestException). */
export class RemotingOverloadError extends OrbitError {
  constructor(
    readonly addr: string,
    message: string,
  ) {
    super('REMOTING_OVERLOAD', message);
    this.name = 'RemotingOverloadError';
  }
}
