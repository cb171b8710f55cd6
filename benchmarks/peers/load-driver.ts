// One system's load, run as its own process by peers-bench.ts (so each client's heap, JIT and
// event loop are its own, and the three systems are driven the same way): connect, produce
// --count messages, consume them back, send at a fixed rate for latency, clean up, and write a
// DriverSummary as JSON. One line per phase goes to stderr.
//
//   node --import tsx benchmarks/peers/load-driver.ts --system nats --address 127.0.0.1:4222 --stream bench1 --count 200000 --json-out /tmp/x.json
//
// Not a test: benchmarks never run in CI.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { formatCount, formatDecimal } from '../lib/format.js';
import { withTimeout } from '../lib/timing.js';
import { parseToolArgs, usageText, type OptionSpec } from '../broker/tool-common.js';
import { DEFAULT_KNOBS, makeBody, runPacedLatency, SYSTEM_NAMES, type DriverSummary, type LoadKnobs, type PhaseSummary, type SystemLoad, type SystemName } from './load-common.js';
import { openNatsLoad } from './nats-load.js';
import { openOrbitLoad } from './orbit-load.js';
import { openRedisLoad } from './redis-load.js';
import { runMain } from '../lib/cli.js';

const SPECS: OptionSpec[] = [
  { names: ['system'], kind: 'string', help: 'nats | redis | orbit' },
  { names: ['address'], kind: 'string', help: 'host:port of the server (Orbit: the NameServer)' },
  { names: ['stream'], kind: 'string', help: 'stream / key / topic to use (made fresh by the caller or here)' },
  { names: ['count'], kind: 'number', help: 'messages to produce and consume (200000)' },
  { names: ['size'], kind: 'number', help: 'body bytes (1024)' },
  { names: ['rate'], kind: 'number', help: 'latency phase: sends per second (5000)' },
  { names: ['latency-seconds'], kind: 'number', help: 'latency phase: measured seconds (10)' },
  { names: ['latency-warmup'], kind: 'number', help: 'latency phase: seconds before the window (1)' },
  { names: ['latency-in-flight'], kind: 'number', help: 'latency phase: most sends outstanding (1000)' },
  { names: ['phase-timeout'], kind: 'number', help: 'seconds any one phase may take (300)' },
  { names: ['settle-ms'], kind: 'number', help: 'pause between the produce and the consume phase, ms (0)' },
  { names: ['nats-window'], kind: 'number', help: `PubAcks in flight (${DEFAULT_KNOBS.natsWindow})` },
  { names: ['nats-pull-batch'], kind: 'number', help: `pull consumer max_messages (${DEFAULT_KNOBS.natsPullBatch})` },
  { names: ['redis-pipeline'], kind: 'number', help: `XADDs per pipeline (${DEFAULT_KNOBS.redisPipeline})` },
  { names: ['redis-pipelines'], kind: 'number', help: `pipelines in flight (${DEFAULT_KNOBS.redisPipelinesInFlight})` },
  { names: ['redis-read-count'], kind: 'number', help: `XREAD COUNT (${DEFAULT_KNOBS.redisReadCount})` },
  { names: ['orbit-batch'], kind: 'number', help: `messages per sendBatch (${DEFAULT_KNOBS.orbitBatch})` },
  { names: ['orbit-senders'], kind: 'number', help: `concurrent senders (${DEFAULT_KNOBS.orbitSenders})` },
  { names: ['orbit-consumer'], kind: 'string', help: `lite | push (${DEFAULT_KNOBS.orbitConsumer})` },
  { names: ['orbit-pull-batch'], kind: 'number', help: `pullBatchSize (${DEFAULT_KNOBS.orbitPullBatch})` },
  { names: ['json-out'], kind: 'string', help: 'write the summary JSON here' },
  { names: ['h', 'help'], kind: 'boolean', help: 'this help' },
];

const USAGE = usageText('node --import tsx benchmarks/peers/load-driver.ts', SPECS);

export interface DriverOptions {
  system: SystemName;
  address: string;
  stream: string;
  count: number;
  size: number;
  rate: number;
  latencySeconds: number;
  latencyWarmup: number;
  /** Pause after producing, before consuming: lets the server's background work after a burst finish. */
  settleMs: number;
  latencyInFlight: number;
  phaseTimeoutSeconds: number;
  knobs: LoadKnobs;
  jsonOut: string | undefined;
}

function parseOptions(argv: string[]): DriverOptions {
  const a = parseToolArgs(argv, SPECS);
  if (a.get('h')) {
    console.log(USAGE);
    process.exit(0);
  }
  const num = (key: string, dflt: number) => (a.get(key) as number | undefined) ?? dflt;
  const system = a.get('system') as SystemName | undefined;
  if (!system || !SYSTEM_NAMES.includes(system)) throw new RangeError(`--system must be one of ${SYSTEM_NAMES.join(', ')}`);
  const address = a.get('address') as string | undefined;
  if (!address) throw new RangeError('--address is required');
  const orbitConsumer = (a.get('orbit-consumer') as string | undefined) ?? DEFAULT_KNOBS.orbitConsumer;
  if (orbitConsumer !== 'lite' && orbitConsumer !== 'push') throw new RangeError('--orbit-consumer must be lite or push');
  const o: DriverOptions = {
    system,
    address,
    stream: (a.get('stream') as string | undefined) ?? `peers_${Date.now() % 1_000_000_000}`,
    count: num('count', 200_000),
    size: num('size', 1024),
    rate: num('rate', 5000),
    latencySeconds: num('latency-seconds', 10),
    latencyWarmup: num('latency-warmup', 1),
    settleMs: num('settle-ms', 0),
    latencyInFlight: num('latency-in-flight', 1000),
    phaseTimeoutSeconds: num('phase-timeout', 300),
    knobs: {
      natsWindow: num('nats-window', DEFAULT_KNOBS.natsWindow),
      natsPullBatch: num('nats-pull-batch', DEFAULT_KNOBS.natsPullBatch),
      redisPipeline: num('redis-pipeline', DEFAULT_KNOBS.redisPipeline),
      redisPipelinesInFlight: num('redis-pipelines', DEFAULT_KNOBS.redisPipelinesInFlight),
      redisReadCount: num('redis-read-count', DEFAULT_KNOBS.redisReadCount),
      orbitBatch: num('orbit-batch', DEFAULT_KNOBS.orbitBatch),
      orbitSenders: num('orbit-senders', DEFAULT_KNOBS.orbitSenders),
      orbitConsumer,
      orbitPullBatch: num('orbit-pull-batch', DEFAULT_KNOBS.orbitPullBatch),
    },
    jsonOut: a.get('json-out') as string | undefined,
  };
  const intIn = (name: string, v: number, lo: number, hi: number) => {
    if (!Number.isInteger(v) || v < lo || v > hi) throw new RangeError(`${name} must be an integer ${lo}..${hi}, not ${v}`);
  };
  intIn('--count', o.count, 1, 100_000_000);
  intIn('--size', o.size, 1, 1024 * 1024);
  intIn('--latency-in-flight', o.latencyInFlight, 1, 100_000);
  for (const [k, v] of Object.entries(o.knobs)) if (typeof v === 'number') intIn(k, v, 1, 1_000_000);
  if (!(o.rate > 0 && o.rate <= 1_000_000)) throw new RangeError('--rate must be 1..1000000');
  if (!(o.latencySeconds > 0 && o.latencySeconds <= 3600 && o.latencyWarmup >= 0 && o.latencyWarmup <= 600)) throw new RangeError('--latency-seconds must be 0..3600 and --latency-warmup 0..600');
  if (!(Number.isInteger(o.settleMs) && o.settleMs >= 0 && o.settleMs <= 60_000)) throw new RangeError('--settle-ms must be an integer 0..60000');
  if (!(o.phaseTimeoutSeconds >= 10 && o.phaseTimeoutSeconds <= 7200)) throw new RangeError('--phase-timeout must be 10..7200');
  return o;
}

function clientVersion(system: SystemName): string {
  const require = createRequire(import.meta.url);
  const pkg = { nats: 'nats', redis: 'ioredis', orbit: '@orbit/client' }[system];
  try {
    const path = require.resolve(`${pkg}/package.json`);
    return `${pkg} ${(JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version}`;
  } catch {
    return pkg;
  }
}

function open(o: DriverOptions): Promise<SystemLoad> {
  const timeoutMs = o.phaseTimeoutSeconds * 1000;
  switch (o.system) {
    case 'nats':
      return openNatsLoad(o.address, o.stream, o.knobs, timeoutMs);
    case 'redis':
      return openRedisLoad(o.address, o.stream, o.knobs, timeoutMs);
    case 'orbit':
      return openOrbitLoad(o.address, o.stream, o.knobs, timeoutMs);
  }
}

function cpuPercentSince(before: NodeJS.CpuUsage, seconds: number): number {
  const used = process.cpuUsage(before);
  return seconds > 0 ? ((used.user + used.system) / 1e6 / seconds) * 100 : 0;
}

function phase(messages: number, bodyBytes: number, startMs: number, endMs: number, startEpochMs: number, cpuBefore: NodeJS.CpuUsage): PhaseSummary {
  const seconds = Math.max(1e-6, (endMs - startMs) / 1000);
  return {
    messages,
    seconds,
    msgsPerSecond: messages / seconds,
    megabytesPerSecond: (messages * bodyBytes) / seconds / 1e6,
    startEpochMs,
    endEpochMs: startEpochMs + (endMs - startMs),
    clientCpuPercent: cpuPercentSince(cpuBefore, seconds),
  };
}

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2));
  const say = (line: string) => process.stderr.write(`[${o.system}] ${line}\n`);
  const body = makeBody(o.size);
  const timeoutMs = o.phaseTimeoutSeconds * 1000;
  const load = await withTimeout(open(o), 60_000, `${o.system}: connect`);
  let closed = false;
  try {
    // Produce.
    let cpu = process.cpuUsage();
    let epoch = Date.now();
    let t0 = performance.now();
    await withTimeout(load.produce(o.count, body), timeoutMs, `${o.system}: produce`);
    const produce = phase(o.count, o.size, t0, performance.now(), epoch, cpu);
    say(`produce ${formatCount(o.count)} × ${o.size} B: ${formatDecimal(produce.seconds, 2)} s, ${formatCount(produce.msgsPerSecond)} msgs/s, ${formatDecimal(produce.megabytesPerSecond, 1)} MB/s, client CPU ${formatCount(produce.clientCpuPercent)}%`);

    if (o.settleMs > 0) await new Promise((resolve) => setTimeout(resolve, o.settleMs));
    // Consume: the rate runs from the first message to the last (connecting, creating the
    // consumer and the first pull are startupMs).
    cpu = process.cpuUsage();
    epoch = Date.now();
    t0 = performance.now();
    const c = await load.consume(o.count, o.size);
    const firstEpoch = epoch + (c.firstMs - t0);
    const consume = { ...phase(c.count, o.size, c.firstMs, c.lastMs, firstEpoch, cpu), startupMs: c.firstMs - c.calledMs };
    // The client's CPU over the whole call (start-up included): the process cannot be sampled at the first message.
    consume.clientCpuPercent = cpuPercentSince(cpu, (performance.now() - t0) / 1000);
    say(`consume ${formatCount(c.count)}: ${formatDecimal(consume.seconds, 2)} s after a start of ${formatCount(consume.startupMs)} ms, ${formatCount(consume.msgsPerSecond)} msgs/s, ${formatDecimal(consume.megabytesPerSecond, 1)} MB/s`);

    // Latency at a fixed rate.
    cpu = process.cpuUsage();
    t0 = performance.now();
    const lat = await runPacedLatency(() => load.sendOne(body), { ratePerSecond: o.rate, warmupSeconds: o.latencyWarmup, seconds: o.latencySeconds, maxInFlight: o.latencyInFlight });
    const latency = { ...lat, clientCpuPercent: cpuPercentSince(cpu, (performance.now() - t0) / 1000) };
    const ms = (v: number | null) => (v === null ? '—' : formatDecimal(v, 3));
    say(`latency at ${formatCount(o.rate)}/s: ${formatCount(lat.achievedPerSecond)}/s sent, p50 ${ms(lat.p50Ms)} ms, p99 ${ms(lat.p99Ms)} ms, max ${ms(lat.maxMs)} ms${lat.behind ? `, ${lat.behind} behind` : ''}${lat.failed ? `, ${lat.failed} failed` : ''}`);

    closed = true;
    await load.close();
    const summary: DriverSummary = { system: o.system, clientVersion: clientVersion(o.system), usage: load.usage, count: o.count, bodyBytes: o.size, produce, consume, latency };
    if (o.jsonOut) writeFileSync(o.jsonOut, `${JSON.stringify(summary)}\n`);
    return 0;
  } finally {
    if (!closed) await load.close().catch(() => undefined);
  }
}

runMain(main, '[load-driver] ');
