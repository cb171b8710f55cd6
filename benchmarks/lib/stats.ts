// Summary statistics for benchmark samples. Benchmarks quote the median of several runs (robust to
// one disturbed run on a shared machine) together with min and max, so the spread is visible.

function sortedCopy(samples: readonly number[]): number[] {
  return [...samples].sort((a, b) => a - b);
}

function assertNonEmpty(samples: readonly number[], what: string): void {
  if (samples.length === 0) throw new RangeError(`${what} of no samples`);
}

export function mean(samples: readonly number[]): number {
  assertNonEmpty(samples, 'mean');
  let sum = 0;
  for (const s of samples) sum += s;
  return sum / samples.length;
}

/**
 * The p-th percentile (0 ≤ p ≤ 100) with linear interpolation between closest ranks (the same
 * definition as numpy's default), so percentile(x, 50) equals median(x).
 */
export function percentile(samples: readonly number[], p: number): number {
  assertNonEmpty(samples, 'percentile');
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile ${p} is outside 0..100`);
  return percentileOfSorted(sortedCopy(samples), p);
}

/** As percentile(), for samples already sorted ascending (avoids a copy and sort per call). */
export function percentileOfSorted(sorted: readonly number[], p: number): number {
  assertNonEmpty(sorted, 'percentile');
  const rank = (p / 100) * (sorted.length - 1);
  const lower = Math.floor(rank);
  const upper = Math.ceil(rank);
  const lo = sorted[lower]!;
  const hi = sorted[upper]!;
  return lo + (hi - lo) * (rank - lower);
}

export function median(samples: readonly number[]): number {
  return percentile(samples, 50);
}

export interface Summary {
  count: number;
  median: number;
  mean: number;
  min: number;
  max: number;
}

export function summarize(samples: readonly number[]): Summary {
  assertNonEmpty(samples, 'summary');
  const sorted = sortedCopy(samples);
  return {
    count: sorted.length,
    median: percentileOfSorted(sorted, 50),
    mean: mean(sorted),
    min: sorted[0]!,
    max: sorted[sorted.length - 1]!,
  };
}

/**
 * A bounded reservoir of latency samples: keeps at most `capacityCount` values, replacing at random
 * once full, so a long run costs fixed memory and its percentiles still cover the whole run.
 */
export class LatencyReservoir {
  private readonly values: Float64Array;
  private seen = 0;

  constructor(readonly capacityCount = 100_000) {
    if (!(capacityCount > 0)) throw new RangeError('capacityCount must be positive');
    this.values = new Float64Array(capacityCount);
  }

  add(value: number): void {
    if (this.seen < this.capacityCount) {
      this.values[this.seen] = value;
    } else {
      const slot = Math.floor(Math.random() * (this.seen + 1));
      if (slot < this.capacityCount) this.values[slot] = value;
    }
    this.seen++;
  }

  get sampleCount(): number {
    return Math.min(this.seen, this.capacityCount);
  }

  /** Percentiles of what was kept; undefined when nothing was added. */
  percentiles(ps: readonly number[]): number[] | undefined {
    const n = this.sampleCount;
    if (n === 0) return undefined;
    const sorted = Array.from(this.values.subarray(0, n)).sort((a, b) => a - b);
    return ps.map((p) => percentileOfSorted(sorted, p));
  }
}
