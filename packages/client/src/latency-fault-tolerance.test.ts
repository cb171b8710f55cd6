import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { computeNotAvailableDurationMs, ISOLATION_LATENCY_MS, LatencyFaultTolerance } from './latency-fault-tolerance.js';

test('latency → not-available duration follows latencyMax/notAvailableDuration', () => {
  const cases: [number, number][] = [
    [0, 0], [49, 0], [50, 0], [99, 0], [100, 0], [549, 0], [550, 2000], [1799, 2000], [1800, 5000],
    [2999, 5000], [3000, 6000], [4999, 6000], [5000, 10000], [14999, 10000], [15000, 30000], [60000, 30000],
  ];
  for (const [latency, out] of cases) assert.is(computeNotAvailableDurationMs(latency), out, `latency ${latency}`);
  assert.is(computeNotAvailableDurationMs(ISOLATION_LATENCY_MS), 10000);
});

test('a slow broker is out for its window, then back', () => {
  let now = 1_000_000;
  const faults = new LatencyFaultTolerance(true, () => now);
  faults.updateFaultItem('broker-a', 600, false, true); // 2 s out
  faults.updateFaultItem('broker-b', 20, false, true); // 0 s
  assert.is(faults.isAvailable('broker-a'), false);
  assert.is(faults.isAvailable('broker-b'), true);
  assert.is(faults.isAvailable('never-seen'), true);
  now += 1999;
  assert.is(faults.isAvailable('broker-a'), false);
  now += 1;
  assert.is(faults.isAvailable('broker-a'), true);
});

test('isolation (a failed send) keeps a broker out for 10 s; unreachable is remembered', () => {
  let now = 0;
  const faults = new LatencyFaultTolerance(true, () => now);
  faults.updateFaultItem('broker-a', 3, true, false);
  assert.is(faults.isAvailable('broker-a'), false);
  assert.is(faults.isReachable('broker-a'), false);
  now = 9_999;
  assert.is(faults.isAvailable('broker-a'), false);
  now = 10_000;
  assert.is(faults.isAvailable('broker-a'), true);
  faults.updateFaultItem('broker-a', 3, false, true);
  assert.is(faults.isReachable('broker-a'), true);
});

test('disabled: updates are ignored', () => {
  const faults = new LatencyFaultTolerance(false);
  faults.updateFaultItem('broker-a', 20_000, true, false);
  assert.is(faults.isAvailable('broker-a'), true);
  assert.is(faults.isReachable('broker-a'), true);
});

test.run();
