// Starting brokers in tests: in this process (fast, inspectable) on 127.0.0.1 and an ephemeral port.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BrokerController } from './broker-controller.js';
import { loadBrokerConfig } from './broker-config.js';

export interface TestBroker {
  broker: BrokerController;
  addr: string;
  dir: string;
  stop: () => Promise<void>;
  restart: () => Promise<TestBroker>;
}

export async function startTestBroker(settings: Record<string, string> = {}, dir?: string): Promise<TestBroker> {
  const storeDir = dir ?? mkdtempSync(join(tmpdir(), 'orbit-broker-'));
  const { broker: config, store } = loadBrokerConfig(undefined, {
    brokerName: 'broker-a',
    listenPort: '0',
    listenHost: '127.0.0.1',
    brokerIP1: '127.0.0.1',
    storePathRootDir: storeDir,
    mappedFileSizeCommitLog: String(16 * 1024 * 1024),
    mappedFileSizeConsumeQueue: String(20 * 10_000),
    maxHashSlotNum: '10000',
    maxIndexNum: '40000',
    appendRingBytes: String(4 * 1024 * 1024),
    ...settings,
  });
  const broker = new BrokerController(config, store);
  const { brokerAddr } = await broker.start();
  const handle: TestBroker = {
    broker,
    addr: brokerAddr,
    dir: storeDir,
    stop: async () => {
      await broker.shutdown();
      if (!dir) rmSync(storeDir, { recursive: true, force: true });
    },
    restart: async () => {
      // The same ports again: listenPort + 1 (the HA default) may meanwhile be another process's
      // ephemeral port, so the HA port the store bound is kept too.
      const haPort = broker.ctx.store.haStatus().haListenPort;
      await broker.shutdown();
      return startTestBroker({ ...settings, listenPort: String(config.listenPort), ...(haPort > 0 ? { haListenPort: String(haPort) } : {}) }, storeDir);
    },
  };
  return handle;
}

/**
 * Runs a client fixture script (e.g. the ali-ons drivers) as a child process, bounded in time, and
 * returns the JSON lines it printed; rejects with its output when it exits non-zero.
 */
export function runJsonLinesFixture(fixture: string, args: string[], timeoutMs = 60_000): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fixture, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      const lines = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
      if (code !== 0) reject(new Error(`fixture ${args[0]} exited ${code}: ${out.slice(-2000)} ${err.slice(-2000)}`));
      else resolve(lines);
    });
  });
}
