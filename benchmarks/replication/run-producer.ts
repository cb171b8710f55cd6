// One cell of load: benchmarks/broker/producer.ts (the producer.sh-like tool) run as its own process
// for a fixed time at a fixed concurrency, its summary read back from --json-out. A separate process
// keeps the load generator's CPU out of this one (which samples slave lag meanwhile).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TSX_LOADER } from '../broker/local-cluster.js';
import type { ProducerSummary } from '../broker/tool-common.js';
import { startProcess } from '../lib/child-processes.js';
import { withTimeout } from '../lib/timing.js';

const PRODUCER_SCRIPT = fileURLToPath(new URL('../broker/producer.ts', import.meta.url));
/** Start-up, drain and shutdown of the tool on top of its run time. */
const EXTRA_TIMEOUT_MS = 60_000;

export interface ProducerRun {
  namesrvAddr: string;
  topic: string;
  concurrency: number;
  bodyBytes: number;
  warmupSeconds: number;
  measureSeconds: number;
  /** Where the summary JSON goes. */
  jsonOut: string;
  log?: (line: string) => void;
}

export async function runProducer(run: ProducerRun): Promise<ProducerSummary> {
  const seconds = run.warmupSeconds + run.measureSeconds;
  const args = ['-n', run.namesrvAddr, '-t', run.topic, '-w', String(run.concurrency), '-s', String(run.bodyBytes), '--seconds', String(seconds), '--warmup', String(run.warmupSeconds)];
  const p = await startProcess({
    name: 'producer',
    command: process.execPath,
    args: ['--import', TSX_LOADER, PRODUCER_SCRIPT, ...args, '--json-out', run.jsonOut, '--no-results'],
    onStdout: run.log && ((t) => run.log!(`[producer] ${t.trimEnd()}`)),
    onStderr: run.log && ((t) => run.log!(`[producer] ${t.trimEnd()}`)),
  });
  let code: number | string;
  try {
    code = await withTimeout(p.exited, seconds * 1000 + EXTRA_TIMEOUT_MS, 'producer');
  } catch (err) {
    await p.stop(2_000);
    throw err;
  }
  if (code !== 0) throw new Error(`producer.ts exited ${code}: ${p.output().trim().split('\n').slice(-3).join(' / ')}`);
  return JSON.parse(readFileSync(run.jsonOut, 'utf8')) as ProducerSummary;
}

export function summaryPath(dir: string, seq: number): string {
  return join(dir, `producer-${seq}.json`);
}
