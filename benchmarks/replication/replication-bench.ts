// Replication benchmark: what a SYNC_MASTER costs next to an ASYNC_MASTER, and what SYNC_FLUSH costs
// next to ASYNC_FLUSH, under the same producer load in one run on this machine.
//
//   pnpm bench:replication                                    # 4 setups × concurrency 1, 16, 128 × (2 + 10) s, about 4 minutes
//   node --import tsx benchmarks/replication/replication-bench.ts --quick      # smoke run: 2 s cells, ~1.5 minutes
//   node --import tsx benchmarks/replication/replication-bench.ts --seconds 20 --runs 3 --only 2m-2s
//
// For each setup (setups.ts) it starts the deployment with scripts/deployment (mqnamesrv and every
// mqbroker as processes, ports picked free, a temporary store), creates the topic on every master,
// waits until every master answers SEND_OK (a SYNC_MASTER does so only once its slave is connected)
// and the slaves have caught up, then for each concurrency runs benchmarks/broker/producer.ts (sync
// sends of 1 KiB bodies from -w senders) for a warm-up plus a measured window, while sampling how
// far each slave is behind its master. Prints the table, the ratios and the issue's targets with
// PASS/FAIL; writes results/replication-<time>.json and replication-latest.{json,md,svg}.
// Not a test: benchmarks never run in CI.
import { startDeployment, type Deployment } from '../../scripts/deployment/deployment.js';
import { createTopicOnMasters, sendToBrokerUntilOk, waitForSlavesToCatchUp } from '../../scripts/deployment/message-checks.js';
import { formatCount, formatDecimal } from '../lib/format.js';
import { machineBusySeconds } from '../lib/process-cpu.js';
import { Progress } from '../lib/progress.js';
import { describeMachine, machineInfo, writeResults } from '../lib/results.js';
import { freshScratchDir } from '../lib/scratch-dir.js';
import { renderMarkdownTable, renderTextTable } from '../lib/table.js';
import { BENCH_COMMIT_LOG_SEGMENT_BYTES } from '../broker/local-cluster.js';
import { waitForQuietMachine } from './quiet-machine.js';
import { LagSampler, replicaPairsOf } from './replica-lag.js';
import { cellsTable, evaluateTargets, medians, ratiosTable, targetsTable, throughputChartSvg, type CellMeasure, type CellResult } from './report.js';
import { runProducer, summaryPath } from './run-producer.js';
import { DEFAULT_CONCURRENCIES, SETUPS, type BenchSetup } from './setups.js';
import { runMain, walkFlags } from '../lib/cli.js';
import { printWrittenResults, renderReportPage } from '../lib/report.js';

const TOPIC = 'ReplicationBench';
const QUEUES_PER_MASTER = 8;
/** How long slaves may take to reach their masters' offsets after a cell, before the next one starts. */
const CATCH_UP_LIMIT_MS = 60_000;
const READY_TIMEOUT_MS = 30_000;

interface Options {
  seconds: number;
  warmup: number;
  runs: number;
  concurrencies: number[];
  bodyBytes: number;
  only: string | undefined;
  quick: boolean;
  verbose: boolean;
}

const USAGE = `usage: node --import tsx benchmarks/replication/replication-bench.ts [options]
  --seconds S        measured seconds per cell (default 10; 2 with --quick)
  --warmup S         seconds before each cell's window, not counted (default 2; 1 with --quick)
  --runs N           runs of every cell; tables show medians (default 1)
  --concurrency LIST concurrent senders per cell, comma-separated (default ${DEFAULT_CONCURRENCIES.join(',')})
  --size BYTES       message body bytes (default 1024)
  --only TEXT        only the setups whose label contains TEXT (${SETUPS.map((s) => s.label).join(', ')})
  --quick            smoke run: short cells
  --verbose          show the producer's report lines`;

function parseOptions(argv: string[]): Options {
  const o: Options = { seconds: NaN, warmup: NaN, runs: 1, concurrencies: DEFAULT_CONCURRENCIES, bodyBytes: 1024, only: undefined, quick: false, verbose: false };
  walkFlags(argv, USAGE, (a, next) => {
    if (a === '--seconds') o.seconds = Number(next());
    else if (a === '--warmup') o.warmup = Number(next());
    else if (a === '--runs') o.runs = Number(next());
    else if (a === '--concurrency') o.concurrencies = next().split(',').map(Number);
    else if (a === '--size') o.bodyBytes = Number(next());
    else if (a === '--only') o.only = next();
    else if (a === '--quick') o.quick = true;
    else if (a === '--verbose') o.verbose = true;
    else return false;
    return true;
  });
  if (Number.isNaN(o.seconds)) o.seconds = o.quick ? 2 : 10;
  if (Number.isNaN(o.warmup)) o.warmup = o.quick ? 1 : 2;
  if (!(o.seconds >= 1 && o.seconds <= 600)) throw new RangeError('--seconds must be 1..600');
  if (!(o.warmup >= 0 && o.warmup <= 60)) throw new RangeError('--warmup must be 0..60');
  if (!Number.isInteger(o.runs) || o.runs < 1 || o.runs > 20) throw new RangeError('--runs must be an integer 1..20');
  if (o.concurrencies.length === 0 || o.concurrencies.some((c) => !Number.isInteger(c) || c < 1 || c > 4096)) throw new RangeError('--concurrency must list integers 1..4096');
  if (!Number.isInteger(o.bodyBytes) || o.bodyBytes < 1 || o.bodyBytes > 4 * 1024 * 1024) throw new RangeError('--size must be 1..4194304');
  return o;
}

function selectedSetups(o: Options): BenchSetup[] {
  const chosen = o.only ? SETUPS.filter((s) => s.label.toLowerCase().includes(o.only!.toLowerCase())) : SETUPS;
  if (chosen.length === 0) throw new RangeError(`--only ${o.only} matches no setup (${SETUPS.map((s) => s.label).join(', ')})`);
  return chosen;
}

/** Topic on every master; every master answers SEND_OK; every slave at its master's offset. */
async function prepare(d: Deployment, progress: Progress): Promise<void> {
  const masters = d.brokers.filter((b) => b.role !== 'SLAVE');
  await createTopicOnMasters(d.namesrvAddr, masters.map((m) => m.addr), TOPIC, QUEUES_PER_MASTER, READY_TIMEOUT_MS);
  for (const m of masters) {
    const probe = await sendToBrokerUntilOk(d.namesrvAddr, TOPIC, m.brokerName, READY_TIMEOUT_MS);
    if (!probe.ok) throw new Error(`${m.name} did not answer SEND_OK within ${READY_TIMEOUT_MS} ms (last: ${probe.last})`);
  }
  const pairs = replicaPairsOf(d);
  if (pairs.length > 0) {
    const caught = await waitForSlavesToCatchUp(pairs.map((p) => ({ name: p.slave, masterAddr: p.master, slaveAddr: p.slave })), READY_TIMEOUT_MS);
    if (!caught.caughtUp) progress.note(`slaves not caught up before the first cell: ${JSON.stringify(caught.offsets)}`);
  }
}

async function runCell(d: Deployment, o: Options, concurrency: number, jsonOut: string, log: ((line: string) => void) | undefined): Promise<CellMeasure> {
  const quiet = await waitForQuietMachine();
  const pairs = replicaPairsOf(d);
  const sampler = pairs.length > 0 ? new LagSampler(pairs) : undefined;
  const busyBefore = machineBusySeconds();
  const t0 = performance.now();
  let summary;
  try {
    summary = await runProducer({ namesrvAddr: d.namesrvAddr, topic: TOPIC, concurrency, bodyBytes: o.bodyBytes, warmupSeconds: o.warmup, measureSeconds: o.seconds, jsonOut, log });
  } catch (err) {
    await sampler?.stop(0);
    throw err;
  }
  const busyPercent = ((machineBusySeconds() - busyBefore) / ((performance.now() - t0) / 1000)) * 100;
  const lag = await sampler?.stop(CATCH_UP_LIMIT_MS);
  const m: CellMeasure = {
    msgsPerSecond: summary.sendMps,
    avgMs: summary.avgRtMs,
    p99Ms: summary.p99RtMs ?? undefined,
    maxMs: summary.maxRtMs,
    failed: summary.sendFailed + summary.responseFailed,
    machineBusyPercent: busyPercent,
    busyBeforePercent: quiet.busyPercent,
  };
  if (lag) Object.assign(m, { maxLagBytes: lag.maxLagBytes, lagAtExitBytes: lag.lagAtExitBytes, catchUpMs: lag.catchUpMs });
  return m;
}

function resultsName(o: Options): string {
  return o.only ? 'replication-partial' : o.quick ? 'replication-quick' : 'replication';
}

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2));
  const setups = selectedSetups(o);
  const machine = machineInfo();
  const machineLine = describeMachine(machine);
  const progress = new Progress(setups.length * o.concurrencies.length * o.runs);
  const toolDir = freshScratchDir('replication-tools');
  const log = o.verbose ? (line: string) => process.stderr.write(`${line}\n`) : undefined;
  console.error(`replication benchmark: ${setups.map((s) => s.label).join(', ')} × concurrency ${o.concurrencies.join('/')} × ${o.runs} run(s) of ${o.warmup} + ${o.seconds} s; ${machineLine}`);

  const results: CellResult[] = setups.flatMap((setup) => o.concurrencies.map((concurrency) => ({ setup, concurrency, runs: [] as CellMeasure[] })));
  const cellOf = (s: BenchSetup, c: number) => results.find((r) => r.setup === s && r.concurrency === c)!;
  let seq = 0;

  // Rounds over every setup, so with --runs > 1 drift on the machine spreads over all setups alike.
  for (let round = 1; round <= o.runs; round++) {
    for (const setup of setups) {
      const scratch = freshScratchDir('replication');
      let d: Deployment | undefined;
      try {
        progress.note(`starting ${setup.deployment} (${setup.flushDiskType})${o.runs > 1 ? `, round ${round}` : ''}`);
        d = await startDeployment({
          deployment: setup.deployment,
          dataDir: scratch.path,
          portOffset: 'auto',
          overrides: { flushDiskType: setup.flushDiskType, mappedFileSizeCommitLog: String(BENCH_COMMIT_LOG_SEGMENT_BYTES) },
        });
        await prepare(d, progress);
        for (const concurrency of o.concurrencies) {
          const cell = cellOf(setup, concurrency);
          const label = `${setup.label} x${concurrency}`;
          progress.start();
          try {
            const m = await runCell(d, o, concurrency, summaryPath(toolDir.path, ++seq), log);
            cell.runs.push(m);
            const lagText = m.maxLagBytes !== undefined ? `, max slave lag ${formatDecimal(m.maxLagBytes / 1024, 1)} KiB` : '';
            progress.finish(label, `${formatCount(m.msgsPerSecond)} msgs/s, p99 ${m.p99Ms === undefined ? '—' : formatDecimal(m.p99Ms, 2)} ms${m.failed ? `, ${m.failed} failed` : ''}${lagText}`);
          } catch (err) {
            cell.error = (err as Error).message;
            progress.fail(label, cell.error.split('\n')[0]!);
          }
        }
      } catch (err) {
        const reason = (err as Error).message;
        for (const c of o.concurrencies) {
          const cell = cellOf(setup, c);
          if (cell.runs.length < round) {
            cell.error = reason;
            progress.fail(`${setup.label} x${c}`, reason.split('\n')[0]!);
          }
        }
      } finally {
        await d?.stop();
        scratch.remove();
      }
    }
  }
  toolDir.remove();

  const cells = cellsTable(results);
  const ratios = ratiosTable(results, o.concurrencies);
  const targets = evaluateTargets(results);
  const command = `replication-bench.ts --seconds ${o.seconds} --warmup ${o.warmup} --runs ${o.runs} --concurrency ${o.concurrencies.join(',')} --size ${o.bodyBytes}${o.only ? ` --only "${o.only}"` : ''}${o.quick ? ' --quick' : ''}`;
  const notes = [
    `Load: benchmarks/broker/producer.ts -w <concurrency> -s ${o.bodyBytes} (one Producer, each sender loops a sync send; topic ${TOPIC} with ${QUEUES_PER_MASTER} queues on every master, sends round-robin over all of them). Each cell: ${o.warmup} s warm-up, then ${o.seconds} s measured.`,
    'Setups: scripts/deployment over conf/ (every process on this machine, 127.0.0.1, free ports); commit-log segments 256 MiB; flushDiskType as labelled (the 2m-2s setups: ASYNC_FLUSH).',
    'msgs/s = sends answered in the window ÷ window; Avg/p99/Max = send call to resolve, in the window. A SYNC_MASTER answer that is FLUSH_SLAVE_TIMEOUT or SLAVE_NOT_AVAILABLE counts as answered (producer.ts does not tell statuses apart).',
    'Max slave lag = largest sum over groups of (master − slave commit-log offset) sampled every 500 ms during the cell; Catch-up = ms from the producer\'s exit until every slave was at its master\'s offset.',
    'Machine busy % = CPU busy time of the whole machine over the producer\'s run, of 100 × cores: near the top means the cell was CPU-bound (every process shares the same cores). Busy before = the machine just before the cell, after waiting up to 15 s for it to fall under 40 % (other sessions share this machine).',
    'A SYNC_MASTER answers FLUSH_SLAVE_TIMEOUT only after syncFlushTimeout (5 s) and SLAVE_NOT_AVAILABLE only with no slave connected or one 256 MiB behind: a Max ms under 5,000 with a small slave lag means every answer of a 2m-2s-sync cell was SEND_OK.',
  ];

  console.log(`\nReplication benchmark (${command})\n${machineLine}\n`);
  console.log(renderTextTable(cells));
  console.log(`\nRatios (same run)\n${renderTextTable(ratios)}`);
  console.log(`\nTargets\n${renderTextTable(targetsTable(targets))}`);

  const markdown = renderReportPage({
    title: 'Replication benchmark: latest run',
    runLine: `\`${command}\`, ${new Date().toISOString()}`,
    machineLine,
    sections: [{ lines: [renderMarkdownTable(cells), '', renderMarkdownTable(ratios)] }, { heading: 'Targets', lines: [renderMarkdownTable(targetsTable(targets))] }],
    notes,
    chart: { file: `${resultsName(o)}-latest.svg`, caption: 'msgs/s by setup and concurrency' },
  });
  const svg = throughputChartSvg(results, setups, o.concurrencies, `${o.seconds} s per cell · ${machineLine.split(',').slice(0, 2).join(',')}`);
  const written = writeResults(resultsName(o), {
    data: {
      benchmark: 'replication',
      options: o,
      notes,
      cells: results.map((r) => ({ setup: r.setup, concurrency: r.concurrency, runs: r.runs, median: medians(r), error: r.error })),
      targets,
    },
    markdown,
    svg,
  });
  printWrittenResults(written, console.error);
  return results.some((r) => r.error) ? 1 : 0;
}

runMain(main);
