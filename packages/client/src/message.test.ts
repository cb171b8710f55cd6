import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deflateSync } from 'node:zlib';
import { createOffsetMessageId } from '@orbit/common/message-id';
import { encodeProperties } from '@orbit/common/properties';
import { parseSocketAddress } from '@orbit/common/socket-address';
import { decodeMessageExt } from './message-decoder.js';
import { storedRecord } from './testing/stored-record.js';
import { processPullResponse } from './pull-api.js';
import { createResponse } from '@orbit/remoting';
import { messageQueue } from './message-queue.js';
import { buildSubscriptionData } from './subscription.js';
import { keysText, sendPropertiesText, type Message } from './message.js';

const record = storedRecord;
const decoded = (buf: Buffer, brokerName: string) => decodeMessageExt(buf, 0, buf.length, brokerName).toJSON();

test('MessageExt from a stored record: ids, offsets, hosts, properties', () => {
  const msg = decoded(record(), 'broker-a');
  assert.is(msg.topic, 'TopicTest');
  assert.is(msg.body.toString(), 'hello');
  assert.is(msg.tags, 'TagA');
  assert.is(msg.keys, 'k1 k2');
  assert.is(msg.msgId, '0A0102030000000000000000000000AB');
  assert.is(msg.offsetMsgId, createOffsetMessageId(parseSocketAddress('10.9.8.7:10911'), 123456));
  assert.is(msg.offsetMsgId, '0A09080700002A9F000000000001E240');
  assert.is(msg.queueId, 3);
  assert.is(msg.queueOffset, 42);
  assert.is(msg.commitLogOffset, 123456);
  assert.is(msg.flag, 5);
  assert.is(msg.reconsumeTimes, 2);
  assert.is(msg.bornTimestamp, 1700000000123);
  assert.is(msg.storeTimestamp, 1700000000999);
  assert.is(msg.bornHost, '10.1.2.3:54321');
  assert.is(msg.storeHost, '10.9.8.7:10911');
  assert.is(msg.bodyCRC, 99);
  assert.is(msg.brokerName, 'broker-a');
  assert.is(msg.properties.CLUSTER, 'c');
});

test('without UNIQ_KEY the msgId is the offsetMsgId; a ZLIB body is inflated', () => {
  const original = Buffer.alloc(10_000, 'z');
  const msg = decoded(record({ properties: '', body: deflateSync(original), sysFlag: 0x1 | 0x300 }), 'b');
  assert.is(msg.msgId, msg.offsetMsgId);
  assert.ok(msg.body.equals(original));
  assert.is(msg.bodyCompressed, false);
  const old = decoded(record({ body: deflateSync(Buffer.from('x')), sysFlag: 0x1 }), 'b'); // type 0 = ZLIB
  assert.is(old.body.toString(), 'x');
  const lz4 = decoded(record({ body: Buffer.from('??'), sysFlag: 0x1 | 0x100 }), 'b');
  assert.is(lz4.bodyCompressed, true);
});

test('pull body: several records; client-side tag filter; MIN/MAX_OFFSET set; a bad tail is skipped', () => {
  const body = Buffer.concat([
    record({ properties: encodeProperties({ TAGS: 'TagA' }) }, 10),
    record({ properties: encodeProperties({ TAGS: 'TagB' }) }, 11),
    record({ properties: '' }, 12),
    Buffer.from([0, 0, 0, 200, 1, 2, 3, 4]),
  ]);
  const response = createResponse({ opaque: 1 }, 0, 'FOUND', { nextBeginOffset: 13, minOffset: 0, maxOffset: 20, suggestWhichBrokerId: 1 });
  response.body = body;
  const bad: unknown[] = [];
  const result = processPullResponse(response, messageQueue('TopicTest', 'broker-a', 3), buildSubscriptionData('TopicTest', 'TagA'), 'h:1', (e) => bad.push(e));
  assert.is(result.pullStatus, 'FOUND');
  assert.is(result.rawCount, 3);
  assert.equal(result.msgFoundList.map((m) => m.queueOffset), [10]);
  assert.is(result.msgFoundList[0]!.properties.MIN_OFFSET, '0');
  assert.is(result.msgFoundList[0]!.properties.MAX_OFFSET, '20');
  assert.is(result.nextBeginOffset, 13);
  assert.is(result.suggestWhichBrokerId, 1);
  assert.is(bad.length, 1);
  const all = processPullResponse(response, messageQueue('TopicTest', 'broker-a', 3), buildSubscriptionData('TopicTest', '*'), 'h:1', () => undefined);
  assert.equal(all.msgFoundList.map((m) => m.queueOffset), [10, 11, 12]);
});

/** The rule as a Map (how it was built before it was written straight into text): the reference. */
function referenceSendProperties(msg: Message, uniqKey: string | undefined): Map<string, string> {
  const props = new Map<string, string>();
  if (uniqKey !== undefined) props.set('UNIQ_KEY', uniqKey);
  props.set('WAIT', msg.waitStoreMsgOK === false ? 'false' : 'true');
  if (msg.tags) props.set('TAGS', msg.tags);
  const keys = keysText(msg.keys);
  if (keys !== undefined) props.set('KEYS', keys);
  if (msg.delayTimeLevel !== undefined && msg.delayTimeLevel > 0) props.set('DELAY', String(msg.delayTimeLevel));
  for (const [key, value] of Object.entries(msg.properties ?? {})) {
    if (!props.has(key) && value !== undefined && value !== null) props.set(key, String(value));
  }
  return props;
}

test('sendPropertiesText writes what the Map-built reference encodes to', () => {
  const cases: Message[] = [
    { topic: 'T', body: 'x' },
    { topic: 'T', body: 'x', tags: 'TagA', keys: ['k1', 'k2'], waitStoreMsgOK: false },
    { topic: 'T', body: 'x', keys: 'one', delayTimeLevel: 3, properties: {} },
    { topic: 'T', body: 'x', keys: [], tags: '', delayTimeLevel: 0 },
    { topic: 'T', body: 'x', tags: 'héllo', properties: { a: '1', TAGS: 'ignored', b: '2' } },
  ];
  for (const msg of cases) {
    for (const uniq of ['7F000001A1B2C3D4E5F6000000010002', undefined]) {
      assert.is(sendPropertiesText(msg, uniq), encodeProperties(referenceSendProperties(msg, uniq)), JSON.stringify(msg));
    }
  }
});

test.run();
