// What producer.ts and consumer.ts share: RocketMQ-style option parsing (`-w 64`, `-k true`,
// `--seconds 10`), RocketMQ's time stamp, Java's %7.3f, bodies, and the summary files the broker
// benchmark reads back.

/** yyyy-MM-dd HH:mm:ss,SSS in local time, as RocketMQ's UtilAll.timeMillisToHumanString2. */
export function humanTime(ms = Date.now()): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())},${p(d.getMilliseconds(), 3)}`;
}

/** Java's String.format("%7.3f", x). */
export function f73(value: number): string {
  return (Number.isFinite(value) ? value : 0).toFixed(3).padStart(7);
}

/** Java's %d of a long (the value truncated toward zero). */
export function d(value: number): string {
  return String(Number.isFinite(value) ? Math.trunc(value) : 0);
}

export interface OptionSpec {
  /** RocketMQ's short name without the dash ("w"), or a long name ("seconds") used as `--seconds`. */
  names: string[];
  kind: 'string' | 'number' | 'boolean';
  help: string;
}

/**
 * Parses `-x value`, `--long value`, `--long=value`; a boolean takes an optional `true`/`false`
 * (RocketMQ writes `-k true`). Unknown options throw.
 */
export function parseToolArgs(argv: string[], specs: OptionSpec[]): Map<string, string | number | boolean> {
  const byName = new Map<string, OptionSpec>();
  for (const s of specs) for (const n of s.names) byName.set(n, s);
  const out = new Map<string, string | number | boolean>();
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i]!;
    const m = /^--?([A-Za-z][\w-]*)(?:=(.*))?$/.exec(raw);
    if (!m) throw new RangeError(`unexpected argument "${raw}"`);
    const spec = byName.get(m[1]!);
    if (!spec) throw new RangeError(`unknown option "${raw}"`);
    const key = spec.names[0]!;
    let value = m[2];
    if (spec.kind === 'boolean') {
      if (value === undefined && (argv[i + 1] === 'true' || argv[i + 1] === 'false')) value = argv[++i];
      out.set(key, value === undefined ? true : value === 'true');
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new RangeError(`option ${raw} needs a value`);
      value = argv[++i]!;
    }
    if (spec.kind === 'number') {
      const n = Number(value);
      if (!Number.isFinite(n)) throw new RangeError(`option ${raw} needs a number, not "${value}"`);
      out.set(key, n);
    } else {
      out.set(key, value);
    }
  }
  return out;
}

export function usageText(command: string, specs: OptionSpec[]): string {
  const lines = specs.map((s) => {
    const flags = s.names.map((n) => (n.length === 1 ? `-${n}` : `--${n}`)).join(', ');
    return `  ${flags.padEnd(24)} ${s.help}`;
  });
  return `usage: ${command} [options]\n${lines.join('\n')}`;
}

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** `count` random alphanumeric bodies of `size` bytes (RocketMQ's benchmark bodies), cycled by senders. */
export function bodyPool(size: number, count = 64): Buffer[] {
  const pool: Buffer[] = [];
  for (let b = 0; b < count; b++) {
    const body = Buffer.allocUnsafe(size);
    for (let i = 0; i < size; i++) body[i] = ALPHANUMERIC.charCodeAt(Math.floor(Math.random() * ALPHANUMERIC.length));
    pool.push(body);
  }
  return pool;
}

/** A point of a cumulative count over time (for lag between a producer and a consumer). */
export interface TimelinePoint {
  /** Date.now() when taken. */
  epochMs: number;
  /** Cumulative count since the tool started (warm-up included). */
  count: number;
}

/** Samples taken every this many ms for the timeline in the summary file. */
export const TIMELINE_INTERVAL_MS = 100;

export interface ProducerSummary {
  tool: 'producer';
  options: Record<string, unknown>;
  /** Epoch ms of the measured window (after warm-up). */
  windowStartEpochMs: number;
  windowEndEpochMs: number;
  windowSeconds: number;
  /** Requests answered SEND_OK (or another send status) inside the window. */
  requestsOk: number;
  messagesOk: number;
  sendTps: number;
  sendMps: number;
  sendFailed: number;
  responseFailed: number;
  maxRtMs: number;
  avgRtMs: number;
  p50RtMs: number | null;
  p99RtMs: number | null;
  p999RtMs: number | null;
  /** Messages acknowledged since start (warm-up included) and when the last one was. */
  totalMessagesOk: number;
  lastAckEpochMs: number;
  /** --rate: messages whose send started late because -w requests were already in flight. */
  sendsBehind: number;
  /** CPU of this process over the window, % of one core. */
  cpuPercent: number;
  timeline: TimelinePoint[];
}

export interface ConsumerSummary {
  tool: 'consumer';
  options: Record<string, unknown>;
  group: string;
  windowStartEpochMs: number;
  windowEndEpochMs: number;
  windowSeconds: number;
  consumed: number;
  consumeTps: number;
  consumeFail: number;
  avgB2CMs: number;
  avgS2CMs: number;
  maxB2CMs: number;
  maxS2CMs: number;
  p50B2CMs: number | null;
  p99B2CMs: number | null;
  /** Messages consumed since start and the time of the first and last. */
  totalConsumed: number;
  firstConsumeEpochMs: number;
  lastConsumeEpochMs: number;
  /** Why it stopped: seconds elapsed, quantity reached, idle, signal. */
  stoppedBy: string;
  cpuPercent: number;
  timeline: TimelinePoint[];
}
