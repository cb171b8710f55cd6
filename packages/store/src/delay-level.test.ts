import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_MESSAGE_DELAY_LEVEL, delayLevelOf, deliverTimestamp, parseDelayLevels } from './delay-level.js';
import { defaultStoreConfig, validateStoreConfig } from './store-config.js';

test("RocketMQ's default table: 18 levels from 1 s to 2 h", () => {
  const levels = parseDelayLevels(DEFAULT_MESSAGE_DELAY_LEVEL);
  assert.is(levels.length, 18);
  assert.equal(levels.slice(0, 6), [1_000, 5_000, 10_000, 30_000, 60_000, 120_000]);
  assert.is(levels[16], 3_600_000);
  assert.is(levels[17], 7_200_000);
  assert.is(defaultStoreConfig().messageDelayLevel, DEFAULT_MESSAGE_DELAY_LEVEL);
});

test('units s, m, h, d, and ms (an Orbit extension); extra spaces are fine', () => {
  assert.equal(parseDelayLevels(' 100ms  2s 3m 1h 1d '), [100, 2_000, 180_000, 3_600_000, 86_400_000]);
  assert.equal(parseDelayLevels('0s'), [0]);
});

test('a bad table is refused with the level named', () => {
  assert.throws(() => parseDelayLevels(''), /empty/);
  assert.throws(() => parseDelayLevels('1s 5x'), /level 2 is "5x"/);
  assert.throws(() => parseDelayLevels('1.5s'), /level 1/);
  assert.throws(() => parseDelayLevels('-1s'), /level 1/);
  assert.throws(() => parseDelayLevels(Array(65).fill('1s').join(' ')), /at most 64/);
  assert.throws(() => validateStoreConfig(defaultStoreConfig({ messageDelayLevel: '1s 2' })), /store config: messageDelayLevel level 2/);
});

test('DELAY values: absent, zero and garbage mean no delay; past the last level means the last', () => {
  assert.is(delayLevelOf(undefined, 18), 0);
  assert.is(delayLevelOf('0', 18), 0);
  assert.is(delayLevelOf('abc', 18), 0);
  assert.is(delayLevelOf('-3', 18), 0);
  assert.is(delayLevelOf('3', 18), 3);
  assert.is(delayLevelOf('99', 18), 18);
});

test('the due time is store time + the level delay', () => {
  const levels = parseDelayLevels('100ms 200ms');
  assert.is(deliverTimestamp(levels, 2, 1_000_000), 1_000_200);
});

test.run();
