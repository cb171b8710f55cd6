// Which queue a send goes to (facts §3.3, MQFaultStrategy.selectOneMessageQueue /
// TopicPublishInfo.selectOneMessageQueue): round robin from a random start, skipping the broker
// the previous attempt failed on; with latency fault avoidance, available brokers first, then
// reachable ones, then any. Also the user-facing selectors for ordered sends.
import { randomInt } from 'node:crypto';
import { javaStringHash } from '@orbit/common/java-hash';
import type { LatencyFaultTolerance } from './latency-fault-tolerance.js';
import type { Message } from './message.js';
import type { MessageQueue } from './message-queue.js';

/** Chooses a queue for one message: `send(msg, { selector, arg })`. */
export type MessageQueueSelector = (mqs: readonly MessageQueue[], msg: Message, arg: unknown) => MessageQueue;

/** ThreadLocalIndex: a counter from a random start; reads are masked to a non-negative int32. */
export class SendQueueIndex {
  private value: number;

  constructor(start: number = randomInt(-0x80000000, 0x7fffffff)) {
    this.value = start | 0;
  }

  incrementAndGet(): number {
    this.value = (this.value + 1) | 0;
    return this.value & 0x7fffffff;
  }

  reset(start: number = randomInt(-0x80000000, 0x7fffffff)): void {
    this.value = start | 0;
  }
}

/** Which queues one pass accepts: MQFaultStrategy's three passes, then any queue at all. */
const enum Pass {
  AVAILABLE_NOT_LAST,
  REACHABLE_NOT_LAST,
  NOT_LAST,
  ANY,
}

/**
 * TopicPublishInfo.selectOneMessageQueue: up to one full turn of the index looking for a queue the
 * pass accepts. Written without closures, since it runs for every send.
 */
function selectInPass(mqs: readonly MessageQueue[], index: SendQueueIndex, pass: Pass, lastBrokerName: string | undefined, faults: LatencyFaultTolerance | undefined): MessageQueue | undefined {
  if (mqs.length === 0) return undefined;
  if (pass === Pass.ANY) return mqs[index.incrementAndGet() % mqs.length];
  for (let i = 0; i < mqs.length; i++) {
    const mq = mqs[index.incrementAndGet() % mqs.length]!;
    if (lastBrokerName !== undefined && mq.brokerName === lastBrokerName) continue;
    if (pass === Pass.AVAILABLE_NOT_LAST && !faults!.isAvailable(mq.brokerName)) continue;
    if (pass === Pass.REACHABLE_NOT_LAST && !faults!.isReachable(mq.brokerName)) continue;
    return mq;
  }
  return undefined;
}

/**
 * MQFaultStrategy.selectOneMessageQueue. `lastBrokerName` is the broker of the previous failed
 * attempt (undefined on the first); `resetIndex` restarts the index at random (done on retries).
 */
export function selectOneMessageQueue(
  mqs: readonly MessageQueue[],
  index: SendQueueIndex,
  lastBrokerName: string | undefined,
  faults: LatencyFaultTolerance | undefined,
  resetIndex = false,
): MessageQueue | undefined {
  if (faults?.enabled) {
    if (resetIndex) index.reset();
    return (
      selectInPass(mqs, index, Pass.AVAILABLE_NOT_LAST, lastBrokerName, faults) ??
      selectInPass(mqs, index, Pass.REACHABLE_NOT_LAST, lastBrokerName, faults) ??
      selectInPass(mqs, index, Pass.ANY, lastBrokerName, faults)
    );
  }
  return selectInPass(mqs, index, Pass.NOT_LAST, lastBrokerName, faults) ?? selectInPass(mqs, index, Pass.ANY, lastBrokerName, faults);
}

/** Java's hashCode of an argument: Integer → itself, String → String.hashCode, else of its text. */
export function javaHashOf(arg: unknown): number {
  if (typeof arg === 'number' && Number.isInteger(arg) && arg >= -0x80000000 && arg <= 0x7fffffff) return arg;
  if (typeof arg === 'string') return javaStringHash(arg);
  if (typeof arg === 'bigint') return Number(BigInt.asIntN(32, arg ^ (arg >> 32n)));
  return javaStringHash(String(arg));
}

/**
 * SelectMessageQueueByHash: abs(hash(arg)) % size, so equal args go to the same queue (ordered
 * messages). Java's Math.abs(Integer.MIN_VALUE) stays negative and fails; here it is 2^31.
 */
export const selectMessageQueueByHash: MessageQueueSelector = (mqs, _msg, arg) => {
  if (mqs.length === 0) throw new RangeError('no message queue to select from');
  return mqs[Math.abs(javaHashOf(arg)) % mqs.length]!;
};

/** SelectMessageQueueByRandom. */
export const selectMessageQueueByRandom: MessageQueueSelector = (mqs) => {
  if (mqs.length === 0) throw new RangeError('no message queue to select from');
  return mqs[randomInt(mqs.length)]!;
};
