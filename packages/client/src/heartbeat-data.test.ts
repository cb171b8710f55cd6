import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { javaStringHash } from '@orbit/common/java-hash';
import { buildHeartbeatData, encodeHeartbeatData } from './heartbeat-data.js';
import { buildSubscriptionData, tagsMatch } from './subscription.js';

test('HeartbeatData JSON: exact shape, keys sorted like fastjson, inner producer included', () => {
  const sub = buildSubscriptionData('T', 'TagA || TagB', 'TAG', 1700000000000);
  const data = buildHeartbeatData('10.0.0.5@12345#83475934857', ['pg'], [
    { groupName: 'cg', consumeType: 'CONSUME_PASSIVELY', messageModel: 'CLUSTERING', consumeFromWhere: 'CONSUME_FROM_LAST_OFFSET', subscriptionDataSet: [sub], unitMode: false },
  ]);
  const text = encodeHeartbeatData(data).toString('utf8');
  assert.is(
    text,
    '{"clientID":"10.0.0.5@12345#83475934857",' +
      '"consumerDataSet":[{"consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","consumeType":"CONSUME_PASSIVELY","groupName":"cg","messageModel":"CLUSTERING",' +
      '"subscriptionDataSet":[{"classFilterMode":false,"codeSet":[' + javaStringHash('TagA') + ',' + javaStringHash('TagB') + '],"expressionType":"TAG","subString":"TagA || TagB","subVersion":1700000000000,"tagsSet":["TagA","TagB"],"topic":"T"}],' +
      '"unitMode":false}],' +
      '"heartbeatFingerprint":0,"producerDataSet":[{"groupName":"CLIENT_INNER_PRODUCER"},{"groupName":"pg"}],"withoutSub":false}',
  );
  const parsed = JSON.parse(text);
  assert.is(parsed.consumerDataSet[0].subscriptionDataSet[0].codeSet[0], 2598919);
});

test('subscriptions: "*" has empty sets; tags are split on || and trimmed; client-side re-check', () => {
  const all = buildSubscriptionData('T', '*');
  assert.equal([all.tagsSet, all.codeSet, all.subString], [[], [], '*']);
  assert.is(buildSubscriptionData('T', '').subString, '*');
  const some = buildSubscriptionData('T', ' A ||B|| A ');
  assert.equal(some.tagsSet, ['A', 'B']);
  assert.equal(some.codeSet, [javaStringHash('A'), javaStringHash('B')]);
  assert.ok(tagsMatch(some, 'A'));
  assert.not.ok(tagsMatch(some, 'C'));
  assert.not.ok(tagsMatch(some, undefined));
  assert.ok(tagsMatch(all, undefined));
  assert.throws(() => buildSubscriptionData('T', '||'));
});

test.run();
