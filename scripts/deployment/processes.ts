// The processes of a deployment: started with their output appended to a log file, ready when a
// line appears in that log, stopped with SIGTERM and, after a grace period, SIGKILL.
//
// Output goes to a file rather than a pipe so the same code serves both users: the library (tests,
// benchmarks), whose children die with it, and the `pnpm cluster` CLI, whose children are detached
// and outlive it; a later `pnpm cluster stop` finds them by the pids in cluster.json.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';

const POLL_INTERVAL_MS = 50;

/** Children of this process that must not outlive it (non-detached ones). */
const attached = new Set<ChildProcess>();
let hooksInstalled = false;

function killAttached(): void {
  for (const child of attached) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  attached.clear();
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', killAttached);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    // A listener replaces Node's default action; exit when nobody else listens for the signal.
    process.prependListener(signal, () => {
      killAttached();
      if (process.listenerCount(signal) === 1) process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
}

export function sleepMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** True while `pid` names a live process (a zombie counts as gone). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // /proc/<pid>/stat: "pid (comm) S ..."; comm may hold spaces and parentheses, so read after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc: trust kill(0)
  }
}

/** The process's command line, arguments joined by spaces; undefined when it is gone. */
export function commandLineOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return undefined;
  }
}

/**
 * Whether `pid` is still the process we started: alive and its command line holds `marker` (its conf
 * path). A pid from an old cluster.json may have been reused by an unrelated process by now.
 */
export function isOurProcess(pid: number, marker: string): boolean {
  if (!isProcessAlive(pid)) return false;
  const cmd = commandLineOf(pid);
  return cmd === undefined ? true : cmd.includes(marker);
}

/** Waits until `pid` is gone; false when it is still alive after `timeoutMs`. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isProcessAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleepMs(POLL_INTERVAL_MS);
  }
  return true;
}

/** SIGTERM, wait up to graceMs, then SIGKILL and wait again. 'killed' when SIGKILL was needed. */
export async function stopPid(pid: number, graceMs: number): Promise<'stopped' | 'killed' | 'gone'> {
  if (!isProcessAlive(pid)) return 'gone';
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return 'gone';
  }
  if (await waitForExit(pid, graceMs)) return 'stopped';
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return 'stopped';
  }
  await waitForExit(pid, 5_000);
  return 'killed';
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function readFrom(path: string, fromByte: number): string {
  const size = fileSize(path);
  if (size <= fromByte) return '';
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(size - fromByte);
    const n = readSync(fd, buf, 0, buf.length, fromByte);
    return buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

export interface LaunchOptions {
  /** Short name for messages ("broker-a"). */
  name: string;
  command: string;
  args: string[];
  /** Output (stdout and stderr) is appended here. */
  logPath: string;
  /** Detached children get their own process group and outlive this process (the CLI). */
  detached: boolean;
  /** The line that means "booted"; its match is returned by start(). */
  readyPattern: RegExp;
  env?: NodeJS.ProcessEnv;
}

/** One process of a deployment; start() can be called again after it stopped (restart). */
export class ManagedProcess {
  pid = -1;
  private child: ChildProcess | undefined;

  constructor(readonly options: LaunchOptions) {}

  get name(): string {
    return this.options.name;
  }

  get running(): boolean {
    return this.pid > 0 && isProcessAlive(this.pid);
  }

  /** Spawns the process and waits until its log shows the ready line; kills it if that does not happen in time. */
  async start(timeoutMs: number): Promise<RegExpMatchArray> {
    if (this.running) throw new Error(`${this.name} is already running (pid ${this.pid})`);
    const { options } = this;
    const logFromByte = fileSize(options.logPath);
    const fd = openSync(options.logPath, 'a');
    let child: ChildProcess;
    try {
      child = spawn(options.command, options.args, { stdio: ['ignore', fd, fd], detached: options.detached, env: options.env ?? process.env });
    } finally {
      closeSync(fd); // the child has its own copy
    }
    let exitedWith: string | undefined;
    let spawnError: Error | undefined;
    child.once('error', (err) => (spawnError = err));
    child.once('exit', (code, signal) => {
      exitedWith = `${code ?? signal}`;
      attached.delete(child);
    });
    if (options.detached) child.unref();
    else {
      installHooks();
      attached.add(child);
    }
    this.child = child;
    this.pid = child.pid ?? -1;

    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = readFrom(options.logPath, logFromByte);
      const match = text.match(options.readyPattern);
      if (match) return match;
      const failure = spawnError ? `could not be started: ${spawnError.message}` : exitedWith !== undefined ? `exited (${exitedWith}) before it booted` : Date.now() >= deadline ? `did not boot within ${timeoutMs} ms` : undefined;
      if (failure) {
        if (exitedWith === undefined) await this.kill('SIGKILL');
        const tail = text.trim().split('\n').slice(-15).join('\n');
        throw new BootError(`${this.name} ${failure}; log ${options.logPath}:\n${tail}`, text);
      }
      await sleepMs(POLL_INTERVAL_MS);
    }
  }

  /**
   * Sends `signal`. For SIGTERM, SIGINT and SIGKILL, waits (up to waitMs) until the process is gone;
   * other signals (SIGSTOP, SIGCONT, …) return at once.
   */
  async kill(signal: NodeJS.Signals = 'SIGKILL', waitMs = 15_000): Promise<void> {
    if (!(this.pid > 0) || !isProcessAlive(this.pid)) return;
    try {
      process.kill(this.pid, signal);
    } catch {
      return;
    }
    if (signal === 'SIGTERM' || signal === 'SIGINT' || signal === 'SIGKILL') {
      if (!(await waitForExit(this.pid, waitMs))) throw new Error(`${this.name} (pid ${this.pid}) still runs ${waitMs} ms after ${signal}`);
    }
  }

  /** SIGTERM, then SIGKILL after graceMs. */
  async stop(graceMs: number): Promise<'stopped' | 'killed' | 'gone'> {
    if (!(this.pid > 0)) return 'gone';
    const how = await stopPid(this.pid, graceMs);
    if (this.child) attached.delete(this.child);
    return how;
  }
}

/** A process that did not boot; `log` is what it printed, so callers can tell why (EADDRINUSE). */
export class BootError extends Error {
  constructor(
    message: string,
    readonly log: string,
  ) {
    super(message);
    this.name = 'BootError';
  }
}
