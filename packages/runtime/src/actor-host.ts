// Actors are many, threads are few. An ActorHost runs a bounded set of shared worker threads and
// places each actor on one of them by a stable hash of its name (placement.ts), or on a thread of
// its own when the actor asks for one (the commit-log writer does). The host owns the lifecycle
// (spawn, stop, shutdown) and crash reporting; the control path to each actor is comlink over a
// MessageChannel of its own. Hot data never goes through here: actors get SharedArrayBuffers (rings,
// offset slots) in `init` and talk through those.
//
// Failure model: actors on a thread share its fate. When a thread dies (an uncaught error, an
// unhandled rejection, process.exit() in any actor, or any exit the host did not ask for), every
// call pending on any of its actors rejects with ActorCrashedError, later calls reject at once,
// 'actor-crashed' is emitted once for the thread, and the thread is not restarted: restarting is a
// supervisor's decision, made above this layer.
import { EventEmitter } from 'node:events';
import { MessageChannel, type MessagePort, type ResourceLimits, type TransferListItem, type Worker } from 'node:worker_threads';
import * as Comlink from 'comlink';
import nodeAdapterModule from 'comlink/dist/umd/node-adapter.js';
import { assert } from '@orbit/common/errors';
import { placeActor } from './placement.js';
import { startWorker, toModuleUrl } from './ts-worker.js';
import {
  deserializeError,
  type ActorThreadData,
  type HostToThread,
  type SerializedError,
  type ThreadToHost,
} from './actor-protocol.js';

// The adapter is CommonJS; under NodeNext its default import is typed as the module object.
const nodeEndpoint = nodeAdapterModule as unknown as typeof nodeAdapterModule.default;

const ACTOR_THREAD_URL = new URL('./actor-thread.ts', import.meta.url);
/** How long a thread may take to load (tsx compiles on first load: ~0.1–0.5 s here). */
const DEFAULT_THREAD_START_TIMEOUT_MS = 30_000;
const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;
const DEFAULT_HOST_NAME = 'orbit';

export interface ActorSpec {
  name: string;
  /** URL (file:, or any URL import() accepts) or absolute path of the module exporting the factory. */
  moduleUrl: string;
  exportName: string;
  /** Structured-cloned into the thread; SharedArrayBuffers in it are shared, not copied. */
  init?: unknown;
  /** Runs the actor on a new thread of its own, ended when the actor stops. */
  dedicatedThread?: boolean;
  /**
   * Pins the actor to this shared thread (0 ≤ threadIndex < threadCount) instead of placing it by
   * placeActor(name, threadCount): for a fixed set of actors that must spread one per thread.
   */
  threadIndex?: number;
  /** Moved, not copied, with `init` (e.g. a MessagePort or an ArrayBuffer inside it). */
  transfer?: TransferListItem[];
}

export interface ActorContext {
  name: string;
  threadIndex: number;
  hostName: string;
}

/**
 * What an actor module exports under `exportName`. The returned object's methods are the actor's
 * control API, called through comlink. `start()` is an ordinary method the owner calls when it is
 * ready (the store calls it after recovery, with arguments), never by the host; the host calls the
 * optional `stop()` when the actor is stopped or the host shuts down.
 */
export type ActorFactory = (init: unknown, ctx: ActorContext) => object | Promise<object>;

export class ActorCrashedError extends Error {
  constructor(
    readonly actorName: string,
    readonly threadIndex: number,
    cause: Error,
  ) {
    super(`actor "${actorName}" is gone: its thread ${threadIndex} crashed (${cause.message})`, { cause });
    this.name = 'ActorCrashedError';
  }
}

/** Calls to an actor that was stopped (or whose host shut down) reject with this. */
export class ActorStoppedError extends Error {
  constructor(readonly actorName: string, why: string) {
    super(`actor "${actorName}" ${why}`);
    this.name = 'ActorStoppedError';
  }
}

export interface ActorRef<T> {
  readonly name: string;
  readonly threadIndex: number;
  call<K extends keyof T>(method: K, ...args: any[]): Promise<any>;
  readonly alive: boolean;
}

export interface ActorCrashedEvent {
  threadIndex: number;
  actorNames: string[];
  error: Error;
}

export interface ActorHostOptions {
  /** Shared threads; actors are placed on them by placeActor(name, threadCount). */
  threadCount: number;
  hostName?: string;
  resourceLimits?: ResourceLimits;
  threadStartTimeoutMs?: number;
}

class ActorRefImpl<T> implements ActorRef<T> {
  /** Reject functions of calls in flight, so a crash can settle them. */
  private readonly pendingCalls = new Set<(error: Error) => void>();
  private deathError: Error | null = null;

  constructor(
    readonly name: string,
    readonly threadIndex: number,
    private readonly port: MessagePort,
    private readonly remote: Comlink.Remote<any>,
  ) {}

  get alive(): boolean {
    return this.deathError === null;
  }

  call<K extends keyof T>(method: K, ...args: any[]): Promise<any> {
    if (this.deathError !== null) return Promise.reject(this.deathError);
    return new Promise((resolve, reject) => {
      this.pendingCalls.add(reject);
      const settle = (outcome: () => void): void => {
        // A crash may have rejected this call already; the late comlink answer is dropped.
        if (this.pendingCalls.delete(reject)) outcome();
      };
      let result: Promise<unknown>;
      try {
        result = (this.remote as unknown as Record<PropertyKey, (...a: unknown[]) => Promise<unknown>>)[method as PropertyKey](...args);
      } catch (error) {
        settle(() => reject(error));
        return;
      }
      result.then(
        (value) => settle(() => resolve(value)),
        (error) => settle(() => reject(error)),
      );
    });
  }

  /** Marks the actor dead: pending and later calls reject with `error`. Idempotent. */
  kill(error: Error): void {
    if (this.deathError !== null) return;
    this.deathError = error;
    for (const reject of this.pendingCalls) reject(error);
    this.pendingCalls.clear();
    // Comlink's listener keeps this port (and so the process) alive; the thread's end is gone or going.
    this.port.close();
  }
}

interface PendingRequest {
  /** The actor a spawn or stop is about, for the crash error's message. */
  actorName: string;
  resolve: (reply: Extract<ThreadToHost, { kind: 'reply' }>) => void;
  reject: (error: Error) => void;
}

type ThreadState = 'starting' | 'running' | 'stopping' | 'crashed' | 'exited';

class ActorThread {
  state: ThreadState = 'starting';
  /** Set once the host asked it to exit (shutdown, or its dedicated actor stopped): exit is no crash. */
  exitExpected = false;
  readonly actorNames = new Set<string>();
  readonly pendingRequests = new Map<number, PendingRequest>();
  private nextRequestId = 1;
  readonly ready: Promise<void>;
  readonly exited: Promise<void>;

  constructor(
    readonly index: number,
    readonly dedicated: boolean,
    readonly worker: Worker,
    startTimeoutMs: number,
    onFailure: (thread: ActorThread, cause: Error) => void,
  ) {
    this.exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    this.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`actor thread ${index} did not start within ${startTimeoutMs} ms`));
        this.exitExpected = true;
        void worker.terminate();
      }, startTimeoutMs);
      worker.on('message', (message: ThreadToHost) => {
        if (message.kind === 'ready') {
          clearTimeout(timer);
          if (this.state === 'starting') this.state = 'running';
          resolve();
          return;
        }
        const request = this.pendingRequests.get(message.requestId);
        if (request === undefined) return;
        this.pendingRequests.delete(message.requestId);
        request.resolve(message);
      });
      worker.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
        onFailure(this, error);
      });
      worker.on('exit', (code) => {
        clearTimeout(timer);
        const cause = new Error(`thread exited with code ${code}`);
        reject(cause);
        onFailure(this, cause);
      });
    });
    // start() and spawn() await `ready`; a thread that dies later must not leave it unhandled.
    this.ready.catch(() => {});
  }

  get isUsable(): boolean {
    return this.state === 'starting' || this.state === 'running';
  }

  request(actorName: string, message: DistributiveOmit<HostToThread, 'requestId'>, transfer: readonly TransferListItem[] = []): Promise<Extract<ThreadToHost, { kind: 'reply' }>> {
    return new Promise((resolve, reject) => {
      const requestId = this.nextRequestId++;
      this.pendingRequests.set(requestId, { actorName, resolve, reject });
      try {
        this.worker.postMessage({ ...message, requestId } as HostToThread, transfer);
      } catch (error) {
        this.pendingRequests.delete(requestId);
        reject(error);
      }
    });
  }

  /** Rejects every request in flight; `errorFor` builds the error per actor. */
  failPendingRequests(errorFor: (actorName: string) => Error): void {
    for (const request of this.pendingRequests.values()) request.reject(errorFor(request.actorName));
    this.pendingRequests.clear();
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

interface ActorEntry {
  name: string;
  thread: ActorThread;
  /** Settles when the spawn does; stopActor on a spawning actor waits for it. */
  spawned: Promise<unknown>;
  ref: ActorRefImpl<any> | null;
}

export class ActorHost extends EventEmitter {
  readonly hostName: string;
  private readonly sharedThreadCount: number;
  private readonly resourceLimits: ResourceLimits | undefined;
  private readonly threadStartTimeoutMs: number;
  private readonly sharedThreads: ActorThread[] = [];
  private readonly dedicatedThreads = new Map<number, ActorThread>();
  private nextDedicatedIndex: number;
  private readonly actors = new Map<string, ActorEntry>();
  private started: Promise<void> | null = null;
  private shutdownPromise: Promise<void> | null = null;

  constructor(options: ActorHostOptions) {
    super();
    assert(
      Number.isInteger(options.threadCount) && options.threadCount >= 1,
      `threadCount must be a positive integer, got ${options.threadCount}`,
    );
    this.sharedThreadCount = options.threadCount;
    this.hostName = options.hostName ?? DEFAULT_HOST_NAME;
    this.resourceLimits = options.resourceLimits;
    this.threadStartTimeoutMs = options.threadStartTimeoutMs ?? DEFAULT_THREAD_START_TIMEOUT_MS;
    // Dedicated threads are numbered after the shared ones, so every thread index is unique.
    this.nextDedicatedIndex = options.threadCount;
  }

  /** Number of shared threads (the placement modulus); dedicated threads are extra. */
  get threadCount(): number {
    return this.sharedThreadCount;
  }

  /** Starts the shared threads and resolves once each has loaded. */
  start(): Promise<void> {
    this.started ??= (async () => {
      assert(this.shutdownPromise === null, 'ActorHost.start() after shutdown()');
      for (let index = 0; index < this.sharedThreadCount; index++) this.sharedThreads.push(this.startThread(index, false));
      await Promise.all(this.sharedThreads.map((thread) => thread.ready));
    })();
    return this.started;
  }

  async spawn<T = any>(spec: ActorSpec): Promise<ActorRef<T>> {
    if (this.shutdownPromise !== null) throw new Error(`cannot spawn actor "${spec.name}": host "${this.hostName}" is shut down`);
    if (this.started === null) throw new Error(`cannot spawn actor "${spec.name}": call ActorHost.start() first`);
    assert(typeof spec.name === 'string' && spec.name.length > 0, 'an actor needs a non-empty name');
    if (this.actors.has(spec.name)) throw new Error(`an actor named "${spec.name}" already exists on host "${this.hostName}"`);

    let thread: ActorThread;
    if (spec.dedicatedThread) {
      assert(spec.threadIndex === undefined, `actor "${spec.name}": dedicatedThread and threadIndex exclude each other`);
      thread = this.startThread(this.nextDedicatedIndex++, true);
      this.dedicatedThreads.set(thread.index, thread);
    } else if (spec.threadIndex !== undefined) {
      assert(
        Number.isInteger(spec.threadIndex) && spec.threadIndex >= 0 && spec.threadIndex < this.sharedThreadCount,
        `actor "${spec.name}": threadIndex ${spec.threadIndex} is not a shared thread (0..${this.sharedThreadCount - 1})`,
      );
      thread = this.sharedThreads[spec.threadIndex];
    } else {
      thread = this.sharedThreads[placeActor(spec.name, this.sharedThreadCount)];
    }
    // Reserve the name before the first await, so a concurrent duplicate is refused.
    const entry: ActorEntry = { name: spec.name, thread, spawned: Promise.resolve(), ref: null };
    this.actors.set(spec.name, entry);
    const spawning = this.spawnOn(thread, spec);
    entry.spawned = spawning.catch(() => {});
    try {
      const ref = await spawning;
      entry.ref = ref;
      thread.actorNames.add(spec.name);
      return ref;
    } catch (error) {
      if (this.actors.get(spec.name) === entry) this.actors.delete(spec.name);
      if (thread.dedicated) await this.retireDedicatedThread(thread);
      throw error;
    }
  }

  private async spawnOn<T>(thread: ActorThread, spec: ActorSpec): Promise<ActorRefImpl<T>> {
    await thread.ready;
    if (!thread.isUsable) throw this.unusableThreadError(spec.name, thread);
    const { port1, port2 } = new MessageChannel();
    let reply: Extract<ThreadToHost, { kind: 'reply' }>;
    try {
      reply = await thread.request(
        spec.name,
        {
          kind: 'spawn',
          name: spec.name,
          moduleUrl: toModuleUrl(spec.moduleUrl),
          exportName: spec.exportName,
          init: spec.init,
          port: port2,
        },
        [port2, ...(spec.transfer ?? [])],
      );
    } catch (error) {
      port1.close();
      throw error;
    }
    if (reply.error !== undefined) {
      port1.close();
      throw deserializeError(reply.error);
    }
    // The thread may have died between its reply and now; then the ref is born dead.
    const ref = new ActorRefImpl<T>(spec.name, thread.index, port1, Comlink.wrap(nodeEndpoint(port1)));
    if (!thread.isUsable) ref.kill(this.unusableThreadError(spec.name, thread));
    return ref;
  }

  private unusableThreadError(actorName: string, thread: ActorThread): Error {
    return thread.state === 'crashed'
      ? new ActorCrashedError(actorName, thread.index, new Error(`thread ${thread.index} crashed earlier`))
      : new ActorStoppedError(actorName, `cannot run: its thread ${thread.index} is ${thread.state} (host "${this.hostName}")`);
  }

  /** Calls the actor's stop() on its thread, then forgets it (and ends its thread if dedicated). */
  async stopActor(name: string): Promise<void> {
    const entry = this.actors.get(name);
    if (entry === undefined) throw new Error(`no actor named "${name}" on host "${this.hostName}"`);
    await entry.spawned;
    if (this.actors.get(name) !== entry || entry.ref === null) return; // spawn failed, or crashed meanwhile
    const { thread, ref } = entry;
    let stopError: SerializedError | undefined;
    try {
      const reply = await thread.request(name, { kind: 'stop', name });
      stopError = reply.error;
    } finally {
      ref.kill(new ActorStoppedError(name, 'was stopped'));
      thread.actorNames.delete(name);
      if (this.actors.get(name) === entry) this.actors.delete(name);
      if (thread.dedicated) await this.retireDedicatedThread(thread);
    }
    if (stopError !== undefined) throw deserializeError(stopError);
  }

  /**
   * Stops every actor (stop() in reverse spawn order per thread, threads in parallel), then
   * terminates every thread. Threads still busy after `timeoutMs` are terminated anyway. Errors
   * thrown by stop() methods are reported together, as an AggregateError, after the teardown.
   */
  shutdown(timeoutMs = DEFAULT_SHUTDOWN_TIMEOUT_MS): Promise<void> {
    this.shutdownPromise ??= this.shutdownNow(timeoutMs);
    return this.shutdownPromise;
  }

  private async shutdownNow(timeoutMs: number): Promise<void> {
    const threads = [...this.sharedThreads, ...this.dedicatedThreads.values()];
    const stopErrors: Error[] = [];
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    const stopping = Promise.all(
      threads.map(async (thread) => {
        if (!thread.isUsable) return;
        try {
          await thread.ready;
          thread.state = 'stopping';
          const reply = await thread.request('', { kind: 'stop-all' });
          for (const { actorName, error } of reply.stopErrors ?? []) {
            stopErrors.push(new Error(`actor "${actorName}" failed to stop: ${error.message}`, { cause: deserializeError(error) }));
          }
        } catch {
          // The thread died or never started: nothing left to stop there.
        }
      }),
    );
    await Promise.race([stopping, timedOut]);
    clearTimeout(timer);

    for (const entry of this.actors.values()) entry.ref?.kill(new ActorStoppedError(entry.name, `was stopped: host "${this.hostName}" shut down`));
    this.actors.clear();
    await Promise.all(threads.map((thread) => this.terminateThread(thread)));
    if (stopErrors.length > 0) throw new AggregateError(stopErrors, `${stopErrors.length} actor(s) failed to stop cleanly`);
  }

  /** Names of the live actors (spawned, not stopped, not crashed). */
  actorNames(): string[] {
    return [...this.actors.values()].filter((entry) => entry.ref !== null).map((entry) => entry.name);
  }

  /** Index of the thread actor `name` lives on, or undefined if there is no such live actor. */
  threadOf(name: string): number | undefined {
    const entry = this.actors.get(name);
    return entry?.ref ? entry.thread.index : undefined;
  }

  // ------------------------------------------------------------------ threads

  private startThread(index: number, dedicated: boolean): ActorThread {
    const workerData: ActorThreadData = { threadIndex: index, hostName: this.hostName };
    const worker = startWorker(ACTOR_THREAD_URL, {
      workerData,
      name: `${this.hostName}-actors-${index}`,
      ...(this.resourceLimits ? { resourceLimits: this.resourceLimits } : {}),
    });
    return new ActorThread(index, dedicated, worker, this.threadStartTimeoutMs, (thread, cause) => this.onThreadFailure(thread, cause));
  }

  /** The thread's 'error' or 'exit': a crash unless the host asked for the exit. Runs once per thread. */
  private onThreadFailure(thread: ActorThread, cause: Error): void {
    if (thread.state === 'crashed' || thread.state === 'exited') return;
    if (thread.exitExpected) {
      thread.state = 'exited';
      thread.failPendingRequests((actorName) => new ActorStoppedError(actorName, `was stopped: its thread ${thread.index} exited`));
      return;
    }
    thread.state = 'crashed';
    const actorNames = [...thread.actorNames];
    for (const name of actorNames) {
      const entry = this.actors.get(name);
      if (entry === undefined || entry.thread !== thread) continue;
      entry.ref?.kill(new ActorCrashedError(name, thread.index, cause));
      this.actors.delete(name);
    }
    thread.actorNames.clear();
    thread.failPendingRequests((actorName) => new ActorCrashedError(actorName, thread.index, cause));
    if (thread.dedicated) this.dedicatedThreads.delete(thread.index);
    this.emit('actor-crashed', { threadIndex: thread.index, actorNames, error: cause } satisfies ActorCrashedEvent);
  }

  private async retireDedicatedThread(thread: ActorThread): Promise<void> {
    this.dedicatedThreads.delete(thread.index);
    await this.terminateThread(thread);
  }

  private async terminateThread(thread: ActorThread): Promise<void> {
    if (thread.state === 'crashed' || thread.state === 'exited') return;
    thread.exitExpected = true;
    await thread.worker.terminate();
    await thread.exited;
  }
}
