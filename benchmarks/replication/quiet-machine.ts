// Before each cell, waits (bounded) while other work keeps the machine busy: on a shared two-core
// machine a test run next door halves a cell's throughput. The deployment's own idle processes use a
// few percent, well under the threshold. (broker-bench.ts does the same before each of its runs.)
import { machineBusySeconds } from '../lib/process-cpu.js';
import { sleepMs } from '../lib/timing.js';

/** Busy % of the whole machine (100 = one core) at most this to count as quiet. */
const QUIET_BUSY_PERCENT = 40;
const SAMPLE_MS = 500;
const MAX_WAIT_MS = 15_000;

async function busyPercent(windowMs: number): Promise<number> {
  const a = machineBusySeconds();
  const t0 = performance.now();
  await sleepMs(windowMs);
  return ((machineBusySeconds() - a) / ((performance.now() - t0) / 1000)) * 100;
}

/** Returns the busy % of the last sample and the seconds waited for it (0 when already quiet). */
export async function waitForQuietMachine(): Promise<{ busyPercent: number; waitedSeconds: number }> {
  const t0 = performance.now();
  let busy = await busyPercent(SAMPLE_MS);
  while (busy > QUIET_BUSY_PERCENT && performance.now() - t0 < MAX_WAIT_MS) busy = await busyPercent(SAMPLE_MS);
  const waited = (performance.now() - t0 - SAMPLE_MS) / 1000;
  return { busyPercent: Number.isFinite(busy) ? busy : 0, waitedSeconds: waited > 0.1 ? waited : 0 };
}
