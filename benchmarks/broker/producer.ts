// Producer load tool shaped like RocketMQ's benchmark/producer.sh (and batchproducer.sh with -b > 1):
//
//   node --import tsx benchmarks/broker/producer.ts -n 127.0.0.1:9876 -t BenchmarkTest -w 64 -s 1024
//   node --import tsx benchmarks/broker/producer.ts -s 1024 -b 32 -w 16 --seconds 30
//   node --import tsx benchmarks/broker/producer.ts -s 1024 -w 64 --rate 20000      # fixed rate, for latency
//
// -w senders each loop `await producer.send(msg)` (sync send, RocketMQ's default) or, with -b N,
// `await producer.sendBatch(N messages)`, all through one Producer (one connection per broker, as the
// Java benchmark's shared producer). With --rate R the senders are replaced by a scheduler that
// starts R/b requests per second (at most -w in flight; a send due while -w are in flight waits for
// one to finish and is counted as behind), so latency is measured at a steady load instead of at
// saturation. RT is measured from the send call, not from when the send was due.
//
// Prints the configuration, then every report interval (1 s) RocketMQ's line:
//   Current Time: 2026-11-24 14:01:02,345 | Send TPS: 81234 | Max RT(ms): 12 | Average RT(ms):   0.784 | Send Failed: 0 | Response Failed: 0
// (with -b > 1 batchproducer.sh's: Send TPS | Send MPS | Max RT(ms) | Average RT(ms) | Average Message RT(ms) | Send Failed | Send Message Failed),
// and at the end a [Complete] line over the measured window plus RT percentiles. Figures go to
// benchmarks/results/producer-<time>.json and producer-latest.{json,md} (not with --no-results).
// Not a test: benchmarks never run in CI.
import { writeFileSync } from 'node:fs';
import { MQBrokerError, Producer, type Message } from '@orbit/client';
import { formatCount, formatDecimal } from '../lib/format.js';
import { describeMachine, machineInfo, writeResults } from '../lib/results.js';
import { LatencyReservoir } from '../lib/stats.js';
import { renderMarkdownTable } from '../lib/table.js';
import { bodyPool, d, f73, humanTime, parseToolArgs, TIMELINE_INTERVAL_MS, usageText, type OptionSpec, type ProducerSummary, type TimelinePoint } from './tool-common.js';
import { runMain } from '../lib/cli.js';

const SPECS: OptionSpec[] = [
  { names: ['n', 'namesrv'], kind: 'string', help: 'NameServer address list "host:port;host:port" (127.0.0.1:9876)' },
  { names: ['t', 'topic'], kind: 'string', help: 'topic (BenchmarkTest)' },
  { names: ['w', 'threads'], kind: 'number', help: 'concurrent senders; with --rate, most requests in flight (64)' },
  { names: ['s', 'size'], kind: 'number', help: 'message body bytes, random alphanumeric (128)' },
  { names: ['b', 'batch'], kind: 'number', help: 'messages per request: 1 = send, N > 1 = sendBatch of N (1)' },
  { names: ['q', 'quantity'], kind: 'number', help: 'messages to send in all; 0 = until --seconds is up (0)' },
  { names: ['k', 'keys'], kind: 'boolean', help: 'set a key on each message: the send second (false)' },
  { names: ['l', 'tags'], kind: 'number', help: 'tag count N: tag<ms % N> on each message; 0 = no tag (0)' },
  { names: ['seconds', 'd'], kind: 'number', help: 'run time in seconds, warm-up included; 0 = until -q or Ctrl-C (10)' },
  { names: ['warmup'], kind: 'number', help: 'seconds at the start not counted in [Complete] (0)' },
  { names: ['rate'], kind: 'number', help: 'fixed target messages/s (for latency); 0 = as fast as possible (0)' },
  { names: ['ri', 'report-interval'], kind: 'number', help: 'ms between report lines (1000)' },
  { names: ['g', 'group'], kind: 'string', help: 'producer group (benchmark_producer)' },
  { names: ['timeout'], kind: 'number', help: 'send timeout ms, retries included (3000)' },
  { names: ['json-out'], kind: 'string', help: 'also write the summary JSON to this file (used by broker-bench.ts)' },
  { names: ['no-results'], kind: 'boolean', help: 'do not write benchmarks/results/producer-*' },
  { names: ['h', 'help'], kind: 'boolean', help: 'this help' },
];

interface ProducerOptions {
  namesrv: string;
  topic: string;
  threads: number;
  size: number;
  batch: number;
  quantity: number;
  keys: boolean;
  tags: number;
  seconds: number;
  warmup: number;
  rate: number;
  reportIntervalMs: number;
  group: string;
  timeoutMs: number;
  jsonOut: string | undefined;
  writeResultFiles: boolean;
}

const USAGE = usageText('node --import tsx benchmarks/broker/producer.ts', SPECS);
/** A sender whose request failed waits this long before the next (RocketMQ's benchmark sleeps 3 s). */
const FAIL_PAUSE_MS = 1_000;
const DRAIN_TIMEOUT_MS = 15_000;
const SHUTDOWN_TIMEOUT_MS = 10_000;

function parseOptions(argv: string[]): ProducerOptions {
  const a = parseToolArgs(argv, SPECS);
  if (a.get('h')) {
    console.log(USAGE);
    process.exit(0);
  }
  const num = (key: string, dflt: number) => (a.get(key) as number | undefined) ?? dflt;
  const o: ProducerOptions = {
    namesrv: (a.get('n') as string | undefined) ?? process.env.NAMESRV_ADDR ?? '127.0.0.1:9876',
    topic: (a.get('t') as string | undefined) ?? 'BenchmarkTest',
    threads: num('w', 64),
    size: num('s', 128),
    batch: num('b', 1),
    quantity: num('q', 0),
    keys: (a.get('k') as boolean | undefined) ?? false,
    tags: num('l', 0),
    seconds: num('seconds', 10),
    warmup: num('warmup', 0),
    rate: num('rate', 0),
    reportIntervalMs: num('ri', 1000),
    group: (a.get('g') as string | undefined) ?? 'benchmark_producer',
    timeoutMs: num('timeout', 3000),
    jsonOut: a.get('json-out') as string | undefined,
    writeResultFiles: !(a.get('no-results') as boolean | undefined),
  };
  const intIn = (name: string, v: number, lo: number, hi: number) => {
    if (!Number.isInteger(v) || v < lo || v > hi) throw new RangeError(`${name} must be an integer ${lo}..${hi}, not ${v}`);
  };
  intIn('-w', o.threads, 1, 10_000);
  intIn('-s', o.size, 1, 4 * 1024 * 1024);
  intIn('-b', o.batch, 1, 65_536);
  intIn('-q', o.quantity, 0, Number.MAX_SAFE_INTEGER);
  intIn('-l', o.tags, 0, 1_000_000);
  intIn('-ri', o.reportIntervalMs, 100, 3_600_000);
  if (!(o.seconds >= 0)) throw new RangeError('--seconds must be ≥ 0');
  if (!(o.warmup >= 0) || (o.seconds > 0 && o.warmup >= o.seconds)) throw new RangeError('--warmup must be ≥ 0 and shorter than --seconds');
  if (!(o.rate >= 0)) throw new RangeError('--rate must be ≥ 0');
  if (o.seconds === 0 && o.quantity === 0) console.error('note: no --seconds and no -q: runs until Ctrl-C');
  return o;
}

/** Counters of one span of time (a report interval, or the measured window). */
class Span {
  requestsOk = 0;
  messagesOk = 0;
  rtSumMs = 0;
  rtMaxMs = 0;
  sendFailed = 0;
  responseFailed = 0;

  ok(rtMs: number, messages: number): void {
    this.requestsOk++;
    this.messagesOk += messages;
    this.rtSumMs += rtMs;
    if (rtMs > this.rtMaxMs) this.rtMaxMs = rtMs;
  }

  get avgRtMs(): number {
    return this.requestsOk > 0 ? this.rtSumMs / this.requestsOk : 0;
  }
}

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2));
  const batched = o.batch > 1;
  console.log(
    `topic: ${o.topic}, threadCount: ${o.threads}, messageSize: ${o.size}, batchSize: ${o.batch}, keyEnable: ${o.keys}, tagCount: ${o.tags}, ` +
      `messageQuantity: ${o.quantity}, seconds: ${o.seconds}, warmupSeconds: ${o.warmup}, rate: ${o.rate}, asyncEnable: false, compressEnable: false, namesrvAddr: ${o.namesrv}`,
  );

  const producer = new Producer({
    producerGroup: o.group,
    namesrvAddr: o.namesrv,
    sendMsgTimeoutMs: o.timeoutMs,
    // RocketMQ's benchmark compresses only with -c; so bodies are never compressed here.
    compressMsgBodyOverHowmuch: Number.MAX_SAFE_INTEGER,
    maxMessageSizeBytes: Math.max(4 * 1024 * 1024, o.size * o.batch + 1024 * o.batch),
  });
  await producer.start();

  const bodies = bodyPool(o.size);
  let bodyIndex = 0;
  const buildMessage = (): Message => {
    const msg: Message = { topic: o.topic, body: bodies[bodyIndex++ % bodies.length]! };
    if (o.keys) msg.keys = String(Math.floor(Date.now() / 1000));
    if (o.tags > 0) msg.tags = `tag${Date.now() % o.tags}`;
    return msg;
  };

  // ---- state ----
  const startMs = performance.now();
  const windowStartMs = startMs + o.warmup * 1000;
  const endMs = o.seconds > 0 ? startMs + o.seconds * 1000 : Number.POSITIVE_INFINITY;
  let inWindow = o.warmup === 0;
  let windowStartEpochMs = inWindow ? Date.now() : 0;
  let windowEndEpochMs = 0;
  let windowEndPerfMs = 0;
  let cpuAtWindowStart = process.cpuUsage();
  let running = true;
  let issuedMessages = 0;
  let inFlight = 0;
  let sendsBehind = 0;
  let totalMessagesOk = 0;
  let lastAckEpochMs = 0;
  let totalSendFailed = 0;
  let totalResponseFailed = 0;
  let interval = new Span();
  const win = new Span();
  const reservoir = new LatencyReservoir(200_000);
  const timeline: TimelinePoint[] = [{ epochMs: Date.now(), count: 0 }];
  const errorsSeen = new Map<string, number>();
  let stopResolve!: () => void;
  const stopped = new Promise<void>((r) => (stopResolve = r));

  const stop = () => {
    if (!running) return;
    running = false;
    if (inWindow) {
      windowEndEpochMs = Date.now();
      windowEndPerfMs = performance.now();
      inWindow = false;
    }
    stopResolve();
  };

  const sendOnce = async (): Promise<void> => {
    const begin = performance.now();
    try {
      if (batched) {
        const msgs: Message[] = [];
        for (let i = 0; i < o.batch; i++) msgs.push(buildMessage());
        await producer.sendBatch(msgs);
      } else {
        await producer.send(buildMessage());
      }
      const rt = performance.now() - begin;
      totalMessagesOk += o.batch;
      lastAckEpochMs = Date.now();
      interval.ok(rt, o.batch);
      if (inWindow) {
        win.ok(rt, o.batch);
        reservoir.add(rt);
      }
    } catch (err) {
      const text = err instanceof Error ? `${err.name}: ${err.message}`.slice(0, 200) : String(err);
      errorsSeen.set(text, (errorsSeen.get(text) ?? 0) + 1);
      if (errorsSeen.size <= 5 && errorsSeen.get(text) === 1) console.error(`[BENCHMARK_PRODUCER] Send Exception ${text}`);
      if (err instanceof MQBrokerError) {
        totalResponseFailed++;
        interval.responseFailed++;
        if (inWindow) win.responseFailed++;
      } else {
        totalSendFailed++;
        interval.sendFailed++;
        if (inWindow) win.sendFailed++;
      }
      if (running && o.rate === 0) await new Promise((r) => setTimeout(r, FAIL_PAUSE_MS));
    }
  };

  const quantityLeft = () => o.quantity === 0 || issuedMessages < o.quantity;

  // ---- timers: window start/end, report lines, timeline ----
  const timers: NodeJS.Timeout[] = [];
  if (!inWindow) {
    timers.push(
      setTimeout(() => {
        inWindow = true;
        windowStartEpochMs = Date.now();
        cpuAtWindowStart = process.cpuUsage();
      }, windowStartMs - performance.now()),
    );
  }
  if (Number.isFinite(endMs)) timers.push(setTimeout(stop, endMs - performance.now()));
  let lastReportMs = performance.now();
  timers.push(
    setInterval(() => {
      const now = performance.now();
      const secs = (now - lastReportMs) / 1000;
      lastReportMs = now;
      const s = interval;
      interval = new Span();
      const tps = s.requestsOk / secs;
      if (batched) {
        console.log(
          `Current Time: ${humanTime()} | Send TPS: ${d(tps)} | Send MPS: ${d(s.messagesOk / secs)} | Max RT(ms): ${d(Math.round(s.rtMaxMs))} | Average RT(ms): ${f73(s.avgRtMs)} | ` +
            `Average Message RT(ms): ${f73(s.avgRtMs / o.batch)} | Send Failed: ${totalSendFailed + totalResponseFailed} | Send Message Failed: ${(totalSendFailed + totalResponseFailed) * o.batch}`,
        );
      } else {
        console.log(
          `Current Time: ${humanTime()} | Send TPS: ${d(tps)} | Max RT(ms): ${d(Math.round(s.rtMaxMs))} | Average RT(ms): ${f73(s.avgRtMs)} | Send Failed: ${totalSendFailed} | Response Failed: ${totalResponseFailed}`,
        );
      }
    }, o.reportIntervalMs),
  );
  timers.push(setInterval(() => timeline.push({ epochMs: Date.now(), count: totalMessagesOk }), TIMELINE_INTERVAL_MS));

  let signalled = false;
  const onSignal = () => {
    if (signalled) process.exit(130);
    signalled = true;
    stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  // ---- load ----
  const loops: Promise<void>[] = [];
  if (o.rate === 0) {
    for (let w = 0; w < o.threads; w++) {
      loops.push(
        (async () => {
          while (running && quantityLeft()) {
            issuedMessages += o.batch;
            await sendOnce();
          }
        })(),
      );
    }
    void Promise.all(loops).then(stop);
  } else {
    const requestsPerSecond = o.rate / o.batch;
    const schedStart = performance.now();
    let scheduledRequests = 0;
    let waiting = 0; // due, not started: -w requests were in flight
    let allIssued!: () => void;
    const drained = new Promise<void>((r) => (allIssued = r));
    const startOne = () => {
      issuedMessages += o.batch;
      inFlight++;
      void sendOnce().finally(() => {
        inFlight--;
        if (waiting > 0 && running && quantityLeft()) {
          waiting--;
          startOne();
        }
      });
    };
    const tick = () => {
      if (!running || !quantityLeft()) {
        allIssued();
        return;
      }
      const due = Math.floor(((performance.now() - schedStart) / 1000) * requestsPerSecond) - scheduledRequests;
      scheduledRequests += due;
      for (let i = 0; i < due; i++) {
        if (inFlight < o.threads) startOne();
        else {
          waiting++;
          sendsBehind += o.batch;
        }
      }
      setTimeout(tick, 1);
    };
    tick();
    const outstanding = () => inFlight;
    loops.push(
      drained.then(async () => {
        const until = performance.now() + DRAIN_TIMEOUT_MS;
        while (outstanding() > 0 && performance.now() < until) await new Promise((r) => setTimeout(r, 5));
      }),
    );
    void loops[0]!.then(stop);
  }

  await stopped;
  const cpu = process.cpuUsage(cpuAtWindowStart);
  if (windowEndPerfMs === 0) {
    windowEndPerfMs = performance.now();
    windowEndEpochMs = Date.now();
  }
  // Requests still in flight finish (not counted in the window) before the producer shuts down.
  await Promise.race([Promise.all(loops), new Promise((r) => setTimeout(r, DRAIN_TIMEOUT_MS))]);
  for (const t of timers) clearTimeout(t);
  timeline.push({ epochMs: Date.now(), count: totalMessagesOk });
  await Promise.race([producer.shutdown(), new Promise((r) => setTimeout(r, SHUTDOWN_TIMEOUT_MS))]);

  // No window when the run ended (-q reached, Ctrl-C) before the warm-up did.
  const windowSeconds = windowStartEpochMs > 0 ? Math.max(1e-3, (windowEndEpochMs - windowStartEpochMs) / 1000) : 0;
  const perSecond = (n: number) => (windowSeconds > 0 ? n / windowSeconds : 0);
  const [p50, p99, p999] = reservoir.percentiles([50, 99, 99.9]) ?? [];
  const summary: ProducerSummary = {
    tool: 'producer',
    options: { ...o, jsonOut: undefined },
    windowStartEpochMs,
    windowEndEpochMs,
    windowSeconds,
    requestsOk: win.requestsOk,
    messagesOk: win.messagesOk,
    sendTps: perSecond(win.requestsOk),
    sendMps: perSecond(win.messagesOk),
    sendFailed: win.sendFailed,
    responseFailed: win.responseFailed,
    maxRtMs: win.rtMaxMs,
    avgRtMs: win.avgRtMs,
    p50RtMs: p50 ?? null,
    p99RtMs: p99 ?? null,
    p999RtMs: p999 ?? null,
    totalMessagesOk,
    lastAckEpochMs,
    sendsBehind,
    cpuPercent: windowSeconds > 0 ? ((cpu.user + cpu.system) / 1000 / (windowSeconds * 1000)) * 100 : 0,
    timeline,
  };

  const total = win.requestsOk + win.sendFailed + win.responseFailed;
  const failed = win.sendFailed + win.responseFailed;
  if (batched) {
    console.log(
      `[Complete] Send Total: ${total} | Send TPS: ${d(summary.sendTps)} | Send MPS: ${d(summary.sendMps)} | Max RT(ms): ${d(Math.round(win.rtMaxMs))} | Average RT(ms): ${f73(win.avgRtMs)} | ` +
        `Average Message RT(ms): ${f73(win.avgRtMs / o.batch)} | Send Failed: ${failed} | Send Message Failed: ${failed * o.batch}`,
    );
  } else {
    console.log(
      `[Complete] Send Total: ${total} | Send TPS: ${d(summary.sendTps)} | Max RT(ms): ${d(Math.round(win.rtMaxMs))} | Average RT(ms): ${f73(win.avgRtMs)} | Send Failed: ${win.sendFailed} | Response Failed: ${win.responseFailed}`,
    );
  }
  const ms = (v: number | undefined) => (v === undefined ? '—' : v.toFixed(3));
  console.log(
    `[Complete] RT(ms) p50: ${ms(p50)} | p99: ${ms(p99)} | p999: ${ms(p999)} | window: ${windowSeconds.toFixed(2)} s${o.warmup > 0 ? ` after ${o.warmup} s warm-up` : ''}` +
      `${o.rate > 0 ? ` | target rate: ${o.rate} msgs/s, achieved: ${d(summary.sendMps)}, behind: ${sendsBehind}` : ''} | CPU: ${summary.cpuPercent.toFixed(0)}%`,
  );
  if (errorsSeen.size > 0) for (const [text, n] of errorsSeen) console.error(`  ${n} × ${text}`);

  if (o.jsonOut) writeFileSync(o.jsonOut, `${JSON.stringify(summary)}\n`);
  if (o.writeResultFiles) {
    const machine = machineInfo();
    const rows = [
      ['Send TPS (requests/s)', formatCount(summary.sendTps)],
      ['Send MPS (messages/s)', formatCount(summary.sendMps)],
      ['Average RT (ms)', formatDecimal(summary.avgRtMs, 3)],
      ['p50 / p99 / p999 RT (ms)', `${ms(p50)} / ${ms(p99)} / ${ms(p999)}`],
      ['Max RT (ms)', formatDecimal(summary.maxRtMs, 1)],
      ['Send Failed / Response Failed', `${win.sendFailed} / ${win.responseFailed}`],
      ['Requests OK in window', formatCount(win.requestsOk)],
      ['Window (s)', formatDecimal(windowSeconds, 2)],
      ['Producer CPU (% of a core)', formatDecimal(summary.cpuPercent, 0)],
    ];
    if (o.rate > 0) rows.push(['Target rate / sends behind', `${formatCount(o.rate)} msgs/s / ${formatCount(sendsBehind)}`]);
    const markdown = [
      '# Producer benchmark: latest run',
      '',
      `\`producer.ts -n ${o.namesrv} -t ${o.topic} -w ${o.threads} -s ${o.size} -b ${o.batch}${o.keys ? ' -k' : ''}${o.tags ? ` -l ${o.tags}` : ''}${o.quantity ? ` -q ${o.quantity}` : ''} --seconds ${o.seconds}${o.warmup ? ` --warmup ${o.warmup}` : ''}${o.rate ? ` --rate ${o.rate}` : ''}\`, ${new Date().toISOString()}`,
      `Machine: ${describeMachine(machine)}.`,
      '',
      renderMarkdownTable({ columns: [{ header: 'Figure' }, { header: 'Value', align: 'right' }], rows }),
      '',
    ].join('\n');
    const written = writeResults('producer', { data: { benchmark: 'producer', ...summary, timeline: undefined }, markdown });
    console.error(`results: ${written.jsonPath}`);
  }
  return failed > 0 && win.requestsOk === 0 ? 1 : 0;
}

runMain(main);
