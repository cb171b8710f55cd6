// How far each slave is behind its master, in commit-log bytes, while a load runs and after it: the
// largest lag sampled during the window, the lag when the producer exited, and how long the slaves
// then took to reach their masters' offsets.
import type { Deployment } from '../../scripts/deployment/deployment.js';
import { commitLogMaxOffset } from '../../scripts/deployment/runtime-info.js';
import { sleepMs } from '../lib/timing.js';

const SAMPLE_INTERVAL_MS = 500;
const CATCH_UP_POLL_MS = 20;
const QUERY_TIMEOUT_MS = 1_000;

interface Pair {
  master: string;
  slave: string;
}

export function replicaPairsOf(d: Deployment): Pair[] {
  return d.brokers
    .filter((b) => b.role === 'SLAVE')
    .map((s) => ({ slave: s.addr, master: d.brokers.find((m) => m.brokerName === s.brokerName && m.role !== 'SLAVE')!.addr }));
}

/** Sum over pairs of master − slave offsets; undefined when a broker did not answer. */
async function totalLagBytes(pairs: Pair[]): Promise<number | undefined> {
  let total = 0;
  for (const p of pairs) {
    const [m, s] = await Promise.all([commitLogMaxOffset(p.master, QUERY_TIMEOUT_MS), commitLogMaxOffset(p.slave, QUERY_TIMEOUT_MS)]);
    if (m === undefined || s === undefined) return undefined;
    total += Math.max(0, m - s);
  }
  return total;
}

export interface LagReport {
  maxLagBytes: number;
  lagAtExitBytes: number;
  /** ms from the producer's exit until every slave was at its master's offset; undefined if not within the limit. */
  catchUpMs: number | undefined;
}

/** Samples the lag until stop() is called; stop() then measures the lag and the catch-up time. */
export class LagSampler {
  private maxLagBytes = 0;
  private running = true;
  private readonly loop: Promise<void>;

  constructor(private readonly pairs: Pair[]) {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (this.running) {
      const lag = await totalLagBytes(this.pairs);
      if (lag !== undefined && lag > this.maxLagBytes) this.maxLagBytes = lag;
      await sleepMs(SAMPLE_INTERVAL_MS);
    }
  }

  async stop(catchUpLimitMs: number): Promise<LagReport> {
    this.running = false;
    const t0 = performance.now();
    const atExit = (await totalLagBytes(this.pairs)) ?? Number.NaN;
    let catchUpMs: number | undefined;
    for (let lag = atExit; performance.now() - t0 < catchUpLimitMs; lag = (await totalLagBytes(this.pairs)) ?? Number.NaN) {
      if (lag === 0) {
        catchUpMs = performance.now() - t0;
        break;
      }
      await sleepMs(CATCH_UP_POLL_MS);
    }
    await this.loop;
    return { maxLagBytes: Math.max(this.maxLagBytes, Number.isFinite(atExit) ? atExit : 0), lagAtExitBytes: atExit, catchUpMs };
  }
}
