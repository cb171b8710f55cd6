// The lock table with a fake clock, and the LOCK/UNLOCK body decoder against valid, mutated and
// random input (seeded: a failure replays).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseLockBatchBody } from './processors/lock-processor.js';
import { LockTableFullError, MAX_LOCK_BATCH_MQS, RebalanceLockManager, type LockQueue } from './rebalance-lock-manager.js';
import { SeededRandom } from '@orbit/common/seeded-random';

const q = (queueId: number, topic = 'T'): LockQueue => ({ topic, brokerName: 'broker-a', queueId });
const ids = (held: LockQueue[]) => held.map((m) => m.queueId).sort((a, b) => a - b);

test('own locks renew, free and expired ones are taken, live ones of others never', () => {
  let now = 1_000;
  let maxLiveMs = 60_000;
  const locks = new RebalanceLockManager(() => maxLiveMs, () => now);
  assert.equal(ids(locks.tryLockBatch('g', [q(0), q(1)], 'A')), [0, 1]);
  now += 59_000;
  assert.equal(ids(locks.tryLockBatch('g', [q(0), q(1), q(2)], 'B')), [2], 'A’s locks are 59 s old: still live');
  assert.equal(ids(locks.tryLockBatch('g', [q(0)], 'A')), [0], 'renewed');
  now += 1_001; // q(1) is now 60.001 s old, q(0) 1.001 s
  assert.equal(ids(locks.tryLockBatch('g', [q(0), q(1)], 'B')), [1], 'an expired lock is free for anyone');
  assert.is(locks.holder('g', q(0)), 'A');
  assert.is(locks.holder('g', q(1)), 'B');
  assert.ok(locks.isLocked('g', q(1), 'B'));
  assert.not.ok(locks.isLocked('g', q(1), 'A'));
  assert.is(locks.holder('other', q(0)), undefined, 'groups are separate');

  locks.unlockBatch('g', [q(0)], 'B'); // not B's
  assert.is(locks.holder('g', q(0)), 'A');
  locks.unlockBatch('g', [q(0)], 'A');
  assert.is(locks.holder('g', q(0)), undefined);

  maxLiveMs = 10; // a live configuration change applies at once
  now += 11;
  assert.ok(locks.isLockAllExpired('g'));
  assert.ok(locks.isLockAllExpired('never-seen'));
  locks.unlockBatch('g', [q(1), q(2)], 'B');
  assert.is(locks.groupCount, 0, 'an empty group is forgotten');
});

test('bounds: queues per request; a duplicate queue counts once', () => {
  const locks = new RebalanceLockManager(() => 60_000);
  assert.equal(ids(locks.tryLockBatch('g', [q(3), q(3), q(3)], 'A')), [3]);
  assert.throws(() => locks.tryLockBatch('g', Array.from({ length: MAX_LOCK_BATCH_MQS + 1 }, (_, i) => q(i)), 'A'), (e: unknown) => e instanceof LockTableFullError);
  assert.equal(locks.tryLockBatch('empty', [], 'A'), []);
  assert.is(locks.groupCount, 1, 'an empty request creates no group');
});

test('parseLockBatchBody: the Java body, and refusals with a reason', () => {
  const java = Buffer.from('{"consumerGroup":"cg","clientId":"10.0.0.5@123","onlyThisBroker":false,"mqSet":[{"brokerName":"broker-a","queueId":0,"topic":"T"}]}');
  assert.equal(parseLockBatchBody(java, 'LOCK'), { consumerGroup: 'cg', clientId: '10.0.0.5@123', mqSet: [{ topic: 'T', brokerName: 'broker-a', queueId: 0 }] });
  assert.equal(parseLockBatchBody(Buffer.from('{"consumerGroup":"cg","clientId":"c"}'), 'LOCK'), { consumerGroup: 'cg', clientId: 'c', mqSet: [] }, 'no mqSet: nothing to lock');
  assert.match(parseLockBatchBody(Buffer.from('{"consumerGroup":"cg","clientId":"c","mqSet":[{"topic":"T","brokerName":"b","queueId":-1}]}'), 'LOCK') as string, /mqSet\[0\] needs a queueId/);
  assert.match(parseLockBatchBody(Buffer.from('{"consumerGroup":"","clientId":"c"}'), 'LOCK') as string, /consumerGroup/);
});


test('parseLockBatchBody fuzz: mutated and random bodies never throw; what passes is well-formed', () => {
  const rng = new SeededRandom(0x5eed_0041);
  const seed = Buffer.from('{"consumerGroup":"cg","clientId":"c","onlyThisBroker":false,"mqSet":[{"brokerName":"b","queueId":1,"topic":"T"},{"brokerName":"b","queueId":2,"topic":"T"}]}');
  const alphabet = Buffer.from('{}[]":,0123456789-.eEtruefalsn \\abcqQ');
  let accepted = 0;
  for (let i = 0; i < 20_000; i++) {
    let body: Buffer;
    if (i % 4 === 0) {
      body = Buffer.alloc(rng.int(200));
      for (let j = 0; j < body.length; j++) body[j] = rng.int(256);
    } else {
      body = Buffer.from(seed);
      for (let k = 1 + rng.int(4); k > 0; k--) body[rng.int(body.length)] = alphabet[rng.int(alphabet.length)]!;
    }
    const parsed = parseLockBatchBody(body, 'LOCK');
    if (typeof parsed === 'string') continue;
    accepted++;
    assert.ok(parsed.consumerGroup.length > 0 && parsed.clientId.length > 0);
    for (const mq of parsed.mqSet) assert.ok(typeof mq.topic === 'string' && typeof mq.brokerName === 'string' && Number.isInteger(mq.queueId) && mq.queueId >= 0);
  }
  assert.ok(accepted > 0, 'some mutations stay valid');
});

test.run();
