import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { setInt64, viewOf, writeText } from './byte-view.js';
import { readInt64BE, writeInt64BE } from './int64.js';

test('setInt64 writes the bytes writeInt64BE writes', () => {
  const values = [0, 1, 0xffff_ffff, 0x1_0000_0000, 2 ** 53 - 1, -1, -5, -(2 ** 31), 1_764_041_617_123];
  for (const value of values) {
    const a = Buffer.alloc(8);
    const b = Buffer.alloc(8);
    writeInt64BE(a, 0, value);
    setInt64(viewOf(b), 0, value);
    assert.equal(b.toString('hex'), a.toString('hex'), `bytes of ${value}`);
    assert.is(readInt64BE(b, 0), value);
  }
});

test('viewOf covers exactly a subarray, follows a different buffer and stays bounds-checked', () => {
  const whole = Buffer.alloc(32);
  const part = whole.subarray(8, 16);
  viewOf(part).setInt32(0, 0x01020304);
  assert.is(whole.readInt32BE(8), 0x01020304);
  assert.throws(() => viewOf(part).setInt32(6, 1), RangeError);
  // Same backing memory, other window: the cached view must not be reused.
  const other = whole.subarray(16, 20);
  viewOf(other).setInt32(0, -2);
  assert.is(whole.readInt32BE(16), -2);
  assert.throws(() => viewOf(other).setInt8(4, 1), RangeError);
});

test('writeText writes UTF-8 for any text, taking the latin1 path only for ASCII', () => {
  for (const text of ['TopicTest', 'UNIQ_KEY\u0001ABC\u0002', 'é', '主题', 'a\u{1F600}b', 'lone \ud800 surrogate', '\u00ff']) {
    const byteLength = Buffer.byteLength(text, 'utf8');
    const out = Buffer.alloc(byteLength + 4, 0xee);
    assert.is(writeText(out, 2, text, byteLength), byteLength, text);
    assert.equal(out.subarray(2, 2 + byteLength), Buffer.from(text, 'utf8'), text);
    assert.is(out[1], 0xee);
    assert.is(out[2 + byteLength], 0xee);
  }
});

test.run();
