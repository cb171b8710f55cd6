// The peers' servers, installed from Debian's packages when missing and started as processes on
// 127.0.0.1 with free ports and throw-away data directories:
//   NATS JetStream  nats-server -js -sd <dir> -a 127.0.0.1 -p <port>        (file storage)
//   Redis Streams   redis-server --appendonly yes --appendfsync everysec …    (AOF, fsync once a second)
// Installing is the one thing done outside the benchmark's own directories: `apt-get install -y`
// of the missing packages (after `apt-get update` when the first try fails), said on stderr before
// it runs. A package that cannot be installed makes its peer skipped, not the run fail.
import { execFileSync, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { startProcess, type RunningProcess } from '../lib/child-processes.js';
import { freshScratchDir, type ScratchDir } from '../lib/scratch-dir.js';

/** Installing two small packages takes seconds; a hung apt (a lock held elsewhere) must not hang the run. */
const APT_TIMEOUT_MS = 300_000;
const SERVER_READY_TIMEOUT_MS = 30_000;

export interface DebianServer {
  /** The program that must be on PATH. */
  command: string;
  /** The Debian package that provides it. */
  debianPackage: string;
}

export const NATS_SERVER: DebianServer = { command: 'nats-server', debianPackage: 'nats-server' };
export const REDIS_SERVER: DebianServer = { command: 'redis-server', debianPackage: 'redis-server' };

/** Absolute path of a program on PATH, or undefined. */
export function which(command: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  const path = r.stdout.trim();
  return r.status === 0 && path !== '' ? path : undefined;
}

/** "nats-server 2.9.10", "redis-server 7.0.15": the program and the first version number it prints, or "<command> (version unknown)". */
export function versionOf(command: string, args: string[]): string {
  try {
    const text = execFileSync(command, args, { encoding: 'utf8', timeout: 10_000 });
    const m = /(\d+\.\d+\.\d+)/.exec(text);
    return m ? `${command} ${m[1]}` : `${command} (version unknown)`;
  } catch {
    return `${command} (version unknown)`;
  }
}

function runApt(args: string[], say: (line: string) => void): boolean {
  say(`$ apt-get ${args.join(' ')}`);
  const r = spawnSync('apt-get', args, {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
    timeout: APT_TIMEOUT_MS,
  });
  if (r.status === 0) return true;
  const tail = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-3).join(' / ');
  say(`apt-get ${args[0]} failed (${r.error ? r.error.message : `exit ${r.status}`}): ${tail}`);
  return false;
}

/**
 * Makes sure each server's program is on PATH, installing the missing Debian packages with
 * apt-get (as root, no prompts). Returns the programs that are available afterwards.
 */
export function ensureInstalled(servers: DebianServer[], options: { install: boolean; say: (line: string) => void }): Set<string> {
  const available = new Set(servers.filter((s) => which(s.command) !== undefined).map((s) => s.command));
  const missing = servers.filter((s) => !available.has(s.command));
  if (missing.length === 0) return available;
  const names = missing.map((s) => s.debianPackage);
  if (!options.install) {
    options.say(`not installed: ${names.join(', ')} (--no-install given, so those peers are skipped)`);
    return available;
  }
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    options.say(`not installed: ${names.join(', ')}; installing needs root (apt-get install -y ${names.join(' ')}), so those peers are skipped`);
    return available;
  }
  options.say(`installing the Debian packages ${names.join(', ')} with apt-get (they are missing; nothing else is changed)`);
  const args = ['install', '-y', '--no-install-recommends', ...names];
  if (!runApt(args, options.say)) {
    // A fresh machine may have no package lists yet.
    if (runApt(['update'], options.say)) runApt(args, options.say);
  }
  for (const s of missing) {
    if (which(s.command) !== undefined) available.add(s.command);
    else options.say(`${s.debianPackage} could not be installed: that peer is skipped`);
  }
  return available;
}

/** A port that was free on 127.0.0.1 a moment ago (the OS picks it; another process could take it before the server binds). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port'))));
    });
  });
}

export interface PeerServer {
  name: string;
  /** host:port of the client listener. */
  address: string;
  port: number;
  process: RunningProcess;
  version: string;
  /** The command line, for the report. */
  commandLine: string;
  stop(): Promise<void>;
}

async function startWithScratch(name: string, build: (dir: string, port: number) => { command: string; args: string[]; readyPattern: RegExp }, version: string, log?: (line: string) => void): Promise<PeerServer> {
  const scratch: ScratchDir = freshScratchDir(name);
  try {
    const port = await freePort();
    const { command, args, readyPattern } = build(scratch.path, port);
    const p = await startProcess({
      name,
      command,
      args,
      readyPattern,
      readyTimeoutMs: SERVER_READY_TIMEOUT_MS,
      onStdout: log && ((t) => log(`[${name}] ${t.trimEnd()}`)),
      onStderr: log && ((t) => log(`[${name}] ${t.trimEnd()}`)),
    });
    return {
      name,
      address: `127.0.0.1:${port}`,
      port,
      process: p,
      version,
      commandLine: [command, ...args.map((a) => (a === '' ? "''" : a))].join(' ').replaceAll(scratch.path, '<tmp>'),
      async stop() {
        await p.stop(10_000);
        scratch.remove();
      },
    };
  } catch (err) {
    scratch.remove();
    throw err;
  }
}

/** nats-server with JetStream on file storage (its default: written through the page cache, no fsync per message). */
export function startNatsServer(log?: (line: string) => void): Promise<PeerServer> {
  return startWithScratch(
    'nats-server',
    (dir, port) => ({
      command: 'nats-server',
      args: ['-js', '-sd', dir, '-a', '127.0.0.1', '-p', String(port)],
      readyPattern: /Server is ready/,
    }),
    versionOf('nats-server', ['--version']),
    log,
  );
}

/** redis-server with the append-only file on, fsync once a second, no RDB snapshots. */
export function startRedisServer(log?: (line: string) => void): Promise<PeerServer> {
  return startWithScratch(
    'redis-server',
    (dir, port) => ({
      command: 'redis-server',
      args: ['--port', String(port), '--bind', '127.0.0.1', '--appendonly', 'yes', '--appendfsync', 'everysec', '--dir', dir, '--save', '', '--daemonize', 'no'],
      readyPattern: /Ready to accept connections/,
    }),
    versionOf('redis-server', ['--version']),
    log,
  );
}
