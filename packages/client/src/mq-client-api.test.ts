import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { toExtFields } from '@orbit/remoting';
import { buildPullMessageHeader, buildSendMessageHeaderV2, type SendMessageRequestHeader } from './mq-client-api.js';
import { buildPullSysFlag, clearCommitOffsetFlag, PullSysFlag, pullStatusOf } from './pull-api.js';
import { processSendResponse, sendStatusOf } from './send-result.js';
import { createResponse } from '@orbit/remoting';
import { MQBrokerError } from './errors.js';
import { messageQueue } from './message-queue.js';

test('SEND_MESSAGE_V2 header: the one-letter keys a..n, every value a string', () => {
  const header: SendMessageRequestHeader = {
    producerGroup: 'pg',
    topic: 'TopicTest',
    defaultTopic: 'TBW102',
    defaultTopicQueueNums: 4,
    queueId: 1,
    sysFlag: 0,
    bornTimestamp: 1700000000000,
    flag: 0,
    properties: 'UNIQ_KEY\u0001X\u0002WAIT\u0001true\u0002TAGS\u0001TagA\u0002',
    reconsumeTimes: 0,
    unitMode: false,
    batch: false,
    brokerName: 'broker-a',
  };
  const fields = toExtFields(buildSendMessageHeaderV2(header));
  assert.equal(fields, {
    a: 'pg',
    b: 'TopicTest',
    c: 'TBW102',
    d: '4',
    e: '1',
    f: '0',
    g: '1700000000000',
    h: '0',
    i: 'UNIQ_KEY\u0001X\u0002WAIT\u0001true\u0002TAGS\u0001TagA\u0002',
    j: '0',
    k: 'false',
    m: 'false',
    n: 'broker-a',
  });
  const retry = toExtFields(buildSendMessageHeaderV2({ ...header, topic: '%RETRY%g', maxReconsumeTimes: 16, batch: true }));
  assert.is(retry.l, '16');
  assert.is(retry.m, 'true');
});

test('pull sysFlag bits: commitOffset 1, suspend 2, subscription 4, classFilter 8, litePull 16', () => {
  assert.is(buildPullSysFlag({}), 0);
  assert.is(buildPullSysFlag({ commitOffset: true }), 1);
  assert.is(buildPullSysFlag({ suspend: true }), 2);
  assert.is(buildPullSysFlag({ subscription: true }), 4);
  assert.is(buildPullSysFlag({ classFilter: true }), 8);
  assert.is(buildPullSysFlag({ litePull: true }), 16);
  assert.is(buildPullSysFlag({ commitOffset: true, suspend: true, subscription: true }), 7);
  assert.is(clearCommitOffsetFlag(7), 6);
  assert.is(PullSysFlag.SUSPEND, 2);
});

test('pull header field names and status mapping', () => {
  const fields = toExtFields(
    buildPullMessageHeader({
      consumerGroup: 'cg',
      topic: 'T',
      queueId: 2,
      queueOffset: 10,
      maxMsgNums: 32,
      sysFlag: 7,
      commitOffset: 9,
      suspendTimeoutMillis: 15000,
      subscription: 'TagA',
      subVersion: 123,
      expressionType: 'TAG',
      brokerName: 'broker-a',
    }),
  );
  assert.equal(fields, {
    consumerGroup: 'cg', topic: 'T', queueId: '2', queueOffset: '10', maxMsgNums: '32', sysFlag: '7', commitOffset: '9',
    suspendTimeoutMillis: '15000', subscription: 'TagA', subVersion: '123', expressionType: 'TAG', bname: 'broker-a',
  });
  assert.equal([0, 19, 20, 21, 1].map(pullStatusOf), ['FOUND', 'NO_NEW_MSG', 'NO_MATCHED_MSG', 'OFFSET_ILLEGAL', undefined]);
});

test('send response: 0/10/12/11 are statuses, other codes throw MQBrokerError with code and remark', () => {
  assert.equal([0, 10, 12, 11, 1].map(sendStatusOf), ['SEND_OK', 'FLUSH_DISK_TIMEOUT', 'FLUSH_SLAVE_TIMEOUT', 'SLAVE_NOT_AVAILABLE', undefined]);
  const mq = messageQueue('T', 'broker-a', 1);
  const ok = processSendResponse(createResponse({ opaque: 1 }, 10, undefined, { msgId: 'ABC', queueId: 3, queueOffset: 77 }), mq, 'UNIQ', 'h:1');
  assert.equal(ok, { sendStatus: 'FLUSH_DISK_TIMEOUT', msgId: 'UNIQ', offsetMsgId: 'ABC', messageQueue: messageQueue('T', 'broker-a', 3), queueOffset: 77, transactionId: undefined, regionId: undefined });
  try {
    processSendResponse(createResponse({ opaque: 1 }, 13, 'the message is illegal'), mq, 'UNIQ', 'h:1');
    assert.unreachable();
  } catch (error) {
    assert.instance(error, MQBrokerError);
    assert.is((error as MQBrokerError).code, 13);
    assert.is((error as MQBrokerError).remark, 'the message is illegal');
  }
});

test.run();
