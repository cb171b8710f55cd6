// Time-bounded measurement helpers shared by benchmarks.

export function sleepMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Rejects with `what` after `timeoutMs` if the promise has not settled; the timer never keeps the process alive. */
export async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer after ${timeoutMs} ms`)), timeoutMs);
    timer.unref();
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface TimedWindow {
  /** Units (records, bytes, messages: whatever `step` returns) completed inside the measured window. */
  units: number;
  seconds: number;
  /** True when `maxUnits` ended the loop before the window's time was up. */
  stoppedByLimit: boolean;
}

/**
 * Runs a synchronous `step` (returning the units it completed) for a warm-up and then a measured
 * window, counting only the window. `maxUnits` bounds the total work, warm-up included (for
 * example the bytes a baseline may write to disk); the rate stays valid when it cuts the window short.
 */
export function timedSyncLoop(step: () => number, options: { warmupMs: number; measureMs: number; maxUnits?: number }): TimedWindow {
  const maxUnits = options.maxUnits ?? Number.POSITIVE_INFINITY;
  let total = 0;
  const warmEnd = performance.now() + options.warmupMs;
  while (performance.now() < warmEnd && total < maxUnits) total += step();
  const startUnits = total;
  const start = performance.now();
  const end = start + options.measureMs;
  let now = start;
  while (now < end && total < maxUnits) {
    total += step();
    now = performance.now();
  }
  return { units: total - startUnits, seconds: (now - start) / 1000, stoppedByLimit: total >= maxUnits };
}
