import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createUniqKey, parseUniqKey, startOfMonthMs, UniqKeyGenerator } from './uniq-key.js';

test('layout: ip, pid, class-loader hash, ms since month start, counter — 32 upper-case hex', () => {
  const now = new Date(2024, 4, 17, 12, 30, 0, 250).getTime();
  const gen = new UniqKeyGenerator({ ip: '10.1.2.3', pid: 0x12345, classLoaderHash: 0x0badcafe, nowMs: () => now });
  const first = gen.next();
  assert.match(first, /^[0-9A-F]{32}$/);
  assert.is(first.slice(0, 8), '0A010203');
  assert.is(first.slice(8, 12), '2345'); // (short) pid
  assert.is(first.slice(12, 20), '0BADCAFE');
  const sinceMonth = now - new Date(2024, 4, 1).getTime();
  assert.is(first.slice(20, 28), sinceMonth.toString(16).toUpperCase().padStart(8, '0'));
  assert.is(first.slice(28), '0000');
  const second = gen.next();
  assert.is(second.slice(0, 28), first.slice(0, 28));
  assert.is(second.slice(28), '0001');
  const parsed = parseUniqKey(second);
  assert.equal([...parsed.ip], [10, 1, 2, 3]);
  assert.is(parsed.pid, 0x2345);
  assert.is(parsed.monthOffsetMs, sinceMonth);
  assert.is(parsed.counter, 1);
});

test('the counter wraps as a short; ids differ', () => {
  const gen = new UniqKeyGenerator({ ip: '127.0.0.1', classLoaderHash: 1, nowMs: () => 1_700_000_000_000 });
  const ids = new Set<string>();
  for (let i = 0; i < 70_000; i++) ids.add(gen.next());
  assert.is(ids.size, 65_536); // same millisecond: only the 16-bit counter varies
});

test('month start in local time; IPv6 gives 56 characters', () => {
  const ms = new Date(2023, 11, 31, 23, 59, 59).getTime();
  assert.is(startOfMonthMs(ms), new Date(2023, 11, 1).getTime());
  const v6 = new UniqKeyGenerator({ ip: '::1', pid: 1, classLoaderHash: 1 }).next();
  assert.match(v6, /^[0-9A-F]{56}$/);
  assert.match(createUniqKey('192.168.1.9'), /^C0A80109[0-9A-F]{24}$/);
});

test('ids follow the clock: time part remade when it moves, across a month end and a small step back', () => {
  const monthEnd = new Date(2024, 0, 31, 23, 59, 59, 998).getTime();
  const clock = [monthEnd, monthEnd, monthEnd + 1, monthEnd + 2, monthEnd + 3, monthEnd + 1, monthEnd + 1];
  let i = 0;
  const gen = new UniqKeyGenerator({ ip: '10.0.0.1', pid: 7, classLoaderHash: 9, nowMs: () => clock[i++]! });
  const timePart = (ms: number) => ((ms - startOfMonthMs(ms)) >>> 0).toString(16).toUpperCase().padStart(8, '0');
  const ids = clock.map(() => gen.next());
  const expectedTimes = [timePart(monthEnd), timePart(monthEnd), timePart(monthEnd + 1), '00000000', '00000001'];
  expectedTimes.forEach((t, k) => assert.is(ids[k]!.slice(20, 28), t, `id ${k}`));
  // Back across the month start: a negative difference within a second becomes 0, as Java clamps it.
  assert.is(ids[5]!.slice(20, 28), '00000000');
  assert.equal(ids.map((id) => id.slice(28)), ['0000', '0001', '0002', '0003', '0004', '0005', '0006']);
  assert.equal(ids.map((id) => parseUniqKey(id).counter), [0, 1, 2, 3, 4, 5, 6]);
});

test.run();
