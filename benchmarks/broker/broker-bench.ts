// Broker benchmark: how fast a real Orbit broker takes and serves 1 KiB messages from real clients
// over loopback, next to the raw cost of a Node-to-Node request/response measured in the same run.
//
//   node --import tsx benchmarks/broker/broker-bench.ts [--runs 3] [--seconds 3] [--warmup 1] [--quick] [--only TEXT] [--verbose]
//
// What it does, in one go:
//   1. starts a NameServer and a single-master ASYNC_FLUSH broker as their own processes
//      (bin/mqnamesrv, bin/mqbroker -c <properties>) on 127.0.0.1 with ports the OS picks, over a
//      temporary store (commit-log segments of 256 MiB instead of 1 GiB, to bound disk use);
//   2. creates topic BenchmarkTest with 8 queues;
//   3. runs the cases below, each --runs times, and reports medians:
//        baselines   a plain Node TCP echo (1 KiB requests, 16-byte acks, its own process) with
//                    1/16/64/256 requests in flight, and with 256 in flight written one per write
//        produce     producer.ts unbatched at concurrency 1, 16, 64; batches of 32 and 128 at 16
//        consume     consumer.ts draining the backlog with a fresh group
//        produce+consume  producer.ts ×64 and consumer.ts at once on a fresh topic: rates and lag
//        latency     producer.ts at a steady 20,000 msgs/s: send RT p50/p99
//      Load comes from the real tools (producer.ts, consumer.ts) run as child processes, so the
//      broker, the load and the baseline all cross a process boundary the same way;
//   4. prints the table and the targets with PASS/FAIL, writes results/broker-<time>.json and
//      broker-latest.{json,md,svg}, and stops everything it started (also on Ctrl-C).
// Not a test: benchmarks never run in CI.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProcess, type RunningProcess } from '../lib/child-processes.js';
import { formatCount, formatDecimal, formatRatio } from '../lib/format.js';
import { CpuSampler, machineBusySeconds, type CpuUsage } from '../lib/process-cpu.js';
import { Progress } from '../lib/progress.js';
import { describeMachine, machineInfo, writeResults } from '../lib/results.js';
import { freshScratchDir } from '../lib/scratch-dir.js';
import { summarize, type Summary } from '../lib/stats.js';
import { groupedBarChartSvg } from '../lib/svg-chart.js';
import { renderMarkdownTable, renderTextTable, type Table } from '../lib/table.js';
import { LISTENING_PATTERN, runEchoClient } from '../lib/tcp-echo.js';
import { sleepMs, withTimeout } from '../lib/timing.js';
import { BENCH_COMMIT_LOG_SEGMENT_BYTES, startLocalCluster, topicMessageCount, TSX_LOADER, type LocalCluster } from './local-cluster.js';
import type { ConsumerSummary, ProducerSummary, TimelinePoint } from './tool-common.js';
import { runMain, walkFlags } from '../lib/cli.js';
import { printWrittenResults, renderReportPage } from '../lib/report.js';

// ---- fixed parameters ---------------------------------------------------------------------------

const TOPIC = 'BenchmarkTest';
const QUEUE_COUNT = 8;
const MESSAGE_BYTES = 1024;
const STEADY_RATE = 20_000;
const STEADY_IN_FLIGHT = 64;
const CONSUMER_THREADS = 20;
/** A drain run must not run out of messages: the topic is topped up to this many first. */
const DRAIN_MIN_BACKLOG = 3_000_000;
/** The consumer of the produce+consume case stops once nothing arrived for this long after the producer ended. */
const IDLE_STOP_SECONDS = 2;
const SETTLE_BETWEEN_RUNS_MS = 300;
/** Before each run: wait while other work keeps the machine busier than this (% of one core; 200 = both cores). */
const QUIET_BUSY_PERCENT = 40;
const QUIET_SAMPLE_MS = 500;
const QUIET_MAX_WAIT_MS = 15_000;
const TOOL_EXTRA_TIMEOUT_MS = 90_000;

const PRODUCER_SCRIPT = fileURLToPath(new URL('./producer.ts', import.meta.url));
const CONSUMER_SCRIPT = fileURLToPath(new URL('./consumer.ts', import.meta.url));
const ECHO_SCRIPT = fileURLToPath(new URL('../lib/tcp-echo.ts', import.meta.url));

const TARGETS = {
  batchedMsgsPerSecond: 300_000,
  unbatchedX64MsgsPerSecond: 80_000,
  steadyP99Ms: 5,
  /** Consumers keep up: consume rate over the producer's window ≥ this share of the produce rate … */
  keepUpRateShare: 0.95,
  /** … and the lag when the producer stops is at most this many seconds of production. */
  keepUpLagSeconds: 1,
  /** The steady case counts only when it reached this share of its rate. */
  steadyRateShare: 0.98,
};

// ---- options --------------------------------------------------------------------------------------

interface Options {
  runs: number;
  seconds: number;
  warmup: number;
  quick: boolean;
  only: string | undefined;
  verbose: boolean;
}

const USAGE = `usage: node --import tsx benchmarks/broker/broker-bench.ts [--runs N] [--seconds S] [--warmup S] [--quick] [--only TEXT] [--verbose]
  --runs N      runs per case; the table shows the median, min and max (default 3; 1 with --quick)
  --seconds S   measured seconds per run (default 3; 1.5 with --quick)
  --warmup S    seconds of each run before the measured window, not counted (default 1; 0.5 with --quick)
  --quick       smoke run: 1 run per case, shorter windows
  --only TEXT   only the cases whose label contains TEXT from a word start (case-insensitive), e.g. "send", "echo"
  --verbose     show the broker's, NameServer's and tools' output`;

function parseOptions(argv: string[]): Options {
  const o: Options = { runs: NaN, seconds: NaN, warmup: NaN, quick: false, only: undefined, verbose: false };
  walkFlags(argv, USAGE, (a, next) => {
    if (a === '--runs') o.runs = Number(next());
    else if (a === '--seconds') o.seconds = Number(next());
    else if (a === '--warmup') o.warmup = Number(next());
    else if (a === '--quick') o.quick = true;
    else if (a === '--only') o.only = next();
    else if (a === '--verbose') o.verbose = true;
    else return false;
    return true;
  });
  if (Number.isNaN(o.runs)) o.runs = o.quick ? 1 : 3;
  if (Number.isNaN(o.seconds)) o.seconds = o.quick ? 1.5 : 3;
  if (Number.isNaN(o.warmup)) o.warmup = o.quick ? 0.5 : 1;
  if (!Number.isInteger(o.runs) || o.runs < 1 || o.runs > 50) throw new RangeError('--runs must be an integer 1..50');
  if (!(o.seconds >= 0.5 && o.seconds <= 600)) throw new RangeError('--seconds must be 0.5..600');
  if (!(o.warmup >= 0 && o.warmup <= 60)) throw new RangeError('--warmup must be 0..60');
  return o;
}

// ---- cases ------------------------------------------------------------------------------------------

type CaseKind = 'echo' | 'produce' | 'drain' | 'produce-consume' | 'steady';
type ChartGroup = 'loopback echo baseline' | 'produce' | 'consume';

interface CaseSpec {
  id: string;
  label: string;
  kind: CaseKind;
  unit: 'requests/s' | 'msgs/s';
  chartGroup?: ChartGroup;
  /** echo */
  inFlight?: number;
  writeEach?: boolean;
  /** producer */
  threads?: number;
  batch?: number;
  rate?: number;
  baselineId?: string;
  /** What the RT columns mean for this case. */
  rtMeaning?: string;
}

function buildCases(options: Options): CaseSpec[] {
  const echo = (n: number, writeEach = false): CaseSpec => ({
    id: `echo-x${n}${writeEach ? '-each' : ''}`,
    label: `echo 1KiB x${n}${writeEach ? ' write-each' : ''}`,
    kind: 'echo',
    unit: 'requests/s',
    chartGroup: 'loopback echo baseline',
    inFlight: n,
    writeEach,
  });
  const cases: CaseSpec[] = [
    echo(1),
    echo(16),
    echo(64),
    echo(256),
    echo(256, true),
    { id: 'send-x1', label: 'send 1KiB x1', kind: 'produce', unit: 'msgs/s', chartGroup: 'produce', threads: 1, batch: 1, baselineId: 'echo-x1', rtMeaning: 'send RT' },
    { id: 'send-x16', label: 'send 1KiB x16', kind: 'produce', unit: 'msgs/s', chartGroup: 'produce', threads: 16, batch: 1, baselineId: 'echo-x16', rtMeaning: 'send RT' },
    { id: 'send-x64', label: 'send 1KiB x64', kind: 'produce', unit: 'msgs/s', chartGroup: 'produce', threads: 64, batch: 1, baselineId: 'echo-x64', rtMeaning: 'send RT' },
    { id: 'batch32-x16', label: 'batch32 1KiB x16', kind: 'produce', unit: 'msgs/s', chartGroup: 'produce', threads: 16, batch: 32, baselineId: 'echo-x256', rtMeaning: 'RT of a 32-message request' },
    { id: 'batch128-x16', label: 'batch128 1KiB x16', kind: 'produce', unit: 'msgs/s', chartGroup: 'produce', threads: 16, batch: 128, baselineId: 'echo-x256', rtMeaning: 'RT of a 128-message request' },
    { id: 'drain', label: `consume drain 1KiB w${CONSUMER_THREADS}`, kind: 'drain', unit: 'msgs/s', chartGroup: 'consume', threads: CONSUMER_THREADS, baselineId: 'echo-x256', rtMeaning: 'none (old messages)' },
    { id: 'produce-consume', label: 'produce+consume 1KiB x64', kind: 'produce-consume', unit: 'msgs/s', chartGroup: 'consume', threads: 64, batch: 1, baselineId: 'echo-x64', rtMeaning: 'B2C (born to consumed)' },
    { id: 'steady-20k', label: `steady 20k/s 1KiB x${STEADY_IN_FLIGHT} max`, kind: 'steady', unit: 'msgs/s', threads: STEADY_IN_FLIGHT, batch: 1, rate: STEADY_RATE, rtMeaning: 'send RT' },
  ];
  if (options.only === undefined) return cases;
  const wanted = options.only.toLowerCase();
  return cases.filter((c) => ` ${c.label.toLowerCase()}`.includes(` ${wanted}`));
}

// ---- one run of each kind ---------------------------------------------------------------------------

interface RunMeasure {
  rate: number;
  p50Ms?: number;
  p99Ms?: number;
  p999Ms?: number;
  brokerCpu?: CpuUsage;
  /** CPU of the load side (the tool processes, or this process for the echo client), % of a core. */
  clientCpuPercent?: number;
  /** Everything on the machine during the window, % of a core (200 % = both cores busy). */
  machinePercent?: number;
  /** machinePercent − server − client: what processes outside the benchmark took. */
  othersPercent?: number;
  failed?: number;
  /** produce+consume */
  produceRate?: number;
  lagAtEndMsgs?: number;
  maxLagMsgs?: number;
  catchUpMs?: number | null;
  consumedOfProduced?: string;
  keptUp?: boolean;
  /** steady */
  sendsBehind?: number;
  note?: string;
}

interface Context {
  options: Options;
  cluster: LocalCluster;
  echoBatch?: RunningProcess;
  echoEach?: RunningProcess;
  toolDir: string;
  log: (line: string) => void;
  progress: Progress;
}

let toolRunSeq = 0;

/** Runs producer.ts or consumer.ts to its end and returns its summary. */
async function runTool<T>(ctx: Context, script: string, args: string[], timeoutMs: number, onStarted?: (p: RunningProcess) => void, readyPattern?: RegExp): Promise<T> {
  const jsonOut = join(ctx.toolDir, `tool-${++toolRunSeq}.json`);
  const name = script === PRODUCER_SCRIPT ? 'producer' : 'consumer';
  const p = await startProcess({
    name,
    command: process.execPath,
    args: ['--import', TSX_LOADER, script, ...args, '--json-out', jsonOut, '--no-results'],
    onStdout: ctx.options.verbose ? (t) => ctx.log(`[${name}] ${t.trimEnd()}`) : undefined,
    onStderr: (t) => ctx.log(`[${name}] ${t.trimEnd()}`),
    readyPattern,
    readyTimeoutMs: 30_000,
  });
  onStarted?.(p);
  let code: number | string;
  try {
    code = await withTimeout(p.exited, timeoutMs, name);
  } catch (err) {
    await p.stop(2_000);
    throw err;
  }
  if (code !== 0) throw new Error(`${name} exited ${code}: ${p.output().trim().split('\n').slice(-3).join(' / ')}`);
  return JSON.parse(readFileSync(jsonOut, 'utf8')) as T;
}

function producerArgs(ctx: Context, spec: { topic?: string; threads: number; batch: number; rate?: number; seconds: number; warmup: number; quantity?: number }): string[] {
  const args = ['-n', ctx.cluster.namesrvAddr, '-t', spec.topic ?? TOPIC, '-w', String(spec.threads), '-s', String(MESSAGE_BYTES), '-b', String(spec.batch)];
  args.push('--seconds', String(spec.seconds), '--warmup', String(spec.warmup));
  if (spec.rate) args.push('--rate', String(spec.rate));
  if (spec.quantity) args.push('-q', String(spec.quantity));
  return args;
}

async function runEcho(ctx: Context, spec: CaseSpec): Promise<RunMeasure> {
  const server = spec.writeEach ? ctx.echoEach! : ctx.echoBatch!;
  const sampler = new CpuSampler(server.pid).start();
  const before = process.cpuUsage();
  const t0 = Date.now();
  const r = await runEchoClient(server.ready[1]!, {
    inFlight: spec.inFlight!,
    warmupMs: ctx.options.warmup * 1000,
    measureMs: ctx.options.seconds * 1000,
    writeEach: spec.writeEach,
  });
  const t1 = Date.now();
  sampler.stop();
  const own = process.cpuUsage(before);
  const serverCpu = sampler.usageBetween(t1 - r.seconds * 1000, t1);
  const clientCpuPercent = ((own.user + own.system) / 1000 / (t1 - t0)) * 100;
  return { rate: r.requestsPerSecond, brokerCpu: serverCpu, clientCpuPercent, machinePercent: serverCpu?.machinePercent };
}

async function runProduce(ctx: Context, spec: CaseSpec): Promise<RunMeasure> {
  const { options } = ctx;
  const sampler = new CpuSampler(ctx.cluster.broker.pid).start();
  try {
    const s = await runTool<ProducerSummary>(
      ctx,
      PRODUCER_SCRIPT,
      producerArgs(ctx, { threads: spec.threads!, batch: spec.batch!, rate: spec.rate, seconds: options.warmup + options.seconds, warmup: options.warmup }),
      (options.warmup + options.seconds) * 1000 + TOOL_EXTRA_TIMEOUT_MS,
    );
    sampler.stop();
    const brokerCpu = sampler.usageBetween(s.windowStartEpochMs, s.windowEndEpochMs);
    return {
      rate: s.sendMps,
      p50Ms: s.p50RtMs ?? undefined,
      p99Ms: s.p99RtMs ?? undefined,
      p999Ms: s.p999RtMs ?? undefined,
      brokerCpu,
      clientCpuPercent: s.cpuPercent,
      machinePercent: brokerCpu?.machinePercent,
      failed: s.sendFailed + s.responseFailed,
      sendsBehind: spec.rate ? s.sendsBehind : undefined,
    };
  } finally {
    sampler.stop();
  }
}

/** Tops the topic up so a drain run cannot run dry (needed when earlier cases were left out with --only). */
async function ensureBacklog(ctx: Context): Promise<void> {
  const have = await topicMessageCount(ctx.cluster.namesrvAddr, TOPIC);
  if (have >= DRAIN_MIN_BACKLOG) return;
  const missing = DRAIN_MIN_BACKLOG - have;
  ctx.progress.note(`filling ${TOPIC} with ${formatCount(missing)} more messages for the drain case (has ${formatCount(have)})`);
  await runTool<ProducerSummary>(ctx, PRODUCER_SCRIPT, producerArgs(ctx, { threads: 16, batch: 128, seconds: 0, warmup: 0, quantity: missing }), 300_000);
}

async function runDrain(ctx: Context, spec: CaseSpec): Promise<RunMeasure> {
  const { options } = ctx;
  const sampler = new CpuSampler(ctx.cluster.broker.pid).start();
  try {
    const total = options.warmup + options.seconds;
    const s = await runTool<ConsumerSummary>(
      ctx,
      CONSUMER_SCRIPT,
      ['-n', ctx.cluster.namesrvAddr, '-t', TOPIC, '-g', 'bench_drain', '-p', '--from', 'first', '-w', String(spec.threads), '--seconds', String(total), '--warmup', String(options.warmup), '--idle-stop', String(IDLE_STOP_SECONDS), '--timeout', String(total + 60)],
      total * 1000 + TOOL_EXTRA_TIMEOUT_MS,
    );
    sampler.stop();
    const brokerCpu = sampler.usageBetween(s.windowStartEpochMs, s.windowEndEpochMs);
    return {
      rate: s.consumeTps,
      brokerCpu,
      clientCpuPercent: s.cpuPercent,
      machinePercent: brokerCpu?.machinePercent,
      failed: s.consumeFail,
      note: s.stoppedBy === 'idle' ? 'the backlog ran out before the window ended' : undefined,
    };
  } finally {
    sampler.stop();
  }
}

/** The cumulative count of a timeline at an epoch time, interpolated linearly. */
function countAt(timeline: TimelinePoint[], epochMs: number): number {
  if (timeline.length === 0) return 0;
  if (epochMs <= timeline[0]!.epochMs) return timeline[0]!.count;
  for (let i = 1; i < timeline.length; i++) {
    const b = timeline[i]!;
    if (b.epochMs >= epochMs) {
      const a = timeline[i - 1]!;
      const span = b.epochMs - a.epochMs;
      return span > 0 ? a.count + ((b.count - a.count) * (epochMs - a.epochMs)) / span : b.count;
    }
  }
  return timeline[timeline.length - 1]!.count;
}

async function runProduceConsume(ctx: Context, spec: CaseSpec, run: number): Promise<RunMeasure> {
  const { options } = ctx;
  const topic = `BenchmarkPC_${Date.now() % 1_000_000_000}_${run}`;
  await ctx.cluster.createTopic(topic, QUEUE_COUNT);
  const sampler = new CpuSampler(ctx.cluster.broker.pid).start();
  const total = options.warmup + options.seconds;
  let consumerProcess: RunningProcess | undefined;
  try {
    let consumerStarted!: () => void;
    const started = new Promise<void>((r) => (consumerStarted = r));
    const consumerDone = runTool<ConsumerSummary>(
      ctx,
      CONSUMER_SCRIPT,
      ['-n', ctx.cluster.namesrvAddr, '-t', topic, '-g', 'bench_pc', '-p', '--from', 'first', '-w', String(CONSUMER_THREADS), '--warmup', String(options.warmup), '--idle-stop', String(IDLE_STOP_SECONDS), '--timeout', String(total + 120)],
      total * 1000 + 2 * TOOL_EXTRA_TIMEOUT_MS,
      (p) => {
        consumerProcess = p;
        consumerStarted();
      },
      /Rebalance done: \d+ queues/,
    );
    consumerDone.catch(() => consumerStarted());
    // The producer starts once the consumer owns its queues and its first pulls are out.
    await started;
    await sleepMs(200);
    const p = await runTool<ProducerSummary>(ctx, PRODUCER_SCRIPT, producerArgs(ctx, { topic, threads: spec.threads!, batch: 1, seconds: total, warmup: options.warmup }), total * 1000 + TOOL_EXTRA_TIMEOUT_MS);
    const c = await consumerDone;
    sampler.stop();
    const ws = p.windowStartEpochMs;
    const we = p.windowEndEpochMs;
    const consumedInWindow = countAt(c.timeline, we) - countAt(c.timeline, ws);
    const consumeRate = consumedInWindow / p.windowSeconds;
    const lagAt = (t: number) => Math.max(0, countAt(p.timeline, t) - countAt(c.timeline, t));
    let maxLag = 0;
    const lagAtEnd = lagAt(we);
    for (let t = ws; t < we; t += 100) maxLag = Math.max(maxLag, lagAt(t));
    maxLag = Math.max(maxLag, lagAtEnd);
    const produced = p.totalMessagesOk;
    const caughtUp = c.totalConsumed >= produced;
    const catchUpMs = caughtUp ? Math.max(0, c.lastConsumeEpochMs - p.lastAckEpochMs) : null;
    const keptUp = consumeRate >= TARGETS.keepUpRateShare * p.sendMps && lagAtEnd <= TARGETS.keepUpLagSeconds * p.sendMps;
    const brokerCpu = sampler.usageBetween(ws, we);
    return {
      rate: consumeRate,
      produceRate: p.sendMps,
      p50Ms: c.p50B2CMs ?? undefined,
      p99Ms: c.p99B2CMs ?? undefined,
      brokerCpu,
      clientCpuPercent: p.cpuPercent + c.cpuPercent,
      machinePercent: brokerCpu?.machinePercent,
      failed: p.sendFailed + p.responseFailed + c.consumeFail,
      lagAtEndMsgs: lagAtEnd,
      maxLagMsgs: maxLag,
      catchUpMs,
      consumedOfProduced: `${c.totalConsumed}/${produced}`,
      keptUp,
    };
  } finally {
    sampler.stop();
    await consumerProcess?.stop(2_000);
  }
}

// ---- running, reporting -----------------------------------------------------------------------------

/** Machine busy % (of 200 on 2 cores) over a short window, from /proc/stat; NaN where unavailable. */
async function machineBusyPercent(windowMs: number): Promise<number> {
  const a = machineBusySeconds();
  const t0 = performance.now();
  await sleepMs(windowMs);
  const b = machineBusySeconds();
  return ((b - a) / ((performance.now() - t0) / 1000)) * 100;
}

/**
 * Before a run, waits (up to QUIET_MAX_WAIT_MS) until other work leaves the machine at most
 * QUIET_BUSY_PERCENT busy: the benchmark's own servers idle at a few percent. It does not help
 * against a long test run next door, but it keeps a burst of other work from landing on a run.
 */
async function waitForQuietMachine(): Promise<{ firstBusyPercent: number; busyPercent: number; waitedSeconds: number }> {
  const start = performance.now();
  const first = await machineBusyPercent(QUIET_SAMPLE_MS);
  let busy = first;
  while (busy > QUIET_BUSY_PERCENT && performance.now() - start < QUIET_MAX_WAIT_MS) busy = await machineBusyPercent(QUIET_SAMPLE_MS);
  const waited = (performance.now() - start - QUIET_SAMPLE_MS) / 1000;
  const finite = (v: number) => (Number.isFinite(v) ? v : 0);
  return { firstBusyPercent: finite(first), busyPercent: finite(busy), waitedSeconds: waited > 0.1 ? waited : 0 };
}

interface CaseResult {
  spec: CaseSpec;
  runs: RunMeasure[];
  rate?: Summary;
  ratio?: number;
  p50Ms?: number;
  p99Ms?: number;
  p999Ms?: number;
  brokerCpuPercent?: number;
  brokerMainPercent?: number;
  brokerBusiestOtherPercent?: number;
  clientCpuPercent?: number;
  machinePercent?: number;
  othersPercent?: number;
  /** Busy % of the machine (of 200) just before the case started, and how long it waited for a quieter machine. */
  busyBeforePercent?: number;
  waitedForQuietSeconds?: number;
  produceRate?: number;
  lagAtEndMsgs?: number;
  maxLagMsgs?: number;
  catchUpMs?: number;
  keptUpRuns?: number;
  failed?: number;
  error?: string;
}

function medianOf(runs: RunMeasure[], pick: (r: RunMeasure) => number | undefined | null): number | undefined {
  const values = runs.map(pick).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  return values.length > 0 ? summarize(values).median : undefined;
}

function finishCase(r: CaseResult): void {
  if (r.runs.length === 0) return;
  r.rate = summarize(r.runs.map((x) => x.rate));
  r.p50Ms = medianOf(r.runs, (x) => x.p50Ms);
  r.p99Ms = medianOf(r.runs, (x) => x.p99Ms);
  r.p999Ms = medianOf(r.runs, (x) => x.p999Ms);
  r.brokerCpuPercent = medianOf(r.runs, (x) => x.brokerCpu?.processPercent);
  r.brokerMainPercent = medianOf(r.runs, (x) => x.brokerCpu?.mainThreadPercent);
  r.brokerBusiestOtherPercent = medianOf(r.runs, (x) => x.brokerCpu?.busiestOtherThreadPercent);
  r.clientCpuPercent = medianOf(r.runs, (x) => x.clientCpuPercent);
  r.machinePercent = medianOf(r.runs, (x) => x.machinePercent);
  r.othersPercent = medianOf(r.runs, (x) => x.othersPercent);
  r.produceRate = medianOf(r.runs, (x) => x.produceRate);
  r.lagAtEndMsgs = medianOf(r.runs, (x) => x.lagAtEndMsgs);
  r.maxLagMsgs = medianOf(r.runs, (x) => x.maxLagMsgs);
  r.catchUpMs = medianOf(r.runs, (x) => x.catchUpMs);
  if (r.spec.kind === 'produce-consume') r.keptUpRuns = r.runs.filter((x) => x.keptUp).length;
  r.failed = r.runs.reduce((n, x) => n + (x.failed ?? 0), 0);
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message.split('\n')[0]!;
  return String(err);
}

function shortResult(r: CaseResult, options: Options): string {
  const main = `${formatCount(r.rate!.median)} ${r.spec.unit}${options.runs > 1 ? ` (runs ${formatCount(r.rate!.min)}–${formatCount(r.rate!.max)})` : ''}`;
  const extra: string[] = [];
  if (r.p99Ms !== undefined && r.spec.kind !== 'drain') extra.push(`p99 ${formatDecimal(r.p99Ms, 2)} ms`);
  if (r.brokerMainPercent !== undefined && r.spec.kind !== 'echo') extra.push(`broker main thread ${formatCount(r.brokerMainPercent)}%`);
  if (r.spec.kind === 'produce-consume') extra.push(`produced ${formatCount(r.produceRate ?? NaN)}/s, lag at end ${formatCount(r.lagAtEndMsgs ?? NaN)}`);
  return extra.length ? `${main}, ${extra.join(', ')}` : main;
}

async function runCases(cases: CaseSpec[], ctx: Context): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const spec of cases) {
    const result: CaseResult = { spec, runs: [] };
    results.push(result);
    ctx.progress.start();
    result.waitedForQuietSeconds = 0;
    try {
      if (spec.kind === 'drain') await ensureBacklog(ctx);
      for (let run = 0; run < ctx.options.runs; run++) {
        const quiet = await waitForQuietMachine();
        result.waitedForQuietSeconds += quiet.waitedSeconds;
        if (run === 0) result.busyBeforePercent = quiet.busyPercent;
        if (quiet.waitedSeconds > 0) {
          ctx.progress.note(
            quiet.busyPercent > QUIET_BUSY_PERCENT
              ? `${spec.label} run ${run + 1}: other work keeps the machine ${formatCount(quiet.busyPercent)} % busy (of 200 %); waited ${quiet.waitedSeconds.toFixed(0)} s, running anyway`
              : `${spec.label} run ${run + 1}: waited ${quiet.waitedSeconds.toFixed(0)} s for other work to calm down (machine ${formatCount(quiet.firstBusyPercent)} % busy, then ${formatCount(quiet.busyPercent)} %)`,
          );
        }
        if (spec.kind !== 'echo' && ctx.cluster.broker.child.exitCode !== null) throw new Error('the broker is not running');
        switch (spec.kind) {
          case 'echo':
            result.runs.push(await runEcho(ctx, spec));
            break;
          case 'produce':
          case 'steady':
            result.runs.push(await runProduce(ctx, spec));
            break;
          case 'drain':
            result.runs.push(await runDrain(ctx, spec));
            break;
          case 'produce-consume':
            result.runs.push(await runProduceConsume(ctx, spec, run));
            break;
        }
        const last = result.runs[result.runs.length - 1]!;
        if (last.machinePercent !== undefined) {
          last.othersPercent = Math.max(0, last.machinePercent - (last.brokerCpu?.processPercent ?? 0) - (last.clientCpuPercent ?? 0));
        }
        await sleepMs(SETTLE_BETWEEN_RUNS_MS);
      }
    } catch (err) {
      result.error = errorText(err);
    }
    finishCase(result);
    if (result.error || !result.rate) ctx.progress.fail(spec.label, result.error ?? 'no run finished');
    else ctx.progress.finish(spec.label, shortResult(result, ctx.options));
  }
  const byId = new Map(results.map((r) => [r.spec.id, r]));
  for (const r of results) {
    const base = r.spec.baselineId ? byId.get(r.spec.baselineId) : undefined;
    if (r.rate && base?.rate) r.ratio = r.rate.median / base.rate.median;
  }
  return results;
}

interface TargetResult {
  name: string;
  caseLabel: string;
  measured: string;
  verdict: 'PASS' | 'FAIL' | 'NOT MEASURED';
}

function evaluateTargets(results: CaseResult[]): TargetResult[] {
  const byId = new Map(results.filter((r) => r.rate && !r.error).map((r) => [r.spec.id, r]));
  const out: TargetResult[] = [];
  const batched = ['batch32-x16', 'batch128-x16'].map((id) => byId.get(id)).filter((r): r is CaseResult => r !== undefined).sort((a, b) => b.rate!.median - a.rate!.median)[0];
  out.push(
    batched
      ? { name: `batched produce ≥ ${formatCount(TARGETS.batchedMsgsPerSecond)} msgs/s (best of batch 32/128, x16)`, caseLabel: batched.spec.label, measured: `${formatCount(batched.rate!.median)} msgs/s`, verdict: batched.rate!.median >= TARGETS.batchedMsgsPerSecond ? 'PASS' : 'FAIL' }
      : { name: `batched produce ≥ ${formatCount(TARGETS.batchedMsgsPerSecond)} msgs/s`, caseLabel: '—', measured: '—', verdict: 'NOT MEASURED' },
  );
  const x64 = byId.get('send-x64');
  out.push(
    x64
      ? { name: `unbatched produce, concurrency 64 ≥ ${formatCount(TARGETS.unbatchedX64MsgsPerSecond)} msgs/s`, caseLabel: x64.spec.label, measured: `${formatCount(x64.rate!.median)} msgs/s`, verdict: x64.rate!.median >= TARGETS.unbatchedX64MsgsPerSecond ? 'PASS' : 'FAIL' }
      : { name: `unbatched produce, concurrency 64 ≥ ${formatCount(TARGETS.unbatchedX64MsgsPerSecond)} msgs/s`, caseLabel: '—', measured: '—', verdict: 'NOT MEASURED' },
  );
  const pc = byId.get('produce-consume');
  const keepName = `consumers keep up with x64 production (consume ≥ ${TARGETS.keepUpRateShare * 100} % of produce rate, lag at end ≤ ${TARGETS.keepUpLagSeconds} s of production; majority of runs)`;
  out.push(
    pc
      ? {
          name: keepName,
          caseLabel: pc.spec.label,
          measured: `${pc.keptUpRuns}/${pc.runs.length} runs; consume ${formatCount(pc.rate!.median)} vs produce ${formatCount(pc.produceRate ?? NaN)} msgs/s, lag ${formatCount(pc.lagAtEndMsgs ?? NaN)} msgs`,
          verdict: (pc.keptUpRuns ?? 0) * 2 > pc.runs.length ? 'PASS' : 'FAIL',
        }
      : { name: keepName, caseLabel: '—', measured: '—', verdict: 'NOT MEASURED' },
  );
  const steady = byId.get('steady-20k');
  const steadyName = `send p99 ≤ ${TARGETS.steadyP99Ms} ms at a steady ${formatCount(STEADY_RATE)} msgs/s (reached ≥ ${TARGETS.steadyRateShare * 100} % of the rate)`;
  out.push(
    steady && steady.p99Ms !== undefined
      ? {
          name: steadyName,
          caseLabel: steady.spec.label,
          measured: `p99 ${formatDecimal(steady.p99Ms, 2)} ms at ${formatCount(steady.rate!.median)} msgs/s`,
          verdict: steady.p99Ms <= TARGETS.steadyP99Ms && steady.rate!.median >= TARGETS.steadyRateShare * STEADY_RATE ? 'PASS' : 'FAIL',
        }
      : { name: steadyName, caseLabel: '—', measured: '—', verdict: 'NOT MEASURED' },
  );
  return out;
}

/** CPU the server spent per message (echo: per request), µs: its CPU share ÷ the rate; less sensitive to other work than the rate. */
function serverMicrosPerMessage(r: CaseResult): number | undefined {
  if (r.brokerCpuPercent === undefined || !r.rate || !(r.rate.median > 0)) return undefined;
  return ((r.brokerCpuPercent / 100) * 1e6) / r.rate.median;
}

function resultsTable(results: CaseResult[], options: Options): Table {
  const byId = new Map(results.map((r) => [r.spec.id, r]));
  const opt = (v: number | undefined, f: (x: number) => string) => (v === undefined ? '—' : f(v));
  const ms = (v: number) => formatDecimal(v, v < 10 ? 2 : 1);
  return {
    columns: [
      { header: 'Case' },
      { header: 'Unit' },
      { header: options.runs === 1 ? 'Rate' : 'Median', align: 'right' },
      { header: 'Min', align: 'right' },
      { header: 'Max', align: 'right' },
      { header: 'Baseline' },
      { header: 'Ratio', align: 'right' },
      { header: 'p50 ms', align: 'right' },
      { header: 'p99 ms', align: 'right' },
      { header: 'Server CPU%', align: 'right' },
      { header: 'Server µs/msg', align: 'right' },
      { header: 'Main thr%', align: 'right' },
      { header: 'Top worker%', align: 'right' },
      { header: 'Client CPU%', align: 'right' },
      { header: 'Others%', align: 'right' },
    ],
    rows: results.map((r) => {
      const base = r.spec.baselineId ? byId.get(r.spec.baselineId) : undefined;
      if (r.error || !r.rate) return [r.spec.label, r.spec.unit, 'FAILED', '—', '—', base?.spec.label ?? '—', '—', '—', '—', '—', '—', '—', '—', '—', '—'];
      return [
        r.spec.label,
        r.spec.unit,
        formatCount(r.rate.median),
        formatCount(r.rate.min),
        formatCount(r.rate.max),
        base?.spec.label ?? '—',
        formatRatio(r.ratio),
        opt(r.p50Ms, ms),
        opt(r.p99Ms, ms),
        opt(r.brokerCpuPercent, formatCount),
        opt(serverMicrosPerMessage(r), (v) => formatDecimal(v, 1)),
        opt(r.spec.kind === 'echo' ? undefined : r.brokerMainPercent, formatCount),
        opt(r.spec.kind === 'echo' ? undefined : r.brokerBusiestOtherPercent, formatCount),
        opt(r.clientCpuPercent, formatCount),
        opt(r.othersPercent, formatCount),
      ];
    }),
  };
}

function produceConsumeTable(r: CaseResult | undefined): Table | undefined {
  if (!r || r.runs.length === 0) return undefined;
  return {
    columns: [
      { header: 'Run' },
      { header: 'Produce msgs/s', align: 'right' },
      { header: 'Consume msgs/s', align: 'right' },
      { header: 'Lag at end', align: 'right' },
      { header: 'Max lag', align: 'right' },
      { header: 'Catch-up ms', align: 'right' },
      { header: 'B2C p50 ms', align: 'right' },
      { header: 'B2C p99 ms', align: 'right' },
      { header: 'Consumed/produced', align: 'right' },
      { header: 'Kept up' },
    ],
    rows: r.runs.map((x, i) => [
      String(i + 1),
      formatCount(x.produceRate ?? NaN),
      formatCount(x.rate),
      formatCount(x.lagAtEndMsgs ?? NaN),
      formatCount(x.maxLagMsgs ?? NaN),
      x.catchUpMs === null || x.catchUpMs === undefined ? 'never' : formatCount(x.catchUpMs),
      x.p50Ms === undefined ? '—' : formatDecimal(x.p50Ms, 1),
      x.p99Ms === undefined ? '—' : formatDecimal(x.p99Ms, 1),
      x.consumedOfProduced ?? '—',
      x.keptUp ? 'yes' : 'no',
    ]),
  };
}

function targetsTable(targets: TargetResult[]): Table {
  return {
    columns: [{ header: 'Target' }, { header: 'Case' }, { header: 'Measured (median)' }, { header: 'Verdict' }],
    rows: targets.map((t) => [t.name, t.caseLabel, t.measured, t.verdict]),
  };
}

function chartSvg(results: CaseResult[], options: Options, machineLine: string): string {
  const groups: ChartGroup[] = ['loopback echo baseline', 'produce', 'consume'];
  const palette: Record<string, string> = {
    'echo 1KiB x1': '#d9d9d9',
    'echo 1KiB x16': '#bdbdbd',
    'echo 1KiB x64': '#969696',
    'echo 1KiB x256': '#636363',
    'echo 1KiB x256 write-each': '#252525',
    'send 1KiB x1': '#c6dbef',
    'send 1KiB x16': '#6baed6',
    'send 1KiB x64': '#2171b5',
    'batch32 1KiB x16': '#fd8d3c',
    'batch128 1KiB x16': '#d94701',
  };
  const charted = results.filter((r) => r.spec.chartGroup && r.rate);
  const series = charted.map((r, i) => ({ name: r.spec.label, color: palette[r.spec.label] ?? ['#31a354', '#74c476', '#756bb1'][i % 3] }));
  return groupedBarChartSvg({
    title: 'Orbit broker: 1 KiB messages over loopback, next to a plain Node TCP echo',
    subtitle: `median of ${options.runs} run(s) × ${options.seconds} s · one ASYNC_FLUSH broker, load from producer.ts/consumer.ts processes · ${machineLine.split(',').slice(0, 2).join(',')}`,
    valueAxisLabel: 'msgs/s (echo: requests/s)',
    groupAxisLabel: 'case',
    series,
    groups: groups.map((g) => {
      const values: Record<string, number | undefined> = {};
      for (const r of charted) if (r.spec.chartGroup === g) values[r.spec.label] = r.rate!.median;
      return { label: g, values };
    }),
    scale: 'log',
    widthPx: 1000,
  });
}

function notes(options: Options, cluster: LocalCluster | undefined, loadBefore: number[], loadAfter: number[]): string[] {
  return [
    `Broker: bin/mqbroker as its own process, single master (ASYNC_MASTER), flushDiskType ASYNC_FLUSH, store in a fresh temporary directory; defaults except mappedFileSizeCommitLog = ${BENCH_COMMIT_LOG_SEGMENT_BYTES / 2 ** 20} MiB (default 1 GiB) to bound disk use and segment pre-writing. NameServer: bin/mqnamesrv. Both on 127.0.0.1, ports picked by the OS${cluster ? ` (this run: NameServer ${cluster.namesrvAddr}, broker ${cluster.brokerAddr})` : ''}.`,
    `Topic ${TOPIC} with ${QUEUE_COUNT} queues, ${MESSAGE_BYTES}-byte random alphanumeric bodies, no keys or tags, no compression. Each run: ${options.warmup} s warm-up, then ${options.seconds} s measured; each case ${options.runs} run(s), median shown with min and max.`,
    'send/batch rows: producer.ts (one Producer, -w senders each looping a sync send or sendBatch; one connection to the broker). Rate = messages acknowledged in the window ÷ window. RT = call to resolve of one request, so a batch row\'s RT is for the whole batch.',
    `consume drain: consumer.ts (PushConsumer, consumeConcurrency ${CONSUMER_THREADS}, pullBatchSize 32, one message per listener call) with a new group from the first offset, reading the backlog the earlier cases left (topped up to ${formatCount(DRAIN_MIN_BACKLOG)} messages if needed); the window starts ${options.warmup} s after its first message.`,
    `produce+consume: on a fresh ${QUEUE_COUNT}-queue topic per run, consumer.ts (from the first offset) starts first and, once it owns the queues, producer.ts -w 64; lag = acknowledged − consumed at the end of the producer's window (timelines sampled every 100 ms). "Kept up" = consume rate over the producer's window ≥ ${TARGETS.keepUpRateShare * 100} % of the produce rate and lag at the end ≤ ${TARGETS.keepUpLagSeconds} s of production. Its p50/p99 are born-to-consumed (B2C) times of the messages consumed from ${options.warmup} s after the first one on.`,
    `steady: producer.ts --rate ${STEADY_RATE} -w ${STEADY_IN_FLIGHT}: a 1 ms timer starts the sends due (about 20 per tick), at most ${STEADY_IN_FLIGHT} in flight (a send due while ${STEADY_IN_FLIGHT} are in flight waits for a slot); RT is measured from the send call, so timer lateness and such waits are not in it.`,
    'Baselines: a plain Node TCP server in its own process answering 1 KiB length-prefixed requests with 16-byte acks, one client connection with N requests in flight, Nagle off. "echo xN": each end writes everything one read produced in one write (the best case). "write-each": one socket.write per message on both ends, as a server answering message by message does. Ratio = case median ÷ baseline median of this run: send xN ÷ echo xN; batches, drain ÷ echo x256; produce+consume ÷ echo x64.',
    `CPU columns (% of one core; the machine has 2): Server = the broker process (echo rows: the echo server), all threads; Server µs/msg = its CPU time per message (echo rows: per request), a cost rather than a speed, which moves less with other work than the rates do; Main thr = the broker's main thread (sockets, request handling, JavaScript); Top worker = the broker's busiest other thread (under load a store worker thread — the writer copying records and computing CRCs, or the dispatcher — or a V8 GC helper); Client = the tool processes (echo rows: this process); Others = everything else on the machine (busy time from /proc/stat − Server − Client): other people's builds and tests. Before each run the benchmark waits up to ${QUIET_MAX_WAIT_MS / 1000} s for the machine to be at most ${QUIET_BUSY_PERCENT} % busy. Rows with Others above ~30 % were measured on a machine shared with other work and are low.`,
    `The machine is shared: load average ${loadBefore.join(' ')} at the start, ${loadAfter.join(' ')} at the end. Figures move by tens of percent between runs; compare within one run, through the ratios.`,
  ];
}

function resultsName(options: Options): string {
  if (options.only !== undefined) return 'broker-partial';
  return options.quick ? 'broker-quick' : 'broker';
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const cases = buildCases(options);
  if (cases.length === 0) throw new RangeError(`--only "${options.only}" matches no case`);
  const machine = machineInfo();
  const machineLine = describeMachine(machine);
  const startedAt = new Date().toISOString();
  const progress = new Progress(cases.length);
  const log = (line: string) => process.stderr.write(`      ${line.replace(/\n/g, '\n      ')}\n`);

  console.log(`Orbit broker benchmark — ${cases.length} cases × ${options.runs} run(s) × ${options.seconds} s (+ ${options.warmup} s warm-up)`);
  console.log(`machine: ${machineLine}`);
  console.log(`broker: single master, ASYNC_FLUSH, mappedFileSizeCommitLog = ${BENCH_COMMIT_LOG_SEGMENT_BYTES / 2 ** 20} MiB (bounds disk use), temporary store\n`);

  const toolDir = freshScratchDir('broker-tools');
  let cluster: LocalCluster | undefined;
  let echoBatch: RunningProcess | undefined;
  let echoEach: RunningProcess | undefined;
  let results: CaseResult[] = [];
  let setupError: string | undefined;
  try {
    const needEcho = cases.some((c) => c.kind === 'echo');
    if (needEcho) {
      progress.note('starting the echo servers');
      const echo = (mode: 'batch' | 'each') =>
        startProcess({ name: `echo-${mode}`, command: process.execPath, args: ['--import', TSX_LOADER, ECHO_SCRIPT, 'serve', '0', mode], readyPattern: LISTENING_PATTERN, readyTimeoutMs: 30_000 });
      echoBatch = await echo('batch');
      echoEach = await echo('each');
    }
    progress.note('starting the NameServer and the broker');
    cluster = await startLocalCluster({ log: options.verbose ? log : undefined });
    progress.note(`NameServer ${cluster.namesrvAddr} (pid ${cluster.namesrv.pid}), broker ${cluster.brokerAddr} (pid ${cluster.broker.pid}), store ${cluster.storeDir}`);
    await cluster.createTopic(TOPIC, QUEUE_COUNT);
    progress.note(`topic ${TOPIC} created with ${QUEUE_COUNT} queues`);
    results = await runCases(cases, { options, cluster, echoBatch, echoEach, toolDir: toolDir.path, log, progress });
  } catch (err) {
    setupError = errorText(err);
    progress.note(`setup failed: ${setupError}`);
  } finally {
    progress.note('stopping the broker, the NameServer and the echo servers');
    await Promise.allSettled([cluster?.stop(), echoBatch?.stop(2_000), echoEach?.stop(2_000)]);
    toolDir.remove();
  }
  const loadAfter = machineInfo().loadAverage;

  const targets = evaluateTargets(results);
  const table = resultsTable(results, options);
  const tTable = targetsTable(targets);
  const pcTable = produceConsumeTable(results.find((r) => r.spec.id === 'produce-consume'));
  const noteLines = notes(options, cluster, machine.loadAverage, loadAfter);
  if (setupError) noteLines.unshift(`SETUP FAILED: ${setupError}`);

  console.log(`\n${renderTextTable(table)}\n`);
  if (pcTable) console.log(`produce+consume, per run:\n${renderTextTable(pcTable)}\n`);
  console.log(`${renderTextTable(tTable)}\n`);
  for (const n of noteLines) console.log(`- ${n}`);

  const markdown = renderReportPage({
    title: 'Broker benchmark: latest results',
    runLine: `Run ${startedAt}, ${progress.elapsedSeconds.toFixed(0)} s; ${options.quick ? 'quick smoke run; ' : ''}median of ${options.runs} run(s) × ${options.seconds} s (+ ${options.warmup} s warm-up) per case.`,
    machineLine,
    sections: [
      { lines: [renderMarkdownTable(table)] },
      ...(pcTable ? [{ heading: 'Produce + consume, per run', lines: [renderMarkdownTable(pcTable)] }] : []),
      { heading: 'Targets', lines: [renderMarkdownTable(tTable)] },
    ],
    notes: noteLines,
    chart: { file: `${resultsName(options)}-latest.svg`, caption: 'msgs/s by case' },
  });

  const written = writeResults(resultsName(options), {
    data: {
      benchmark: 'broker',
      startedAt,
      finishedAt: new Date().toISOString(),
      options,
      loadAverageAfter: loadAfter,
      brokerProperties: cluster?.brokerProperties ?? null,
      parameters: { topic: TOPIC, queueCount: QUEUE_COUNT, messageBytes: MESSAGE_BYTES, steadyRate: STEADY_RATE, steadyInFlight: STEADY_IN_FLIGHT, consumerThreads: CONSUMER_THREADS, drainMinBacklog: DRAIN_MIN_BACKLOG },
      targets,
      targetThresholds: TARGETS,
      cases: results.map((r) => ({
        ...r.spec,
        rate: r.rate ?? null,
        ratio: r.ratio ?? null,
        p50Ms: r.p50Ms ?? null,
        p99Ms: r.p99Ms ?? null,
        p999Ms: r.p999Ms ?? null,
        serverCpuPercent: r.brokerCpuPercent ?? null,
        serverMicrosPerMessage: serverMicrosPerMessage(r) ?? null,
        brokerMainThreadPercent: r.brokerMainPercent ?? null,
        brokerBusiestOtherThreadPercent: r.brokerBusiestOtherPercent ?? null,
        clientCpuPercent: r.clientCpuPercent ?? null,
        machinePercent: r.machinePercent ?? null,
        othersPercent: r.othersPercent ?? null,
        busyBeforePercent: r.busyBeforePercent ?? null,
        waitedForQuietSeconds: r.waitedForQuietSeconds ?? null,
        produceRate: r.produceRate ?? null,
        lagAtEndMsgs: r.lagAtEndMsgs ?? null,
        failed: r.failed ?? null,
        error: r.error ?? null,
        runs: r.runs,
      })),
      setupError: setupError ?? null,
      notes: noteLines,
    },
    markdown,
    svg: results.some((r) => r.rate) ? chartSvg(results, options, machineLine) : undefined,
  });
  printWrittenResults(written);
  return setupError || results.some((r) => r.error) ? 1 : 0;
}

runMain(main);
