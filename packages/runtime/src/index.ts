// @orbit/runtime: the actor runtime. Worker-thread hosts for actors (actor-host), SharedArrayBuffer
// ring mailboxes (spsc-ring), stable actor placement (placement), and a pool for stateless CPU work
// (cpu-pool). ts-worker starts worker threads on TypeScript sources.
export { SpscRing, type SpscRingCreateOptions } from './spsc-ring.js';
export { placeActor, actorNameHash } from './placement.js';
export {
  ActorHost,
  ActorCrashedError,
  ActorStoppedError,
  type ActorSpec,
  type ActorContext,
  type ActorFactory,
  type ActorRef,
  type ActorCrashedEvent,
  type ActorHostOptions,
} from './actor-host.js';
export { CpuPool, type CpuPoolOptions, type CpuTaskOptions } from './cpu-pool.js';
export { startWorker, toModuleUrl } from './ts-worker.js';
