import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { actorNameHash, placeActor } from './placement.js';

test('placement is stable: same name, same thread, in range', () => {
  for (const threadCount of [1, 2, 3, 7, 16]) {
    for (let i = 0; i < 1000; i++) {
      const name = `TopicTest-${i}`;
      const index = placeActor(name, threadCount);
      assert.ok(Number.isInteger(index) && index >= 0 && index < threadCount);
      assert.is(placeActor(name, threadCount), index);
    }
  }
  assert.is(placeActor('anything', 1), 0);
});

test('known values do not drift (other threads and processes rely on them)', () => {
  // Computed independently (FNV-1a 32 + murmur3 fmix32). Changing the hash re-homes every actor,
  // so a failure here means a deliberate, announced change or a bug.
  assert.is(actorNameHash(''), 0xab3e7c0b);
  assert.is(actorNameHash('a'), 0x1a80b1b3);
  assert.is(actorNameHash('commit-log-writer'), 0x50672517);
  assert.is(actorNameHash('TopicTest@3'), 0x872a1be1);
  assert.is(placeActor('TopicTest@3', 4), 1);
  assert.is(placeActor('commit-log-writer', 3), 0);
});

test('names spread evenly over threads', () => {
  const names: string[] = [];
  for (let topic = 0; topic < 200; topic++) for (let queueId = 0; queueId < 16; queueId++) names.push(`topic-${topic}@${queueId}`);
  for (const threadCount of [2, 3, 4, 8, 13]) {
    const counts = new Array<number>(threadCount).fill(0);
    for (const name of names) counts[placeActor(name, threadCount)]++;
    // A uniform hash gives binomial counts; 4 standard deviations is a bound a sound hash
    // essentially never crosses and a biased one (e.g. FNV-1a mod a power of two) does.
    const p = 1 / threadCount;
    const expected = names.length * p;
    const boundCount = 4 * Math.sqrt(names.length * p * (1 - p));
    for (const count of counts) {
      assert.ok(Math.abs(count - expected) < boundCount, `threads ${threadCount}: ${counts.join(',')}`);
    }
  }
});

test('names differing only in high bits of one character still spread', () => {
  // 'a'..'p' and 'q'..'z' differ by 16: FNV-1a alone would send these pairs to the same thread mod 2.
  const counts = [0, 0];
  for (let c = 0x61; c <= 0x7a; c++) counts[placeActor(`queue-${String.fromCharCode(c)}`, 2)]++;
  assert.ok(counts[0] >= 7 && counts[1] >= 7, counts.join(','));
  const unicode = new Set(['队列-1', '队列-2', 'キュー', '🙂'].map((n) => placeActor(n, 1000)));
  assert.ok(unicode.size >= 3);
});

test('rejects a bad thread count', () => {
  assert.throws(() => placeActor('a', 0));
  assert.throws(() => placeActor('a', 1.5));
});

test.run();
