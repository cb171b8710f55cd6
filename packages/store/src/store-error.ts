// Typed store errors. `code` is RocketMQ's PutMessageStatus / GetMessageStatus vocabulary where one
// exists, so the broker can map it to a response code without parsing messages.
import { OrbitError } from '@orbit/common';

export type StoreErrorCode =
  | 'MESSAGE_ILLEGAL'
  | 'PROPERTIES_SIZE_EXCEEDED'
  | 'SERVICE_NOT_AVAILABLE'
  | 'CREATE_MAPPED_FILE_FAILED'
  | 'SYSTEM_BUSY'
  | 'STORE_CLOSED'
  | 'WRITER_CRASHED'
  | 'STORE_LOCKED';

export class StoreError extends OrbitError {
  constructor(
    override readonly code: StoreErrorCode,
    message: string,
  ) {
    super(code, message);
    this.name = 'StoreError';
  }
}
