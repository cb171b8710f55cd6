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

test.run();
