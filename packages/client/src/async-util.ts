// Small waiting tools for the background loops: a sleep a shutdown can cut short, and a wake-up
// signal (the rebalance service sleeps 20 s unless NOTIFY_CONSUMER_IDS_CHANGED wakes it).

/** Resolves after `ms`, or at once when `signal` aborts. Never rejects. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Waits for `promise` at most `ms`; the timer is cleared either way, so nothing lingers. */
export async function waitAtMost(promise: Promise<unknown>, ms: number): Promise<void> {
  const timeout = new AbortController();
  try {
    await Promise.race([promise, sleep(ms, timeout.signal)]);
  } finally {
    timeout.abort();
  }
}

/** A sleeper that can be woken early; a wake-up while nobody sleeps is remembered once. */
export class Wakeup {
  private pending = false;
  private wake: (() => void) | undefined;

  /** Wakes the current sleeper, or makes the next sleep return at once. */
  signal(): void {
    if (this.wake) this.wake();
    else this.pending = true;
  }

  /** Sleeps up to `ms`; returns true when woken by signal(), false on timeout or abort. */
  wait(ms: number, abort?: AbortSignal): Promise<boolean> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve(true);
    }
    if (abort?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const finish = (woken: boolean) => {
        clearTimeout(timer);
        abort?.removeEventListener('abort', onAbort);
        this.wake = undefined;
        resolve(woken);
      };
      const onAbort = () => finish(false);
      const timer = setTimeout(() => finish(false), ms);
      this.wake = () => finish(true);
      abort?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/** Runs `task` every `intervalMs` after `initialDelayMs`; a run never overlaps the previous one. */
export class PeriodicTask {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly name: string,
    private readonly intervalMs: number,
    private readonly task: () => Promise<void>,
    private readonly onError: (name: string, error: unknown) => void,
  ) {}

  start(initialDelayMs: number): void {
    this.schedule(initialDelayMs);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.task()
        .catch((error: unknown) => this.onError(this.name, error))
        .finally(() => {
          this.running = undefined;
          this.schedule(this.intervalMs);
        });
    }, delayMs);
  }

  /** Stops scheduling and waits for a run in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }
}

/**
 * A FIFO mutual-exclusion lock for async code (orderly consumption: one task consumes a queue at a
 * time, and rebalance waits for it before giving the queue away). acquire() resolves with the
 * release function; calling it more than once releases once.
 */
export class Mutex {
  private held = false;
  private readonly waiters: { grant: () => void }[] = [];

  get isLocked(): boolean {
    return this.held;
  }

  acquire(): Promise<() => void> {
    return this.tryAcquire(Number.POSITIVE_INFINITY) as Promise<() => void>;
  }

  /** Like acquire(), but resolves undefined when the mutex is not ours within `timeoutMs`. */
  tryAcquire(timeoutMs: number): Promise<(() => void) | undefined> {
    if (!this.held) {
      this.held = true;
      return Promise.resolve(this.releaser());
    }
    if (timeoutMs <= 0) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const waiter = {
        grant: () => {
          if (timer !== undefined) clearTimeout(timer);
          resolve(this.releaser());
        },
      };
      const timer =
        timeoutMs === Number.POSITIVE_INFINITY
          ? undefined
          : setTimeout(() => {
              const i = this.waiters.indexOf(waiter);
              if (i >= 0) this.waiters.splice(i, 1);
              resolve(undefined);
            }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next) next.grant(); // stays held, handed over in FIFO order
      else this.held = false;
    };
  }
}

/** The message of any thrown value. */
export function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
