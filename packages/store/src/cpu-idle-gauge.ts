// How busy the rest of the machine is, from Linux's /proc/stat, leaving out the calling thread's own
// CPU time (/proc/thread-self/stat): for background work that should use only CPU nobody else wants.
// Sampled at most once per window; between samples the last verdict stands. Off Linux (no /proc)
// the gauge reports "idle", so the work is never held back.
import { readFileSync } from 'node:fs';

interface Sample {
  atMs: number;
  busyTicks: number;
  totalTicks: number;
  ownTicks: number;
}

export class CpuIdleGauge {
  private last: Sample | undefined;
  private verdict = false;
  private readonly available: boolean;

  constructor(
    /** Others may use at most (1 - idleShare) of all CPUs for the verdict to be "idle enough". */
    readonly idleShare: number,
    readonly windowMs: number,
  ) {
    if (!(idleShare >= 0 && idleShare <= 1)) throw new RangeError(`idleShare must be in [0, 1], got ${idleShare}`);
    if (!(windowMs > 0)) throw new RangeError(`windowMs must be positive, got ${windowMs}`);
    this.available = readSample(0) !== undefined;
  }

  /** True when, over the last window, the other threads left at least idleShare of the CPU idle. */
  othersLeaveIdle(nowMs: number): boolean {
    if (!this.available) return true;
    if (this.last !== undefined && nowMs - this.last.atMs < this.windowMs) return this.verdict;
    const sample = readSample(nowMs);
    if (sample === undefined) return true;
    if (this.last !== undefined) {
      const total = sample.totalTicks - this.last.totalTicks;
      const othersBusy = sample.busyTicks - this.last.busyTicks - (sample.ownTicks - this.last.ownTicks);
      this.verdict = total <= 0 || othersBusy / total <= 1 - this.idleShare;
    }
    this.last = sample;
    return this.verdict;
  }
}

function readSample(atMs: number): Sample | undefined {
  try {
    // "cpu  user nice system idle iowait irq softirq steal guest guest_nice" (guest time is already
    // inside user and nice, so it is not added again).
    const stat = readFileSync('/proc/stat', 'latin1');
    const line = stat.slice(0, stat.indexOf('\n')).trim().split(/\s+/);
    if (line[0] !== 'cpu' || line.length < 9) return undefined;
    const [user, nice, system, idle, iowait, irq, softirq, steal] = line.slice(1, 9).map(Number) as [number, number, number, number, number, number, number, number];
    const busyTicks = user + nice + system + irq + softirq + steal;
    const own = readFileSync('/proc/thread-self/stat', 'latin1');
    // Fields after the ")" that closes the thread's name: utime and stime are the 12th and 13th.
    const fields = own.slice(own.lastIndexOf(')') + 2).split(' ');
    const ownTicks = Number(fields[11]) + Number(fields[12]);
    if (![busyTicks, idle, iowait, ownTicks].every(Number.isFinite)) return undefined;
    return { atMs, busyTicks, totalTicks: busyTicks + idle + iowait, ownTicks };
  } catch {
    return undefined;
  }
}
