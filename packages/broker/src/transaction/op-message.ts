// Op messages (RocketMQ's TransactionalMessageBridge.addRemoveTagInTransactionOp / makeOpMessageInner):
// one record on RMQ_SYS_TRANS_OP_HALF_TOPIC, same queue id as the half, tag `d` (REMOVETAG), body
// the queue offsets of the half messages it ends. RocketMQ 4.x writes one offset per op ("17");
// 5.x batches them comma-joined ("17,18,"). Orbit joins with commas and no trailing comma, so an
// op ending one half reads the same to both, and reads either form back.
import { encodeProperties, PropertyKey, SystemTopic, type MessageToStore, type SocketAddress } from '@orbit/common';
import { HALF_QUEUE_ID } from './half-message.js';

/** The tag of an op that ends half messages (TransactionalMessageUtil.REMOVETAG). */
export const REMOVE_TAG = 'd';
/** Largest op body Orbit writes (RocketMQ 5.x flushes its op buffer at 4096 bytes). */
export const MAX_OP_BODY_BYTES = 4096;
/** Offsets read from one op body at most (a body of 4 KiB holds fewer; garbage is cut here). */
const MAX_OFFSETS_PER_OP = 4096;

export function buildOpMessage(halfOffsets: readonly number[], uniqKey: string, storeHost: SocketAddress, nowMs: number): MessageToStore {
  return {
    topic: SystemTopic.TRANS_OP_HALF_TOPIC,
    queueId: HALF_QUEUE_ID,
    flag: 0,
    sysFlag: 0,
    bornTimestamp: nowMs,
    bornHost: storeHost,
    storeHost,
    reconsumeTimes: 0,
    preparedTransactionOffset: 0,
    body: Buffer.from(halfOffsets.join(','), 'utf8'),
    properties: encodeProperties({ [PropertyKey.TAGS]: REMOVE_TAG, [PropertyKey.WAIT]: 'false', [PropertyKey.UNIQ_KEY]: uniqKey }),
  };
}

/** The half queue offsets an op body names; what is not a non-negative integer is skipped. */
export function parseOpBody(body: Buffer): number[] {
  const out: number[] = [];
  for (const part of body.toString('utf8').split(',')) {
    if (out.length >= MAX_OFFSETS_PER_OP) break;
    const text = part.trim();
    const n = Number(text);
    if (/^[0-9]{1,16}$/.test(text) && Number.isSafeInteger(n)) out.push(n);
  }
  return out;
}
