// How a clustering group shares a topic's queues (facts §7.2). Every member runs the same function
// over the same sorted inputs, so without talking to each other they agree on who owns what.
import type { MessageQueue } from './message-queue.js';

/** (consumerGroup, currentCID, mqAll sorted, cidAll sorted) → the queues currentCID owns. */
export type AllocateMessageQueueStrategy = {
  readonly name: string;
  allocate(consumerGroup: string, currentCID: string, mqAll: readonly MessageQueue[], cidAll: readonly string[]): MessageQueue[];
};

function indexOfCurrent(currentCID: string, mqAll: readonly MessageQueue[], cidAll: readonly string[]): number {
  if (!currentCID) throw new RangeError('currentCID is empty');
  if (mqAll.length === 0 || cidAll.length === 0) return -1;
  return cidAll.indexOf(currentCID);
}

/**
 * AllocateMessageQueueAveragely: consecutive blocks; the first |mq| % |cid| members take one more.
 *   mod = |mq| % |cid|
 *   avg = |mq| ≤ |cid| ? 1 : (mod > 0 && index < mod ? ⌊|mq|/|cid|⌋ + 1 : ⌊|mq|/|cid|⌋)
 *   start = (mod > 0 && index < mod) ? index·avg : index·avg + mod
 *   take min(avg, |mq| − start) queues from start
 */
export const allocateMessageQueueAveragely: AllocateMessageQueueStrategy = {
  name: 'AVG',
  allocate(_group, currentCID, mqAll, cidAll) {
    const index = indexOfCurrent(currentCID, mqAll, cidAll);
    if (index < 0) return [];
    const mqs = mqAll.length;
    const cids = cidAll.length;
    const mod = mqs % cids;
    const averageSize = mqs <= cids ? 1 : mod > 0 && index < mod ? Math.floor(mqs / cids) + 1 : Math.floor(mqs / cids);
    const startIndex = mod > 0 && index < mod ? index * averageSize : index * averageSize + mod;
    const range = Math.min(averageSize, mqs - startIndex);
    const out: MessageQueue[] = [];
    for (let i = 0; i < range; i++) out.push(mqAll[(startIndex + i) % mqs]!);
    return out;
  },
};

/** AllocateMessageQueueAveragelyByCircle: member i takes queues i, i+|cid|, i+2|cid|, … */
export const allocateMessageQueueAveragelyByCircle: AllocateMessageQueueStrategy = {
  name: 'AVG_BY_CIRCLE',
  allocate(_group, currentCID, mqAll, cidAll) {
    const index = indexOfCurrent(currentCID, mqAll, cidAll);
    if (index < 0) return [];
    const out: MessageQueue[] = [];
    for (let i = index; i < mqAll.length; i += cidAll.length) out.push(mqAll[i]!);
    return out;
  },
};
