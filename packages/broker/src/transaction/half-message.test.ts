// The rewrites of a transactional message, without a broker.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeProperties, decodeStoredRecord, encodeProperties, encodeStoredRecord, parseSocketAddress, planRecord, SysFlag, type DecodedRecord, type MessageToStore } from '@orbit/common';
import { checkTimesOf, encodeCheckBody, firstHalfOffsetOf, isTransactionPrepare, toCheckMaxTimeMessage, toCommittedMessage, toHalfMessage, toPutBackHalf } from './half-message.js';

const host = parseSocketAddress('127.0.0.1:10911');
const prepared: MessageToStore = {
  topic: 'Orders',
  queueId: 3,
  flag: 7,
  sysFlag: SysFlag.TRANSACTION_PREPARED_TYPE | SysFlag.COMPRESSED,
  bornTimestamp: 1_700_000_000_000,
  bornHost: parseSocketAddress('10.0.0.5:5000'),
  storeHost: host,
  reconsumeTimes: 0,
  preparedTransactionOffset: 0,
  body: Buffer.from('pay'),
  properties: encodeProperties({ UNIQ_KEY: 'U1', TRAN_MSG: 'true', PGROUP: 'pg', TAGS: 'T' }),
};

/** What the store would hold for `msg` at these offsets. */
function store(msg: MessageToStore, queueOffset: number, physicalOffset: number): DecodedRecord {
  const plan = planRecord(msg);
  const buf = Buffer.alloc(plan.sizeBytes);
  encodeStoredRecord(buf, 0, msg, plan, { queueOffset, physicalOffset, storeTimestamp: 1_700_000_000_500, bodyCrc: 0 });
  return decodeStoredRecord(buf, 0);
}

test('isTransactionPrepare: TRAN_MSG=true (any case) or the PREPARED bit; not a consumer retry carrying TRAN_MSG', () => {
  assert.ok(isTransactionPrepare(encodeProperties({ TRAN_MSG: 'TRUE' }), 0, 0));
  assert.ok(isTransactionPrepare('', SysFlag.TRANSACTION_PREPARED_TYPE, 0));
  assert.not.ok(isTransactionPrepare(encodeProperties({ TRAN_MSG: 'false' }), 0, 0));
  assert.not.ok(isTransactionPrepare(encodeProperties({ TRAN_MSG: 'true', DELAY: '3' }), 0, 2));
});

test('prepare → half → committed, as parseHalfMessageInner and endMessageTransaction', () => {
  const half = toHalfMessage(prepared);
  assert.is(half.topic, 'RMQ_SYS_TRANS_HALF_TOPIC');
  assert.is(half.queueId, 0);
  assert.is(half.sysFlag, SysFlag.COMPRESSED, 'transaction bits NOT, the rest kept');
  const props = decodeProperties(half.properties);
  assert.is(props.get('REAL_TOPIC'), 'Orders');
  assert.is(props.get('REAL_QID'), '3');
  assert.is(props.get('__transactionId__'), 'U1');

  const stored = store(half, 5, 4096);
  const committed = toCommittedMessage(stored);
  assert.is(committed.topic, 'Orders');
  assert.is(committed.queueId, 3);
  assert.is(committed.sysFlag, SysFlag.COMPRESSED | SysFlag.TRANSACTION_COMMIT_TYPE);
  assert.is(committed.preparedTransactionOffset, 4096);
  assert.is(committed.bornTimestamp, prepared.bornTimestamp);
  assert.is(committed.flag, 7);
  const cprops = decodeProperties(committed.properties);
  assert.is(cprops.get('TRAN_MSG'), undefined);
  assert.is(cprops.get('REAL_TOPIC'), undefined);
  assert.is(cprops.get('REAL_QID'), undefined);
  assert.is(cprops.get('PGROUP'), 'pg');
  assert.is(cprops.get('__transactionId__'), 'U1');
  assert.throws(() => toCommittedMessage(store({ ...half, properties: encodeProperties({ UNIQ_KEY: 'U1' }) }, 0, 0)), /REAL_TOPIC/);
});

test('put back: check times counted, the first half named once; discard keeps everything; the check body has the real topic', () => {
  const first = store(toHalfMessage(prepared), 5, 4096);
  assert.is(checkTimesOf(first), 0);
  assert.is(firstHalfOffsetOf(first), undefined);
  const copy1 = store(toPutBackHalf(first, 1), 9, 8192);
  assert.is(checkTimesOf(copy1), 1);
  assert.is(firstHalfOffsetOf(copy1), 5);
  const copy2 = store(toPutBackHalf(copy1, 2), 12, 9000);
  assert.is(firstHalfOffsetOf(copy2), 5, 'still the first half');
  const immune = store(toPutBackHalf(copy2, undefined), 13, 9500);
  assert.is(checkTimesOf(immune), 2, 'an immunity put-back does not count a check');

  const moved = toCheckMaxTimeMessage(copy2, 0);
  assert.is(moved.topic, 'TRANS_CHECK_MAX_TIME_TOPIC');
  assert.is(moved.properties, copy2.properties);

  const body = encodeCheckBody(toPutBackHalf(copy1, 2), { queueOffset: 12, physicalOffset: 9000, storeTimestamp: 1, bodyCrc: 42 });
  const check = decodeStoredRecord(body, 0);
  assert.is(check.topic, 'Orders');
  assert.is(check.queueId, 3);
  assert.is(check.queueOffset, 12);
  assert.is(check.physicalOffset, 9000);
  assert.is(check.bodyCrc, 42);
  assert.is(check.body.toString(), 'pay');
});

test.run();
