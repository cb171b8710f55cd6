// CPU time another process (a broker started by the benchmark) used during a measured window,
// read from Linux's /proc: the whole process, its main thread, and each thread by name. 100 % = one
// core busy for the whole window. Returns undefined where /proc is not available.
import { readdirSync, readFileSync } from 'node:fs';

/** Linux reports utime and stime in clock ticks of 1/100 s on every common architecture. */
const CLOCK_TICKS_PER_SECOND = 100;

export interface ThreadCpu {
  tid: number;
  /** The thread's name (comm): "node", "libuv-worker", a worker's name. */
  name: string;
  /** User + system CPU seconds since the thread started. */
  cpuSeconds: number;
}

export interface CpuSnapshot {
  pid: number;
  /** Busy CPU seconds of the whole machine (all cores, all processes) from /proc/stat. */
  machineBusySeconds: number;
  /** performance.now() and Date.now() when taken. */
  atMs: number;
  epochMs: number;
  /** User + system CPU seconds of the whole process (all threads, live and exited). */
  processCpuSeconds: number;
  threads: ThreadCpu[];
}

/** utime + stime of a /proc/<pid>[/task/<tid>]/stat line; the comm field may contain spaces and parentheses. */
function parseStat(text: string): { name: string; cpuSeconds: number } {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  const name = text.slice(open + 1, close);
  const fields = text.slice(close + 2).split(' ');
  // After the comm: state(3) ppid(4) … utime is field 14 and stime field 15 of the whole line.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return { name, cpuSeconds: (utime + stime) / CLOCK_TICKS_PER_SECOND };
}

/** Busy time of all cores (user, nice, system, irq, softirq, steal: everything but idle and iowait), in seconds. */
export function machineBusySeconds(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f;
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

export function cpuSnapshot(pid: number): CpuSnapshot | undefined {
  try {
    const processCpuSeconds = parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8')).cpuSeconds;
    const threads: ThreadCpu[] = [];
    for (const tidText of readdirSync(`/proc/${pid}/task`)) {
      try {
        const { name, cpuSeconds } = parseStat(readFileSync(`/proc/${pid}/task/${tidText}/stat`, 'utf8'));
        threads.push({ tid: Number(tidText), name, cpuSeconds });
      } catch {
        // the thread ended between the listing and the read
      }
    }
    return { pid, atMs: performance.now(), epochMs: Date.now(), processCpuSeconds, threads, machineBusySeconds: machineBusySeconds() };
  } catch {
    return undefined;
  }
}

export interface CpuUsage {
  /** Whole process, percent of one core over the window. */
  processPercent: number;
  /** The main thread (tid = pid): where JavaScript of the main isolate runs. */
  mainThreadPercent: number;
  /** The busiest thread other than the main one (in a broker: usually the store's writer). */
  busiestOtherThreadPercent: number;
  /** Per thread name (threads of the same name summed), largest first, threads under 1 % left out. */
  byThreadName: { name: string; percent: number }[];
  /** The whole machine, percent of one core (2 cores = 200 %): with the process's own, it shows how busy everything else was. */
  machinePercent: number;
}

/** CPU used between two snapshots of the same process. */
export function cpuUsageBetween(before: CpuSnapshot | undefined, after: CpuSnapshot | undefined): CpuUsage | undefined {
  if (!before || !after || before.pid !== after.pid) return undefined;
  const seconds = (after.atMs - before.atMs) / 1000;
  if (!(seconds > 0)) return undefined;
  const startOf = new Map(before.threads.map((t) => [t.tid, t.cpuSeconds]));
  const byName = new Map<string, number>();
  let main = 0;
  let busiestOther = 0;
  for (const t of after.threads) {
    const used = t.cpuSeconds - (startOf.get(t.tid) ?? 0);
    if (t.tid === after.pid) main = used;
    else if (used > busiestOther) busiestOther = used;
    const key = t.tid === after.pid ? `${t.name} (main)` : t.name;
    byName.set(key, (byName.get(key) ?? 0) + used);
  }
  const pct = (cpu: number) => (cpu / seconds) * 100;
  return {
    processPercent: pct(after.processCpuSeconds - before.processCpuSeconds),
    mainThreadPercent: pct(main),
    busiestOtherThreadPercent: pct(busiestOther),
    byThreadName: [...byName.entries()]
      .map(([name, cpu]) => ({ name, percent: pct(cpu) }))
      .filter((t) => t.percent >= 1)
      .sort((a, b) => b.percent - a.percent),
    machinePercent: pct(after.machineBusySeconds - before.machineBusySeconds),
  };
}

/**
 * Snapshots a process every `everyMs` while a case runs, so the CPU of a window known only
 * afterwards (a child tool reports when its measured window began and ended, in epoch ms) can be
 * taken from the snapshots nearest to its ends.
 */
export class CpuSampler {
  private readonly snapshots: CpuSnapshot[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly pid: number,
    readonly everyMs = 200,
  ) {}

  start(): this {
    this.take();
    this.timer = setInterval(() => this.take(), this.everyMs);
    this.timer.unref();
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.take();
  }

  private take(): void {
    const s = cpuSnapshot(this.pid);
    if (s) this.snapshots.push(s);
  }

  /** CPU between the snapshots nearest to two epoch times; undefined when there are none. */
  usageBetween(startEpochMs: number, endEpochMs: number): CpuUsage | undefined {
    const nearest = (t: number) => {
      let best: CpuSnapshot | undefined;
      for (const s of this.snapshots) if (!best || Math.abs(s.epochMs - t) < Math.abs(best.epochMs - t)) best = s;
      return best;
    };
    const a = nearest(startEpochMs);
    const b = nearest(endEpochMs);
    if (!a || !b || b.atMs - a.atMs < this.everyMs) return undefined;
    return cpuUsageBetween(a, b);
  }
}
