import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rocketmqCrc32 } from './crc32.js';
import { javaStringHash } from './java-hash.js';
import { MessageMagic, SysFlag } from './message-const.js';
import { createOffsetMessageId, decodeOffsetMessageId } from './message-id.js';
import {
  checkStoredRecord,
  decodeStoredRecord,
  encodeStoredRecord,
  planRecord,
  stampBodyCrc,
  stampRecord,
  validateMessage,
  type MessageToStore,
} from './message-record.js';
import { decodeProperties, encodeProperties, findProperty } from './properties.js';
import { parseSocketAddress, formatSocketAddress } from './socket-address.js';

const sample = (over: Partial<MessageToStore> = {}): MessageToStore => ({
  topic: 'TopicTest',
  queueId: 3,
  flag: 7,
  sysFlag: 0,
  bornTimestamp: 1700000000123,
  bornHost: parseSocketAddress('10.1.2.3:54321'),
  storeHost: parseSocketAddress('127.0.0.1:10911'),
  reconsumeTimes: 2,
  preparedTransactionOffset: 0,
  body: Buffer.from('hello'),
  properties: encodeProperties({ TAGS: 'TagA', KEYS: 'k1 k2' }),
  ...over,
});

test('java string hash matches Java String.hashCode', () => {
  assert.is(javaStringHash(''), 0);
  assert.is(javaStringHash('abc'), 96354);
  assert.is(javaStringHash('TagA'), 2598919);
  assert.is(javaStringHash('polygenelubricants'), -2147483648);
});

test('crc32 is zlib crc32 masked to 31 bits', () => {
  assert.is(rocketmqCrc32(Buffer.from('123456789')), 0xcbf43926 & 0x7fffffff);
});

test('record layout matches a hand-built record byte for byte', () => {
  const msg = sample();
  const plan = planRecord(msg);
  const props = Buffer.from(msg.properties);
  assert.is(plan.sizeBytes, 91 + 5 + 9 + props.length);
  const buf = Buffer.alloc(plan.sizeBytes);
  encodeStoredRecord(buf, 0, msg, plan, { queueOffset: 0, physicalOffset: 0, storeTimestamp: 0, bodyCrc: 0 });
  stampRecord(buf, 0, 42, 4096, 1700000000999);
  const crc = stampBodyCrc(buf, 0);

  // Built independently, field by field, in the order of facts §4.1.
  const parts: Buffer[] = [];
  const i32 = (v: number) => { const b = Buffer.alloc(4); b.writeInt32BE(v); parts.push(b); };
  const i64 = (v: bigint) => { const b = Buffer.alloc(8); b.writeBigInt64BE(v); parts.push(b); };
  i32(plan.sizeBytes);
  i32(-626843481);
  i32(rocketmqCrc32(Buffer.from('hello')));
  i32(3);
  i32(7);
  i64(42n);
  i64(4096n);
  i32(0);
  i64(1700000000123n);
  parts.push(Buffer.from([10, 1, 2, 3])); i32(54321);
  i64(1700000000999n);
  parts.push(Buffer.from([127, 0, 0, 1])); i32(10911);
  i32(2);
  i64(0n);
  i32(5); parts.push(Buffer.from('hello'));
  parts.push(Buffer.from([9]), Buffer.from('TopicTest'));
  const pl = Buffer.alloc(2); pl.writeInt16BE(props.length); parts.push(pl, props);
  const expected = Buffer.concat(parts);
  assert.is(crc, rocketmqCrc32(Buffer.from('hello')));
  assert.equal(buf.toString('hex'), expected.toString('hex'));

  const decoded = decodeStoredRecord(buf, 0);
  assert.is(decoded.topic, 'TopicTest');
  assert.is(decoded.queueOffset, 42);
  assert.is(decoded.physicalOffset, 4096);
  assert.is(decoded.storeTimestamp, 1700000000999);
  assert.is(formatSocketAddress(decoded.bornHost), '10.1.2.3:54321');
  assert.is(decoded.body.toString(), 'hello');
  assert.is(findProperty(decoded.properties, 'TAGS'), 'TagA');
  assert.is(findProperty(decoded.properties, 'KEYS'), 'k1 k2');
  assert.is(decodeProperties(decoded.properties).get('KEYS'), 'k1 k2');
});

test('IPv6 hosts set the sysflag bits and widen the host fields', () => {
  const msg = sample({ bornHost: parseSocketAddress('[2001:db8::1]:1234'), storeHost: parseSocketAddress('[::1]:10911') });
  const plan = planRecord(msg);
  assert.is(plan.sysFlag & (SysFlag.BORNHOST_V6 | SysFlag.STOREHOST_V6), SysFlag.BORNHOST_V6 | SysFlag.STOREHOST_V6);
  assert.is(plan.sizeBytes, 91 + 24 + 5 + 9 + Buffer.byteLength(msg.properties));
  const buf = Buffer.alloc(plan.sizeBytes);
  encodeStoredRecord(buf, 0, msg, plan, { queueOffset: 1, physicalOffset: 2, storeTimestamp: 3, bodyCrc: 0 });
  stampRecord(buf, 0, 5, 6, 7);
  stampBodyCrc(buf, 0);
  const d = decodeStoredRecord(buf, 0);
  assert.is(formatSocketAddress(d.bornHost), '[2001:db8:0:0:0:0:0:1]:1234');
  assert.is(formatSocketAddress(d.storeHost), '[0:0:0:0:0:0:0:1]:10911');
  assert.is(d.storeTimestamp, 7);
  assert.is(checkStoredRecord(buf, 0, buf.length, true).kind, 'message');
});

test('long topics use the V2 magic with a two-byte topic length', () => {
  const topic = 'T'.repeat(200);
  const msg = sample({ topic });
  const plan = planRecord(msg);
  const buf = Buffer.alloc(plan.sizeBytes);
  encodeStoredRecord(buf, 0, msg, plan, { queueOffset: 0, physicalOffset: 0, storeTimestamp: 0, bodyCrc: 0 });
  assert.is(buf.readInt32BE(4), MessageMagic.V2);
  assert.is(decodeStoredRecord(buf, 0).topic, topic);
});

test('checkStoredRecord finds torn records, bad CRCs, blanks and unwritten space', () => {
  const msg = sample();
  const plan = planRecord(msg);
  const buf = Buffer.alloc(plan.sizeBytes + 64);
  encodeStoredRecord(buf, 0, msg, plan, { queueOffset: 0, physicalOffset: 0, storeTimestamp: 0, bodyCrc: 0 });
  stampBodyCrc(buf, 0);
  assert.is(checkStoredRecord(buf, 0, buf.length, true).kind, 'message');
  assert.is(checkStoredRecord(buf, plan.sizeBytes, buf.length, true).kind, 'end');
  assert.is(checkStoredRecord(buf, 0, plan.sizeBytes - 1, true).kind, 'invalid');
  const corrupt = Buffer.from(buf);
  corrupt[plan.sizeBytes - 40] ^= 0xff; // inside the body
  const c = checkStoredRecord(corrupt, 0, corrupt.length, true);
  assert.is(c.kind === 'invalid' || c.kind === 'message', true);
  const bodyFlip = Buffer.from(buf);
  bodyFlip[88] ^= 1; // first body byte (IPv4 header is 88 bytes)
  assert.equal(checkStoredRecord(bodyFlip, 0, bodyFlip.length, true), { kind: 'invalid', reason: 'body CRC mismatch' });
  assert.is(checkStoredRecord(bodyFlip, 0, bodyFlip.length, false).kind, 'message');
  const blank = Buffer.alloc(32);
  blank.writeInt32BE(32, 0);
  blank.writeInt32BE(MessageMagic.BLANK, 4);
  assert.equal(checkStoredRecord(blank, 0, 32, true), { kind: 'blank', sizeBytes: 32 });
  const garbage = Buffer.from(buf);
  garbage.writeInt32BE(123456, 4);
  assert.is(checkStoredRecord(garbage, 0, garbage.length, true).kind, 'invalid');
  const lying = Buffer.from(buf);
  lying.writeInt32BE(plan.sizeBytes + 10, 0);
  assert.is(checkStoredRecord(lying, 0, lying.length, true).kind, 'invalid');
  assert.throws(() => decodeStoredRecord(lying, 0), /bad message record/);
});

test('validateMessage refuses what the store must not write', () => {
  assert.is(validateMessage(sample(), 1024), undefined);
  assert.match(validateMessage(sample({ topic: '' }), 1024)!, /empty/);
  assert.match(validateMessage(sample({ topic: 'x'.repeat(128) }), 1024)!, /128 bytes/);
  assert.match(validateMessage(sample({ queueId: -1 }), 1024)!, /negative/);
  // Fields stored as Java ints and longs: out of range is an error, never a wrapped value on disk.
  assert.match(validateMessage(sample({ queueId: 2 ** 31 }), 1024)!, /queue id .* Java int/);
  assert.match(validateMessage(sample({ flag: 2 ** 31 }), 1024)!, /flag .* 32-bit/);
  assert.match(validateMessage(sample({ flag: 1.5 }), 1024)!, /flag .* 32-bit/);
  assert.match(validateMessage(sample({ reconsumeTimes: -(2 ** 31) - 1 }), 1024)!, /reconsumeTimes .* 32-bit/);
  assert.match(validateMessage(sample({ sysFlag: Number.NaN }), 1024)!, /sysFlag .* 32-bit/);
  assert.match(validateMessage(sample({ bornTimestamp: 2 ** 53 }), 1024)!, /bornTimestamp .* safe integer/);
  assert.match(validateMessage(sample({ preparedTransactionOffset: Number.POSITIVE_INFINITY }), 1024)!, /preparedTransactionOffset/);
  assert.is(validateMessage(sample({ queueId: 2 ** 31 - 1, flag: -(2 ** 31), reconsumeTimes: 2 ** 31 - 1 }), 1024), undefined);
  assert.match(validateMessage(sample({ body: Buffer.alloc(1025) }), 1024)!, /maxMessageSize/);
  assert.match(validateMessage(sample({ properties: 'a\u0001' + 'v'.repeat(32767) }), 1024)!, /properties/);
});

test('offset message id round-trips and is upper-case hex', () => {
  const id = createOffsetMessageId(parseSocketAddress('192.168.0.10:10911'), 0x123456789a);
  assert.is(id, 'C0A8000A00002A9F000000123456789A');
  const back = decodeOffsetMessageId(id);
  assert.is(back.physicalOffset, 0x123456789a);
  assert.is(back.storeHost.port, 10911);
  assert.throws(() => decodeOffsetMessageId('nothex'), /not an offset message id/);
});

test('offset message ids: the same bytes as a Buffer-built reference, across hosts and offset edges', () => {
  const reference = (host: { ip: Buffer; port: number }, offset: number) => {
    const b = Buffer.alloc(host.ip.length + 12);
    host.ip.copy(b);
    b.writeInt32BE(host.port, host.ip.length);
    b.writeInt32BE(Math.floor(offset / 2 ** 32), host.ip.length + 4);
    b.writeUInt32BE(offset - Math.floor(offset / 2 ** 32) * 2 ** 32, host.ip.length + 8);
    return b.toString('hex').toUpperCase();
  };
  const hosts = [parseSocketAddress('127.0.0.1:10911'), parseSocketAddress('[::1]:65535'), parseSocketAddress('10.0.0.255:1')];
  // Alternating hosts also checks that the per-host part is never reused for another host.
  for (const offset of [0, 1, 0xff, 0xffff_ffff, 0x1_0000_0000, 0x12_3456_789a, 2 ** 53 - 1]) {
    for (const host of hosts) {
      const id = createOffsetMessageId(host, offset);
      assert.is(id, reference(host, offset), `${offset}`);
      assert.is(decodeOffsetMessageId(id).physicalOffset, offset);
    }
  }
  // Outside what a log offset can be: still the Java long's bytes.
  assert.is(createOffsetMessageId(hosts[0]!, -1), reference(hosts[0]!, -1));
});

test.run();
