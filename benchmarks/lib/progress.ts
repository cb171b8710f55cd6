// Progress for long benchmark runs: one line per finished case on stderr, so stdout stays the
// report and a run piped to a file still shows where it is.
//
//   [3/21] ASYNC 1KiB x64 ... 512,345 appends/s (12.4 s)

export class Progress {
  private done = 0;
  private readonly startedMs = performance.now();
  private caseStartedMs = performance.now();

  constructor(
    readonly totalCases: number,
    private readonly out: NodeJS.WritableStream = process.stderr,
  ) {
    if (!(totalCases > 0)) throw new RangeError('totalCases must be positive');
  }

  /** Marks the start of a case, so its finished line can say how long it took. */
  start(): void {
    this.caseStartedMs = performance.now();
  }

  /** One line for a finished case; `result` is the figure people look for, already formatted. */
  finish(label: string, result: string): void {
    this.done++;
    const seconds = (performance.now() - this.caseStartedMs) / 1000;
    this.out.write(`[${this.done}/${this.totalCases}] ${label} ... ${result} (${seconds.toFixed(1)} s)\n`);
    this.caseStartedMs = performance.now();
  }

  /** A case that failed still counts as finished; the line says why. */
  fail(label: string, reason: string): void {
    this.finish(label, `FAILED: ${reason}`);
  }

  /** A free-form note between case lines (setup steps, retries). */
  note(text: string): void {
    this.out.write(`      ${text}\n`);
  }

  get elapsedSeconds(): number {
    return (performance.now() - this.startedMs) / 1000;
  }
}
