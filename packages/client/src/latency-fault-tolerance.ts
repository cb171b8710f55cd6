// Send-latency fault avoidance (MQFaultStrategy + LatencyFaultToleranceImpl, facts §3.3). Off by
// default (sendLatencyFaultEnable). When on, every send reports its latency per broker; a slow or
// failed broker is kept out of queue selection for a while:
//
//   latency ≥   50  100  550  1800  3000   5000  15000 ms
//   out for      0    0  2000  5000  6000  10000  30000 ms
//
// A failed send ("isolation") counts as ISOLATION_LATENCY_MS of latency (RocketMQ 5.x: 10 000 ms,
// which the table maps to 10 s out; 4.x used 30 000 → 30 s).

export const LATENCY_MAX_MS: readonly number[] = [50, 100, 550, 1800, 3000, 5000, 15000];
export const NOT_AVAILABLE_DURATION_MS: readonly number[] = [0, 0, 2000, 5000, 6000, 10000, 30000];
export const ISOLATION_LATENCY_MS = 10_000;
/** Brokers tracked at most; the least recently updated is forgotten beyond this. */
export const MAX_FAULT_ITEMS = 4096;

/** MQFaultStrategy.computeNotAvailableDuration: the last step whose latency bound is reached. */
export function computeNotAvailableDurationMs(latencyMs: number): number {
  for (let i = LATENCY_MAX_MS.length - 1; i >= 0; i--) {
    if (latencyMs >= LATENCY_MAX_MS[i]!) return NOT_AVAILABLE_DURATION_MS[i]!;
  }
  return 0;
}

interface FaultItem {
  currentLatencyMs: number;
  /** Available again from this time. */
  startTimestampMs: number;
  reachable: boolean;
}

export class LatencyFaultTolerance {
  private readonly items = new Map<string, FaultItem>();

  constructor(
    /** sendLatencyFaultEnable: when false, updates are ignored and every broker is available. */
    public enabled: boolean,
    private readonly nowMs: () => number = Date.now,
  ) {}

  /**
   * Reports the outcome of one send to `brokerName`: its latency, whether it failed (isolation) and
   * whether the broker could be reached at all.
   */
  updateFaultItem(brokerName: string, latencyMs: number, isolation: boolean, reachable: boolean): void {
    if (!this.enabled) return;
    const durationMs = computeNotAvailableDurationMs(isolation ? ISOLATION_LATENCY_MS : latencyMs);
    const item: FaultItem = { currentLatencyMs: latencyMs, startTimestampMs: this.nowMs() + durationMs, reachable };
    this.items.delete(brokerName); // re-insert: Map order is least recently updated first
    this.items.set(brokerName, item);
    if (this.items.size > MAX_FAULT_ITEMS) this.items.delete(this.items.keys().next().value!);
  }

  isAvailable(brokerName: string): boolean {
    const item = this.items.get(brokerName);
    return item === undefined || this.nowMs() >= item.startTimestampMs;
  }

  isReachable(brokerName: string): boolean {
    return this.items.get(brokerName)?.reachable ?? true;
  }

  remove(brokerName: string): void {
    this.items.delete(brokerName);
  }

  /** When the broker becomes available again (ms since epoch), or undefined if not tracked. */
  availableAtMs(brokerName: string): number | undefined {
    return this.items.get(brokerName)?.startTimestampMs;
  }
}
