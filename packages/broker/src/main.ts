// mqbroker: `mqbroker -n host:port[;host:port] -c broker.properties [-p]`, like RocketMQ's.
// -p prints the effective configuration and exits, -m only the important keys.

import { BrokerController } from './broker-controller.js';
import { loadBrokerConfigFile } from './broker-config.js';

function usage(): never {
  console.error('usage: mqbroker [-n namesrvAddr] [-c configFile] [-p | -m] [-h]');
  process.exit(1);
}

const args = process.argv.slice(2);
const overrides: Record<string, string> = {};
let configFile: string | undefined;
let print: 'all' | 'important' | undefined;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '-n' && args[i + 1]) overrides.namesrvAddr = args[++i]!;
  else if (a === '-c' && args[i + 1]) configFile = args[++i]!;
  else if (a === '-p') print = 'all';
  else if (a === '-m') print = 'important';
  else usage();
}

let loaded;
try {
  loaded = loadBrokerConfigFile(configFile, overrides);
} catch (err) {
  console.error(`mqbroker: bad configuration: ${(err as Error).message}`);
  process.exit(1);
}
for (const key of loaded.unknownKeys) console.warn(`mqbroker: ignoring unknown config key ${key}`);
if (print) {
  const important = ['brokerClusterName', 'brokerName', 'brokerId', 'namesrvAddr', 'listenPort', 'brokerIP1', 'brokerRole', 'flushDiskType', 'storePathRootDir'];
  const all: Record<string, unknown> = { ...loaded.broker, ...loaded.store };
  for (const [k, v] of Object.entries(all)) if (print === 'all' || important.includes(k)) console.log(`${k}=${v}`);
  process.exit(0);
}

const broker = new BrokerController(loaded.broker, loaded.store);
try {
  const { brokerAddr } = await broker.start();
  const ns = loaded.broker.namesrvAddr;
  console.log(`The broker[${loaded.broker.brokerName}, ${brokerAddr}] boot success. serializeType=JSON${ns ? ` and name server is ${ns}` : ''}`);
} catch (err) {
  console.error(`mqbroker: failed to start: ${(err as Error).stack ?? err}`);
  process.exit(1);
}

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    broker.shutdown().then(
      () => process.exit(0),
      (err) => {
        console.error(`mqbroker: shutdown failed: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  });
}
