// Errors a client caller can act on. MQBrokerError carries the broker's response code (the same
// numbers as RocketMQ's ResponseCode, so `err.code === 17` means TOPIC_NOT_EXIST); MQClientError
// is a failure on our side (no route, bad argument, every retry failed).
import { OrbitError } from '@orbit/common/errors';
import { responseCodeName } from '@orbit/common/response-code';

/** A broker (or NameServer) answered with a code the caller must see (MQBrokerException). */
export class MQBrokerError extends Error {
  constructor(
    /** The response code, e.g. 17 TOPIC_NOT_EXIST. */
    readonly code: number,
    /** The response's remark (the broker's explanation), possibly empty. */
    readonly remark: string,
    /** The address that answered, when known. */
    readonly brokerAddr?: string,
  ) {
    super(`CODE: ${code} (${responseCodeName(code)})  DESC: ${remark}${brokerAddr ? `  BROKER: ${brokerAddr}` : ''}`);
    this.name = 'MQBrokerError';
  }

  get responseCode(): number {
    return this.code;
  }
}

/** A client-side failure (MQClientException): validation, missing route, retries used up. */
export class MQClientError extends OrbitError {
  constructor(
    message: string,
    /** The broker response code behind the failure, when there was one. */
    readonly responseCode?: number,
    options?: { cause?: unknown },
  ) {
    super('MQ_CLIENT_ERROR', message);
    this.name = 'MQClientError';
    if (options?.cause !== undefined) (this as { cause?: unknown }).cause = options.cause;
  }
}
