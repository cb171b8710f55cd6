import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { allocateMessageQueueAveragely, allocateMessageQueueAveragelyByCircle } from './allocate-strategy.js';
import { messageQueue, mqKey, type MessageQueue } from './message-queue.js';

const mqs = (n: number): MessageQueue[] => Array.from({ length: n }, (_, i) => messageQueue('T', 'broker-a', i));
const cids = (n: number): string[] => Array.from({ length: n }, (_, i) => `10.0.0.${i + 1}@c`);
const ids = (list: MessageQueue[]) => list.map((q) => q.queueId);

function table(strategy: typeof allocateMessageQueueAveragely, queueCount: number, consumerCount: number): number[][] {
  const all = mqs(queueCount);
  const members = cids(consumerCount);
  return members.map((cid) => ids(strategy.allocate('g', cid, all, members)));
}

test('averagely: hand-computed tables', () => {
  // 8 queues, 3 consumers: mod 2 → the first two take 3, the last 2 (start = 2·2 + 2 = 6).
  assert.equal(table(allocateMessageQueueAveragely, 8, 3), [[0, 1, 2], [3, 4, 5], [6, 7]]);
  // 10 over 4: mod 2.
  assert.equal(table(allocateMessageQueueAveragely, 10, 4), [[0, 1, 2], [3, 4, 5], [6, 7], [8, 9]]);
  // Equal counts: one each.
  assert.equal(table(allocateMessageQueueAveragely, 4, 4), [[0], [1], [2], [3]]);
  // Fewer queues than consumers: the last consumers get nothing.
  assert.equal(table(allocateMessageQueueAveragely, 3, 5), [[0], [1], [2], [], []]);
  // One consumer takes everything; 16 over 2 splits in halves.
  assert.equal(table(allocateMessageQueueAveragely, 5, 1), [[0, 1, 2, 3, 4]]);
  assert.equal(table(allocateMessageQueueAveragely, 16, 2), [[0, 1, 2, 3, 4, 5, 6, 7], [8, 9, 10, 11, 12, 13, 14, 15]]);
  // 4 queues of a topic plus 1 of %RETRY% is a separate allocation per topic; 4 over 3:
  assert.equal(table(allocateMessageQueueAveragely, 4, 3), [[0, 1], [2], [3]]);
});

test('by circle: hand-computed tables', () => {
  assert.equal(table(allocateMessageQueueAveragelyByCircle, 8, 3), [[0, 3, 6], [1, 4, 7], [2, 5]]);
  assert.equal(table(allocateMessageQueueAveragelyByCircle, 3, 5), [[0], [1], [2], [], []]);
});

test('every queue has exactly one owner, for all shapes up to 40 × 12', () => {
  for (const strategy of [allocateMessageQueueAveragely, allocateMessageQueueAveragelyByCircle]) {
    for (let q = 1; q <= 40; q++) {
      for (let c = 1; c <= 12; c++) {
        const owned = table(strategy, q, c).flat();
        assert.is(owned.length, q, `${strategy.name} ${q}×${c}`);
        assert.is(new Set(owned).size, q, `${strategy.name} ${q}×${c}`);
        if (strategy === allocateMessageQueueAveragely) {
          const sizes = table(strategy, q, c).map((l) => l.length);
          assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `balanced ${q}×${c}`);
        }
      }
    }
  }
});

test('a consumer not in cidAll, or empty inputs, get nothing', () => {
  assert.equal(allocateMessageQueueAveragely.allocate('g', 'stranger', mqs(4), cids(2)), []);
  assert.equal(allocateMessageQueueAveragely.allocate('g', cids(1)[0]!, [], cids(1)), []);
  assert.throws(() => allocateMessageQueueAveragely.allocate('g', '', mqs(4), cids(2)));
  // It returns queue objects from mqAll (by key).
  const all = mqs(2);
  assert.equal(allocateMessageQueueAveragely.allocate('g', cids(1)[0]!, all, cids(1)).map(mqKey), all.map(mqKey));
});

test.run();
