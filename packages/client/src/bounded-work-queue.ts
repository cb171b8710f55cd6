// Tasks run at most `concurrency` at a time, the rest wait in order: the consume services' pool of
// listener calls (consumeThreadMax in RocketMQ's client). stop() drops what waits and gives the
// running ones a bounded time to finish.
export class BoundedWorkQueue<T> {
  private readonly waiting: T[] = [];
  private active = 0;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly concurrency: number,
    private readonly run: (task: T) => Promise<void>,
    private readonly onError: (task: T, error: unknown) => void,
  ) {
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError('concurrency must be at least 1');
  }

  /** Tasks running plus tasks waiting for a slot. */
  get backlog(): number {
    return this.active + this.waiting.length;
  }

  push(task: T): void {
    if (this.stopped) return;
    this.waiting.push(task);
    this.drain();
  }

  private drain(): void {
    while (!this.stopped && this.active < this.concurrency && this.waiting.length > 0) {
      const task = this.waiting.shift()!;
      this.active++;
      void this.run(task)
        .catch((error: unknown) => this.onError(task, error))
        .finally(() => {
          this.active--;
          this.drain();
          if (this.active === 0) for (const wake of this.idleWaiters.splice(0)) wake();
        });
    }
  }

  /** Takes no more tasks, drops the waiting ones and waits up to `awaitMs` for the running ones. */
  async stop(awaitMs: number): Promise<void> {
    this.stopped = true;
    this.waiting.length = 0;
    if (this.active === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, awaitMs);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
