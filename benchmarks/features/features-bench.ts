// What the features beyond send and pull cost (issue 5): delayed messages (send rate, and lateness:
// delivery time − due time), transactional sends (half + END_TRANSACTION per message) against plain
// sends measured in the same run, and consuming through a tag filter and a SQL92 filter against
// consuming everything. One NameServer and one broker (ASYNC_MASTER, ASYNC_FLUSH,
// enablePropertyFilter=true) run as processes for the whole run; the client runs here.
//
//   node --import tsx benchmarks/features/features-bench.ts [--runs N] [--quick]
import { formatCount, formatDecimal, formatRatio } from '../lib/format.js';
import { runMain, walkFlags } from '../lib/cli.js';
import { Progress } from '../lib/progress.js';
import { printWrittenResults, renderReportPage } from '../lib/report.js';
import { describeMachine, machineInfo, writeResults } from '../lib/results.js';
import { median } from '../lib/stats.js';
import { groupedBarChartSvg } from '../lib/svg-chart.js';
import { renderMarkdownTable, renderTextTable, type Table } from '../lib/table.js';
import { startLocalCluster, type LocalCluster } from '../broker/local-cluster.js';
import {
  DELAY_LEVEL,
  DELAY_LEVEL_MS,
  FILTER_SQL,
  FILTER_TAG,
  fillFilterTopic,
  runDelayedDelivery,
  runFilteredConsume,
  runSends,
  type DelayedDelivery,
  type FilterKind,
  type SendKind,
} from './feature-loads.js';

const QUEUES = 8;
const BODY_BYTES = 1024;
const PHASE_TIMEOUT_MS = 120_000;

interface Options {
  runs: number;
  /** Sends per send case. */
  sends: number;
  /** Delayed messages in the delivery case. */
  delayed: number;
  /** Messages in the filter topic. */
  filterMessages: number;
  senders: number;
  quick: boolean;
  verbose: boolean;
}

const USAGE = `usage: node --import tsx benchmarks/features/features-bench.ts [options]
  --runs N        rounds; tables show medians (default 3; 1 with --quick)
  --sends N       sends per send case (default 50000; 3000 with --quick)
  --delayed N     delayed messages in the delivery case (default 10000; 2000 with --quick)
  --filter N      messages in the filter topic (default 300000; 10000 with --quick)
  --senders N     concurrent senders (default 16)
  --quick         smoke run
  --verbose       show the broker's and NameServer's output`;

function parseOptions(argv: string[]): Options {
  const o: Options = { runs: NaN, sends: NaN, delayed: NaN, filterMessages: NaN, senders: 16, quick: false, verbose: false };
  walkFlags(argv, USAGE, (a, next) => {
    if (a === '--runs') o.runs = Number(next());
    else if (a === '--sends') o.sends = Number(next());
    else if (a === '--delayed') o.delayed = Number(next());
    else if (a === '--filter') o.filterMessages = Number(next());
    else if (a === '--senders') o.senders = Number(next());
    else if (a === '--quick') o.quick = true;
    else if (a === '--verbose') o.verbose = true;
    else return false;
    return true;
  });
  if (Number.isNaN(o.runs)) o.runs = o.quick ? 1 : 3;
  if (Number.isNaN(o.sends)) o.sends = o.quick ? 3_000 : 50_000;
  if (Number.isNaN(o.delayed)) o.delayed = o.quick ? 2_000 : 10_000;
  if (Number.isNaN(o.filterMessages)) o.filterMessages = o.quick ? 10_000 : 300_000;
  const int = (name: string, v: number, lo: number, hi: number) => {
    if (!Number.isInteger(v) || v < lo || v > hi) throw new RangeError(`${name} must be an integer ${lo}..${hi}`);
  };
  int('--runs', o.runs, 1, 20);
  int('--sends', o.sends, 100, 1_000_000);
  int('--delayed', o.delayed, 100, 1_000_000);
  int('--filter', o.filterMessages, 100, 10_000_000);
  int('--senders', o.senders, 1, 1024);
  return o;
}

interface Round {
  sends: Record<SendKind, number>;
  delayed: DelayedDelivery;
  /** Matching messages delivered per second, and topic messages filtered per second. */
  filtered: Record<FilterKind, { delivered: number; scanned: number }>;
}

const SEND_KINDS: SendKind[] = ['plain', 'delayed', 'transactional'];
const FILTER_KINDS: FilterKind[] = ['all', 'tag', 'sql92'];
const SEND_LABEL: Record<SendKind, string> = { plain: 'plain send', delayed: `delayed send (level ${DELAY_LEVEL})`, transactional: 'transactional send (commit)' };
const FILTER_LABEL: Record<FilterKind, string> = { all: 'everything (*)', tag: `tag "${FILTER_TAG}" (half)`, sql92: `SQL92 "${FILTER_SQL}" (half)` };

async function runRound(cluster: LocalCluster, o: Options, round: number, progress: Progress): Promise<Round> {
  const body = Buffer.alloc(BODY_BYTES, 0x61);
  const sends = {} as Record<SendKind, number>;
  for (const kind of SEND_KINDS) {
    progress.start();
    const topic = `FeatSend_${kind}_${round}`;
    await cluster.createTopic(topic, QUEUES);
    const r = await runSends(cluster.namesrvAddr, topic, kind, o.sends, o.senders, body);
    sends[kind] = r.msgsPerSecond;
    progress.finish(`round ${round + 1}: ${SEND_LABEL[kind]}`, `${formatCount(r.msgsPerSecond)} msgs/s`);
  }
  progress.start();
  const delayTopic = `FeatDelay_${round}`;
  await cluster.createTopic(delayTopic, QUEUES);
  const delayed = await runDelayedDelivery(cluster.namesrvAddr, delayTopic, o.delayed, o.senders, body, PHASE_TIMEOUT_MS);
  progress.finish(`round ${round + 1}: delayed delivery`, `lateness p50 ${formatDecimal(delayed.latenessP50Ms)} ms, p99 ${formatDecimal(delayed.latenessP99Ms)} ms`);

  const filterTopic = `FeatFilter_${round}`;
  await cluster.createTopic(filterTopic, QUEUES);
  await fillFilterTopic(cluster.namesrvAddr, filterTopic, o.filterMessages, body);
  const filtered = {} as Round['filtered'];
  for (const kind of FILTER_KINDS) {
    progress.start();
    const r = await runFilteredConsume(cluster.namesrvAddr, filterTopic, o.filterMessages, kind, PHASE_TIMEOUT_MS);
    filtered[kind] = { delivered: r.deliveredPerSecond, scanned: r.scannedPerSecond };
    progress.finish(`round ${round + 1}: consume ${FILTER_LABEL[kind]}`, `${formatCount(r.scannedPerSecond)} scanned/s`);
  }
  return { sends, delayed, filtered };
}

function medianOf(rounds: Round[], pick: (r: Round) => number): number {
  return median(rounds.map(pick));
}

function tables(rounds: Round[]): { sendTable: Table; delayTable: Table; filterTable: Table } {
  const plain = medianOf(rounds, (r) => r.sends.plain);
  const sendTable: Table = {
    columns: [{ header: 'Send' }, { header: 'msgs/s', align: 'right' }, { header: 'min–max', align: 'right' }, { header: '× plain', align: 'right' }],
    rows: SEND_KINDS.map((k) => {
      const v = rounds.map((r) => r.sends[k]);
      const m = median(v);
      return [SEND_LABEL[k], formatCount(m), `${formatCount(Math.min(...v))}–${formatCount(Math.max(...v))}`, formatRatio(m / plain)];
    }),
  };
  const d = (pick: (x: DelayedDelivery) => number) => medianOf(rounds, (r) => pick(r.delayed));
  const delayTable: Table = {
    columns: [
      { header: 'Delayed delivery' },
      { header: 'messages', align: 'right' },
      { header: 'delivered/s', align: 'right' },
      { header: 'lateness p50 ms', align: 'right' },
      { header: 'p99 ms', align: 'right' },
      { header: 'max ms', align: 'right' },
      { header: 'early', align: 'right' },
    ],
    rows: [
      [
        `level ${DELAY_LEVEL} (${DELAY_LEVEL_MS / 1000} s)`,
        formatCount(d((x) => x.delivered)),
        formatCount(d((x) => x.deliveredPerSecond)),
        formatDecimal(d((x) => x.latenessP50Ms)),
        formatDecimal(d((x) => x.latenessP99Ms)),
        formatDecimal(d((x) => x.latenessMaxMs)),
        String(rounds.reduce((s, r) => s + r.delayed.early, 0)),
      ],
    ],
  };
  const all = medianOf(rounds, (r) => r.filtered.all.scanned);
  const filterTable: Table = {
    columns: [
      { header: 'Consume through' },
      { header: 'scanned msgs/s', align: 'right' },
      { header: 'delivered msgs/s', align: 'right' },
      { header: 'scanned × unfiltered', align: 'right' },
    ],
    rows: FILTER_KINDS.map((k) => {
      const scanned = medianOf(rounds, (r) => r.filtered[k].scanned);
      return [FILTER_LABEL[k], formatCount(scanned), formatCount(medianOf(rounds, (r) => r.filtered[k].delivered)), formatRatio(scanned / all)];
    }),
  };
  return { sendTable, delayTable, filterTable };
}

function chartSvg(rounds: Round[], subtitle: string): string {
  const series = [...SEND_KINDS.map((k) => ({ name: SEND_LABEL[k] })), ...FILTER_KINDS.map((k) => ({ name: FILTER_LABEL[k] }))];
  return groupedBarChartSvg({
    title: 'Features: send and consume rates (1 KiB messages, medians)',
    subtitle,
    valueAxisLabel: 'msgs/s',
    groupAxisLabel: 'load',
    series,
    groups: [
      { label: 'send, each awaited', values: Object.fromEntries(SEND_KINDS.map((k) => [SEND_LABEL[k], medianOf(rounds, (r) => r.sends[k])])) },
      { label: 'consume from the start (scanned/s)', values: Object.fromEntries(FILTER_KINDS.map((k) => [FILTER_LABEL[k], medianOf(rounds, (r) => r.filtered[k].scanned)])) },
    ],
    scale: 'linear',
    widthPx: 1000,
  });
}

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2));
  const startedAt = new Date().toISOString();
  const machine = machineInfo();
  const machineLine = describeMachine(machine);
  const progress = new Progress(o.runs * (SEND_KINDS.length + 1 + FILTER_KINDS.length));
  const log = o.verbose ? (line: string) => console.error(line) : undefined;
  const cluster = await startLocalCluster({ brokerProperties: { enablePropertyFilter: 'true' }, log });
  const rounds: Round[] = [];
  let error: string | undefined;
  try {
    for (let round = 0; round < o.runs; round++) rounds.push(await runRound(cluster, o, round, progress));
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
    console.error(`features benchmark failed: ${error}`);
  } finally {
    await cluster.stop();
  }
  if (rounds.length === 0) return 1;

  const { sendTable, delayTable, filterTable } = tables(rounds);
  for (const t of [sendTable, delayTable, filterTable]) console.log(`\n${renderTextTable(t)}`);
  const notes = [
    `Sends: ${formatCount(o.sends)} messages of ${BODY_BYTES} B per case by ${o.senders} concurrent senders, each awaiting its acknowledgement (producer.send, or sendMessageInTransaction with a listener that commits at once: a half message, then END_TRANSACTION oneway, then the broker's commit put). Each case has its own topic of ${QUEUES} queues; "× plain" divides by the plain send of the same run.`,
    `Delayed delivery: a PushConsumer subscribes first; then ${formatCount(o.delayed)} level-${DELAY_LEVEL} messages are sent as fast as the senders go. Lateness = time the listener got the message − (its born timestamp, the client's clock at send, + ${DELAY_LEVEL_MS} ms): it holds the send's own latency and the consume path's. "early" counts deliveries before that due time (RocketMQ's due time is the store timestamp + delay, a little after the born timestamp).`,
    `Filters: one topic of ${formatCount(o.filterMessages)} messages (batches of 128), TAGS alternating A/B, property a = i mod 10; each filter is read from the start by a new group (PushConsumer, pullBatchSize 32). Tags are filtered on the consume queue's tag hash, SQL92 on each record's properties on the broker (enablePropertyFilter=true). Every delivery is checked against the filter; a wrong one or a repeat fails the run. Rates are from the first delivery to the last.`,
    `One broker (ASYNC_MASTER, ASYNC_FLUSH, 256 MiB segments, defaults otherwise) and one NameServer, processes of their own; the client runs in the benchmark process. The machine is shared (2 cores): compare within a run.`,
    ...(error ? [`The run stopped early: ${error}`] : []),
  ];
  const markdown = renderReportPage({
    title: 'Features benchmark: latest results',
    runLine: `Run ${startedAt}, ${progress.elapsedSeconds.toFixed(0)} s; ${o.quick ? 'quick smoke run; ' : ''}median of ${rounds.length} round(s).`,
    machineLine,
    sections: [
      { heading: 'Sends', lines: [renderMarkdownTable(sendTable)] },
      { heading: 'Delayed messages', lines: [renderMarkdownTable(delayTable)] },
      { heading: 'Filtered consume', lines: [renderMarkdownTable(filterTable)] },
    ],
    notes,
    chart: { file: `${o.quick ? 'features-quick' : 'features'}-latest.svg`, caption: 'send and consume rates' },
  });
  const written = writeResults(o.quick ? 'features-quick' : 'features', {
    data: { benchmark: 'features', startedAt, finishedAt: new Date().toISOString(), options: o, brokerProperties: cluster.brokerProperties, rounds, error: error ?? null, notes },
    markdown,
    svg: chartSvg(rounds, `${rounds.length} round(s) · ${machineLine.split(',').slice(0, 2).join(',')}`),
  });
  printWrittenResults(written);
  return error ? 1 : 0;
}

runMain(main);
