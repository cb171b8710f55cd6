import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FinishedHalves } from './finished-halves.js';

test('ended offsets are forgotten only behind the check offset and after the retention; the op offset follows', () => {
  const f = new FinishedHalves(1_000);
  f.recordOp(0, [0, 1], 1_000);
  f.recordOp(1, [5], 2_000);
  f.mark([7], 3_000); // claimed, its op not written yet
  assert.ok(f.has(1) && f.has(5) && f.has(7));
  assert.is(f.prune(10, 1_500, 1_000), 0, 'nothing old enough yet');
  assert.is(f.prune(10, 2_500, 1_000), 1, 'offsets 0 and 1 forgotten: the first op is no longer needed');
  assert.not.ok(f.has(0));
  assert.is(f.prune(4, 10_000, 1_000), 1, 'offset 5 is not behind the check offset yet');
  assert.ok(f.has(5));
  assert.is(f.prune(6, 10_000, 1_000), 2, 'all ops read again at a restart are past');
  assert.ok(f.has(7), '7 is ahead of the check offset');
  assert.throws(() => f.recordOp(1, [9], 0), /invariant/);
});

test('over maxRemembered the oldest behind the check offset go first', () => {
  const f = new FinishedHalves(2);
  for (let i = 0; i < 5; i++) f.recordOp(i, [i], 100 + i);
  f.prune(3, 100, 1_000_000);
  assert.is(f.size, 2);
  assert.ok(f.has(3) && f.has(4));
});

test.run();
