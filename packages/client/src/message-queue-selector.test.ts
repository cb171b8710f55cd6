import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { javaStringHash } from '@orbit/common/java-hash';
import { LatencyFaultTolerance } from './latency-fault-tolerance.js';
import { messageQueue, type MessageQueue } from './message-queue.js';
import { javaHashOf, selectMessageQueueByHash, selectOneMessageQueue, SendQueueIndex } from './message-queue-selector.js';

const queues: MessageQueue[] = [
  messageQueue('T', 'broker-a', 0),
  messageQueue('T', 'broker-a', 1),
  messageQueue('T', 'broker-b', 0),
  messageQueue('T', 'broker-b', 1),
];
const label = (mq: MessageQueue | undefined) => (mq ? `${mq.brokerName}:${mq.queueId}` : 'none');

test('round robin from the index, wrapping around', () => {
  const index = new SendQueueIndex(-1); // first incrementAndGet gives 0
  const picked = Array.from({ length: 6 }, () => label(selectOneMessageQueue(queues, index, undefined, undefined)));
  assert.equal(picked, ['broker-a:0', 'broker-a:1', 'broker-b:0', 'broker-b:1', 'broker-a:0', 'broker-a:1']);
});

test('the index is masked non-negative across int32 overflow', () => {
  const index = new SendQueueIndex(0x7ffffffe);
  assert.is(index.incrementAndGet(), 0x7fffffff);
  assert.is(index.incrementAndGet(), 0); // -2^31 & 0x7fffffff
  assert.is(index.incrementAndGet(), 1);
});

test('a retry skips the broker of the failed attempt', () => {
  for (let start = -1; start < 8; start++) {
    const index = new SendQueueIndex(start);
    const mq = selectOneMessageQueue(queues, index, 'broker-a', undefined);
    assert.is(mq!.brokerName, 'broker-b', `start ${start}`);
  }
  // With only one broker there is nowhere else to go: any queue is taken.
  const single = queues.slice(0, 2);
  assert.is(selectOneMessageQueue(single, new SendQueueIndex(0), 'broker-a', undefined)!.brokerName, 'broker-a');
  assert.is(selectOneMessageQueue([], new SendQueueIndex(0), undefined, undefined), undefined);
});

test('latency fault avoidance prefers available, then reachable brokers, then any', () => {
  let now = 0;
  const faults = new LatencyFaultTolerance(true, () => now);
  faults.updateFaultItem('broker-a', 5000, false, true); // out for 10 s, reachable
  for (let i = 0; i < 8; i++) assert.is(selectOneMessageQueue(queues, new SendQueueIndex(i), undefined, faults)!.brokerName, 'broker-b');
  // Both out, broker-b unreachable: broker-a (reachable) is chosen.
  faults.updateFaultItem('broker-b', 5000, true, false);
  for (let i = 0; i < 8; i++) assert.is(selectOneMessageQueue(queues, new SendQueueIndex(i), undefined, faults)!.brokerName, 'broker-a');
  // Both out and unreachable: still some queue.
  faults.updateFaultItem('broker-a', 5000, true, false);
  assert.ok(selectOneMessageQueue(queues, new SendQueueIndex(0), undefined, faults));
  now = 60_000;
  faults.updateFaultItem('broker-a', 10, false, true);
  faults.updateFaultItem('broker-b', 10, false, true);
  const seen = new Set(Array.from({ length: 4 }, (_, i) => selectOneMessageQueue(queues, new SendQueueIndex(i), undefined, faults)!.brokerName));
  assert.equal([...seen].sort(), ['broker-a', 'broker-b']);
});

test('SelectMessageQueueByHash: abs(hashCode) % size, stable per argument', () => {
  const msg = { topic: 'T', body: 'x' };
  assert.is(javaHashOf(7), 7);
  assert.is(javaHashOf('order-42'), javaStringHash('order-42'));
  assert.is(selectMessageQueueByHash(queues, msg, 7), queues[3]);
  assert.is(selectMessageQueueByHash(queues, msg, -5), queues[1]);
  const h = Math.abs(javaStringHash('order-42')) % 4;
  for (let i = 0; i < 3; i++) assert.is(selectMessageQueueByHash(queues, msg, 'order-42'), queues[h]);
  assert.ok(selectMessageQueueByHash(queues, msg, -2147483648)); // Java would fail here
});

test.run();
