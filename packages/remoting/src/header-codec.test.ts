import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  decodeJsonHeader,
  decodeRocketMqHeader,
  encodeJsonHeader,
  encodeRocketMqHeader,
  ROCKETMQ_HEADER_FIXED_BYTES,
  type DecodedHeader,
} from './header-codec.js';
import { FrameError } from './remoting-errors.js';

const json = (text: string) => {
  const buf = Buffer.from(text, 'utf8');
  return decodeJsonHeader(buf, 0, buf.length);
};

function frameErrorOf(fn: () => unknown): FrameError {
  try {
    fn();
  } catch (error) {
    assert.instance(error, FrameError);
    return error as FrameError;
  }
  assert.unreachable('expected a FrameError');
  throw new Error('unreachable');
}

test('JSON header: the Java SEND_MESSAGE_V2 example of facts §1.2 decodes', () => {
  const text =
    '{"code":310,"extFields":{"a":"pg","b":"TopicTest","c":"TBW102","d":"4","e":"1","f":"0","g":"1700000000000","h":"0","i":"UNIQ_KEY\\u0001abc\\u0002WAIT\\u0001true\\u0002TAGS\\u0001TagA\\u0002","j":"0","k":"false","m":"false","n":"broker-a"},"flag":0,"language":"JAVA","opaque":7,"serializeTypeCurrentRPC":"JSON","version":479}';
  const h = json(text);
  assert.is(h.code, 310);
  assert.is(h.opaque, 7);
  assert.is(h.flag, 0);
  assert.is(h.version, 479);
  assert.is(h.language, 'JAVA');
  assert.is(h.remark, undefined);
  assert.is(h.extFields.b, 'TopicTest');
  assert.is(h.extFields.i, 'UNIQ_KEY\u0001abc\u0002WAIT\u0001true\u0002TAGS\u0001TagA\u0002');
  assert.is(Object.keys(h.extFields).length, 13);
});

test('JSON header: ali-ons numbers and booleans in extFields become strings', () => {
  const h = json('{"code":11,"language":"JAVA","opaque":3,"flag":0,"version":121,"extFields":{"queueId":1,"unitMode":false,"queueOffset":1700000000123,"ratio":0.5,"gone":null,"obj":{"x":[1]}}}');
  assert.equal(h.extFields, { queueId: '1', unitMode: 'false', queueOffset: '1700000000123', ratio: '0.5', obj: '{"x":[1]}' });
  assert.is(h.version, 121);
});

test('JSON header: encoding is fastjson-shaped and round-trips', () => {
  const header: DecodedHeader = { code: 0, language: 'JAVA', version: 479, opaque: 9, flag: 1, remark: 'ok "quoted"', extFields: { msgId: 'AB', queueId: '2' } };
  const text = encodeJsonHeader(header);
  assert.is(
    text,
    '{"code":0,"extFields":{"msgId":"AB","queueId":"2"},"flag":1,"language":"JAVA","opaque":9,"remark":"ok \\"quoted\\"","serializeTypeCurrentRPC":"JSON","version":479}',
  );
  assert.equal(json(text), header);
  const bare = encodeJsonHeader({ code: 3, language: 'JAVA', version: 0, opaque: 1, flag: 1, extFields: {} });
  assert.ok(bare.includes('"extFields":{}'), 'extFields is always written');
  assert.not.ok(bare.includes('remark'), 'a missing remark is left out');
});

test('JSON header: numeric strings for code/opaque/flag are accepted, defaults for the rest', () => {
  const h = json('{"code":"34","opaque":"12","flag":"0"}');
  assert.equal(h, { code: 34, language: 'JAVA', version: 0, opaque: 12, flag: 0, extFields: {} });
  assert.is(json('{"code":1,"opaque":1,"flag":0,"language":9}').language, 'GO');
  assert.is(json('{"code":1,"opaque":1,"flag":0,"remark":null,"extFields":null}').remark, undefined);
});

test('JSON header: malformed headers are FrameErrors that say what is wrong', () => {
  const garbage = frameErrorOf(() => json('{"code":10,"opaque":77,"flag":0,"extFields":{"a":'));
  assert.is(garbage.fatal, false);
  assert.is(garbage.opaque, 77, 'opaque found in broken JSON');
  assert.is(garbage.flag, 0);
  assert.ok(garbage.message.startsWith('invalid JSON header'));

  const noise = frameErrorOf(() => json('\u0000\u0001garbage'));
  assert.is(noise.opaque, undefined);

  const array = frameErrorOf(() => json('[1,2,3]'));
  assert.ok(array.message.includes('not an object but an array'));
  assert.ok(frameErrorOf(() => json('42')).message.includes('not an object but number'));
  assert.ok(frameErrorOf(() => json('null')).message.includes('not an object'));

  const noCode = frameErrorOf(() => json('{"opaque":5,"flag":0}'));
  assert.is(noCode.message, 'JSON header has no "code"');
  assert.is(noCode.opaque, 5);

  const noOpaque = frameErrorOf(() => json('{"code":5,"flag":0}'));
  assert.is(noOpaque.opaque, undefined);
  assert.ok(noOpaque.message.includes('"opaque"'));

  assert.ok(frameErrorOf(() => json('{"code":1,"opaque":1}')).message.includes('"flag"'));
  assert.ok(frameErrorOf(() => json('{"code":1.5,"opaque":1,"flag":0}')).message.includes('not a 32-bit integer: 1.5'));
  assert.ok(frameErrorOf(() => json('{"code":true,"opaque":1,"flag":0}')).message.includes('"code"'));
  assert.ok(frameErrorOf(() => json('{"code":1,"opaque":4294967296,"flag":0}')).message.includes('"opaque"'));
  assert.ok(frameErrorOf(() => json('{"code":1,"opaque":1,"flag":"x"}')).message.includes('"flag"'));

  const badExt = frameErrorOf(() => json('{"code":1,"opaque":3,"flag":2,"extFields":["a"]}'));
  assert.ok(badExt.message.includes('"extFields" is not an object'));
  assert.is(badExt.opaque, 3);
  assert.is(badExt.flag, 2);
  assert.ok(frameErrorOf(() => json('{"code":1,"opaque":3,"flag":0,"remark":{}}')).message.includes('"remark"'));
});

test('JSON header: a value nested too deep for JSON.stringify is a FrameError, not a crash', () => {
  const deep = '['.repeat(200_000) + ']'.repeat(200_000);
  const error = frameErrorOf(() => json(`{"code":1,"opaque":3,"flag":0,"extFields":{"x":${deep}}}`));
  assert.is(error.opaque, 3);
});

test('JSON header: invalid UTF-8 is replaced, not fatal', () => {
  const buf = Buffer.concat([Buffer.from('{"code":1,"opaque":2,"flag":0,"remark":"a'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
  assert.is(decodeJsonHeader(buf, 0, buf.length).remark, 'a\ufffd\ufffd');
});

// Built by hand from facts §1.3, field by field.
function handBuiltBinary(): Buffer {
  const parts: number[] = [];
  const u16 = (v: number) => parts.push((v >> 8) & 0xff, v & 0xff);
  const u32 = (v: number) => parts.push((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
  const bytes = (s: string) => parts.push(...Buffer.from(s, 'utf8'));
  u16(310); // code
  parts.push(9); // language GO
  u16(401); // version V4_9_4
  u32(0x01020304); // opaque
  u32(2); // flag: oneway
  u32(2);
  bytes('hi'); // remark
  // extFields: "b"→"TopicTest", "e"→"1"
  const entries = 2 + 1 + 4 + 9 + (2 + 1 + 4 + 1);
  u32(entries);
  u16(1);
  bytes('b');
  u32(9);
  bytes('TopicTest');
  u16(1);
  bytes('e');
  u32(1);
  bytes('1');
  return Buffer.from(parts);
}

test('ROCKETMQ header: hand-built bytes decode', () => {
  const buf = handBuiltBinary();
  assert.is(buf.length, ROCKETMQ_HEADER_FIXED_BYTES + 2 + 24);
  const h = decodeRocketMqHeader(buf, 0, buf.length);
  assert.equal(h, { code: 310, language: 'GO', version: 401, opaque: 0x01020304, flag: 2, remark: 'hi', extFields: { b: 'TopicTest', e: '1' } });
});

test('ROCKETMQ header: encode produces the same bytes and round-trips', () => {
  const header: DecodedHeader = { code: 310, language: 'GO', version: 401, opaque: 0x01020304, flag: 2, remark: 'hi', extFields: { b: 'TopicTest', e: '1' } };
  assert.equal(encodeRocketMqHeader(header), handBuiltBinary());
  const other: DecodedHeader = { code: -5, language: 'JAVA', version: 479, opaque: -1, flag: 1, extFields: { 'ключ': 'значение', empty: '' } };
  const buf = encodeRocketMqHeader(other);
  assert.equal(decodeRocketMqHeader(buf, 0, buf.length), other);
  // Zero remark length means no remark; an empty extFields block is length 0.
  const minimal = encodeRocketMqHeader({ code: 0, language: 'JAVA', version: 0, opaque: 0, flag: 0, extFields: {} });
  assert.is(minimal.length, ROCKETMQ_HEADER_FIXED_BYTES);
  assert.throws(() => encodeRocketMqHeader({ ...other, code: 200050 }), (e: unknown) => e instanceof RangeError);
});

test('ROCKETMQ header: decoding inside a larger buffer honours start/end', () => {
  const inner = handBuiltBinary();
  const buf = Buffer.concat([Buffer.from([9, 9, 9]), inner, Buffer.from([7, 7])]);
  assert.is(decodeRocketMqHeader(buf, 3, 3 + inner.length).extFields.b, 'TopicTest');
});

test('ROCKETMQ header: every malformed length is a FrameError', () => {
  const good = handBuiltBinary();
  const short = frameErrorOf(() => decodeRocketMqHeader(good, 0, 20));
  assert.is(short.opaque, 0x01020304);
  assert.is(short.fatal, false);
  assert.is(frameErrorOf(() => decodeRocketMqHeader(good, 0, 6)).opaque, undefined);

  const withInt = (offset: number, value: number) => {
    const copy = Buffer.from(good);
    copy.writeInt32BE(value, offset);
    return copy;
  };
  const remarkAt = 13;
  const extAt = remarkAt + 4 + 2;
  for (const bad of [withInt(remarkAt, -1), withInt(remarkAt, 1000), withInt(extAt, -3), withInt(extAt, 1000), withInt(extAt, 20)]) {
    frameErrorOf(() => decodeRocketMqHeader(bad, 0, bad.length));
  }
  const negativeKey = Buffer.from(good);
  negativeKey.writeInt16BE(-1, extAt + 4);
  assert.ok(frameErrorOf(() => decodeRocketMqHeader(negativeKey, 0, negativeKey.length)).message.includes('key length -1'));
  const valuePastBlock = Buffer.from(good);
  valuePastBlock.writeInt32BE(100, extAt + 4 + 2 + 1);
  assert.ok(frameErrorOf(() => decodeRocketMqHeader(valuePastBlock, 0, valuePastBlock.length)).message.includes('value length 100'));
  // The extFields length int itself cut off.
  frameErrorOf(() => decodeRocketMqHeader(good, 0, extAt + 2));
});

test.run();
