// Consumer load tool shaped like RocketMQ's benchmark/consumer.sh: a PushConsumer of group
// benchmark_consumer (clustering) on topic BenchmarkTest that counts what it consumes and how old
// each message is when the listener sees it.
//
//   node --import tsx benchmarks/broker/consumer.ts -n 127.0.0.1:9876 -t BenchmarkTest -w 20
//   node --import tsx benchmarks/broker/consumer.ts -p --from first --idle-stop 2   # drain a backlog with a fresh group
//
// Prints the configuration, then every report interval (1 s) RocketMQ's line:
//   Current Time: 2026-11-24 14:01:02,345 | Consume TPS: 81234 | AVG(B2C) RT(ms):   1.234 | AVG(S2C) RT(ms):   0.987 | MAX(B2C) RT(ms): 12 | MAX(S2C) RT(ms): 11 | Consume Fail: 0
// B2C = born to consumed (now − the producer's bornTimestamp), S2C = stored to consumed (now −
// the broker's storeTimestamp), both in ms of the wall clock. At the end a [Complete] line over
// the measured window, which starts at the first consumed message (+ --warmup) and ends at the last
// one, so time spent starting, rebalancing or idle after a backlog is drained is not counted.
// --seconds also counts from the first consumed message; without --seconds, -q, --idle-stop or
// --timeout it runs until Ctrl-C, as consumer.sh does.
// Figures go to benchmarks/results/consumer-<time>.json and consumer-latest.{json,md}.
// Not a test: benchmarks never run in CI.
import { writeFileSync } from 'node:fs';
import { PushConsumer, type MessageExt } from '@orbit/client';
import { formatCount, formatDecimal } from '../lib/format.js';
import { describeMachine, machineInfo, writeResults } from '../lib/results.js';
import { LatencyReservoir } from '../lib/stats.js';
import { renderMarkdownTable } from '../lib/table.js';
import { d, f73, humanTime, parseToolArgs, TIMELINE_INTERVAL_MS, usageText, type ConsumerSummary, type OptionSpec, type TimelinePoint } from './tool-common.js';
import { runMain } from '../lib/cli.js';

const SPECS: OptionSpec[] = [
  { names: ['n', 'namesrv'], kind: 'string', help: 'NameServer address list (127.0.0.1:9876)' },
  { names: ['t', 'topic'], kind: 'string', help: 'topic (BenchmarkTest)' },
  { names: ['g', 'group'], kind: 'string', help: 'consumer group (benchmark_consumer)' },
  { names: ['p', 'group-suffix'], kind: 'boolean', help: 'suffix the group with the current time, so it starts with no offsets (false)' },
  { names: ['w', 'threads'], kind: 'number', help: 'listener calls at once (consumeConcurrency) (20)' },
  { names: ['r', 'fail-rate'], kind: 'number', help: 'share of messages answered RECONSUME_LATER, 0..1 (0)' },
  { names: ['e', 'expression'], kind: 'string', help: 'tag expression (*)' },
  { names: ['from'], kind: 'string', help: 'first | last | timestamp: where a group with no offset starts (last)' },
  { names: ['pull-batch'], kind: 'number', help: 'messages per pull (pullBatchSize) (32)' },
  { names: ['consume-batch'], kind: 'number', help: 'messages per listener call (consumeMessageBatchMaxSize) (1)' },
  { names: ['seconds'], kind: 'number', help: 'stop this many seconds after the first message consumed; 0 = no limit (0)' },
  { names: ['timeout'], kind: 'number', help: 'stop this many seconds after start, whatever happened; 0 = no limit (0)' },
  { names: ['warmup'], kind: 'number', help: 'seconds after the first message not counted in [Complete] (0)' },
  { names: ['q', 'quantity'], kind: 'number', help: 'stop after consuming this many messages; 0 = no limit (0)' },
  { names: ['idle-stop'], kind: 'number', help: 'stop when nothing arrived for this many seconds after the first message; 0 = never (0)' },
  { names: ['ri', 'report-interval'], kind: 'number', help: 'ms between report lines (1000)' },
  { names: ['json-out'], kind: 'string', help: 'also write the summary JSON to this file (used by broker-bench.ts)' },
  { names: ['no-results'], kind: 'boolean', help: 'do not write benchmarks/results/consumer-*' },
  { names: ['h', 'help'], kind: 'boolean', help: 'this help' },
];

const USAGE = usageText('node --import tsx benchmarks/broker/consumer.ts', SPECS);
const SHUTDOWN_TIMEOUT_MS = 15_000;

interface ConsumerOptions {
  namesrv: string;
  topic: string;
  group: string;
  threads: number;
  failRate: number;
  expression: string;
  from: 'CONSUME_FROM_FIRST_OFFSET' | 'CONSUME_FROM_LAST_OFFSET' | 'CONSUME_FROM_TIMESTAMP';
  pullBatch: number;
  consumeBatch: number;
  seconds: number;
  timeout: number;
  warmup: number;
  quantity: number;
  idleStopSeconds: number;
  reportIntervalMs: number;
  jsonOut: string | undefined;
  writeResultFiles: boolean;
}

function parseOptions(argv: string[]): ConsumerOptions {
  const a = parseToolArgs(argv, SPECS);
  if (a.get('h')) {
    console.log(USAGE);
    process.exit(0);
  }
  const num = (key: string, dflt: number) => (a.get(key) as number | undefined) ?? dflt;
  const fromText = ((a.get('from') as string | undefined) ?? 'last').toLowerCase();
  const from = ({ first: 'CONSUME_FROM_FIRST_OFFSET', last: 'CONSUME_FROM_LAST_OFFSET', timestamp: 'CONSUME_FROM_TIMESTAMP' } as const)[fromText as 'first'];
  if (!from) throw new RangeError(`--from must be first, last or timestamp, not ${fromText}`);
  let group = (a.get('g') as string | undefined) ?? 'benchmark_consumer';
  if (a.get('p')) group = `${group}_${Date.now() % 100_000_000}`;
  const o: ConsumerOptions = {
    namesrv: (a.get('n') as string | undefined) ?? process.env.NAMESRV_ADDR ?? '127.0.0.1:9876',
    topic: (a.get('t') as string | undefined) ?? 'BenchmarkTest',
    group,
    threads: num('w', 20),
    failRate: num('r', 0),
    expression: (a.get('e') as string | undefined) ?? '*',
    from,
    pullBatch: num('pull-batch', 32),
    consumeBatch: num('consume-batch', 1),
    seconds: num('seconds', 0),
    timeout: num('timeout', 0),
    warmup: num('warmup', 0),
    quantity: num('q', 0),
    idleStopSeconds: num('idle-stop', 0),
    reportIntervalMs: num('ri', 1000),
    jsonOut: a.get('json-out') as string | undefined,
    writeResultFiles: !(a.get('no-results') as boolean | undefined),
  };
  if (!Number.isInteger(o.threads) || o.threads < 1 || o.threads > 1000) throw new RangeError('-w must be 1..1000');
  if (!(o.failRate >= 0 && o.failRate <= 1)) throw new RangeError('-r must be 0..1');
  if (!Number.isInteger(o.pullBatch) || o.pullBatch < 1 || o.pullBatch > 1024) throw new RangeError('--pull-batch must be 1..1024');
  if (!Number.isInteger(o.consumeBatch) || o.consumeBatch < 1 || o.consumeBatch > 1024) throw new RangeError('--consume-batch must be 1..1024');
  if (!(o.seconds >= 0 && o.timeout >= 0 && o.warmup >= 0 && o.quantity >= 0 && o.idleStopSeconds >= 0)) throw new RangeError('--seconds, --timeout, --warmup, -q and --idle-stop must be ≥ 0');
  if (o.seconds > 0 && o.warmup >= o.seconds) throw new RangeError('--warmup must be shorter than --seconds');
  return o;
}

class Span {
  consumed = 0;
  failed = 0;
  b2cSum = 0;
  s2cSum = 0;
  b2cMax = 0;
  s2cMax = 0;

  add(b2c: number, s2c: number): void {
    this.consumed++;
    this.b2cSum += b2c;
    this.s2cSum += s2c;
    if (b2c > this.b2cMax) this.b2cMax = b2c;
    if (s2c > this.s2cMax) this.s2cMax = s2c;
  }
}

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2));
  console.log(
    `topic: ${o.topic}, threadCount: ${o.threads}, group: ${o.group}, suffixEnable: ${o.group !== 'benchmark_consumer'}, filterType: TAG, expression: ${o.expression}, ` +
      `failRate: ${o.failRate}, consumeFromWhere: ${o.from}, pullBatchSize: ${o.pullBatch}, consumeMessageBatchMaxSize: ${o.consumeBatch}, namesrvAddr: ${o.namesrv}`,
  );

  const consumer = new PushConsumer({
    consumerGroup: o.group,
    namesrvAddr: o.namesrv,
    consumeFromWhere: o.from,
    pullBatchSize: o.pullBatch,
    consumeMessageBatchMaxSize: o.consumeBatch,
    consumeConcurrency: o.threads,
  });
  consumer.subscribe(o.topic, o.expression);

  let interval = new Span();
  const win = new Span();
  const b2cReservoir = new LatencyReservoir(200_000);
  let inWindow = false;
  let running = true;
  let totalConsumed = 0;
  let totalFailed = 0;
  let firstConsumeEpochMs = 0;
  let lastConsumeEpochMs = 0;
  let windowStartEpochMs = 0;
  let windowEndEpochMs = 0;
  let windowCountAtLast = 0; // window figures as of the last consumed message
  let stoppedBy = 'seconds';
  let cpuAtWindowStart = process.cpuUsage();
  let cpuAtLast = cpuAtWindowStart;
  const timeline: TimelinePoint[] = [{ epochMs: Date.now(), count: 0 }];
  let stopResolve!: () => void;
  const stopped = new Promise<void>((r) => (stopResolve = r));
  const timers: NodeJS.Timeout[] = [];

  const stop = (why: string) => {
    if (!running) return;
    running = false;
    stoppedBy = why;
    stopResolve();
  };

  consumer.registerMessageListener((msgs: MessageExt[]) => {
    const now = Date.now();
    if (firstConsumeEpochMs === 0) {
      firstConsumeEpochMs = now;
      const begin = () => {
        inWindow = true;
        windowStartEpochMs = Date.now();
        cpuAtWindowStart = process.cpuUsage();
      };
      if (o.warmup > 0) timers.push(setTimeout(begin, o.warmup * 1000));
      else begin();
      if (o.seconds > 0) timers.push(setTimeout(() => stop('seconds'), o.seconds * 1000));
    }
    if (o.failRate > 0 && Math.random() < o.failRate) {
      totalFailed += msgs.length;
      interval.failed += msgs.length;
      if (inWindow) win.failed += msgs.length;
      return 'RECONSUME_LATER';
    }
    for (const m of msgs) {
      const b2c = now - m.bornTimestamp;
      const s2c = now - m.storeTimestamp;
      interval.add(b2c, s2c);
      if (inWindow && running) {
        win.add(b2c, s2c);
        b2cReservoir.add(b2c);
      }
    }
    totalConsumed += msgs.length;
    lastConsumeEpochMs = now;
    if (inWindow && running) {
      windowEndEpochMs = now;
      windowCountAtLast = win.consumed;
      cpuAtLast = process.cpuUsage();
    }
    if (o.quantity > 0 && totalConsumed >= o.quantity) stop('quantity');
    return 'CONSUME_SUCCESS';
  });

  const startedMs = Date.now();
  await consumer.start();

  if (o.timeout > 0) timers.push(setTimeout(() => stop('timeout'), o.timeout * 1000 - (Date.now() - startedMs)));
  // One line once the rebalance gave this consumer its queues (broker-bench.ts waits for it before producing).
  const ownedCheck = setInterval(() => {
    const owned = consumer.ownedQueues().filter((mq) => mq.topic === o.topic).length;
    if (owned > 0) {
      clearInterval(ownedCheck);
      console.log(`Rebalance done: ${owned} queues of ${o.topic} assigned after ${Date.now() - startedMs} ms`);
    }
  }, 20);
  timers.push(ownedCheck);
  let lastReportMs = performance.now();
  timers.push(
    setInterval(() => {
      const now = performance.now();
      const secs = (now - lastReportMs) / 1000;
      lastReportMs = now;
      const s = interval;
      interval = new Span();
      const n = Math.max(1, s.consumed);
      console.log(
        `Current Time: ${humanTime()} | Consume TPS: ${d(s.consumed / secs)} | AVG(B2C) RT(ms): ${f73(s.b2cSum / n)} | AVG(S2C) RT(ms): ${f73(s.s2cSum / n)} | ` +
          `MAX(B2C) RT(ms): ${d(s.b2cMax)} | MAX(S2C) RT(ms): ${d(s.s2cMax)} | Consume Fail: ${totalFailed}`,
      );
    }, o.reportIntervalMs),
  );
  timers.push(
    setInterval(() => {
      timeline.push({ epochMs: Date.now(), count: totalConsumed });
      if (o.idleStopSeconds > 0 && lastConsumeEpochMs > 0 && Date.now() - lastConsumeEpochMs > o.idleStopSeconds * 1000) stop('idle');
    }, TIMELINE_INTERVAL_MS),
  );

  let signalled = false;
  const onSignal = () => {
    if (signalled) process.exit(130);
    signalled = true;
    stop('signal');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  await stopped;
  for (const t of timers) clearTimeout(t);
  timeline.push({ epochMs: Date.now(), count: totalConsumed });
  await Promise.race([consumer.shutdown(), new Promise((r) => setTimeout(r, SHUTDOWN_TIMEOUT_MS))]);

  // The window ends at the last message consumed inside it (idle time after a drained backlog is not counted).
  const windowSeconds = windowStartEpochMs > 0 && windowEndEpochMs > windowStartEpochMs ? (windowEndEpochMs - windowStartEpochMs) / 1000 : 0;
  const cpuUsed = cpuAtLast.user - cpuAtWindowStart.user + (cpuAtLast.system - cpuAtWindowStart.system);
  const n = Math.max(1, win.consumed);
  const [p50, p99] = b2cReservoir.percentiles([50, 99]) ?? [];
  const summary: ConsumerSummary = {
    tool: 'consumer',
    options: { ...o, jsonOut: undefined },
    group: o.group,
    windowStartEpochMs,
    windowEndEpochMs,
    windowSeconds,
    consumed: windowCountAtLast,
    consumeTps: windowSeconds > 0 ? windowCountAtLast / windowSeconds : 0,
    consumeFail: win.failed,
    avgB2CMs: win.b2cSum / n,
    avgS2CMs: win.s2cSum / n,
    maxB2CMs: win.b2cMax,
    maxS2CMs: win.s2cMax,
    p50B2CMs: p50 ?? null,
    p99B2CMs: p99 ?? null,
    totalConsumed,
    firstConsumeEpochMs,
    lastConsumeEpochMs,
    stoppedBy,
    cpuPercent: windowSeconds > 0 ? (cpuUsed / 1000 / (windowSeconds * 1000)) * 100 : 0,
    timeline,
  };
  console.log(
    `[Complete] Consume Total: ${summary.consumed} | Consume TPS: ${d(summary.consumeTps)} | AVG(B2C) RT(ms): ${f73(summary.avgB2CMs)} | AVG(S2C) RT(ms): ${f73(summary.avgS2CMs)} | ` +
      `MAX(B2C) RT(ms): ${d(summary.maxB2CMs)} | MAX(S2C) RT(ms): ${d(summary.maxS2CMs)} | Consume Fail: ${summary.consumeFail}`,
  );
  const ms = (v: number | undefined) => (v === undefined ? '—' : v.toFixed(1));
  console.log(
    `[Complete] B2C(ms) p50: ${ms(p50)} | p99: ${ms(p99)} | window: ${windowSeconds.toFixed(2)} s${o.warmup > 0 ? ` after ${o.warmup} s warm-up` : ''} | stopped by: ${stoppedBy} | CPU: ${summary.cpuPercent.toFixed(0)}%`,
  );

  if (o.jsonOut) writeFileSync(o.jsonOut, `${JSON.stringify(summary)}\n`);
  if (o.writeResultFiles) {
    const rows = [
      ['Consume TPS (messages/s)', formatCount(summary.consumeTps)],
      ['Consumed in window', formatCount(summary.consumed)],
      ['AVG / MAX B2C (ms)', `${formatDecimal(summary.avgB2CMs, 3)} / ${formatCount(summary.maxB2CMs)}`],
      ['AVG / MAX S2C (ms)', `${formatDecimal(summary.avgS2CMs, 3)} / ${formatCount(summary.maxS2CMs)}`],
      ['p50 / p99 B2C (ms)', `${ms(p50)} / ${ms(p99)}`],
      ['Consume Fail', formatCount(summary.consumeFail)],
      ['Window (s)', formatDecimal(windowSeconds, 2)],
      ['Stopped by', stoppedBy],
      ['Consumer CPU (% of a core)', formatDecimal(summary.cpuPercent, 0)],
    ];
    const markdown = [
      '# Consumer benchmark: latest run',
      '',
      `\`consumer.ts -n ${o.namesrv} -t ${o.topic} -g ${o.group} -w ${o.threads} --from ${fromLabel(o.from)}\`, ${new Date().toISOString()}`,
      `Machine: ${describeMachine(machineInfo())}.`,
      '',
      renderMarkdownTable({ columns: [{ header: 'Figure' }, { header: 'Value', align: 'right' }], rows }),
      '',
    ].join('\n');
    const written = writeResults('consumer', { data: { benchmark: 'consumer', ...summary, timeline: undefined }, markdown });
    console.error(`results: ${written.jsonPath}`);
  }
  return 0;
}

function fromLabel(from: ConsumerOptions['from']): string {
  return from === 'CONSUME_FROM_FIRST_OFFSET' ? 'first' : from === 'CONSUME_FROM_LAST_OFFSET' ? 'last' : 'timestamp';
}

runMain(main);
