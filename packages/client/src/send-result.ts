// What a send returns, and how a SEND_MESSAGE(_V2)/SEND_BATCH_MESSAGE response is read
// (MQClientAPIImpl.processSendResponse, facts §2.2): SUCCESS, FLUSH_DISK_TIMEOUT,
// FLUSH_SLAVE_TIMEOUT and SLAVE_NOT_AVAILABLE are all "sent"; any other code is an MQBrokerError.
import { ResponseCode } from '@orbit/common/response-code';
import { optionalLong, optionalString, type RemotingCommand } from '@orbit/remoting';
import { MQBrokerError } from './errors.js';
import { messageQueue, type MessageQueue } from './message-queue.js';

export type SendStatus = 'SEND_OK' | 'FLUSH_DISK_TIMEOUT' | 'FLUSH_SLAVE_TIMEOUT' | 'SLAVE_NOT_AVAILABLE';

export interface SendResult {
  sendStatus: SendStatus;
  /** UNIQ_KEY (for a batch: the messages' UNIQ_KEYs joined by commas). */
  msgId: string;
  /** The broker's id: store host + commit-log offset (for a batch: comma-joined). */
  offsetMsgId: string;
  messageQueue: MessageQueue;
  /** Queue offset of the (first) message. */
  queueOffset: number;
  transactionId: string | undefined;
  regionId: string | undefined;
}

export function sendStatusOf(code: number): SendStatus | undefined {
  switch (code) {
    case ResponseCode.SUCCESS:
      return 'SEND_OK';
    case ResponseCode.FLUSH_DISK_TIMEOUT:
      return 'FLUSH_DISK_TIMEOUT';
    case ResponseCode.FLUSH_SLAVE_TIMEOUT:
      return 'FLUSH_SLAVE_TIMEOUT';
    case ResponseCode.SLAVE_NOT_AVAILABLE:
      return 'SLAVE_NOT_AVAILABLE';
    default:
      return undefined;
  }
}

/** Reads a send response; throws MQBrokerError for codes that are not a send status. */
export function processSendResponse(response: RemotingCommand, sentTo: MessageQueue, uniqMsgId: string, brokerAddr: string): SendResult {
  const sendStatus = sendStatusOf(response.code);
  if (sendStatus === undefined) throw new MQBrokerError(response.code, response.remark ?? '', brokerAddr);
  const queueIdText = optionalString(response, 'queueId');
  const queueId = queueIdText !== undefined && /^[0-9]+$/.test(queueIdText) ? Number(queueIdText) : sentTo.queueId;
  return {
    sendStatus,
    msgId: uniqMsgId,
    offsetMsgId: optionalString(response, 'msgId') ?? '',
    messageQueue: messageQueue(sentTo.topic, sentTo.brokerName, queueId),
    queueOffset: optionalLong(response, 'queueOffset') ?? -1,
    transactionId: optionalString(response, 'transactionId'),
    regionId: optionalString(response, 'MSG_REGION'),
  };
}
