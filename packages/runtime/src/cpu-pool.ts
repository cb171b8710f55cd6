// A pool of worker threads for stateless CPU work (body CRC checks, compression, filter evaluation,
// index rebuilds at recovery), over piscina. Tasks go to the least busy thread with no affinity, so
// anything with state belongs in an actor instead (actor-host.ts).
//
// Every task module, TypeScript or not, is loaded through cpu-pool-task-loader.mjs, which makes .ts
// loadable in piscina's workers (see that file) and dispatches `run(task, { name })` to the named
// export. Task arguments and results are structured-cloned; pass SharedArrayBuffers (and offsets)
// rather than large Buffers, so the bytes are shared, not copied.
import { Piscina } from 'piscina';
import { assert } from '@orbit/common/errors';
import { isTypeScriptModule, toModuleUrl, tsxBootstrapUrls, TSX_EXEC_ARGV } from './ts-worker.js';

const TASK_LOADER_URL = new URL('./cpu-pool-task-loader.mjs', import.meta.url);
const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

export interface CpuPoolOptions {
  /** The task module: a path or file URL, may be .ts. Its default export runs unnamed tasks. */
  filename: string;
  /** Upper bound on threads (piscina's default: 1.5 × cores). */
  maxThreads?: number;
  /** Threads kept even when idle (piscina's default: half the cores, at least 1, at most maxThreads). */
  minThreads?: number;
  /** An idle thread above minThreads ends after this long. */
  idleTimeoutMs?: number;
}

export interface CpuTaskOptions {
  /** Export of the task module to run; the default export when omitted. */
  name?: string;
}

export class CpuPool {
  private readonly piscina: Piscina;
  private destroyed: Promise<void> | null = null;

  constructor(options: CpuPoolOptions) {
    assert(typeof options.filename === 'string' && options.filename.length > 0, 'CpuPool needs a task module filename');
    const taskModuleUrl = toModuleUrl(options.filename);
    const typeScript = isTypeScriptModule(taskModuleUrl);
    // tsx is only needed (and only resolved) for TypeScript task modules.
    const { probeUrl, tsxApiUrl } = typeScript ? tsxBootstrapUrls() : { probeUrl: null, tsxApiUrl: null };
    this.piscina = new Piscina({
      filename: TASK_LOADER_URL.href,
      ...(options.maxThreads !== undefined ? { maxThreads: options.maxThreads } : {}),
      ...(options.minThreads !== undefined ? { minThreads: options.minThreads } : {}),
      idleTimeout: options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
      // Honoured by Node versions that apply --import in workers; the loader covers the rest.
      ...(typeScript ? { execArgv: [...TSX_EXEC_ARGV] } : {}),
      workerData: { orbitCpuPool: { taskModuleUrl, probeUrl, tsxApiUrl } },
    });
  }

  run<R>(task: unknown, options: CpuTaskOptions = {}): Promise<R> {
    if (this.destroyed !== null) return Promise.reject(new Error('CpuPool is destroyed'));
    return this.piscina.run({ name: options.name ?? 'default', task }) as Promise<R>;
  }

  /** Tasks waiting for a free thread. */
  get queueSize(): number {
    return this.piscina.queueSize;
  }

  /** Ends every thread; queued and running tasks reject. */
  destroy(): Promise<void> {
    this.destroyed ??= this.piscina.destroy();
    return this.destroyed;
  }
}
