// Peers, side by side: NATS JetStream, Redis Streams and Orbit on this machine, in one run, each
// driven through its own npm client with the same load, so the ratios between them are measured
// minutes apart on the same machine rather than taken from different days.
//
//   pnpm bench:peers                                   # full: 3 rounds × 3 systems × (200k produce + consume + 11 s at 5k/s), ~5 minutes
//   node --import tsx benchmarks/peers/peers-bench.ts --quick          # smoke: 1 round, 20k messages, 2 s of latency
//   node --import tsx benchmarks/peers/peers-bench.ts --systems redis,orbit --count 100000
//
// What it does, in one go:
//   1. makes sure nats-server and redis-server are installed: when one is missing it says so and
//      runs `apt-get install -y` for it (as root, no questions; `apt-get update` first if that
//      fails); a peer that cannot be installed is skipped with a message;
//   2. starts on 127.0.0.1, with free ports and temporary data directories:
//        nats-server -js -sd <dir> -a 127.0.0.1 -p <port>            (JetStream, file storage)
//        redis-server --appendonly yes --appendfsync everysec --save '' (AOF, fsync every second)
//        Orbit: bin/mqnamesrv + bin/mqbroker, single master, ASYNC_FLUSH (benchmarks/broker/local-cluster.ts)
//   3. runs --runs rounds; in each, every system in turn (the order rotates from round to round) gets
//      a fresh stream / key / topic and load-driver.ts as its own process: produce --count messages
//      of --size bytes as that client is best used, consume them back, then send at a fixed
//      --rate for --latency-seconds measuring each send's ack latency;
//   4. reports medians over the rounds: produce and consume msgs/s and MB/s, send p50/p99, each as
//      a ratio to Orbit's, the servers' and clients' CPU, PASS/FAIL against the issue's targets; writes
//      results/peers-<time>.json and peers-latest.{json,md,svg}; stops everything it started (on
//      Ctrl-C too) and deletes the data directories.
// Not a test: benchmarks never run in CI.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProcess } from '../lib/child-processes.js';
import { formatCount, formatDecimal, formatRatio } from '../lib/format.js';
import { CpuSampler, machineBusySeconds, type CpuUsage } from '../lib/process-cpu.js';
import { Progress } from '../lib/progress.js';
import { describeMachine, machineInfo, writeResults } from '../lib/results.js';
import { freshScratchDir } from '../lib/scratch-dir.js';
import { summarize } from '../lib/stats.js';
import { groupedBarChartSvg } from '../lib/svg-chart.js';
import { renderMarkdownTable, renderTextTable, type Table } from '../lib/table.js';
import { sleepMs, withTimeout } from '../lib/timing.js';
import { BENCH_COMMIT_LOG_SEGMENT_BYTES, startLocalCluster, TSX_LOADER, type LocalCluster } from '../broker/local-cluster.js';
import { DEFAULT_KNOBS, knobArgs, SYSTEM_NAMES, type DriverSummary, type LoadKnobs, type SystemName } from './load-common.js';
import { ensureInstalled, NATS_SERVER, REDIS_SERVER, startNatsServer, startRedisServer, type PeerServer } from './peer-servers.js';
import { runMain, walkFlags } from '../lib/cli.js';
import { printWrittenResults, renderReportPage } from '../lib/report.js';

const DRIVER_SCRIPT = fileURLToPath(new URL('./load-driver.ts', import.meta.url));
const WORKSPACE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ORBIT_QUEUES = 8;
const SAMPLE_EVERY_MS = 100;
/** Before each system's run: wait while other work keeps the machine busier than this (% of one core; 200 = both cores). */
const QUIET_BUSY_PERCENT = 40;
const QUIET_SAMPLE_MS = 500;
const QUIET_MAX_WAIT_MS = 10_000;

/**
 * The other consumers fetch 1000 messages a request; Orbit's pull is capped by the broker at
 * maxTransferCountOnMessageInMemory (RocketMQ's default 32) and 256 KiB. Raising the cap, a broker key
 * RocketMQ marks @ImportantField, is how a RocketMQ user tunes consume throughput; the consumer then
 * asks for orbitPullBatch (256) messages a pull.
 */
export const ORBIT_PULL_TUNING: Readonly<Record<string, string>> = { maxTransferCountOnMessageInMemory: '256', maxTransferBytesOnMessageInMemory: String(1024 * 1024) };

/** From the issue; a third target has no number: Orbit's send p99 at the fixed rate ≤ the lowest peer p99. */
export const TARGETS = {
  /** Orbit's produce rate ≥ this × the best peer's. */
  produceVsBestPeer: 1.5,
  /** Orbit's consume rate ≥ this × the best peer's. */
  consumeVsBestPeer: 1.0,
};

const LABEL: Record<SystemName, string> = { nats: 'NATS JetStream', redis: 'Redis Streams', orbit: 'Orbit' };
const COLOR: Record<SystemName, string> = { nats: '#59a14f', redis: '#e15759', orbit: '#4e79a7' };

// ---- options --------------------------------------------------------------------------------------

interface Options {
  runs: number;
  count: number;
  size: number;
  rate: number;
  latencySeconds: number;
  latencyWarmup: number;
  settleMs: number;
  systems: SystemName[];
  quick: boolean;
  install: boolean;
  /** A smaller pass per system before round 1, not counted (JIT, page cache, first segments). */
  warmup: boolean;
  verbose: boolean;
  knobs: LoadKnobs;
  /** Extra broker properties for Orbit (experiments: --orbit-broker-prop key=value). */
  orbitBrokerProperties: Record<string, string>;
}

const USAGE = `usage: node --import tsx benchmarks/peers/peers-bench.ts [options]
  --runs N               rounds; each system runs once per round, medians are reported (3; 1 with --quick)
  --count N              messages produced and then consumed per run (200000; 20000 with --quick)
  --size B               body bytes (1024)
  --rate R               latency phase: sends per second (5000)
  --latency-seconds S    latency phase: measured seconds (10; 2 with --quick)
  --latency-warmup S     latency phase: seconds sent before the measured window (1; 0.5 with --quick)
  --settle-ms MS         pause between producing and consuming, the same for every system (0)
  --systems LIST         comma-separated subset of nats,redis,orbit (all)
  --quick                smoke run
  --no-install           do not apt-get install missing servers (their peers are skipped)
  --no-warmup            skip the warm-up pass (a tenth of --count and 1 s of paced sends per system, not counted)
  --verbose              show the servers' output
  --orbit-broker-prop K=V  an extra Orbit broker property (repeatable; the run is then written as peers-partial)
  client knobs (defaults: the settings that gave each system its best throughput here):
  --nats-window N        PubAcks in flight (${DEFAULT_KNOBS.natsWindow})
  --nats-pull-batch N    pull consumer max_messages (${DEFAULT_KNOBS.natsPullBatch})
  --redis-pipeline N     XADDs per pipeline (${DEFAULT_KNOBS.redisPipeline})
  --redis-pipelines N    pipelines in flight (${DEFAULT_KNOBS.redisPipelinesInFlight})
  --redis-read-count N   XREAD COUNT (${DEFAULT_KNOBS.redisReadCount})
  --orbit-batch N        messages per sendBatch (${DEFAULT_KNOBS.orbitBatch})
  --orbit-senders N      concurrent senders (${DEFAULT_KNOBS.orbitSenders})
  --orbit-consumer K     push | lite (${DEFAULT_KNOBS.orbitConsumer})
  --orbit-pull-batch N   pullBatchSize (${DEFAULT_KNOBS.orbitPullBatch})`;

const KNOB_FLAGS: Record<string, keyof LoadKnobs> = {
  '--nats-window': 'natsWindow',
  '--nats-pull-batch': 'natsPullBatch',
  '--redis-pipeline': 'redisPipeline',
  '--redis-pipelines': 'redisPipelinesInFlight',
  '--redis-read-count': 'redisReadCount',
  '--orbit-batch': 'orbitBatch',
  '--orbit-senders': 'orbitSenders',
  '--orbit-consumer': 'orbitConsumer',
  '--orbit-pull-batch': 'orbitPullBatch',
};

function parseOptions(argv: string[]): Options {
  const o: Options = {
    runs: NaN,
    count: NaN,
    size: 1024,
    rate: 5000,
    latencySeconds: NaN,
    latencyWarmup: NaN,
    settleMs: 0,
    systems: [...SYSTEM_NAMES],
    quick: false,
    install: true,
    warmup: true,
    verbose: false,
    knobs: { ...DEFAULT_KNOBS },
    orbitBrokerProperties: {},
  };
  walkFlags(argv, USAGE, (a, next) => {
    if (a === '--runs') o.runs = Number(next());
    else if (a === '--count') o.count = Number(next());
    else if (a === '--size') o.size = Number(next());
    else if (a === '--rate') o.rate = Number(next());
    else if (a === '--latency-seconds') o.latencySeconds = Number(next());
    else if (a === '--latency-warmup') o.latencyWarmup = Number(next());
    else if (a === '--settle-ms') o.settleMs = Number(next());
    else if (a === '--systems') {
      const list = next().split(',').map((s) => s.trim().toLowerCase());
      for (const s of list) if (!SYSTEM_NAMES.includes(s as SystemName)) throw new RangeError(`--systems: unknown system "${s}" (nats, redis, orbit)`);
      o.systems = SYSTEM_NAMES.filter((s) => list.includes(s));
    } else if (a === '--quick') o.quick = true;
    else if (a === '--no-install') o.install = false;
    else if (a === '--no-warmup') o.warmup = false;
    else if (a === '--verbose') o.verbose = true;
    else if (a === '--orbit-broker-prop') {
      const m = /^([A-Za-z][\w.]*)=(.*)$/.exec(next());
      if (!m) throw new RangeError('--orbit-broker-prop takes key=value');
      o.orbitBrokerProperties[m[1]!] = m[2]!;
    }
    else if (a in KNOB_FLAGS) {
      const key = KNOB_FLAGS[a]!;
      const v = next();
      if (key === 'orbitConsumer') {
        if (v !== 'push' && v !== 'lite') throw new RangeError('--orbit-consumer must be push or lite');
        o.knobs.orbitConsumer = v;
      } else {
        const n = Number(v);
        if (!Number.isInteger(n) || n < 1 || n > 1_000_000) throw new RangeError(`${a} must be an integer 1..1000000`);
        (o.knobs as unknown as Record<string, number>)[key] = n;
      }
    } else return false;
    return true;
  });
  if (Number.isNaN(o.runs)) o.runs = o.quick ? 1 : 3;
  if (Number.isNaN(o.count)) o.count = o.quick ? 20_000 : 200_000;
  if (Number.isNaN(o.latencySeconds)) o.latencySeconds = o.quick ? 2 : 10;
  if (Number.isNaN(o.latencyWarmup)) o.latencyWarmup = o.quick ? 0.5 : 1;
  if (!Number.isInteger(o.runs) || o.runs < 1 || o.runs > 20) throw new RangeError('--runs must be an integer 1..20');
  if (!Number.isInteger(o.count) || o.count < 1000 || o.count > 10_000_000) throw new RangeError('--count must be an integer 1000..10000000');
  if (!Number.isInteger(o.size) || o.size < 1 || o.size > 1024 * 1024) throw new RangeError('--size must be an integer 1..1048576');
  if (!(o.rate >= 1 && o.rate <= 200_000)) throw new RangeError('--rate must be 1..200000');
  if (!(o.latencySeconds >= 0.5 && o.latencySeconds <= 600)) throw new RangeError('--latency-seconds must be 0.5..600');
  if (!(o.latencyWarmup >= 0 && o.latencyWarmup <= 60)) throw new RangeError('--latency-warmup must be 0..60');
  if (!(Number.isInteger(o.settleMs) && o.settleMs >= 0 && o.settleMs <= 60_000)) throw new RangeError('--settle-ms must be an integer 0..60000');
  if (o.systems.length === 0) throw new RangeError('--systems names no system');
  return o;
}

/** peers for a run with the issue's load on every system; peers-quick and peers-partial otherwise, so peers-latest.* always holds a full comparison. */
function resultsName(o: Options): string {
  if (o.quick) return 'peers-quick';
  const standard = o.count === 200_000 && o.size === 1024 && o.rate === 5000 && o.latencySeconds === 10 && o.systems.length === SYSTEM_NAMES.length && Object.keys(o.orbitBrokerProperties).length === 0 && o.settleMs === 0;
  return standard ? 'peers' : 'peers-partial';
}

// ---- one run of one system ---------------------------------------------------------------------

interface PhaseCpu {
  serverPercent?: number;
  othersPercent?: number;
}

interface SystemRun {
  system: SystemName;
  round: number;
  summary?: DriverSummary;
  produceCpu?: PhaseCpu;
  consumeCpu?: PhaseCpu;
  latencyCpu?: PhaseCpu;
  error?: string;
}

interface RunningSystem {
  system: SystemName;
  /** Address handed to the driver (Orbit: the NameServer). */
  address: string;
  /** The process whose CPU is the server's (Orbit: the broker). */
  serverPid: number;
  version: string;
  commandLine: string;
  /** Fresh stream / key / topic name for a round (Orbit: created and routed first). */
  prepare(round: number): Promise<string>;
  stop(): Promise<void>;
}

function phaseCpu(sampler: CpuSampler, startEpochMs: number, endEpochMs: number, clientPercent: number): PhaseCpu {
  const u: CpuUsage | undefined = sampler.usageBetween(startEpochMs, endEpochMs);
  if (!u) return {};
  return { serverPercent: u.processPercent, othersPercent: Math.max(0, u.machinePercent - u.processPercent - clientPercent) };
}

async function machineBusyPercent(windowMs: number): Promise<number> {
  const a = machineBusySeconds();
  const t0 = performance.now();
  await sleepMs(windowMs);
  return ((machineBusySeconds() - a) / ((performance.now() - t0) / 1000)) * 100;
}

/** Waits (up to QUIET_MAX_WAIT_MS) for other work to leave the machine at most QUIET_BUSY_PERCENT busy; returns the busy % it ended at. */
async function waitForQuietMachine(): Promise<{ busyPercent: number; waitedSeconds: number }> {
  const start = performance.now();
  let busy = await machineBusyPercent(QUIET_SAMPLE_MS);
  while (busy > QUIET_BUSY_PERCENT && performance.now() - start < QUIET_MAX_WAIT_MS) busy = await machineBusyPercent(QUIET_SAMPLE_MS);
  return { busyPercent: Number.isFinite(busy) ? busy : 0, waitedSeconds: (performance.now() - start - QUIET_SAMPLE_MS) / 1000 };
}

/** The smaller load of the warm-up pass (round 0): a tenth of the messages, 1 s of paced sends. */
function warmupLoad(o: Options): Pick<Options, 'count' | 'latencySeconds' | 'latencyWarmup'> {
  return { count: Math.min(o.count, Math.max(1000, Math.round(o.count / 10))), latencySeconds: 1, latencyWarmup: 0 };
}

async function runSystem(options: Options, s: RunningSystem, round: number, toolDir: string, progress: Progress): Promise<SystemRun> {
  const o = round === 0 ? { ...options, ...warmupLoad(options) } : options;
  const run: SystemRun = { system: s.system, round };
  const quiet = await waitForQuietMachine();
  if (quiet.waitedSeconds > 0.2 && round > 0) {
    progress.note(
      quiet.busyPercent > QUIET_BUSY_PERCENT
        ? `${LABEL[s.system]} round ${round}: other work keeps the machine ${formatCount(quiet.busyPercent)} % busy (of 200 %); waited ${quiet.waitedSeconds.toFixed(0)} s, running anyway`
        : `${LABEL[s.system]} round ${round}: waited ${quiet.waitedSeconds.toFixed(0)} s for other work to calm down`,
    );
  }
  const stream = await s.prepare(round);
  const jsonOut = join(toolDir, `${s.system}-${round}.json`);
  const phaseTimeoutSeconds = Math.max(120, Math.ceil(o.count / 1000));
  const sampler = new CpuSampler(s.serverPid, SAMPLE_EVERY_MS).start();
  try {
    const driver = await startProcess({
      name: `${s.system}-load`,
      command: process.execPath,
      args: [
        '--import', TSX_LOADER, DRIVER_SCRIPT,
        '--system', s.system, '--address', s.address, '--stream', stream,
        '--count', String(o.count), '--size', String(o.size),
        '--rate', String(o.rate), '--latency-seconds', String(o.latencySeconds), '--latency-warmup', String(o.latencyWarmup),
        '--phase-timeout', String(phaseTimeoutSeconds), '--settle-ms', String(o.settleMs),
        ...knobArgs(o.knobs),
        '--json-out', jsonOut,
      ],
      onStderr: (t) => {
        for (const line of t.trimEnd().split('\n')) if (line.trim()) progress.note(round === 0 ? `warm-up ${line}` : line);
      },
    });
    const totalTimeoutMs = (3 * phaseTimeoutSeconds + o.latencySeconds + o.latencyWarmup + 120) * 1000 + o.settleMs;
    let code: number | string;
    try {
      code = await withTimeout(driver.exited, totalTimeoutMs, `${s.system} load`);
    } catch (err) {
      await driver.stop(2_000);
      throw err;
    }
    sampler.stop();
    if (code !== 0) throw new Error(`load-driver exited ${code}: ${driver.output().trim().split('\n').slice(-3).join(' / ')}`);
    const sum = JSON.parse(readFileSync(jsonOut, 'utf8')) as DriverSummary;
    run.summary = sum;
    run.produceCpu = phaseCpu(sampler, sum.produce.startEpochMs, sum.produce.endEpochMs, sum.produce.clientCpuPercent);
    run.consumeCpu = phaseCpu(sampler, sum.consume.startEpochMs, sum.consume.endEpochMs, sum.consume.clientCpuPercent);
    run.latencyCpu = phaseCpu(sampler, sum.latency.windowStartEpochMs, sum.latency.windowEndEpochMs, sum.latency.clientCpuPercent);
  } catch (err) {
    run.error = err instanceof Error ? err.message.split('\n')[0]! : String(err);
  } finally {
    sampler.stop();
  }
  return run;
}

// ---- servers ---------------------------------------------------------------------------------------

function gitHead(): string {
  try {
    return execFileSync('git', ['-C', WORKSPACE_ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8', timeout: 5_000 }).trim();
  } catch {
    return 'unknown';
  }
}

function fromPeer(system: SystemName, server: PeerServer, streamName: (round: number) => string): RunningSystem {
  return {
    system,
    address: server.address,
    serverPid: server.process.pid,
    version: server.version,
    commandLine: server.commandLine,
    prepare: async (round) => streamName(round),
    stop: () => server.stop(),
  };
}

function fromOrbit(cluster: LocalCluster, extraProperties: Record<string, string>): RunningSystem {
  const stamp = Date.now() % 1_000_000;
  return {
    system: 'orbit',
    address: cluster.namesrvAddr,
    serverPid: cluster.broker.pid,
    version: `Orbit ${gitHead()} (workspace)`,
    commandLine: `bin/mqnamesrv + bin/mqbroker -c <properties>: ${Object.entries(cluster.brokerProperties)
      .filter(([k]) => ['brokerRole', 'flushDiskType', 'mappedFileSizeCommitLog'].includes(k) || k in extraProperties)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')}`,
    async prepare(round) {
      const topic = `PeersBench_${stamp}_r${round}`;
      await cluster.createTopic(topic, ORBIT_QUEUES);
      return topic;
    },
    stop: () => cluster.stop(),
  };
}

async function startSystems(o: Options, progress: Progress, log: ((line: string) => void) | undefined, skipped: Map<SystemName, string>): Promise<RunningSystem[]> {
  const wantedPeers = [o.systems.includes('nats') ? NATS_SERVER : undefined, o.systems.includes('redis') ? REDIS_SERVER : undefined].filter((x) => x !== undefined);
  const available = ensureInstalled(wantedPeers, { install: o.install, say: (line) => progress.note(line) });
  const started: RunningSystem[] = [];
  const stamp = Date.now() % 1_000_000;
  const tryStart = async (system: SystemName, start: () => Promise<RunningSystem>) => {
    try {
      const s = await start();
      started.push(s);
      progress.note(`${LABEL[system]}: ${s.version}, ${s.address} (pid ${s.serverPid}); ${s.commandLine}`);
    } catch (err) {
      const why = err instanceof Error ? err.message.split('\n')[0]! : String(err);
      skipped.set(system, `could not be started: ${why}`);
      progress.note(`${LABEL[system]} could not be started, skipped: ${why}`);
    }
  };
  for (const system of o.systems) {
    if (system === 'nats') {
      if (!available.has('nats-server')) skipped.set('nats', 'nats-server is not installed');
      else await tryStart('nats', async () => fromPeer('nats', await startNatsServer(log), (r) => `PEERS_${stamp}_R${r}`));
    } else if (system === 'redis') {
      if (!available.has('redis-server')) skipped.set('redis', 'redis-server is not installed');
      else await tryStart('redis', async () => fromPeer('redis', await startRedisServer(log), (r) => `peers:${stamp}:r${r}`));
    } else {
      const properties = { ...ORBIT_PULL_TUNING, ...o.orbitBrokerProperties };
      await tryStart('orbit', async () => fromOrbit(await startLocalCluster({ log, brokerProperties: properties }), properties));
    }
  }
  return started;
}

// ---- aggregation and report ---------------------------------------------------------------------

interface SystemResult {
  system: SystemName;
  runs: SystemRun[];
  ok: SystemRun[];
  produceMsgs?: ReturnType<typeof summarize>;
  produceMB?: number;
  consumeMsgs?: ReturnType<typeof summarize>;
  consumeMB?: number;
  p50Ms?: number;
  p99Ms?: number;
  p99Range?: [number, number];
  achievedRate?: number;
  produceServerCpu?: number;
  produceClientCpu?: number;
  consumeServerCpu?: number;
  consumeClientCpu?: number;
  latencyServerCpu?: number;
  othersPercent?: number;
  consumeStartupMs?: number;
  usage?: DriverSummary['usage'];
  clientVersion?: string;
}

function med(values: (number | null | undefined)[]): number | undefined {
  const v = values.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  return v.length > 0 ? summarize(v).median : undefined;
}

function aggregate(system: SystemName, runs: SystemRun[]): SystemResult {
  const ok = runs.filter((r) => r.summary);
  const r: SystemResult = { system, runs, ok };
  if (ok.length === 0) return r;
  const s = ok.map((x) => x.summary!);
  r.produceMsgs = summarize(s.map((x) => x.produce.msgsPerSecond));
  r.produceMB = med(s.map((x) => x.produce.megabytesPerSecond));
  r.consumeMsgs = summarize(s.map((x) => x.consume.msgsPerSecond));
  r.consumeMB = med(s.map((x) => x.consume.megabytesPerSecond));
  r.p50Ms = med(s.map((x) => x.latency.p50Ms));
  r.p99Ms = med(s.map((x) => x.latency.p99Ms));
  const p99s = s.map((x) => x.latency.p99Ms).filter((x): x is number => x !== null);
  if (p99s.length > 0) r.p99Range = [Math.min(...p99s), Math.max(...p99s)];
  r.achievedRate = med(s.map((x) => x.latency.achievedPerSecond));
  r.produceServerCpu = med(ok.map((x) => x.produceCpu?.serverPercent));
  r.produceClientCpu = med(s.map((x) => x.produce.clientCpuPercent));
  r.consumeServerCpu = med(ok.map((x) => x.consumeCpu?.serverPercent));
  r.consumeClientCpu = med(s.map((x) => x.consume.clientCpuPercent));
  r.latencyServerCpu = med(ok.map((x) => x.latencyCpu?.serverPercent));
  r.othersPercent = med(ok.map((x) => Math.max(x.produceCpu?.othersPercent ?? 0, x.consumeCpu?.othersPercent ?? 0, x.latencyCpu?.othersPercent ?? 0)));
  r.consumeStartupMs = med(s.map((x) => x.consume.startupMs));
  r.usage = s[0]!.usage;
  r.clientVersion = s[0]!.clientVersion;
  return r;
}

interface TargetResult {
  name: string;
  measured: string;
  verdict: 'PASS' | 'FAIL' | 'n/a';
}

function evaluateTargets(results: SystemResult[]): TargetResult[] {
  const orbit = results.find((r) => r.system === 'orbit' && r.produceMsgs);
  const peers = results.filter((r) => r.system !== 'orbit' && r.produceMsgs);
  const best = (pick: (r: SystemResult) => number | undefined, lowest = false) => {
    let winner: SystemResult | undefined;
    for (const p of peers) {
      const v = pick(p);
      if (v === undefined) continue;
      const w = winner ? pick(winner)! : undefined;
      if (w === undefined || (lowest ? v < w : v > w)) winner = p;
    }
    return winner;
  };
  const na = (name: string): TargetResult => ({ name, measured: orbit ? 'no peer ran' : 'Orbit did not run', verdict: 'n/a' });
  const out: TargetResult[] = [];
  const produceName = `Orbit produce ≥ ${TARGETS.produceVsBestPeer}× the best peer's`;
  const bp = best((r) => r.produceMsgs?.median);
  if (orbit && bp) {
    const ratio = orbit.produceMsgs!.median / bp.produceMsgs!.median;
    out.push({ name: produceName, measured: `${formatCount(orbit.produceMsgs!.median)} vs ${LABEL[bp.system]} ${formatCount(bp.produceMsgs!.median)} msgs/s = ${formatRatio(ratio)}`, verdict: ratio >= TARGETS.produceVsBestPeer ? 'PASS' : 'FAIL' });
  } else out.push(na(produceName));
  const consumeName = `Orbit consume ≥ ${TARGETS.consumeVsBestPeer}× the best peer's`;
  const bc = best((r) => r.consumeMsgs?.median);
  if (orbit && bc) {
    const ratio = orbit.consumeMsgs!.median / bc.consumeMsgs!.median;
    out.push({ name: consumeName, measured: `${formatCount(orbit.consumeMsgs!.median)} vs ${LABEL[bc.system]} ${formatCount(bc.consumeMsgs!.median)} msgs/s = ${formatRatio(ratio)}`, verdict: ratio >= TARGETS.consumeVsBestPeer ? 'PASS' : 'FAIL' });
  } else out.push(na(consumeName));
  const p99Name = "Orbit send p99 ≤ the best peer's";
  const bl = best((r) => r.p99Ms, true);
  if (orbit && bl && orbit.p99Ms !== undefined) {
    out.push({ name: p99Name, measured: `${formatDecimal(orbit.p99Ms, 2)} ms vs ${LABEL[bl.system]} ${formatDecimal(bl.p99Ms!, 2)} ms`, verdict: orbit.p99Ms <= bl.p99Ms! ? 'PASS' : 'FAIL' });
  } else out.push(na(p99Name));
  return out;
}

const ms = (v: number | undefined) => (v === undefined ? '—' : formatDecimal(v, v < 10 ? 2 : 1));
const opt = (v: number | undefined, f: (x: number) => string) => (v === undefined ? '—' : f(v));

function ratioTo(orbit: SystemResult | undefined, v: number | undefined, pick: (r: SystemResult) => number | undefined): string {
  const base = orbit ? pick(orbit) : undefined;
  return v === undefined || base === undefined || !(base > 0) ? '—' : formatRatio(v / base);
}

function mainTable(results: SystemResult[], o: Options, skipped: Map<SystemName, string>): Table {
  const orbit = results.find((r) => r.system === 'orbit');
  const rows = results.map((r) => {
    if (!r.produceMsgs) return [LABEL[r.system], 'FAILED', '—', '—', '—', '—', '—', '—', '—', '—'];
    return [
      LABEL[r.system],
      formatCount(r.produceMsgs.median),
      opt(r.produceMB, (v) => formatDecimal(v, 1)),
      ratioTo(orbit, r.produceMsgs.median, (x) => x.produceMsgs?.median),
      formatCount(r.consumeMsgs!.median),
      opt(r.consumeMB, (v) => formatDecimal(v, 1)),
      ratioTo(orbit, r.consumeMsgs!.median, (x) => x.consumeMsgs?.median),
      ms(r.p50Ms),
      ms(r.p99Ms),
      ratioTo(orbit, r.p99Ms, (x) => x.p99Ms),
    ];
  });
  for (const [system, why] of skipped) rows.push([LABEL[system], `skipped: ${why}`, '—', '—', '—', '—', '—', '—', '—', '—']);
  return {
    columns: [
      { header: 'System' },
      { header: 'Produce msgs/s', align: 'right' },
      { header: 'MB/s', align: 'right' },
      { header: '× Orbit', align: 'right' },
      { header: 'Consume msgs/s', align: 'right' },
      { header: 'MB/s', align: 'right' },
      { header: '× Orbit', align: 'right' },
      { header: `p50 ms @${formatCount(o.rate / 1000)}k/s`, align: 'right' },
      { header: `p99 ms @${formatCount(o.rate / 1000)}k/s`, align: 'right' },
      { header: 'p99 × Orbit', align: 'right' },
    ],
    rows,
  };
}

function detailTable(results: SystemResult[]): Table {
  const range = (s: ReturnType<typeof summarize> | undefined) => (s ? `${formatCount(s.min)}–${formatCount(s.max)}` : '—');
  return {
    columns: [
      { header: 'System' },
      { header: 'Runs' },
      { header: 'Produce min–max', align: 'right' },
      { header: 'Consume min–max', align: 'right' },
      { header: 'p99 min–max ms', align: 'right' },
      { header: 'Sent/s', align: 'right' },
      { header: 'Server CPU% prod', align: 'right' },
      { header: 'Client CPU% prod', align: 'right' },
      { header: 'Server CPU% cons', align: 'right' },
      { header: 'Client CPU% cons', align: 'right' },
      { header: 'Server CPU% @rate', align: 'right' },
      { header: 'Consume start ms', align: 'right' },
      { header: 'Others%', align: 'right' },
    ],
    rows: results.map((r) => [
      LABEL[r.system],
      `${r.ok.length}/${r.runs.length}`,
      range(r.produceMsgs),
      range(r.consumeMsgs),
      r.p99Range ? `${ms(r.p99Range[0])}–${ms(r.p99Range[1])}` : '—',
      opt(r.achievedRate, formatCount),
      opt(r.produceServerCpu, formatCount),
      opt(r.produceClientCpu, formatCount),
      opt(r.consumeServerCpu, formatCount),
      opt(r.consumeClientCpu, formatCount),
      opt(r.latencyServerCpu, formatCount),
      opt(r.consumeStartupMs, formatCount),
      opt(r.othersPercent, formatCount),
    ]),
  };
}

function perRunTable(results: SystemResult[]): Table {
  const rows: string[][] = [];
  const all = results.flatMap((r) => r.runs).sort((a, b) => a.round - b.round);
  for (const run of all) {
    const s = run.summary;
    rows.push(
      s
        ? [String(run.round), LABEL[run.system], formatCount(s.produce.msgsPerSecond), formatCount(s.consume.msgsPerSecond), ms(s.latency.p50Ms ?? undefined), ms(s.latency.p99Ms ?? undefined), opt(Math.max(run.produceCpu?.othersPercent ?? 0, run.consumeCpu?.othersPercent ?? 0, run.latencyCpu?.othersPercent ?? 0), formatCount), '']
        : [String(run.round), LABEL[run.system], 'FAILED', '—', '—', '—', '—', run.error ?? ''],
    );
  }
  return {
    columns: [
      { header: 'Round' },
      { header: 'System' },
      { header: 'Produce msgs/s', align: 'right' },
      { header: 'Consume msgs/s', align: 'right' },
      { header: 'p50 ms', align: 'right' },
      { header: 'p99 ms', align: 'right' },
      { header: 'Others%', align: 'right' },
      { header: 'Error' },
    ],
    rows,
  };
}

function usageTable(results: SystemResult[], systems: RunningSystem[]): Table {
  return {
    columns: [{ header: 'System' }, { header: 'Server' }, { header: 'Client' }, { header: 'Produce' }, { header: 'Consume' }, { header: 'Latency' }],
    rows: results.map((r) => {
      const s = systems.find((x) => x.system === r.system);
      return [LABEL[r.system], s?.version ?? '—', r.clientVersion ?? '—', r.usage?.produce ?? '—', r.usage?.consume ?? '—', r.usage?.latency ?? '—'];
    }),
  };
}

function targetsTable(targets: TargetResult[]): Table {
  return { columns: [{ header: 'Target' }, { header: 'Measured (medians)' }, { header: 'Verdict' }], rows: targets.map((t) => [t.name, t.measured, t.verdict]) };
}

/** Stacks SVG documents vertically into one (each keeps its own coordinates inside a nested <svg>). */
function stackSvgs(svgs: string[]): string {
  let y = 0;
  let width = 0;
  const parts: string[] = [];
  for (const svg of svgs) {
    const m = /<svg[^>]*\swidth="(\d+)"[^>]*\sheight="(\d+)"/.exec(svg);
    if (!m) throw new Error('chart without width/height');
    const w = Number(m[1]);
    const h = Number(m[2]);
    parts.push(svg.trim().replace(/^<svg /, `<svg x="0" y="${y}" `));
    y += h;
    width = Math.max(width, w);
  }
  return [`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}">`, ...parts, '</svg>', ''].join('\n');
}

function chartSvg(results: SystemResult[], o: Options, machineLine: string): string {
  const done = results.filter((r) => r.produceMsgs);
  const series = done.map((r) => ({ name: LABEL[r.system], color: COLOR[r.system] }));
  const subtitle = `median of ${o.runs} round(s) · ${formatCount(o.count)} × ${o.size} B per run · ${machineLine.split(',').slice(0, 2).join(',')}`;
  const throughput = groupedBarChartSvg({
    title: 'Peers side by side: throughput (1 KiB messages over loopback, all systems in one run)',
    subtitle,
    valueAxisLabel: 'msgs/s',
    groupAxisLabel: 'phase',
    series,
    groups: [
      { label: `produce (${formatCount(o.count)} messages)`, values: Object.fromEntries(done.map((r) => [LABEL[r.system], r.produceMsgs!.median])) },
      { label: 'consume (the same messages, from the start)', values: Object.fromEntries(done.map((r) => [LABEL[r.system], r.consumeMsgs!.median])) },
    ],
    scale: 'linear',
    widthPx: 1000,
  });
  const latency = groupedBarChartSvg({
    title: `Send latency at a fixed ${formatCount(o.rate)} msgs/s (call to ack)`,
    subtitle: `${o.latencySeconds} s measured after ${o.latencyWarmup} s, every send timed; lower is better`,
    valueAxisLabel: 'ms',
    groupAxisLabel: 'percentile',
    series,
    groups: [
      { label: 'p50', values: Object.fromEntries(done.map((r) => [LABEL[r.system], r.p50Ms])) },
      { label: 'p99', values: Object.fromEntries(done.map((r) => [LABEL[r.system], r.p99Ms])) },
    ],
    scale: 'linear',
    formatValue: (v) => `${formatDecimal(v, v < 10 ? 2 : 1)}`,
    widthPx: 1000,
  });
  return stackSvgs([throughput, latency]);
}

function notes(o: Options, systems: RunningSystem[], loadBefore: number[], loadAfter: number[]): string[] {
  return [
    `Load, the same for every system: ${formatCount(o.count)} messages of ${o.size} bytes (one printable body, never compressed) produced as fast as the client allows, then${o.settleMs > 0 ? ` (after a pause of ${formatCount(o.settleMs)} ms)` : ''} read back from the start of the stream and each body's length checked, then one message at a time at a fixed ${formatCount(o.rate)} msgs/s for ${o.latencySeconds} s (after ${o.latencyWarmup} s not counted), every send timed from the call to its acknowledgement. A 1 ms timer starts the sends that are due (≈${formatCount(o.rate / 1000)} per tick), at most 1000 outstanding. Each run uses a fresh stream / key / topic. MB/s counts body bytes (1 MB = 10^6 B).`,
    'Produce rate = messages ÷ (first send → last acknowledgement). Consume rate = messages ÷ (first message received → last), so connecting, creating the consumer and its first pull are left out (they are "Consume start ms").',
    `${o.warmup ? `Before round 1 each system gets a warm-up pass that is not counted (${formatCount(warmupLoad(o).count)} messages produced and consumed, 1 s of paced sends): without it Orbit's first round is an outlier, because on a fresh broker the consume queues trail the acknowledged messages by about a second (20,000 messages acknowledged within 0.33 s became visible to consumers only 0.8–1.2 s later), so the first consume waits for its dispatcher; warm, it keeps up. ` : ''}Each system's client runs in its own process (load-driver.ts), started by this benchmark once per system and round; rounds rotate the order of the systems; medians over the rounds. The servers run the whole time side by side, idle while another system is measured.`,
    `Servers: ${systems.map((s) => `${LABEL[s.system]}: ${s.commandLine}`).join('; ')}. NATS's file store writes through the page cache without an fsync per message; Redis appends to its AOF and fsyncs once a second, and rewrites the AOF in a forked child once it has doubled (twice per 200k-message run here; that child's CPU is not in Redis's Server column but in Others); Orbit under ASYNC_FLUSH flushes its commit log every 500 ms. None waits for the disk before acknowledging. Orbit's commit-log segments are ${BENCH_COMMIT_LOG_SEGMENT_BYTES / 2 ** 20} MiB instead of 1 GiB (bounds disk use and pre-writing); otherwise defaults, except the pull cap: maxTransferCountOnMessageInMemory=${ORBIT_PULL_TUNING.maxTransferCountOnMessageInMemory} and maxTransferBytesOnMessageInMemory=${ORBIT_PULL_TUNING.maxTransferBytesOnMessageInMemory} instead of 32 and 256 KiB, so a pull can return the consumer's pullBatchSize (the other consumers fetch 1000 a request).`,
    `Consumers: NATS's is a durable pull consumer with ack policy none (the server keeps its position; no per-message acks), Redis's is XREAD (the client keeps the last id), Orbit's is the consumer named in the usage table (it commits consumed offsets to the broker every 5 s and at shutdown). None of the three acknowledges each message.`,
    'CPU (% of one core; the machine has 2): Server = the server process (Orbit: the broker; its NameServer is idle), all threads, over each phase; Client = the driver process; @rate = during the latency window. Others% = the machine\'s busy time minus Server and Client, the largest of the three phases: other people\'s work. Before each system\'s run the benchmark waits up to 10 s for the machine to be at most 40 % busy. Rows with Others above ~30 % were measured next to other work.',
    `The machine is shared: load average ${loadBefore.join(' ')} at the start, ${loadAfter.join(' ')} at the end. Compare the systems through the ratios of one run, not across runs.`,
  ];
}

// ---- main --------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2));
  const machine = machineInfo();
  const machineLine = describeMachine(machine);
  const startedAt = new Date().toISOString();
  const progress = new Progress(o.runs * o.systems.length);
  const log = o.verbose ? (line: string) => process.stderr.write(`      ${line.replace(/\n/g, '\n      ')}\n`) : undefined;

  console.log(`Peers side by side — ${o.systems.map((s) => LABEL[s]).join(', ')}: ${o.runs} round(s) × (${formatCount(o.count)} × ${o.size} B produce + consume, ${o.latencySeconds} s at ${formatCount(o.rate)} msgs/s)`);
  console.log(`machine: ${machineLine}\n`);

  const skipped = new Map<SystemName, string>();
  const toolDir = freshScratchDir('peers-tools');
  let systems: RunningSystem[] = [];
  const runs: SystemRun[] = [];
  const warmups: SystemRun[] = [];
  let setupError: string | undefined;
  try {
    progress.note('starting the servers');
    systems = await startSystems(o, progress, log, skipped);
    if (systems.length === 0) throw new Error('no system could be started');
    if (o.warmup) {
      const w = warmupLoad(o);
      progress.note(`warm-up pass, not counted: ${formatCount(w.count)} messages and ${w.latencySeconds} s of paced sends per system`);
      for (const s of systems) {
        const run = await runSystem(o, s, 0, toolDir.path, progress);
        warmups.push(run);
        if (run.error) progress.note(`${LABEL[s.system]} warm-up failed: ${run.error}`);
      }
    }
    for (let round = 1; round <= o.runs; round++) {
      const order = systems.map((_, i) => systems[(i + round - 1) % systems.length]!);
      for (const s of order) {
        progress.start();
        const run = await runSystem(o, s, round, toolDir.path, progress);
        runs.push(run);
        if (run.summary) {
          const sum = run.summary;
          progress.finish(
            `${LABEL[s.system]} round ${round}`,
            `produce ${formatCount(sum.produce.msgsPerSecond)} msgs/s, consume ${formatCount(sum.consume.msgsPerSecond)} msgs/s, p50/p99 ${ms(sum.latency.p50Ms ?? undefined)}/${ms(sum.latency.p99Ms ?? undefined)} ms`,
          );
        } else progress.fail(`${LABEL[s.system]} round ${round}`, run.error ?? 'unknown error');
      }
    }
  } catch (err) {
    setupError = err instanceof Error ? err.message.split('\n')[0]! : String(err);
    progress.note(`setup failed: ${setupError}`);
  } finally {
    progress.note('stopping the servers');
    await Promise.allSettled(systems.map((s) => s.stop()));
    toolDir.remove();
  }
  const loadAfter = machineInfo().loadAverage;

  const results = systems.map((s) => aggregate(s.system, runs.filter((r) => r.system === s.system)));
  const targets = evaluateTargets(results);
  const main = mainTable(results, o, skipped);
  const detail = detailTable(results);
  const perRun = perRunTable(results);
  const usage = usageTable(results, systems);
  const tTable = targetsTable(targets);
  const noteLines = notes(o, systems, machine.loadAverage, loadAfter);
  if (setupError) noteLines.unshift(`SETUP FAILED: ${setupError}`);

  console.log(`\n${renderTextTable(main)}\n`);
  console.log(`${renderTextTable(detail)}\n`);
  console.log(`per run:\n${renderTextTable(perRun)}\n`);
  console.log(`${renderTextTable(tTable)}\n`);
  console.log(`how each client was driven:\n${renderTextTable(usage)}\n`);
  for (const n of noteLines) console.log(`- ${n}`);

  const name = resultsName(o);
  const markdown = renderReportPage({
    title: 'Peers side by side: latest results',
    runLine: `Run ${startedAt}, ${progress.elapsedSeconds.toFixed(0)} s; ${o.quick ? 'quick smoke run; ' : ''}median of ${o.runs} round(s); ${formatCount(o.count)} × ${o.size} B per run, latency at ${formatCount(o.rate)} msgs/s for ${o.latencySeconds} s.`,
    machineLine,
    sections: [
      { lines: [renderMarkdownTable(main), '', renderMarkdownTable(detail)] },
      { heading: 'Targets', lines: [renderMarkdownTable(tTable)] },
      { heading: 'How each client was driven', lines: [renderMarkdownTable(usage)] },
      { heading: 'Per run', lines: [renderMarkdownTable(perRun)] },
    ],
    notes: noteLines,
    chart: { file: `${name}-latest.svg`, caption: 'throughput and latency by system' },
  });

  const written = writeResults(name, {
    data: {
      benchmark: 'peers',
      startedAt,
      finishedAt: new Date().toISOString(),
      options: o,
      loadAverageAfter: loadAfter,
      servers: systems.map((s) => ({ system: s.system, version: s.version, address: s.address, commandLine: s.commandLine })),
      skipped: Object.fromEntries(skipped),
      targets,
      targetThresholds: TARGETS,
      systems: results.map((r) => ({ ...r, ok: undefined, runs: r.runs })),
      warmupRuns: warmups,
      setupError: setupError ?? null,
      notes: noteLines,
    },
    markdown,
    svg: results.some((r) => r.produceMsgs) ? chartSvg(results, o, machineLine) : undefined,
  });
  printWrittenResults(written);
  return setupError || runs.some((r) => r.error) ? 1 : 0;
}

runMain(main);

