// The entry module of a segment filler thread: creates and zero-fills new commit-log segments for
// one writer (segment-filler.ts is the writer's side).
//
// Why a thread of its own, and why it paces itself: filling a segment is the largest single CPU cost
// of appending on a VM like this one, where the first touch of every fresh page-cache page faults on
// the host (256 MiB costs ~0.6 s of kernel time here). On the shared libuv pool it started the moment
// the writer rolled into a new segment, in the middle of a burst, and ran on into whatever came next:
// consumers reading right after the burst went at half speed (benchmarks/README.md). A nice value
// did not hold it back (the work is kernel time and host faults) and slowed the fills the writer
// was waiting for under sustained load, so the thread runs at normal priority and paces itself
// instead: the segment the writer will need next is filled at once and at full speed, while the one
// after it, which has a whole segment of appends before it is needed, is filled only while the rest
// of the machine leaves the CPU idle enough, and at full speed the moment the writer rolls and it
// becomes the next one.
import { parentPort, workerData } from 'node:worker_threads';
import * as Comlink from 'comlink';
import nodeAdapterModule from 'comlink/dist/umd/node-adapter.js';
import { assert } from '@orbit/common/errors';
import { CpuIdleGauge } from './cpu-idle-gauge.js';
import { MappedFile, ZERO_CHUNK_BYTES } from './mapped-file.js';
import { fillerControl } from './segment-filler.js';

const nodeEndpoint = nodeAdapterModule as unknown as typeof nodeAdapterModule.default;
/**
 * Others may use up to a quarter of all CPUs while a later segment is being filled. With half, the
 * paced steps also ran under a steady moderate load (20k sends/s, ~45 % of this machine) and its send
 * p99 rose from 4.5 to 5.1–6.2 ms; with a quarter it was 4.1 ms (benchmarks/README.md).
 */
const DEFAULT_IDLE_SHARE_TO_FILL = 0.75;
/** How often the machine's load is sampled (/proc/stat counts in 10 ms ticks). */
const IDLE_WINDOW_MS = 100;
/** One wait while the machine is busy; a change of what the writer needs ends it early. */
const PAUSE_SLICE_MS = 20;
/**
 * A later segment is filled at most this fast even on an idle machine (a 256 MiB segment in 4 s):
 * each step is kernel work the scheduler cannot preempt (the kernel here is not preemptible), so
 * steps spread thin delay a latency-sensitive thread less often than a burst of them.
 */
const PACED_BYTES_PER_SECOND = 64 * 1024 * 1024;
/** A paced step: ~2 ms of kernel time on fresh memory here, against ~9 ms for a full-speed step. */
const PACED_STEP_BYTES = 1024 * 1024;

assert(parentPort !== null, 'segment-filler-thread.ts must run in a worker thread');
const { control, idleShareToFill } = workerData as { control: SharedArrayBuffer; idleShareToFill?: number };
const { epoch, needed } = fillerControl(control);
const gauge = new CpuIdleGauge(idleShareToFill ?? DEFAULT_IDLE_SHARE_TO_FILL, IDLE_WINDOW_MS);
let pausedMs = 0;

/** When the next paced step may start (performance.now() ms). */
let nextPacedStepMs = 0;

/**
 * Before each step of a segment: returns the step's size. A segment the writer needs now goes in
 * full-size steps at once; a later one waits while the machine is busy and keeps to
 * PACED_BYTES_PER_SECOND, in smaller steps.
 */
function paceFor(fileStart: number): number {
  for (;;) {
    const seen = Atomics.load(epoch, 0);
    if (fileStart <= needed[0]!) return ZERO_CHUNK_BYTES;
    const now = performance.now();
    const early = nextPacedStepMs - now;
    if (early <= 0 && gauge.othersLeaveIdle(now)) {
      nextPacedStepMs = Math.max(nextPacedStepMs, now - PAUSE_SLICE_MS) + (PACED_STEP_BYTES / PACED_BYTES_PER_SECOND) * 1000;
      return PACED_STEP_BYTES;
    }
    Atomics.wait(epoch, 0, seen, early > 0 ? Math.min(early, PAUSE_SLICE_MS) : PAUSE_SLICE_MS);
    pausedMs += performance.now() - now;
  }
}

export interface SegmentFillerApi {
  prepare(path: string, sizeBytes: number, warm: boolean): void;
  status(): { pausedMs: number };
}

const api: SegmentFillerApi = {
  prepare(path, sizeBytes, warm) {
    const start = MappedFile.offsetOf(path);
    MappedFile.prepareSync(path, sizeBytes, warm, () => paceFor(start));
  },
  status: () => ({ pausedMs: Math.round(pausedMs) }),
};

Comlink.expose(api, nodeEndpoint(parentPort));
