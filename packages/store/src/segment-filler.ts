// The writer's side of its segment filler thread (segment-filler-thread.ts says why it exists and how
// it paces itself). One filler per writer, started with it and ended with it. Preparations run one
// at a time, in the order asked. The writer says, through shared memory, up to which segment it
// needs files now (setNeeded): those are filled at full speed, later ones only while the CPU is
// otherwise idle. A filler thread that dies fails the preparation in flight and every later one, so
// the writer reports CREATE_MAPPED_FILE_FAILED instead of waiting for a segment that never comes.
import type { Worker } from 'node:worker_threads';
import * as Comlink from 'comlink';
import nodeAdapterModule from 'comlink/dist/umd/node-adapter.js';
import { startWorker } from '@orbit/runtime';
import type { SegmentFillerApi } from './segment-filler-thread.js';

const nodeEndpoint = nodeAdapterModule as unknown as typeof nodeAdapterModule.default;
const FILLER_THREAD_URL = new URL('./segment-filler-thread.ts', import.meta.url);

const FILLER_CONTROL_BYTES = 16;

/** The shared control words: `epoch[0]`, bumped on every change (the filler waits on it), and
 *  `needed[0]`, the start offset of the last segment the writer needs now. Both sides use this. */
export function fillerControl(buffer: SharedArrayBuffer): { epoch: Int32Array; needed: Float64Array } {
  return { epoch: new Int32Array(buffer, 0, 1), needed: new Float64Array(buffer, 8, 1) };
}

export interface SegmentFillerOptions {
  /** Fill later segments only while the rest of the machine leaves at least this share of the CPU idle (0..1). */
  idleShareToFill?: number;
}

export class SegmentFiller {
  private readonly worker: Worker;
  private readonly remote: Comlink.Remote<SegmentFillerApi>;
  private readonly epoch: Int32Array;
  private readonly needed: Float64Array;
  /** Settles (never resolves) when the thread ends: raced against every call. */
  private readonly gone: Promise<never>;
  private goneError: Error | undefined;
  private closed = false;

  constructor(options: SegmentFillerOptions = {}) {
    const control = new SharedArrayBuffer(FILLER_CONTROL_BYTES);
    ({ epoch: this.epoch, needed: this.needed } = fillerControl(control));
    this.needed[0] = Number.MAX_SAFE_INTEGER; // until told otherwise, every file is needed now
    this.worker = startWorker(FILLER_THREAD_URL, { workerData: { control, idleShareToFill: options.idleShareToFill } });
    this.remote = Comlink.wrap<SegmentFillerApi>(nodeEndpoint(this.worker));
    // Kept alive only by calls in flight (see call): an idle filler never holds a process open.
    // (After wrap: adding the 'message' listener refs the worker again.)
    this.worker.unref();
    this.gone = new Promise<never>((_, reject) => {
      const fail = (why: string) => {
        this.goneError ??= new Error(`segment filler thread ${why}`);
        reject(this.goneError);
      };
      this.worker.once('error', (err) => fail(`crashed: ${err.message}`));
      this.worker.once('exit', (code) => fail(`exited (code ${code})`));
    });
    this.gone.catch(() => {}); // observed through the races below
  }

  /** Segments starting at or below `startOffset` are needed now: the filler stops pacing for them. */
  setNeeded(startOffset: number): void {
    if (this.needed[0] === startOffset) return;
    this.needed[0] = startOffset;
    Atomics.add(this.epoch, 0, 1);
    Atomics.notify(this.epoch, 0);
  }

  /** Creates the file of sizeBytes at path (named by its start offset), zero-filled when warm. */
  prepare(path: string, sizeBytes: number, warm: boolean): Promise<void> {
    if (this.goneError) return Promise.reject(this.goneError);
    if (this.closed) return Promise.reject(new Error('segment filler is closed'));
    return this.call(() => this.remote.prepare(path, sizeBytes, warm));
  }

  private inFlight = 0;

  private async call<T>(start: () => Promise<T>): Promise<T> {
    if (this.inFlight++ === 0) this.worker.ref();
    try {
      return await Promise.race([start(), this.gone]);
    } finally {
      if (--this.inFlight === 0 && !this.closed) this.worker.unref();
    }
  }

  /** What the thread runs at and has done (for tests and stats). */
  status(): Promise<{ pausedMs: number }> {
    return this.call(() => this.remote.status());
  }

  /** Ends the thread; a preparation in flight fails (its temporary file is removed by the next
   *  recovery). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.remote[Comlink.releaseProxy]();
    await this.worker.terminate();
  }
}
