// Test fixture: actor factories used by actor-host.test.ts.
import { threadId } from 'node:worker_threads';
import type { ActorContext } from './actor-host.js';
// Through the package name, as real actors (the store's dispatcher) do: it loads actor-host.ts and
// ts-worker.ts again inside the actor thread, which must work.
import { placeActor } from '@orbit/runtime';

export interface ProbeInit {
  /** Int32 slots shared with the test: [0] counts stop() calls, [1] counts start() calls, [4..] free. */
  counters: SharedArrayBuffer;
}

export function probeActor(init: ProbeInit, ctx: ActorContext) {
  const counters = new Int32Array(init.counters);
  let total = 0;
  return {
    start(): void {
      Atomics.add(counters, 1, 1);
    },
    stop(): void {
      Atomics.add(counters, 0, 1);
    },
    add(n: number): number {
      total += n;
      return total;
    },
    whoAmI(): ActorContext & { threadId: number } {
      return { ...ctx, threadId };
    },
    fail(message: string): never {
      throw new Error(message);
    },
    async failAsync(message: string): Promise<never> {
      await new Promise((resolve) => setTimeout(resolve, 1));
      throw new RangeError(message);
    },
    hang(): Promise<never> {
      return new Promise(() => {});
    },
    exitSoon(code: number): void {
      setTimeout(() => process.exit(code), 20);
    },
    throwSoon(message: string): void {
      setTimeout(() => {
        throw new Error(message);
      }, 20);
    },
    placement(name: string, threadCount: number): number {
      return placeActor(name, threadCount);
    },
    /** Writes into shared memory the test handed over in init: proves it is shared, not copied. */
    poke(slot: number, value: number): void {
      Atomics.store(counters, slot, value);
    },
  };
}

export function failingStopActor() {
  return {
    stop(): void {
      throw new Error('stop refused');
    },
    ping: () => 'pong',
  };
}

export function hangingStopActor() {
  return {
    stop(): Promise<never> {
      return new Promise(() => {});
    },
  };
}

export function failingFactory(): object {
  throw new Error('factory refused');
}

export const notAFunction = 42;
