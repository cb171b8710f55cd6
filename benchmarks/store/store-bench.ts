// Storage-engine benchmark: how fast MessageStore appends and reads, next to what this machine's
// disk and page cache allow, measured in the same run.
//
//   node --import tsx benchmarks/store/store-bench.ts [--runs 3] [--seconds 2] [--quick] [--only TEXT]
//
// Cases, in order (each baseline runs just before the store cases it is the baseline of, so drift on
// a shared machine hits both alike):
//   per message size (128 B, 1 KiB, 16 KiB):
//     baseline A  fs.writeSync of the same record bytes in 1 MiB chunks to a fresh file (page cache)
//     baseline B  fs.writeSync + fdatasync of 64 KiB batches of those bytes to a fresh file
//     Orbit appends {ASYNC_FLUSH, SYNC_FLUSH} × {1, 8, 64} concurrent appenders
//   1 KiB reads:
//     baseline R  fs.readSync of 32-record batches from a page-cached file of the same records
//     Orbit getMessage batches of 32 over a store filled with the same records
// ASYNC cases are reported as a ratio to baseline A of their size, SYNC cases to baseline B, reads to
// baseline R. Every figure is the median of --runs runs, with min and max.
// Not a test: benchmarks never run in CI.
import { fdatasyncSync, closeSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { encodeProperties, encodeStoredRecord, parseSocketAddress, planRecord, type MessageToStore } from '@orbit/common';
import type { MessageStore as MessageStoreType } from '@orbit/store';
import { formatBinarySize, formatCount, formatDecimal, formatMegabytesPerSecond, formatRatio } from '../lib/format.js';
import { Progress } from '../lib/progress.js';
import { describeMachine, machineInfo, writeResults } from '../lib/results.js';
import { freshScratchDir } from '../lib/scratch-dir.js';
import { LatencyReservoir, summarize, type Summary } from '../lib/stats.js';
import { groupedBarChartSvg } from '../lib/svg-chart.js';
import { renderMarkdownTable, renderTextTable, type Table } from '../lib/table.js';
import { sleepMs, timedSyncLoop, withTimeout } from '../lib/timing.js';
import { runMain } from '../lib/cli.js';
import { printWrittenResults, renderReportPage } from '../lib/report.js';

// ---- limits and fixed parameters ------------------------------------------------------------------

const TOPIC = 'BenchTopic';
const QUEUE_COUNT = 8;
const MESSAGE_SIZES_BYTES = [128, 1024, 16 * 1024] as const;
const APPENDER_COUNTS = [1, 8, 64] as const;
const FLUSH_TYPES = ['ASYNC_FLUSH', 'SYNC_FLUSH'] as const;
type FlushType = (typeof FLUSH_TYPES)[number];

/** Commit-log segment size for the benchmark stores (default 1 GiB): bounds disk use and segment warm-up. */
const COMMIT_LOG_SEGMENT_BYTES = 256 * 1024 * 1024;
const WRITE_CHUNK_BYTES = 1024 * 1024;
const SYNC_BATCH_BYTES = 64 * 1024;
const READ_BATCH_COUNT = 32;
const READ_MESSAGE_BYTES = 1024;
/** Messages written before the read cases (about 290 MB of 1 KiB records). */
const READ_SET_MESSAGE_COUNT = 262_144;
const READ_SET_MESSAGE_COUNT_QUICK = 65_536;
/** A baseline stops writing at this size even when its time is not up. */
const BASELINE_MAX_FILE_BYTES = 8 * 1024 ** 3;
const WARMUP_MAX_MS = 500;
/** One append in this many is timed, so timing costs little at 500k appends/s. */
const LATENCY_SAMPLE_EVERY = 16;
const STORE_OPEN_TIMEOUT_MS = 60_000;
const STORE_CLOSE_TIMEOUT_MS = 120_000;
const APPENDERS_DRAIN_TIMEOUT_MS = 60_000;
const READ_FILL_TIMEOUT_MS = 120_000;
/** Pause between cases so one case's disk writeback has settled a little before the next starts. */
const SETTLE_BETWEEN_CASES_MS = 300;

// ---- options ----------------------------------------------------------------------------------------

interface Options {
  runs: number;
  seconds: number;
  warmupMs: number;
  quick: boolean;
  only: string | undefined;
}

const USAGE = `usage: node --import tsx benchmarks/store/store-bench.ts [--runs N] [--seconds S] [--quick] [--only TEXT]
  --runs N      runs per case; the median is reported (default 3; 1 with --quick)
  --seconds S   measured seconds per run, after a warm-up of min(0.5 s, S/2) (default 2; 0.5 with --quick)
  --quick       smoke run: 1 KiB only, 1 and 64 appenders, 1 run of 0.5 s
  --only TEXT   run only the cases whose label contains TEXT from a word start (case-insensitive), e.g. "SYNC 1KiB"`;

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: { type: 'string' },
      seconds: { type: 'string' },
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const quick = values.quick ?? false;
  const runs = values.runs === undefined ? (quick ? 1 : 3) : Number(values.runs);
  const seconds = values.seconds === undefined ? (quick ? 0.5 : 2) : Number(values.seconds);
  if (!Number.isInteger(runs) || runs < 1 || runs > 100) throw new RangeError(`--runs must be an integer 1..100, not ${values.runs}`);
  if (!(seconds >= 0.1 && seconds <= 600)) throw new RangeError(`--seconds must be 0.1..600, not ${values.seconds}`);
  return { runs, seconds, warmupMs: Math.min(WARMUP_MAX_MS, (seconds * 1000) / 2), quick, only: values.only };
}

// ---- cases ------------------------------------------------------------------------------------------

type CaseKind = 'baseline-write' | 'baseline-fdatasync' | 'baseline-read' | 'append' | 'read';

interface CaseSpec {
  id: string;
  label: string;
  kind: CaseKind;
  messageBytes: number;
  flushDiskType?: FlushType;
  appenderCount?: number;
  /** The case this one is reported as a ratio to. */
  baselineId?: string;
  /** What the rate counts. */
  unit: 'records/s' | 'appends/s' | 'msgs/s';
}

function sizeLabel(bytes: number): string {
  return formatBinarySize(bytes);
}

function flushLabel(flush: FlushType): string {
  return flush === 'ASYNC_FLUSH' ? 'ASYNC' : 'SYNC';
}

function buildCases(options: Options): CaseSpec[] {
  const sizes = options.quick ? [1024] : [...MESSAGE_SIZES_BYTES];
  const appenderCounts = options.quick ? [1, 64] : [...APPENDER_COUNTS];
  const cases: CaseSpec[] = [];
  for (const size of sizes) {
    const writeId = `baseline-write-${size}`;
    const syncId = `baseline-fdatasync-${size}`;
    cases.push({ id: writeId, label: `baseline A write ${sizeLabel(size)}`, kind: 'baseline-write', messageBytes: size, unit: 'records/s' });
    cases.push({ id: syncId, label: `baseline B write+fdatasync ${sizeLabel(size)}`, kind: 'baseline-fdatasync', messageBytes: size, unit: 'records/s' });
    for (const flush of FLUSH_TYPES) {
      for (const appenderCount of appenderCounts) {
        cases.push({
          id: `append-${flush}-${size}-x${appenderCount}`,
          label: `${flushLabel(flush)} ${sizeLabel(size)} x${appenderCount}`,
          kind: 'append',
          messageBytes: size,
          flushDiskType: flush,
          appenderCount,
          baselineId: flush === 'ASYNC_FLUSH' ? writeId : syncId,
          unit: 'appends/s',
        });
      }
    }
  }
  const readBaselineId = `baseline-read-${READ_MESSAGE_BYTES}`;
  cases.push({ id: readBaselineId, label: `baseline R read ${sizeLabel(READ_MESSAGE_BYTES)} x${READ_BATCH_COUNT}`, kind: 'baseline-read', messageBytes: READ_MESSAGE_BYTES, unit: 'records/s' });
  cases.push({ id: `read-${READ_MESSAGE_BYTES}`, label: `read ${sizeLabel(READ_MESSAGE_BYTES)} x${READ_BATCH_COUNT}`, kind: 'read', messageBytes: READ_MESSAGE_BYTES, baselineId: readBaselineId, unit: 'msgs/s' });
  if (options.only === undefined) return cases;
  // Matched from the start of a word, so "SYNC" does not pick the ASYNC cases.
  const wanted = options.only.toLowerCase();
  return cases.filter((c) => ` ${c.label.toLowerCase()}`.includes(` ${wanted}`));
}

// ---- messages and record bytes ----------------------------------------------------------------------

/** The benchmark's message: a body of `bodyBytes`, no properties (so the key index has nothing to index). */
function benchMessage(makeMessage: MakeMessage, queueId: number, bodyBytes: number): MessageToStore {
  const body = Buffer.alloc(bodyBytes);
  for (let i = 0; i < bodyBytes; i++) body[i] = (i * 31 + 7) & 0xff;
  return makeMessage(TOPIC, queueId, body, {});
}

type MakeMessage = (topic: string, queueId: number, body: Buffer | string, props?: Record<string, string>) => MessageToStore;

/** A stand-alone builder giving the same record bytes as the store's test-support one, so baselines run even when the store does not load. */
function localMakeMessage(topic: string, queueId: number, body: Buffer | string, props: Record<string, string> = {}): MessageToStore {
  return {
    topic,
    queueId,
    flag: 0,
    sysFlag: 0,
    bornTimestamp: Date.now(),
    bornHost: parseSocketAddress('127.0.0.1:50000'),
    storeHost: parseSocketAddress('127.0.0.1:10911'),
    reconsumeTimes: 0,
    preparedTransactionOffset: 0,
    body: typeof body === 'string' ? Buffer.from(body) : body,
    properties: encodeProperties(props),
  };
}

/** The stored record of a benchmark message, as the commit log holds it. */
function encodedRecord(bodyBytes: number): Buffer {
  const msg = benchMessage(localMakeMessage, 0, bodyBytes);
  const plan = planRecord(msg);
  const record = Buffer.alloc(plan.sizeBytes);
  encodeStoredRecord(record, 0, msg, plan, { queueOffset: 0, physicalOffset: 0, storeTimestamp: Date.now(), bodyCrc: 0 });
  return record;
}

/** `totalBytes` of back-to-back copies of `record` (the last one cut short): the bytes a log holds. */
function recordStream(record: Buffer, totalBytes: number): Buffer {
  const out = Buffer.allocUnsafe(totalBytes);
  out.fill(record);
  return out;
}

// ---- measurements -----------------------------------------------------------------------------------

interface RunMeasure {
  /** Records, appends or messages per second, depending on the case's unit. */
  ratePerSecond: number;
  /** Record bytes per second. */
  bytesPerSecond: number;
  measuredSeconds: number;
  count: number;
  notOkCount?: number;
  latencyP50Us?: number;
  latencyP99Us?: number;
  /** Appends the writer completed per commit-log flush during the window (group-commit width). */
  messagesPerFlush?: number;
}

function rateFromWindow(units: number, seconds: number, recordBytes: number, unitIsBytes: boolean): RunMeasure {
  if (!(seconds > 0.01)) throw new Error(`measured window of ${seconds} s is too short to report a rate`);
  const records = unitIsBytes ? units / recordBytes : units;
  return { ratePerSecond: records / seconds, bytesPerSecond: (records * recordBytes) / seconds, measuredSeconds: seconds, count: Math.round(records) };
}

function runBaselineWrite(recordBytes: number, record: Buffer, options: Options): RunMeasure {
  const chunk = recordStream(record, WRITE_CHUNK_BYTES);
  const scratch = freshScratchDir('write');
  const fd = openSync(join(scratch.path, 'baseline.log'), 'w');
  try {
    const window = timedSyncLoop(() => writeSync(fd, chunk), { warmupMs: options.warmupMs, measureMs: options.seconds * 1000, maxUnits: BASELINE_MAX_FILE_BYTES });
    return rateFromWindow(window.units, window.seconds, recordBytes, true);
  } finally {
    closeSync(fd);
    scratch.remove();
  }
}

function runBaselineFdatasync(recordBytes: number, record: Buffer, options: Options): RunMeasure {
  // Consecutive 64 KiB slices of a 1 MiB stream, so batches start at varying record boundaries as in a log.
  const stream = recordStream(record, WRITE_CHUNK_BYTES);
  const batches = Array.from({ length: WRITE_CHUNK_BYTES / SYNC_BATCH_BYTES }, (_, i) => stream.subarray(i * SYNC_BATCH_BYTES, (i + 1) * SYNC_BATCH_BYTES));
  const scratch = freshScratchDir('fdatasync');
  const fd = openSync(join(scratch.path, 'baseline.log'), 'w');
  let next = 0;
  try {
    const window = timedSyncLoop(
      () => {
        const wrote = writeSync(fd, batches[next++ % batches.length]!);
        fdatasyncSync(fd);
        return wrote;
      },
      { warmupMs: options.warmupMs, measureMs: options.seconds * 1000, maxUnits: BASELINE_MAX_FILE_BYTES },
    );
    return rateFromWindow(window.units, window.seconds, recordBytes, true);
  } finally {
    closeSync(fd);
    scratch.remove();
  }
}

/** A page-cached file of the read set and the reader's buffer; made once, read by every run. */
interface ReadFile {
  fd: number;
  fileBytes: number;
  remove(): void;
}

function prepareReadFile(record: Buffer, messageCount: number): ReadFile {
  const scratch = freshScratchDir('read');
  const path = join(scratch.path, 'baseline.log');
  const fd = openSync(path, 'w+');
  const chunkRecords = Math.floor(WRITE_CHUNK_BYTES / record.length);
  const chunk = recordStream(record, chunkRecords * record.length);
  let written = 0;
  while (written < messageCount) {
    const n = Math.min(chunkRecords, messageCount - written);
    writeSync(fd, chunk, 0, n * record.length);
    written += n;
  }
  return {
    fd,
    fileBytes: messageCount * record.length,
    remove() {
      closeSync(fd);
      scratch.remove();
    },
  };
}

function runBaselineRead(recordBytes: number, file: ReadFile, options: Options): RunMeasure {
  const batchBytes = READ_BATCH_COUNT * recordBytes;
  const buf = Buffer.allocUnsafe(batchBytes);
  let position = 0;
  const window = timedSyncLoop(
    () => {
      if (position + batchBytes > file.fileBytes) position = 0;
      const got = readSync(file.fd, buf, 0, batchBytes, position);
      position += got;
      return got / recordBytes;
    },
    { warmupMs: options.warmupMs, measureMs: options.seconds * 1000 },
  );
  return rateFromWindow(window.units, window.seconds, recordBytes, false);
}

// ---- the store's cases ------------------------------------------------------------------------------

interface StoreModules {
  MessageStore: typeof MessageStoreType;
  makeMessage: MakeMessage;
}

let storeModules: Promise<StoreModules> | undefined;

/** Loads the store lazily, so the baselines run (and are reported) even when the store does not load. */
function loadStore(): Promise<StoreModules> {
  storeModules ??= (async () => {
    const [{ MessageStore }, { makeMessage }] = await Promise.all([import('@orbit/store'), import('@orbit/store/test-support')]);
    return { MessageStore, makeMessage };
  })();
  return storeModules;
}

async function openStore(modules: StoreModules, dir: string, flushDiskType: FlushType): Promise<MessageStoreType> {
  return withTimeout(
    modules.MessageStore.open({ storePathRootDir: dir, flushDiskType, mappedFileSizeCommitLog: COMMIT_LOG_SEGMENT_BYTES }),
    STORE_OPEN_TIMEOUT_MS,
    'MessageStore.open',
  );
}

async function closeStore(store: MessageStoreType): Promise<void> {
  await withTimeout(store.close(), STORE_CLOSE_TIMEOUT_MS, 'MessageStore.close');
}

async function runAppend(spec: CaseSpec, recordBytes: number, options: Options): Promise<RunMeasure> {
  const modules = await loadStore();
  const scratch = freshScratchDir('store');
  let store: MessageStoreType | undefined;
  try {
    store = await openStore(modules, scratch.path, spec.flushDiskType!);
    const opened = store;
    const messages = Array.from({ length: QUEUE_COUNT }, (_, q) => benchMessage(modules.makeMessage, q, spec.messageBytes));
    let completed = 0;
    let notOk = 0;
    let stop = false;
    let measuring = false;
    let failure: unknown;
    const latency = new LatencyReservoir();

    // Each appender walks the 8 queues, starting at its own, awaiting every append before the next.
    const appender = async (index: number): Promise<void> => {
      let k = index;
      while (!stop) {
        const msg = messages[k % QUEUE_COUNT]!;
        const timed = measuring && k % LATENCY_SAMPLE_EVERY === 0;
        k++;
        const startedMs = timed ? performance.now() : 0;
        const result = await opened.putMessage(msg);
        if (timed) latency.add(performance.now() - startedMs);
        if (result.wroteBytes !== recordBytes) throw new Error(`the store wrote a ${result.wroteBytes}-byte record; the baselines assume ${recordBytes}`);
        if (result.status === 'PUT_OK') completed++;
        else notOk++;
      }
    };
    const appenders = Array.from({ length: spec.appenderCount! }, (_, i) =>
      appender(i).catch((err: unknown) => {
        failure ??= err;
        stop = true;
      }),
    );

    await sleepMs(options.warmupMs);
    const statsBefore = await opened.stats();
    const countBefore = completed;
    const notOkBefore = notOk;
    const startMs = performance.now();
    measuring = true;
    await sleepMs(options.seconds * 1000);
    const countAfter = completed;
    const endMs = performance.now();
    measuring = false;
    const notOkInWindow = notOk - notOkBefore;
    const statsAfter = await opened.stats();
    stop = true;
    await withTimeout(Promise.all(appenders), APPENDERS_DRAIN_TIMEOUT_MS, 'appenders finishing');
    if (failure) throw failure;

    const measure = rateFromWindow(countAfter - countBefore, (endMs - startMs) / 1000, recordBytes, false);
    const percentiles = latency.percentiles([50, 99]);
    if (percentiles) {
      measure.latencyP50Us = percentiles[0]! * 1000;
      measure.latencyP99Us = percentiles[1]! * 1000;
    }
    measure.notOkCount = notOkInWindow;
    const flushes = statsAfter.writer.flushes - statsBefore.writer.flushes;
    const appends = statsAfter.writer.messages - statsBefore.writer.messages;
    if (flushes > 0) measure.messagesPerFlush = appends / flushes;
    return measure;
  } finally {
    try {
      if (store) await closeStore(store);
    } finally {
      scratch.remove();
    }
  }
}

/** A store filled with the read set, shared by the read runs. */
interface ReadStore {
  store: MessageStoreType;
  maxOffsets: number[];
  remove(): Promise<void>;
}

async function prepareReadStore(messageCount: number): Promise<ReadStore> {
  const modules = await loadStore();
  const scratch = freshScratchDir('store-read');
  let store: MessageStoreType | undefined;
  try {
    store = await openStore(modules, scratch.path, 'ASYNC_FLUSH');
    const opened = store;
    const perQueue = Math.ceil(messageCount / QUEUE_COUNT);
    // One filler per queue, each appending batches of READ_BATCH_COUNT messages of its queue.
    const fill = async (queueId: number) => {
      const batch = Array.from({ length: READ_BATCH_COUNT }, () => benchMessage(modules.makeMessage, queueId, READ_MESSAGE_BYTES));
      for (let written = 0; written < perQueue; written += READ_BATCH_COUNT) {
        const result = await opened.putMessages(batch);
        if (result.status !== 'PUT_OK') throw new Error(`filling the read set: putMessages returned ${result.status}`);
      }
    };
    await withTimeout(
      Promise.all(Array.from({ length: QUEUE_COUNT }, (_, q) => fill(q))),
      READ_FILL_TIMEOUT_MS,
      'filling the read set',
    );
    await opened.waitDispatched(opened.commitLogMaxOffset, READ_FILL_TIMEOUT_MS);
    const maxOffsets = Array.from({ length: QUEUE_COUNT }, (_, q) => opened.getMaxOffsetInQueue(TOPIC, q));
    for (const [q, max] of maxOffsets.entries()) {
      if (max < READ_BATCH_COUNT) throw new Error(`queue ${q} holds ${max} messages after filling; expected at least ${READ_BATCH_COUNT}`);
    }
    return {
      store: opened,
      maxOffsets,
      async remove() {
        try {
          await closeStore(opened);
        } finally {
          scratch.remove();
        }
      },
    };
  } catch (err) {
    try {
      if (store) await closeStore(store);
    } finally {
      scratch.remove();
    }
    throw err;
  }
}

function runRead(readStore: ReadStore, recordBytes: number, options: Options): RunMeasure {
  const { store, maxOffsets } = readStore;
  const offsets = new Array<number>(QUEUE_COUNT).fill(0);
  let queueId = 0;
  let checked = false;
  const window = timedSyncLoop(
    () => {
      const q = queueId;
      queueId = (queueId + 1) % QUEUE_COUNT;
      if (offsets[q]! >= maxOffsets[q]!) offsets[q] = 0;
      const result = store.getMessage(TOPIC, q, offsets[q]!, READ_BATCH_COUNT);
      const got = result.messages.length;
      if (got === 0) throw new Error(`getMessage(${TOPIC}, ${q}, ${offsets[q]}) returned ${result.status} with no messages`);
      if (!checked) {
        if (result.messages[0]!.length !== recordBytes) throw new Error(`read a ${result.messages[0]!.length}-byte record, expected ${recordBytes}`);
        checked = true;
      }
      offsets[q] = result.nextBeginOffset;
      return got;
    },
    { warmupMs: options.warmupMs, measureMs: options.seconds * 1000 },
  );
  return rateFromWindow(window.units, window.seconds, recordBytes, false);
}

// ---- running, reporting -----------------------------------------------------------------------------

interface CaseResult {
  spec: CaseSpec;
  recordBytes: number;
  runs: RunMeasure[];
  rate?: Summary;
  bytesPerSecondMedian?: number;
  latencyP50UsMedian?: number;
  latencyP99UsMedian?: number;
  messagesPerFlushMedian?: number;
  notOkCount?: number;
  ratio?: number;
  error?: string;
}

function medianOf(runs: RunMeasure[], pick: (r: RunMeasure) => number | undefined): number | undefined {
  const values = runs.map(pick).filter((v): v is number => v !== undefined);
  return values.length > 0 ? summarize(values).median : undefined;
}

function finishCase(result: CaseResult): void {
  if (result.runs.length === 0) return;
  result.rate = summarize(result.runs.map((r) => r.ratePerSecond));
  result.bytesPerSecondMedian = medianOf(result.runs, (r) => r.bytesPerSecond);
  result.latencyP50UsMedian = medianOf(result.runs, (r) => r.latencyP50Us);
  result.latencyP99UsMedian = medianOf(result.runs, (r) => r.latencyP99Us);
  result.messagesPerFlushMedian = medianOf(result.runs, (r) => r.messagesPerFlush);
  const notOk = result.runs.map((r) => r.notOkCount).filter((v): v is number => v !== undefined);
  if (notOk.length > 0) result.notOkCount = notOk.reduce((a, b) => a + b, 0);
}

function errorText(err: unknown): string {
  if (err instanceof Error) return `${err.name === 'Error' ? '' : `${err.name}: `}${err.message}`.split('\n')[0]!;
  return String(err);
}

async function runCases(cases: CaseSpec[], options: Options, progress: Progress): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  const records = new Map<number, Buffer>();
  const recordOf = (bytes: number) => {
    let r = records.get(bytes);
    if (!r) records.set(bytes, (r = encodedRecord(bytes)));
    return r;
  };
  const readSetCount = options.quick ? READ_SET_MESSAGE_COUNT_QUICK : READ_SET_MESSAGE_COUNT;

  for (const spec of cases) {
    const record = recordOf(spec.messageBytes);
    const result: CaseResult = { spec, recordBytes: record.length, runs: [] };
    results.push(result);
    progress.start();
    let readFile: ReadFile | undefined;
    let readStore: ReadStore | undefined;
    try {
      if (spec.kind === 'baseline-read') readFile = prepareReadFile(record, readSetCount);
      if (spec.kind === 'read') readStore = await prepareReadStore(readSetCount);
      for (let run = 0; run < options.runs; run++) {
        switch (spec.kind) {
          case 'baseline-write':
            result.runs.push(runBaselineWrite(record.length, record, options));
            break;
          case 'baseline-fdatasync':
            result.runs.push(runBaselineFdatasync(record.length, record, options));
            break;
          case 'baseline-read':
            result.runs.push(runBaselineRead(record.length, readFile!, options));
            break;
          case 'append':
            result.runs.push(await runAppend(spec, record.length, options));
            break;
          case 'read':
            result.runs.push(runRead(readStore!, record.length, options));
            break;
        }
        if (run + 1 < options.runs) await sleepMs(SETTLE_BETWEEN_CASES_MS);
      }
    } catch (err) {
      result.error = errorText(err);
    } finally {
      try {
        readFile?.remove();
        await readStore?.remove();
      } catch (err) {
        result.error ??= `cleanup: ${errorText(err)}`;
      }
    }
    finishCase(result);
    if (result.error) progress.fail(spec.label, result.error);
    else progress.finish(spec.label, `${formatCount(result.rate!.median)} ${spec.unit}${options.runs > 1 ? `, runs ${formatCount(result.rate!.min)}–${formatCount(result.rate!.max)}` : ''}`);
    await sleepMs(SETTLE_BETWEEN_CASES_MS);
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
  thresholdPerSecond: number;
  caseLabel?: string;
  measuredPerSecond?: number;
  verdict: 'PASS' | 'FAIL' | 'NOT MEASURED';
}

function evaluateTargets(results: CaseResult[]): TargetResult[] {
  const judge = (name: string, thresholdPerSecond: number, candidates: CaseResult[]): TargetResult => {
    const measured = candidates.filter((c) => c.rate && !c.error).sort((a, b) => b.rate!.median - a.rate!.median)[0];
    if (!measured) return { name, thresholdPerSecond, verdict: 'NOT MEASURED' };
    const value = measured.rate!.median;
    return { name, thresholdPerSecond, caseLabel: measured.spec.label, measuredPerSecond: value, verdict: value >= thresholdPerSecond ? 'PASS' : 'FAIL' };
  };
  const appends = results.filter((r) => r.spec.kind === 'append' && r.spec.messageBytes === 1024);
  return [
    judge('ASYNC_FLUSH 1 KiB ≥ 500,000 appends/s (best appender count)', 500_000, appends.filter((r) => r.spec.flushDiskType === 'ASYNC_FLUSH')),
    judge('SYNC_FLUSH 1 KiB, 64 appenders ≥ 100,000 appends/s', 100_000, appends.filter((r) => r.spec.flushDiskType === 'SYNC_FLUSH' && r.spec.appenderCount === 64)),
  ];
}

function resultsTable(results: CaseResult[], options: Options): Table {
  const byId = new Map(results.map((r) => [r.spec.id, r]));
  const oneRun = options.runs === 1;
  return {
    columns: [
      { header: 'Case' },
      { header: 'Record B', align: 'right' },
      { header: 'Unit' },
      { header: oneRun ? 'Rate' : 'Median', align: 'right' },
      { header: 'Min', align: 'right' },
      { header: 'Max', align: 'right' },
      { header: 'MB/s', align: 'right' },
      { header: 'Baseline' },
      { header: 'Ratio', align: 'right' },
      { header: 'p50 µs', align: 'right' },
      { header: 'p99 µs', align: 'right' },
      { header: 'Msgs/flush', align: 'right' },
    ],
    rows: results.map((r) => {
      const base = r.spec.baselineId ? byId.get(r.spec.baselineId) : undefined;
      const opt = (v: number | undefined, f: (x: number) => string) => (v === undefined ? '—' : f(v));
      if (r.error || !r.rate) {
        return [r.spec.label, formatCount(r.recordBytes), r.spec.unit, 'FAILED', '—', '—', '—', base?.spec.label ?? '—', '—', '—', '—', '—'];
      }
      return [
        r.spec.label,
        formatCount(r.recordBytes),
        r.spec.unit,
        formatCount(r.rate.median),
        formatCount(r.rate.min),
        formatCount(r.rate.max),
        opt(r.bytesPerSecondMedian, formatMegabytesPerSecond),
        base?.spec.label ?? '—',
        formatRatio(r.ratio),
        opt(r.latencyP50UsMedian, formatCount),
        opt(r.latencyP99UsMedian, formatCount),
        opt(r.messagesPerFlushMedian, (v) => formatDecimal(v, v >= 100 ? 0 : 1)),
      ];
    }),
  };
}

function targetsTable(targets: TargetResult[]): Table {
  return {
    columns: [{ header: 'Target' }, { header: 'Case' }, { header: 'Median', align: 'right' }, { header: 'Verdict' }],
    rows: targets.map((t) => [t.name, t.caseLabel ?? '—', t.measuredPerSecond === undefined ? '—' : formatCount(t.measuredPerSecond), t.verdict]),
  };
}

function chartSvg(results: CaseResult[], options: Options, machineLine: string): string {
  const seriesOf = (r: CaseResult): string | undefined => {
    switch (r.spec.kind) {
      case 'baseline-write':
        return 'baseline A: write';
      case 'baseline-fdatasync':
        return 'baseline B: write+fdatasync';
      case 'append':
        return `${flushLabel(r.spec.flushDiskType!)} x${r.spec.appenderCount}`;
      default:
        return undefined;
    }
  };
  const series = [
    { name: 'baseline A: write', color: '#595959' },
    { name: 'baseline B: write+fdatasync', color: '#a6a6a6' },
    ...APPENDER_COUNTS.map((n, i) => ({ name: `ASYNC x${n}`, color: ['#9ecae1', '#4292c6', '#08519c'][i]! })),
    ...APPENDER_COUNTS.map((n, i) => ({ name: `SYNC x${n}`, color: ['#fdae6b', '#f16913', '#a63603'][i]! })),
  ];
  const sizes = [...new Set(results.filter((r) => r.spec.kind !== 'read' && r.spec.kind !== 'baseline-read').map((r) => r.spec.messageBytes))];
  const groups = sizes.map((size) => {
    const values: Record<string, number | undefined> = {};
    let recordBytes = 0;
    for (const r of results) {
      if (r.spec.messageBytes !== size) continue;
      const name = seriesOf(r);
      if (name && r.rate) values[name] = r.rate.median;
      recordBytes = r.recordBytes;
    }
    return { label: `${sizeLabel(size)} messages (${formatCount(recordBytes)} B records)`, values };
  });
  const usedSeries = series.filter((s) => groups.some((g) => g.values[s.name] !== undefined));
  return groupedBarChartSvg({
    title: 'Orbit store: appends/s by message size (baselines in records/s of the same bytes)',
    subtitle: `median of ${options.runs} run(s) × ${options.seconds} s · ${machineLine}`,
    valueAxisLabel: 'appends/s (baselines: records/s)',
    groupAxisLabel: 'message size',
    series: usedSeries,
    groups,
    scale: 'log',
    widthPx: 1000,
  });
}

function notes(options: Options, readSetCount: number): string[] {
  return [
    `Store config: defaults except mappedFileSizeCommitLog = ${formatBinarySize(COMMIT_LOG_SEGMENT_BYTES)} (default 1 GiB), to bound disk use; a fresh store directory per run under the OS temp dir, deleted afterwards.`,
    `Appenders: each loops \`await store.putMessage(msg)\` over ${QUEUE_COUNT} queues of topic ${TOPIC}; messages have no properties. Warm-up ${formatDecimal(options.warmupMs / 1000, 2)} s, then ${options.seconds} s measured; latency = one append in ${LATENCY_SAMPLE_EVERY} timed from call to resolve.`,
    `Baseline A: fs.writeSync of the same record bytes in ${formatBinarySize(WRITE_CHUNK_BYTES)} chunks to a fresh file (page cache, no sync). Baseline B: fs.writeSync + fdatasync of ${formatBinarySize(SYNC_BATCH_BYTES)} batches to a fresh file. Both report records/s = bytes/s ÷ record size.`,
    `Reads: ${formatCount(readSetCount)} records of 1 KiB written first; getMessage batches of ${READ_BATCH_COUNT} cycling over the ${QUEUE_COUNT} queues, counting messages. Baseline R: fs.readSync of ${READ_BATCH_COUNT}-record batches from a page-cached file of the same records.`,
    'Ratio = median of the case ÷ median of its baseline measured in the same run: ASYNC → baseline A, SYNC → baseline B, reads → baseline R. MB/s counts record bytes (1 MB = 10^6 B).',
    'The machine is shared (2 cores): figures vary between runs; compare within one run.',
  ];
}

/** Smoke and partial runs keep their own latest files, so store-latest.* always holds a full run. */
function resultsName(options: Options): string {
  if (options.only !== undefined) return 'store-partial';
  return options.quick ? 'store-quick' : 'store';
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const cases = buildCases(options);
  if (cases.length === 0) throw new RangeError(`--only "${options.only}" matches no case`);
  const machine = machineInfo();
  const machineLine = describeMachine(machine);
  const readSetCount = options.quick ? READ_SET_MESSAGE_COUNT_QUICK : READ_SET_MESSAGE_COUNT;
  const startedAt = new Date().toISOString();
  const progress = new Progress(cases.length);

  console.log(`Orbit store benchmark — ${cases.length} cases × ${options.runs} run(s) × ${options.seconds} s (+ ${formatDecimal(options.warmupMs / 1000, 2)} s warm-up)`);
  console.log(`machine: ${machineLine}`);
  console.log(`store: default config except mappedFileSizeCommitLog = ${formatBinarySize(COMMIT_LOG_SEGMENT_BYTES)} (bounds disk use)\n`);

  const results = await runCases(cases, options, progress);
  const targets = evaluateTargets(results);
  const table = resultsTable(results, options);
  const tTable = targetsTable(targets);
  const noteLines = notes(options, readSetCount);

  console.log(`\n${renderTextTable(table)}\n`);
  console.log(`${renderTextTable(tTable)}\n`);
  for (const n of noteLines) console.log(`- ${n}`);

  const markdown = renderReportPage({
    title: 'Store benchmark: latest results',
    runLine: `Run ${startedAt}, ${progress.elapsedSeconds.toFixed(0)} s; ${options.quick ? 'quick smoke run; ' : ''}median of ${options.runs} run(s) × ${options.seconds} s per case.`,
    machineLine,
    sections: [{ lines: [renderMarkdownTable(table)] }, { heading: 'Targets', lines: [renderMarkdownTable(tTable)] }],
    notes: noteLines,
    chart: { file: `${resultsName(options)}-latest.svg`, caption: 'appends/s by case' },
  });

  const written = writeResults(resultsName(options), {
    data: {
      benchmark: 'store',
      startedAt,
      finishedAt: new Date().toISOString(),
      options: { runs: options.runs, seconds: options.seconds, warmupSeconds: options.warmupMs / 1000, quick: options.quick, only: options.only ?? null },
      storeConfig: { mappedFileSizeCommitLog: COMMIT_LOG_SEGMENT_BYTES, note: 'all other settings are the store defaults' },
      parameters: { topic: TOPIC, queueCount: QUEUE_COUNT, writeChunkBytes: WRITE_CHUNK_BYTES, syncBatchBytes: SYNC_BATCH_BYTES, readBatchCount: READ_BATCH_COUNT, readSetMessageCount: readSetCount, latencySampleEvery: LATENCY_SAMPLE_EVERY },
      cases: results.map((r) => ({ ...r.spec, recordBytes: r.recordBytes, rate: r.rate ?? null, bytesPerSecondMedian: r.bytesPerSecondMedian ?? null, ratio: r.ratio ?? null, latencyP50UsMedian: r.latencyP50UsMedian ?? null, latencyP99UsMedian: r.latencyP99UsMedian ?? null, messagesPerFlushMedian: r.messagesPerFlushMedian ?? null, notOkCount: r.notOkCount ?? null, error: r.error ?? null, runs: r.runs })),
      targets,
      notes: noteLines,
    },
    markdown,
    svg: chartSvg(results, options, machineLine),
  });
  printWrittenResults(written);
  return results.some((r) => r.error) ? 1 : 0;
}

runMain(main);
