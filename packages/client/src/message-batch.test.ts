import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeProperties } from '@orbit/common/properties';
import { sendPropertiesText } from './message.js';
import { BATCH_ENTRY_OVERHEAD_BYTES, decodeBatchBody, encodeBatchBody } from './message-batch.js';

test('batch entry byte layout (facts §4.4), checked field by field', () => {
  const props = 'UNIQ_KEY\u0001AB\u0002TAGS\u0001t\u0002';
  const body = encodeBatchBody([
    { flag: 7, body: Buffer.from('hello'), properties: props },
    { flag: -1, body: Buffer.alloc(0), properties: '' },
  ]);
  const first = 4 + 4 + 4 + 4 + 4 + 5 + 2 + props.length;
  assert.is(first, BATCH_ENTRY_OVERHEAD_BYTES + 5 + props.length);
  assert.is(body.length, first + BATCH_ENTRY_OVERHEAD_BYTES);
  assert.is(body.readInt32BE(0), first); // TOTALSIZE
  assert.is(body.readInt32BE(4), 0); // MAGIC
  assert.is(body.readInt32BE(8), 0); // BODYCRC
  assert.is(body.readInt32BE(12), 7); // FLAG
  assert.is(body.readInt32BE(16), 5); // BODYLEN
  assert.is(body.toString('utf8', 20, 25), 'hello');
  assert.is(body.readInt16BE(25), props.length); // PROPLEN
  assert.is(body.toString('utf8', 27, 27 + props.length), props);
  const second = first;
  assert.is(body.readInt32BE(second), BATCH_ENTRY_OVERHEAD_BYTES);
  assert.is(body.readInt32BE(second + 12), -1);
  assert.is(body.readInt32BE(second + 16), 0);
  assert.is(body.readInt16BE(second + 20), 0);
  const back = decodeBatchBody(body);
  assert.equal(back.map((e) => [e.flag, e.body.toString(), e.properties]), [[7, 'hello', props], [-1, '', '']]);
});

test('per-message properties carry UNIQ_KEY, WAIT, TAGS, KEYS (multi keys space-separated), DELAY', () => {
  const text = sendPropertiesText({ topic: 'T', body: 'x', tags: 'TagA', keys: ['k1', 'k2'], delayTimeLevel: 3, properties: { a: '1', TAGS: 'ignored' } }, 'ID1');
  assert.equal([...decodeProperties(text).entries()], [['UNIQ_KEY', 'ID1'], ['WAIT', 'true'], ['TAGS', 'TagA'], ['KEYS', 'k1 k2'], ['DELAY', '3'], ['a', '1']]);
  assert.is(text, 'UNIQ_KEY\u0001ID1\u0002WAIT\u0001true\u0002TAGS\u0001TagA\u0002KEYS\u0001k1 k2\u0002DELAY\u00013\u0002a\u00011\u0002');
  assert.equal(decodeProperties(text).get('KEYS'), 'k1 k2');
  const noWait = sendPropertiesText({ topic: 'T', body: 'x', waitStoreMsgOK: false }, undefined);
  assert.equal([...decodeProperties(noWait).entries()], [['WAIT', 'false']]);
});

test('decodeBatchBody rejects inconsistent lengths', () => {
  const good = encodeBatchBody([{ flag: 0, body: Buffer.from('ab'), properties: 'x\u0001y\u0002' }]);
  const bad = Buffer.from(good);
  bad.writeInt32BE(good.length + 1, 0);
  assert.throws(() => decodeBatchBody(bad), RangeError);
  const bad2 = Buffer.from(good);
  bad2.writeInt32BE(1000, 16);
  assert.throws(() => decodeBatchBody(bad2), RangeError);
  assert.throws(() => decodeBatchBody(good.subarray(0, 10)), RangeError);
});

test.run();
