// Starting brokers in tests: in this process (fast, inspectable) on 127.0.0.1 and an ephemeral port.
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
      await broker.shutdown();
      return startTestBroker({ ...settings, listenPort: String(config.listenPort) }, storeDir);
    },
  };
  return handle;
}
