// What the three systems' loads share: the interface each client adapter implements, the knobs of
// each client's best usage, the paced latency phase and the summary the driver writes.
//
// Each adapter does the same three things its own way:
//   produce(n)   n messages of the same 1 KiB body, as fast as that client is best driven
//                (NATS: async JetStream publishes with a window of acks in flight; Redis: pipelined
//                XADD batches; Orbit: sendBatch of B messages from S concurrent senders);
//                resolves when every one is acknowledged by the server;
//   consume(n)   reads those n messages back from the start of the stream/topic and checks each body;
//   sendOne()    one message, resolved when its ack arrives (the latency phase paces these).
import { LatencyReservoir } from '../lib/stats.js';
import { sleepMs } from '../lib/timing.js';

export type SystemName = 'nats' | 'redis' | 'orbit';
export const SYSTEM_NAMES: readonly SystemName[] = ['nats', 'redis', 'orbit'];

/** Each client's knobs; the defaults are the settings that gave each system its best throughput here. */
export interface LoadKnobs {
  /** NATS: publishes whose PubAck has not arrived yet, at most. */
  natsWindow: number;
  /** NATS: max_messages of the pull consumer (messages asked for per pull; it keeps pulls outstanding). */
  natsPullBatch: number;
  /** Redis: XADD commands per pipeline … */
  redisPipeline: number;
  /** … and pipelines in flight at once. */
  redisPipelinesInFlight: number;
  /** Redis: COUNT of each XREAD. */
  redisReadCount: number;
  /** Orbit: messages per sendBatch … */
  orbitBatch: number;
  /** … and concurrent senders, each awaiting its batch before the next. */
  orbitSenders: number;
  /** Orbit: consumer kind ('push' = PushConsumer; 'lite' = LitePullConsumer assigned all queues, polling). */
  orbitConsumer: 'lite' | 'push';
  /** Orbit: pullBatchSize (the broker returns at most maxTransferCountOnMessageInMemory, 32 by default). */
  orbitPullBatch: number;
}

export const DEFAULT_KNOBS: LoadKnobs = {
  natsWindow: 1000,
  natsPullBatch: 1000,
  redisPipeline: 1000,
  redisPipelinesInFlight: 2,
  redisReadCount: 1000,
  orbitBatch: 128,
  orbitSenders: 16,
  orbitConsumer: 'push',
  orbitPullBatch: 256,
};

/** The command-line flags that carry `knobs` (peers-bench.ts passes them to load-driver.ts). */
export function knobArgs(k: LoadKnobs): string[] {
  return [
    '--nats-window', String(k.natsWindow),
    '--nats-pull-batch', String(k.natsPullBatch),
    '--redis-pipeline', String(k.redisPipeline),
    '--redis-pipelines', String(k.redisPipelinesInFlight),
    '--redis-read-count', String(k.redisReadCount),
    '--orbit-batch', String(k.orbitBatch),
    '--orbit-senders', String(k.orbitSenders),
    '--orbit-consumer', k.orbitConsumer,
    '--orbit-pull-batch', String(k.orbitPullBatch),
  ];
}

export interface ConsumeTiming {
  /** Messages read and checked. */
  count: number;
  /** performance.now() of the consume call, the first message and the last one. */
  calledMs: number;
  firstMs: number;
  lastMs: number;
}

export interface SystemLoad {
  /** One line per phase saying how the client is used (for the report). */
  readonly usage: { produce: string; consume: string; latency: string };
  produce(count: number, body: Buffer): Promise<void>;
  consume(count: number, bodyBytes: number): Promise<ConsumeTiming>;
  sendOne(body: Buffer): Promise<void>;
  /** Deletes the stream/topic data it can and disconnects. */
  close(): Promise<void>;
}

/** A body whose bytes are a printable, non-repeating pattern (no compression anywhere, but easy to eyeball). */
export function makeBody(bytes: number): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const body = Buffer.allocUnsafe(bytes);
  for (let i = 0; i < bytes; i++) body[i] = alphabet.charCodeAt((i * 7 + (i >> 6)) % alphabet.length);
  return body;
}

/**
 * Runs `start()` (which returns a promise settled when that unit of work is acknowledged) with at
 * most `inFlight` outstanding, `total` times; resolves when all have settled, rejects on the first
 * failure. The sliding window of NATS' async publishes and of Redis' pipelines.
 */
export function runWindowed(total: number, inFlight: number, start: (index: number) => Promise<unknown>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let issued = 0;
    let settled = 0;
    let outstanding = 0;
    let failed = false;
    const pump = () => {
      while (!failed && outstanding < inFlight && issued < total) {
        const index = issued++;
        outstanding++;
        start(index).then(
          () => {
            outstanding--;
            settled++;
            if (settled === total) resolve();
            else pump();
          },
          (err: unknown) => {
            failed = true;
            reject(err);
          },
        );
      }
    };
    if (total === 0) resolve();
    else pump();
  });
}

export interface LatencyOptions {
  ratePerSecond: number;
  warmupSeconds: number;
  seconds: number;
  /** Sends outstanding at most; a send due while this many are out waits (counted as behind). */
  maxInFlight: number;
}

export interface LatencyResult {
  /** Sends acknowledged inside the measured window, and the rate that makes. */
  sent: number;
  achievedPerSecond: number;
  p50Ms: number | null;
  p99Ms: number | null;
  p999Ms: number | null;
  maxMs: number;
  /** Sends that started late because maxInFlight were already out. */
  behind: number;
  failed: number;
  windowStartEpochMs: number;
  windowEndEpochMs: number;
}

/** Time allowed for the last paced sends to be answered after the window. */
const LATENCY_DRAIN_MS = 10_000;

/**
 * Sends at a fixed rate: a 1 ms timer starts the sends that are due (rate × elapsed − started), each
 * one `sendOne()` awaiting its own ack. RT is taken from the call to the ack, for sends started in
 * the measured window (after the warm-up).
 */
export async function runPacedLatency(sendOne: () => Promise<void>, o: LatencyOptions): Promise<LatencyResult> {
  const reservoir = new LatencyReservoir(200_000);
  const begin = performance.now();
  const windowStart = begin + o.warmupSeconds * 1000;
  const end = windowStart + o.seconds * 1000;
  let started = 0;
  let inFlight = 0;
  let waiting = 0;
  let behind = 0;
  let failed = 0;
  let sent = 0;
  let maxMs = 0;
  let windowStartEpochMs = 0;
  let firstError: unknown;

  const startOne = () => {
    inFlight++;
    const t0 = performance.now();
    const counted = t0 >= windowStart && t0 < end;
    sendOne().then(
      () => {
        const rt = performance.now() - t0;
        if (counted) {
          sent++;
          reservoir.add(rt);
          if (rt > maxMs) maxMs = rt;
        }
        done();
      },
      (err: unknown) => {
        failed++;
        firstError ??= err;
        done();
      },
    );
  };
  const done = () => {
    inFlight--;
    if (waiting > 0 && performance.now() < end) {
      waiting--;
      startOne();
    }
  };

  while (performance.now() < end) {
    const now = performance.now();
    if (windowStartEpochMs === 0 && now >= windowStart) windowStartEpochMs = Date.now();
    const due = Math.floor(((now - begin) / 1000) * o.ratePerSecond) - started;
    for (let i = 0; i < due; i++) {
      started++;
      if (inFlight < o.maxInFlight) startOne();
      else {
        waiting++;
        if (now >= windowStart) behind++;
      }
    }
    if (failed > 100) break;
    await sleepMs(1);
  }
  const windowEndEpochMs = Date.now();
  waiting = 0;
  const drainUntil = performance.now() + LATENCY_DRAIN_MS;
  while (inFlight > 0 && performance.now() < drainUntil) await sleepMs(2);
  if (failed > 0 && sent === 0) throw firstError instanceof Error ? firstError : new Error(String(firstError));
  const [p50, p99, p999] = reservoir.percentiles([50, 99, 99.9]) ?? [];
  return {
    sent,
    achievedPerSecond: sent / o.seconds,
    p50Ms: p50 ?? null,
    p99Ms: p99 ?? null,
    p999Ms: p999 ?? null,
    maxMs,
    behind,
    failed,
    windowStartEpochMs,
    windowEndEpochMs,
  };
}

/** What one run of the driver writes (one system: produce, consume, latency). */
export interface DriverSummary {
  system: SystemName;
  clientVersion: string;
  usage: { produce: string; consume: string; latency: string };
  count: number;
  bodyBytes: number;
  produce: PhaseSummary;
  consume: PhaseSummary & { startupMs: number };
  latency: LatencyResult & { clientCpuPercent: number };
}

export interface PhaseSummary {
  messages: number;
  seconds: number;
  msgsPerSecond: number;
  /** Body bytes per second, 1 MB = 10^6 bytes. */
  megabytesPerSecond: number;
  startEpochMs: number;
  endEpochMs: number;
  /** This process, % of one core over the phase. */
  clientCpuPercent: number;
}
