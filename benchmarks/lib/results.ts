// Where benchmark figures go. Every run writes
//   benchmarks/results/<name>-<timestamp>.json   (kept: the history)
//   benchmarks/results/<name>-latest.json        (overwritten)
//   benchmarks/results/<name>-latest.md          (overwritten: the table a person reads)
//   benchmarks/results/<name>-latest.svg         (overwritten, when the benchmark draws a chart)
// The timestamp is ISO 8601 basic format in UTC (20250102T030405Z): sortable, no colons in names.
// Each JSON file carries the machine it ran on, since figures from different machines do not compare.
import { mkdirSync, writeFileSync } from 'node:fs';
import { arch, cpus, freemem, hostname, loadavg, platform, release, totalmem, type as osType } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DEFAULT_RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));

export interface MachineInfo {
  cpuCount: number;
  cpuModel: string;
  nodeVersion: string;
  os: string;
  arch: string;
  hostname: string;
  totalMemoryBytes: number;
  freeMemoryBytes: number;
  /** 1, 5 and 15 minute load averages when the run started: a hint of how busy the machine was. */
  loadAverage: number[];
  /** ISO 8601 time the info was taken. */
  date: string;
}

export function machineInfo(): MachineInfo {
  const cpuList = cpus();
  return {
    cpuCount: cpuList.length,
    cpuModel: cpuList[0]?.model.trim() ?? 'unknown',
    nodeVersion: process.version,
    os: `${osType()} ${release()} (${platform()})`,
    arch: arch(),
    hostname: hostname(),
    totalMemoryBytes: totalmem(),
    freeMemoryBytes: freemem(),
    loadAverage: loadavg().map((l) => Number(l.toFixed(2))),
    date: new Date().toISOString(),
  };
}

/** One line for headers of tables and charts: "2 × Intel Xeon …, Node v20.20.2, Linux 6.1 (linux)". */
export function describeMachine(m: MachineInfo): string {
  return `${m.cpuCount} × ${m.cpuModel}, ${(m.totalMemoryBytes / 2 ** 30).toFixed(0)} GiB RAM, Node ${m.nodeVersion}, ${m.os} ${m.arch}, load ${m.loadAverage.join(' ')}`;
}

/** 2025-01-02T03:04:05.678Z → 20250102T030405Z. */
export function fileTimestamp(date = new Date()): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

export interface ResultsToWrite {
  /** Serialised as JSON; `machine` is added when absent. */
  data: Record<string, unknown>;
  /** The human-readable report (markdown). */
  markdown: string;
  /** An SVG chart, written as <name>-latest.svg. */
  svg?: string;
}

export interface WrittenResults {
  jsonPath: string;
  latestJsonPath: string;
  latestMarkdownPath: string;
  latestSvgPath?: string;
}

/** Writes a benchmark's results; `name` is a file-name stem such as "store". */
export function writeResults(name: string, results: ResultsToWrite, options: { dir?: string; date?: Date } = {}): WrittenResults {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) throw new RangeError(`results name "${name}" must be lower-case letters, digits and dashes`);
  const dir = options.dir ?? DEFAULT_RESULTS_DIR;
  mkdirSync(dir, { recursive: true });
  const data = { machine: machineInfo(), ...results.data };
  const json = `${JSON.stringify(data, null, 2)}\n`;
  const written: WrittenResults = {
    jsonPath: join(dir, `${name}-${fileTimestamp(options.date)}.json`),
    latestJsonPath: join(dir, `${name}-latest.json`),
    latestMarkdownPath: join(dir, `${name}-latest.md`),
  };
  writeFileSync(written.jsonPath, json);
  writeFileSync(written.latestJsonPath, json);
  writeFileSync(written.latestMarkdownPath, results.markdown.endsWith('\n') ? results.markdown : `${results.markdown}\n`);
  if (results.svg !== undefined) {
    written.latestSvgPath = join(dir, `${name}-latest.svg`);
    writeFileSync(written.latestSvgPath, results.svg);
  }
  return written;
}
