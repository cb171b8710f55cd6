import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { MessageExt } from './message.js';
import { ProcessQueue } from './process-queue.js';

const msg = (queueOffset: number): MessageExt => ({ queueOffset, body: Buffer.alloc(10) }) as MessageExt;

test('consumed offset is the lowest offset still held, or max + 1 when empty', () => {
  const pq = new ProcessQueue();
  assert.is(pq.removeMessages([msg(1)]), -1); // nothing held
  pq.putMessages([msg(5), msg(6), msg(7), msg(8)]);
  assert.is(pq.msgCount, 4);
  assert.is(pq.msgSizeBytes, 40);
  assert.is(pq.maxSpan(), 3);
  assert.is(pq.removeMessages([msg(6), msg(7)]), 5); // 5 not consumed yet: offset stays
  assert.is(pq.removeMessages([msg(5)]), 8);
  assert.is(pq.removeMessages([msg(8)]), 9);
  assert.is(pq.msgCount, 0);
  assert.is(pq.msgSizeBytes, 0);
});

test('duplicates are ignored; out-of-order input is kept sorted', () => {
  const pq = new ProcessQueue();
  assert.is(pq.putMessages([msg(10), msg(11)]), 2);
  assert.is(pq.putMessages([msg(11), msg(12)]), 1);
  assert.is(pq.putMessages([msg(3)]), 1);
  assert.is(pq.removeMessages([msg(10)]), 3);
  assert.is(pq.maxOffset, 12);
  pq.clear();
  assert.is(pq.msgCount, 0);
});

test('orderly: take in order, suspend puts back at the head, commit returns one past the highest taken', () => {
  const pq = new ProcessQueue();
  pq.putMessages([msg(5), msg(6), msg(7), msg(8)]);
  pq.consuming = true;
  assert.equal(pq.takeMessages(2).map((m) => m.queueOffset), [5, 6]);
  assert.is(pq.msgCount, 4, 'messages with the listener still count');
  pq.makeMessageToConsumeAgain([msg(6)]); // 6 suspended, 5 stays taken
  assert.equal(pq.takeMessages(2).map((m) => m.queueOffset), [6, 7], '6 comes again before 7');
  assert.is(pq.commit(), 8, '5, 6 and 7 consumed: commit 8');
  assert.is(pq.msgCount, 1);
  assert.is(pq.msgSizeBytes, 10);
  assert.is(pq.commit(), -1, 'nothing taken');
  assert.equal(pq.takeMessages(32).map((m) => m.queueOffset), [8]);
  assert.ok(pq.consuming);
  assert.equal(pq.takeMessages(32), []);
  assert.not.ok(pq.consuming, 'an empty take ends the consume task');
  assert.is(pq.commit(), 9);
  assert.is(pq.msgCount, 0);
  assert.is(pq.msgSizeBytes, 0);
});

test('orderly: lock age', () => {
  const pq = new ProcessQueue();
  assert.ok(pq.isLockExpired(100_000), 'never locked');
  pq.locked = true;
  pq.lastLockTimestampMs = 100_000;
  assert.not.ok(pq.isLockExpired(130_000));
  assert.ok(pq.isLockExpired(130_001), 'older than 30 s');
  assert.ok(pq.isLockExpired(101_001, 1_000));
});

test('consumeLock: one holder, FIFO hand-over, bounded tryAcquire', async () => {
  const pq = new ProcessQueue();
  const order: string[] = [];
  const release = await pq.consumeLock.acquire();
  assert.ok(pq.consumeLock.isLocked);
  assert.is(await pq.consumeLock.tryAcquire(20), undefined, 'busy for longer than 20 ms');
  const second = pq.consumeLock.acquire().then((r) => (order.push('second'), r));
  const third = pq.consumeLock.tryAcquire(5_000).then((r) => (order.push('third'), r));
  release();
  release(); // a second call is a no-op
  (await second)();
  (await third)!();
  assert.equal(order, ['second', 'third']);
  assert.not.ok(pq.consumeLock.isLocked);
});

test.run();
