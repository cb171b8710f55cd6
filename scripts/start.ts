// `pnpm start`: a NameServer and a single-master broker on this machine, data under ./data (or
// $ORBIT_DATA_DIR). Each runs as its own process (mqnamesrv, mqbroker), as in RocketMQ; Ctrl-C or
// SIGTERM stops both cleanly. Ports: NameServer 9876, broker 10911 (override with ORBIT_NAMESRV_PORT,
// ORBIT_BROKER_PORT).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dataDir = resolve(process.env.ORBIT_DATA_DIR ?? './data');
const namesrvPort = Number(process.env.ORBIT_NAMESRV_PORT ?? 9876);
const brokerPort = Number(process.env.ORBIT_BROKER_PORT ?? 10911);
const host = process.env.ORBIT_HOST ?? '127.0.0.1';
const BOOT_TIMEOUT_MS = 60_000;

mkdirSync(`${dataDir}/namesrv`, { recursive: true });
mkdirSync(`${dataDir}/broker-a`, { recursive: true });
writeFileSync(`${dataDir}/namesrv/namesrv.properties`, `listenPort=${namesrvPort}\nkvConfigPath=${dataDir}/namesrv/kvConfig.json\n`);
writeFileSync(
  `${dataDir}/broker-a/broker.conf`,
  [
    'brokerClusterName=DefaultCluster',
    'brokerName=broker-a',
    'brokerId=0',
    'brokerRole=ASYNC_MASTER',
    'flushDiskType=ASYNC_FLUSH',
    'deleteWhen=04',
    'fileReservedTime=48',
    `listenPort=${brokerPort}`,
    `brokerIP1=${host}`,
    `storePathRootDir=${dataDir}/broker-a/store`,
  ].join('\n') + '\n',
);

const children: ChildProcess[] = [];
function launch(name: string, command: string, args: string[], bootLine: RegExp): Promise<void> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolveBoot, rejectBoot) => {
    const timer = setTimeout(() => rejectBoot(new Error(`${name} did not boot within ${BOOT_TIMEOUT_MS} ms`)), BOOT_TIMEOUT_MS);
    child.stdout!.on('data', (chunk: Buffer) => {
      process.stdout.write(`[${name}] ${chunk}`);
      if (bootLine.test(chunk.toString())) {
        clearTimeout(timer);
        resolveBoot();
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      rejectBoot(new Error(`${name} exited (${code ?? signal})`));
      if (!stopping) stop(1);
    });
  });
}

let stopping = false;
function stop(exitCode: number): void {
  if (stopping) return;
  stopping = true;
  // Broker first, so it can unregister from the NameServer.
  const [namesrv, broker] = children;
  const kill = (c: ChildProcess | undefined) => new Promise<void>((r) => (!c || c.exitCode !== null ? r() : (c.once('exit', () => r()), c.kill('SIGTERM'))));
  kill(broker).then(() => kill(namesrv)).then(() => process.exit(exitCode));
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

try {
  await launch('namesrv', `${root}/packages/namesrv/bin/mqnamesrv`, ['-c', `${dataDir}/namesrv/namesrv.properties`], /boot success/);
  await launch('broker', `${root}/packages/broker/bin/mqbroker`, ['-n', `${host}:${namesrvPort}`, '-c', `${dataDir}/broker-a/broker.conf`], /boot success/);
  console.log(`\nOrbit is running: NameServer ${host}:${namesrvPort}, broker broker-a ${host}:${brokerPort}, data under ${dataDir}.`);
  console.log('Ctrl-C stops both. Try it from another terminal: see README.md, "Send and receive".');
} catch (err) {
  console.error(`orbit: ${(err as Error).message}`);
  stop(1);
}
