// CHECK_TRANSACTION_STATE (39), broker → producer, oneway (facts §2.7; RocketMQ's
// AbstractTransactionalMessageCheckListener.sendCheckMessage, Broker2Client and
// ProducerManager.getAvailableChannel): asks one live connection of the half's producer group what
// became of its local transaction. The producer answers with END_TRANSACTION, fromTransactionCheck=true.
import { createOffsetMessageId, RequestCode, SystemTopic, type SocketAddress } from '@orbit/common';
import { createOnewayRequest, type ExtFieldValue } from '@orbit/remoting';
import type { ClientChannel, ClientManager } from '../client-manager.js';

export interface CheckTransactionStateRequestHeader {
  /** The topic the half is on (RMQ_SYS_TRANS_HALF_TOPIC), as RocketMQ sends it. */
  topic: string;
  /** Queue offset of the half being checked (the put-back copy). */
  tranStateTableOffset: number;
  /** Its physical offset. */
  commitLogOffset: number;
  /** UNIQ_KEY. */
  msgId: string;
  transactionId: string;
  /** Offset message id of the half. */
  offsetMsgId: string;
  bname: string;
}

export function checkTransactionStateHeader(half: { queueOffset: number; physicalOffset: number }, uniqKey: string, storeHost: SocketAddress, brokerName: string): CheckTransactionStateRequestHeader {
  return {
    topic: SystemTopic.TRANS_HALF_TOPIC,
    tranStateTableOffset: half.queueOffset,
    commitLogOffset: half.physicalOffset,
    msgId: uniqKey,
    transactionId: uniqKey,
    offsetMsgId: createOffsetMessageId(storeHost, half.physicalOffset),
    bname: brokerName,
  };
}

/** One open connection of the producer group, picked at random; undefined when none is connected. */
export function availableProducerChannel(clients: ClientManager, group: string): ClientChannel | undefined {
  const open = [...(clients.producers.get(group)?.values() ?? [])].filter((ch) => !ch.conn.closed);
  return open.length > 0 ? open[Math.floor(Math.random() * open.length)] : undefined;
}

/**
 * Sends the check to one producer of the group; resolves with the client id asked, or undefined when
 * no producer of the group is connected (the check is then lost, and counted, as in RocketMQ).
 */
export async function sendCheckTransactionState(
  clients: ClientManager,
  group: string,
  header: CheckTransactionStateRequestHeader,
  body: Buffer,
): Promise<string | undefined> {
  const channel = availableProducerChannel(clients, group);
  if (!channel) return undefined;
  await channel.conn.invokeOneway(createOnewayRequest(RequestCode.CHECK_TRANSACTION_STATE, header as unknown as Record<string, ExtFieldValue>, body));
  return channel.clientId;
}
