// The replication benchmark's report: the per-cell table, the ratios between setups at each
// concurrency, the two targets with PASS/FAIL, and the throughput chart.
import { formatCount, formatDecimal, formatRatio } from '../lib/format.js';
import { groupedBarChartSvg } from '../lib/svg-chart.js';
import type { Table } from '../lib/table.js';
import { TARGET_CONCURRENCY, TARGETS, type BenchSetup } from './setups.js';

export interface CellMeasure {
  msgsPerSecond: number;
  avgMs: number;
  p99Ms: number | undefined;
  maxMs: number;
  /** Sends that failed (client errors and broker error codes) inside the window. */
  failed: number;
  /** Only for setups with slaves. */
  maxLagBytes?: number;
  lagAtExitBytes?: number;
  catchUpMs?: number;
  /** Busy % of the whole machine (of 100 × cores) over the producer's run. */
  machineBusyPercent: number;
  /** … and just before the cell started (after waiting for a quieter machine). */
  busyBeforePercent: number;
}

export interface CellResult {
  setup: BenchSetup;
  concurrency: number;
  runs: CellMeasure[];
  error?: string;
}

function medianOf(values: (number | undefined)[]): number | undefined {
  const v = values.filter((x): x is number => x !== undefined && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1]! + v[mid]!) / 2;
}

/** Medians over the runs of a cell (one run: its own figures). */
export function medians(r: CellResult): Partial<CellMeasure> {
  const pick = (f: (m: CellMeasure) => number | undefined) => medianOf(r.runs.map(f));
  return {
    msgsPerSecond: pick((m) => m.msgsPerSecond),
    avgMs: pick((m) => m.avgMs),
    p99Ms: pick((m) => m.p99Ms),
    maxMs: pick((m) => m.maxMs),
    failed: r.runs.reduce((s, m) => s + m.failed, 0),
    maxLagBytes: pick((m) => m.maxLagBytes),
    lagAtExitBytes: pick((m) => m.lagAtExitBytes),
    catchUpMs: pick((m) => m.catchUpMs),
    machineBusyPercent: pick((m) => m.machineBusyPercent),
    busyBeforePercent: pick((m) => m.busyBeforePercent),
  };
}

const ms = (v: number | undefined, digits = 2) => (v === undefined ? '—' : formatDecimal(v, v >= 100 ? 0 : digits));

export function cellsTable(results: CellResult[]): Table {
  return {
    columns: [
      { header: 'Setup' },
      { header: 'Conc', align: 'right' },
      { header: 'msgs/s', align: 'right' },
      { header: 'Avg ms', align: 'right' },
      { header: 'p99 ms', align: 'right' },
      { header: 'Max ms', align: 'right' },
      { header: 'Failed', align: 'right' },
      { header: 'Max slave lag KiB', align: 'right' },
      { header: 'Catch-up ms', align: 'right' },
      { header: 'Machine busy %', align: 'right' },
      { header: 'Busy before %', align: 'right' },
    ],
    rows: results.map((r) => {
      if (r.error) return [r.setup.label, String(r.concurrency), 'FAILED', '—', '—', '—', '—', '—', '—', '—', r.error.slice(0, 60)];
      const m = medians(r);
      const hasSlaves = m.maxLagBytes !== undefined;
      return [
        r.setup.label,
        String(r.concurrency),
        formatCount(m.msgsPerSecond ?? Number.NaN),
        ms(m.avgMs),
        ms(m.p99Ms),
        ms(m.maxMs, 1),
        formatCount(m.failed ?? 0),
        hasSlaves ? formatDecimal(m.maxLagBytes! / 1024, 1) : '—',
        hasSlaves ? (m.catchUpMs === undefined ? 'not within limit' : formatCount(m.catchUpMs)) : '—',
        m.machineBusyPercent === undefined ? '—' : formatCount(m.machineBusyPercent),
        m.busyBeforePercent === undefined ? '—' : formatCount(m.busyBeforePercent),
      ];
    }),
  };
}

function find(results: CellResult[], label: string, concurrency: number): Partial<CellMeasure> | undefined {
  const r = results.find((x) => x.setup.label === label && x.concurrency === concurrency && !x.error);
  return r ? medians(r) : undefined;
}

function ratio(a: number | undefined, b: number | undefined): number | undefined {
  return a !== undefined && b !== undefined && b > 0 ? a / b : undefined;
}

export function ratiosTable(results: CellResult[], concurrencies: number[]): Table {
  return {
    columns: [
      { header: 'Conc', align: 'right' },
      { header: 'sync ÷ async msgs/s', align: 'right' },
      { header: 'sync ÷ async p99', align: 'right' },
      { header: 'SYNC_FLUSH ÷ ASYNC_FLUSH msgs/s', align: 'right' },
      { header: 'SYNC_FLUSH ÷ ASYNC_FLUSH p99', align: 'right' },
      { header: '2m-2s-async ÷ single msgs/s', align: 'right' },
    ],
    rows: concurrencies.map((c) => {
      const sync = find(results, '2m-2s-sync', c);
      const async = find(results, '2m-2s-async', c);
      const sf = find(results, 'single SYNC_FLUSH', c);
      const af = find(results, 'single ASYNC_FLUSH', c);
      return [
        String(c),
        formatRatio(ratio(sync?.msgsPerSecond, async?.msgsPerSecond)),
        formatRatio(ratio(sync?.p99Ms, async?.p99Ms)),
        formatRatio(ratio(sf?.msgsPerSecond, af?.msgsPerSecond)),
        formatRatio(ratio(sf?.p99Ms, af?.p99Ms)),
        formatRatio(ratio(async?.msgsPerSecond, af?.msgsPerSecond)),
      ];
    }),
  };
}

export interface TargetResult {
  target: string;
  measured: string;
  verdict: 'PASS' | 'FAIL' | 'not measured';
}

export function evaluateTargets(results: CellResult[]): TargetResult[] {
  const sync = find(results, '2m-2s-sync', TARGET_CONCURRENCY);
  const async = find(results, '2m-2s-async', TARGET_CONCURRENCY);
  const tput = ratio(sync?.msgsPerSecond, async?.msgsPerSecond);
  const p99 = ratio(sync?.p99Ms, async?.p99Ms);
  return [
    {
      target: `2m-2s-sync throughput ≥ ${TARGETS.syncThroughputShare}× 2m-2s-async at concurrency ${TARGET_CONCURRENCY}`,
      measured: tput === undefined ? '—' : `${formatRatio(tput)} (${formatCount(sync!.msgsPerSecond!)} vs ${formatCount(async!.msgsPerSecond!)} msgs/s)`,
      verdict: tput === undefined ? 'not measured' : tput >= TARGETS.syncThroughputShare ? 'PASS' : 'FAIL',
    },
    {
      target: `2m-2s-sync p99 ≤ ${TARGETS.syncP99Multiple}× 2m-2s-async p99 at concurrency ${TARGET_CONCURRENCY}`,
      measured: p99 === undefined ? '—' : `${formatRatio(p99)} (${ms(sync!.p99Ms)} vs ${ms(async!.p99Ms)} ms)`,
      verdict: p99 === undefined ? 'not measured' : p99 <= TARGETS.syncP99Multiple ? 'PASS' : 'FAIL',
    },
  ];
}

export function targetsTable(targets: TargetResult[]): Table {
  return {
    columns: [{ header: 'Target' }, { header: 'Measured (median)' }, { header: 'Verdict' }],
    rows: targets.map((t) => [t.target, t.measured, t.verdict]),
  };
}

export function throughputChartSvg(results: CellResult[], setups: BenchSetup[], concurrencies: number[], subtitle: string): string {
  return groupedBarChartSvg({
    title: 'Send throughput by deployment: 1 KiB sync sends (producer.ts)',
    subtitle,
    valueAxisLabel: 'messages/s',
    groupAxisLabel: 'concurrent senders',
    series: setups.map((s) => ({ name: s.label })),
    groups: concurrencies.map((c) => ({
      label: `x${c}`,
      values: Object.fromEntries(setups.map((s) => [s.label, find(results, s.label, c)?.msgsPerSecond])),
    })),
  });
}
