// What a store append's status means to the broker (facts §2.3): the response code a producer gets,
// and whether the message is stored. FLUSH_DISK_TIMEOUT, FLUSH_SLAVE_TIMEOUT and SLAVE_NOT_AVAILABLE
// are "stored here, with a caveat": the producer gets the message id and offsets with that code
// (its SendStatus), and nothing that moved a message (schedule, send-back) may store it twice.
import { ResponseCode } from '@orbit/common';
import type { PutStatusName } from '@orbit/store';

export function putStatusToCode(status: PutStatusName): number {
  switch (status) {
    case 'PUT_OK':
      return ResponseCode.SUCCESS;
    case 'FLUSH_DISK_TIMEOUT':
      return ResponseCode.FLUSH_DISK_TIMEOUT;
    case 'FLUSH_SLAVE_TIMEOUT':
      return ResponseCode.FLUSH_SLAVE_TIMEOUT;
    case 'SLAVE_NOT_AVAILABLE':
      return ResponseCode.SLAVE_NOT_AVAILABLE;
    case 'MESSAGE_ILLEGAL':
      return ResponseCode.MESSAGE_ILLEGAL;
    case 'SERVICE_NOT_AVAILABLE':
      return ResponseCode.SERVICE_NOT_AVAILABLE;
    default:
      return ResponseCode.SYSTEM_ERROR;
  }
}

/** True when the message is in this broker's commit log (whatever the flush or replication did). */
export function isStoredStatus(status: PutStatusName): boolean {
  return STORED_STATUSES.includes(status);
}
const STORED_STATUSES: readonly PutStatusName[] = ['PUT_OK', 'FLUSH_DISK_TIMEOUT', 'FLUSH_SLAVE_TIMEOUT', 'SLAVE_NOT_AVAILABLE'];

/** Response codes a producer reads as "sent" (SEND_OK or one of the three caveats). */
export function isSentCode(code: number): boolean {
  return SENT_CODES.has(code);
}
const SENT_CODES = new Set(STORED_STATUSES.map(putStatusToCode));
