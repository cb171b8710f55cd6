// Subscription filters without sockets: the SQL92 MessageFilter against real stored-record bytes,
// the enablePropertyFilter switch (read live), the codes and remarks of refusals, and the bounded
// cache of compiled expressions.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeProperties, encodeStoredRecord, planRecord, ResponseCode, type MessageToStore } from '@orbit/common';
import { FilterCache } from './filter/filter-cache.js';
import { parseSql } from './filter/sql-parser.js';
import { sqlMessageFilter } from './filter/sql-message-filter.js';
import { compileSubscription, SubscriptionFilters } from './subscription-filter.js';

function record(properties: Record<string, string>): Buffer {
  const host = { ip: Buffer.from([127, 0, 0, 1]), port: 10911 };
  const msg: MessageToStore = {
    topic: 'T',
    queueId: 0,
    flag: 0,
    sysFlag: 0,
    bornTimestamp: 1,
    bornHost: host,
    storeHost: host,
    reconsumeTimes: 0,
    preparedTransactionOffset: 0,
    body: Buffer.from('body'),
    properties: encodeProperties(properties),
  };
  const plan = planRecord(msg);
  const buf = Buffer.alloc(plan.sizeBytes);
  encodeStoredRecord(buf, 0, msg, plan, { queueOffset: 0, physicalOffset: 0, storeTimestamp: 2, bodyCrc: 0 });
  return buf;
}

test('the SQL92 MessageFilter: every tag code passes, the record properties decide', () => {
  const filter = sqlMessageFilter(parseSql("a BETWEEN 3 AND 5 AND b = 'x' AND TAGS IS NOT NULL"));
  assert.ok(filter.isMatchedByTagsCode(0) && filter.isMatchedByTagsCode(-12345));
  assert.is(filter.isMatchedByRecord!(record({ a: '4', b: 'x', TAGS: 'TagA', UNIQ_KEY: 'K' })), true);
  assert.is(filter.isMatchedByRecord!(record({ a: '6', b: 'x', TAGS: 'TagA' })), false);
  assert.is(filter.isMatchedByRecord!(record({ a: '4', b: 'x' })), false);
  assert.is(filter.isMatchedByRecord!(record({ b: 'x', TAGS: 'T' })), false);
  assert.is(filter.isMatchedByRecord!(Buffer.alloc(40)), false, 'not a record');
  const constant = sqlMessageFilter(parseSql('TRUE'));
  assert.is(constant.isMatchedByRecord!(record({})), true);
});

test('TAG subscriptions are unchanged: "*" is no filter, tags filter by code and by TAGS', () => {
  const all = compileSubscription('TAG', '*', false, ResponseCode.NO_PERMISSION);
  assert.equal(all, { ok: true, filter: undefined });
  assert.equal(compileSubscription(undefined, '', false, ResponseCode.NO_PERMISSION), { ok: true, filter: undefined });
  const tags = compileSubscription('TAG', 'TagA || TagB', false, ResponseCode.NO_PERMISSION);
  assert.ok(tags.ok && tags.filter);
  if (tags.ok && tags.filter) {
    assert.is(tags.filter.isMatchedByRecord!(record({ TAGS: 'TagB' })), true);
    assert.is(tags.filter.isMatchedByRecord!(record({ TAGS: 'TagC' })), false);
  }
});

test('refusals: disabled (the caller picks the code), unknown type, bad SQL with the position', () => {
  assert.equal(compileSubscription('SQL92', 'a > 1', false, ResponseCode.NO_PERMISSION), {
    ok: false,
    code: ResponseCode.NO_PERMISSION,
    remark: 'The broker does not support consumer to filter message by SQL92',
  });
  assert.equal(compileSubscription('SQL92', 'a > 1', false, ResponseCode.SYSTEM_ERROR), {
    ok: false,
    code: ResponseCode.SYSTEM_ERROR,
    remark: 'The broker does not support consumer to filter message by SQL92',
  });
  const unknown = compileSubscription('CLASS', 'x', true, ResponseCode.NO_PERMISSION);
  assert.is(unknown.ok ? 0 : unknown.code, ResponseCode.SUBSCRIPTION_PARSE_FAILED);
  assert.equal(compileSubscription('SQL92', "a > 3 AND AND b = 'x'", true, ResponseCode.NO_PERMISSION), {
    ok: false,
    code: ResponseCode.SUBSCRIPTION_PARSE_FAILED,
    remark: 'Invalid MessageSelector (SQL92): Encountered "AND" at column 11, expected an expression',
  });
  const empty = compileSubscription('SQL92', '', true, ResponseCode.NO_PERMISSION);
  assert.is(empty.ok ? 0 : empty.code, ResponseCode.SUBSCRIPTION_PARSE_FAILED);
});

test('SubscriptionFilters: enablePropertyFilter read on every call; compiled once per (group, topic, expression), bounded', () => {
  const config = { enablePropertyFilter: false };
  const filters = new SubscriptionFilters(config, 3);
  const off = filters.forPull('g', 'T', 'SQL92', 'a > 1');
  assert.is(off.ok ? 0 : off.code, ResponseCode.NO_PERMISSION);
  assert.is(filters.cachedCount, 0);
  config.enablePropertyFilter = true;
  const first = filters.forPull('g', 'T', 'SQL92', 'a > 1');
  assert.ok(first.ok);
  assert.is(filters.forPull('g', 'T', 'SQL92', 'a > 1'), first, 'the same compiled filter');
  const bad = filters.forPull('g', 'T', 'SQL92', 'a >');
  assert.is(bad.ok ? 0 : bad.code, ResponseCode.SUBSCRIPTION_PARSE_FAILED);
  assert.is(filters.forPull('g', 'T', 'SQL92', 'a >'), bad, 'failures are remembered too');
  filters.forPull('g2', 'T', 'SQL92', 'a > 1');
  filters.forPull('g', 'T2', 'SQL92', 'a > 1');
  assert.is(filters.cachedCount, 3, 'bounded');
  assert.ok(filters.forPull('g', 'T', 'TAG', 'TagA').ok);
  assert.is(filters.cachedCount, 3, 'tag filters are not cached');
});

test('FilterCache drops the least recently used entry', () => {
  const cache = new FilterCache<number>(2);
  let created = 0;
  const get = (k: string) => cache.getOrCreate(k, () => ++created);
  assert.is(get('a'), 1);
  assert.is(get('b'), 2);
  assert.is(get('a'), 1, 'hit: a is now the most recent');
  assert.is(get('c'), 3, 'b goes');
  assert.is(get('a'), 1);
  assert.is(get('b'), 4, 'b was dropped and is created again');
  assert.is(cache.size, 2);
  assert.throws(() => new FilterCache(0), RangeError);
  assert.is.not(FilterCache.key('a', 'b\u0000c', 'd'), FilterCache.key('a\u0000b', 'c', 'd'), 'keys are unambiguous');
});

test.run();
