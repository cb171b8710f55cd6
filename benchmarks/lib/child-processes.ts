// Servers and load generators that a benchmark starts as real processes (a NameServer, a broker, a
// producer tool). Each is tracked from spawn until it exits; whatever is still running when the
// benchmark ends, is interrupted (Ctrl-C, SIGTERM) or crashes is killed, so no server outlives it.
//
//   const ns = await startProcess({ name: 'namesrv', command, args, readyPattern: /listening on (\S+)/ });
//   ns.ready[1]          // the readiness line's match: the address it bound
//   await ns.stop();     // SIGTERM, then SIGKILL after a grace period
import { spawn, type ChildProcess } from 'node:child_process';

export interface StartProcessOptions {
  /** Short name for messages ("broker"). */
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Output (stdout or stderr) matching this means the process is ready; absent = ready at spawn. */
  readyPattern?: RegExp;
  /** How long to wait for readyPattern (default 60 s). */
  readyTimeoutMs?: number;
  /** Called with each chunk of the child's stdout (after readiness detection). */
  onStdout?: (text: string) => void;
  /** Called with each chunk of the child's stderr. */
  onStderr?: (text: string) => void;
  /** Keep at most this many characters of the output for error messages (default 64 KiB). */
  keepOutputChars?: number;
}

export interface RunningProcess {
  name: string;
  child: ChildProcess;
  pid: number;
  /** The match of readyPattern (an empty match when there was none). */
  ready: RegExpMatchArray;
  /** Stdout and stderr so far (the last keepOutputChars characters). */
  output(): string;
  /** Resolves with the exit code (or the signal's name) once the process has exited. */
  exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL if it has not exited after graceMs (default 15 s). */
  stop(graceMs?: number): Promise<number | string>;
}

const live = new Set<ChildProcess>();
let hooksInstalled = false;

/** Kills every tracked child at once with `signal`; synchronous, so it works in an 'exit' handler. */
export function killAllChildren(signal: NodeJS.Signals = 'SIGKILL'): void {
  for (const child of live) {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
  live.clear();
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => killAllChildren('SIGKILL'));
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    // Runs before handlers registered earlier (which may exit the process): the children go first.
    // A signal listener replaces Node's default action, so exit here when no one else listens.
    const onSignal = () => {
      killAllChildren('SIGKILL');
      if (process.listenerCount(signal) === 1) process.exit(signal === 'SIGINT' ? 130 : 143);
    };
    process.prependListener(signal, onSignal);
  }
}

/** Spawns a process and waits until it prints readyPattern; rejects if it exits or times out first. */
export function startProcess(options: StartProcessOptions): Promise<RunningProcess> {
  installHooks();
  const keep = options.keepOutputChars ?? 64 * 1024;
  const child = spawn(options.command, options.args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let output = '';
  const append = (text: string) => {
    output += text;
    if (output.length > keep * 2) output = output.slice(-keep);
  };
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve(code ?? signal ?? 'unknown');
    });
    child.once('error', (err) => {
      live.delete(child);
      append(`\n[spawn error] ${err.message}\n`);
      resolve('spawn-error');
    });
  });

  return new Promise<RunningProcess>((resolve, reject) => {
    let settled = false;
    const timeoutMs = options.readyTimeoutMs ?? 60_000;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      child.kill('SIGKILL');
      reject(new Error(`${options.name} was not ready within ${timeoutMs} ms; output:\n${output.slice(-4000)}`));
    }, timeoutMs);
    timer.unref();

    const handle: Omit<RunningProcess, 'ready'> = {
      name: options.name,
      child,
      pid: child.pid ?? -1,
      output: () => output,
      exited,
      stop(graceMs = 15_000) {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
          killer.unref();
          void exited.then(() => clearTimeout(killer));
        }
        return exited;
      },
    };
    const check = () => {
      if (settled || !options.readyPattern) return;
      const match = output.match(options.readyPattern);
      if (match) {
        settled = true;
        clearTimeout(timer);
        resolve({ ...handle, ready: match });
      }
    };
    child.stdout!.setEncoding('utf8');
    child.stderr!.setEncoding('utf8');
    child.stdout!.on('data', (text: string) => {
      append(text);
      check();
      options.onStdout?.(text);
    });
    child.stderr!.on('data', (text: string) => {
      append(text);
      check();
      options.onStderr?.(text);
    });
    void exited.then((code) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`${options.name} exited (${code}) before it was ready; output:\n${output.slice(-4000)}`));
    });
    if (!options.readyPattern) {
      settled = true;
      clearTimeout(timer);
      resolve({ ...handle, ready: Object.assign([''], { index: 0, input: '' }) as RegExpMatchArray });
    }
  });
}
