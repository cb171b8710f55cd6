import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { findProperty, parseSocketAddress } from '@orbit/common';
import { buildOpMessage, parseOpBody } from './op-message.js';

test('op bodies: written comma-joined, read in the 4.x and 5.x forms, garbage skipped', () => {
  const op = buildOpMessage([3, 17], 'K', parseSocketAddress('127.0.0.1:1'), 1);
  assert.is(Buffer.from(op.body).toString(), '3,17');
  assert.is(op.topic, 'RMQ_SYS_TRANS_OP_HALF_TOPIC');
  assert.is(findProperty(op.properties, 'TAGS'), 'd');
  assert.equal(parseOpBody(Buffer.from('17')), [17]);
  assert.equal(parseOpBody(Buffer.from('17,18,')), [17, 18]);
  assert.equal(parseOpBody(Buffer.from('x, 4 ,-1,99999999999999999999')), [4]);
  assert.equal(parseOpBody(Buffer.alloc(0)), []);
});

test('parseOpBody takes any bytes without throwing', () => {
  for (let i = 0; i < 2_000; i++) {
    const buf = Buffer.alloc(Math.floor(Math.random() * 64));
    for (let j = 0; j < buf.length; j++) buf[j] = Math.floor(Math.random() * 256);
    for (const n of parseOpBody(buf)) assert.ok(Number.isSafeInteger(n) && n >= 0);
  }
});

test.run();
