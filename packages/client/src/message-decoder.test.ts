// The consumer's decoder must give exactly what a field-by-field reading of decodeStoredRecord
// gives (the oracle below), for every kind of record, and refuse what it refuses.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deflateSync, inflateSync } from 'node:zlib';
import { createOffsetMessageId } from '@orbit/common/message-id';
import type { MessageExt } from './message.js';
import { decodeStoredRecord, type MessageToStore } from '@orbit/common/message-record';
import { decodeProperties, encodeProperties } from '@orbit/common/properties';
import { SeededRandom } from '@orbit/common/seeded-random';
import { formatSocketAddress, parseSocketAddress } from '@orbit/common/socket-address';
import { decodeMessageExt, propertiesObject } from './message-decoder.js';
import { storedRecord } from './testing/stored-record.js';

const record = (over: Partial<MessageToStore> = {}, physicalOffset = 123456) => storedRecord({ preparedTransactionOffset: 77, ...over }, 42, physicalOffset);

/** The oracle: decodeStoredRecord's fields, mapped one by one as RocketMQ's MessageDecoder does. */
function slow(buf: Buffer): MessageExt {
  const record = decodeStoredRecord(buf, 0);
  const properties = Object.fromEntries(decodeProperties(record.properties)) as Record<string, string>;
  const offsetMsgId = createOffsetMessageId(record.storeHost, record.physicalOffset);
  const compressed = (record.sysFlag & 0x1) !== 0;
  const zlib = compressed && [0, 3].includes((record.sysFlag & 0x700) >> 8);
  return {
    topic: record.topic,
    body: zlib ? inflateSync(record.body) : record.body,
    tags: properties.TAGS,
    keys: properties.KEYS,
    properties,
    flag: record.flag,
    msgId: properties.UNIQ_KEY ?? offsetMsgId,
    offsetMsgId,
    brokerName: 'broker-a',
    queueId: record.queueId,
    queueOffset: record.queueOffset,
    commitLogOffset: record.physicalOffset,
    sysFlag: record.sysFlag,
    bornTimestamp: record.bornTimestamp,
    bornHost: formatSocketAddress(record.bornHost),
    storeTimestamp: record.storeTimestamp,
    storeHost: formatSocketAddress(record.storeHost),
    reconsumeTimes: record.reconsumeTimes,
    preparedTransactionOffset: record.preparedTransactionOffset,
    bodyCRC: record.bodyCrc,
    storeSize: record.sizeBytes,
    bodyCompressed: compressed && !zlib,
  };
}
const fast = (buf: Buffer) => decodeMessageExt(buf, 0, buf.length, 'broker-a').toJSON();

test('the same MessageExt as a field-by-field reading of decodeStoredRecord: IPv4, IPv6, no UNIQ_KEY, compressed, large offsets', () => {
  const cases: Buffer[] = [
    record(),
    record({ bornHost: parseSocketAddress('[2001:db8::1]:1234'), storeHost: parseSocketAddress('[::1]:10911') }),
    record({ bornHost: parseSocketAddress('[2001:db8::1]:1234') }),
    record({ properties: encodeProperties({ TAGS: 'x' }) }),
    record({ properties: '' }),
    record({ sysFlag: 0x1, body: deflateSync(Buffer.from('inflated body')) }),
    record({}, 2 ** 52 + 12345),
    record({ storeHost: parseSocketAddress('255.255.255.255:65535') }),
  ];
  for (const buf of cases) {
    for (let i = 0; i < 3; i++) assert.equal(fast(buf), slow(buf)); // the caches answer the repeats
  }
});

test('a pulled message decodes its strings on first use, and every field can still be set', () => {
  const m = decodeMessageExt(record(), 0, record().length, 'broker-a');
  const plain = slow(record());
  m.addPullProperty('MIN_OFFSET', '0');
  assert.is(m.msgId, plain.msgId);
  assert.is(m.offsetMsgId, plain.offsetMsgId);
  assert.is(m.tags, 'TagA');
  assert.equal(m.properties, { ...plain.properties, MIN_OFFSET: '0' });
  m.addPullProperty('MAX_OFFSET', '9'); // after the properties were read: added to them
  assert.is(m.properties.MAX_OFFSET, '9');
  m.topic = 'Original';
  m.reconsumeTimes++;
  m.tags = undefined;
  m.properties = { a: 'b' };
  assert.is(m.topic, 'Original');
  assert.is(m.reconsumeTimes, plain.reconsumeTimes + 1);
  assert.is(m.tags, undefined);
  assert.equal(m.properties, { a: 'b' });
  assert.is(JSON.parse(JSON.stringify({ m })).m.msgId, plain.msgId, 'JSON carries the decoded fields');
});

test('properties parse as RocketMQ: short chunks, empty keys or values skipped, the last duplicate wins, __proto__ stays a key', () => {
  assert.equal(propertiesObject(''), {});
  assert.equal(propertiesObject('a\u0001b\u0002'), { a: 'b' });
  assert.equal(propertiesObject('ab\u0002\u0001x\u0002k\u0001\u0002k2\u0001v\u0001w\u0002'), { k2: 'v\u0001w' });
  assert.equal(propertiesObject('k\u0001one\u0002k\u0001two'), { k: 'two' });
  const p = propertiesObject('__proto__\u0001polluted\u0002');
  assert.is(Object.getPrototypeOf(p), Object.prototype);
  assert.is(p.__proto__ === 'polluted' || Object.getOwnPropertyDescriptor(p, '__proto__')?.value === 'polluted', true);
  assert.is(({} as Record<string, unknown>).polluted, undefined);
});

test('garbage is refused as decodeStoredRecord refuses it (20k random mutations)', () => {
  const rng = new SeededRandom(7);
  const base = record();
  for (let i = 0; i < 20_000; i++) {
    const buf = Buffer.from(base);
    for (let k = 1 + rng.int(4); k > 0; k--) buf[rng.int(buf.length)] = rng.int(256);
    const cut = rng.chance(0.2) ? buf.subarray(0, rng.int(buf.length)) : buf;
    let a: unknown;
    let b: unknown;
    try {
      a = slow(cut);
    } catch (e) {
      a = (e as Error).constructor.name;
    }
    try {
      b = fast(cut);
    } catch (e) {
      b = (e as Error).constructor.name;
    }
    assert.equal(b, a, `mutation ${i}`);
  }
});

test.run();
