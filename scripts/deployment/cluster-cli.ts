// pnpm cluster: start, stop and inspect one of the four deployments (conf/README.md) on this machine.
//
//   pnpm cluster start <single|2m-noslave|2m-2s-async|2m-2s-sync> [--data DIR] [--port-offset N|auto]
//                      [--flush SYNC_FLUSH|ASYNC_FLUSH] [--set key=value]...
//   pnpm cluster stop [--data DIR]
//   pnpm cluster status [--data DIR]
//
// start returns once every process has printed its boot line; the processes keep running in the
// background (logs under DIR/logs, pids in DIR/cluster.json) until `pnpm cluster stop`.
import { resolve } from 'node:path';
import { readClusterState } from './cluster-state.js';
import { DEPLOYMENTS, isDeploymentName } from './deployment-sets.js';
import { startDeployment, stopDeployment } from './deployment.js';
import { isOurProcess } from './processes.js';
import { commitLogMaxOffset } from './runtime-info.js';

const DEFAULT_DATA_DIR = 'data/cluster';
const STATUS_TIMEOUT_MS = 1_500;

const USAGE = `usage:
  pnpm cluster start <${DEPLOYMENTS.join('|')}> [--data DIR] [--port-offset N|auto] [--flush SYNC_FLUSH|ASYNC_FLUSH] [--set key=value]...
  pnpm cluster stop [--data DIR]
  pnpm cluster status [--data DIR]

  --data DIR          where stores, logs, effective confs and cluster.json go (default ${DEFAULT_DATA_DIR})
  --port-offset N     added to every port: NameServer 9876+N, brokers 10911+N, 10921+N, 11011+N, 11021+N
                      (HA ports one above each); "auto" picks a free block (default 0)
  --flush MODE        flushDiskType of every broker (the conf files say ASYNC_FLUSH)
  --set key=value     any other broker property for every broker (repeatable), e.g. --set mappedFileSizeCommitLog=67108864`;

interface CliArgs {
  command: string;
  deployment?: string;
  dataDir: string;
  portOffset: number | 'auto';
  overrides: Record<string, string>;
}

function parseArgs(argv: string[]): CliArgs {
  const [command, ...rest] = argv;
  if (!command || command === '-h' || command === '--help') {
    console.log(USAGE);
    process.exit(command ? 0 : 2);
  }
  const args: CliArgs = { command, dataDir: DEFAULT_DATA_DIR, portOffset: 0, overrides: {} };
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    const value = () => {
      const v = rest[++i];
      if (v === undefined) throw new RangeError(`${a} needs a value`);
      return v;
    };
    if (a === '--data') args.dataDir = value();
    else if (a === '--port-offset') {
      const v = value();
      args.portOffset = v === 'auto' ? 'auto' : Number(v);
      if (args.portOffset !== 'auto' && !Number.isInteger(args.portOffset)) throw new RangeError(`--port-offset must be an integer or auto, not ${v}`);
    } else if (a === '--flush') {
      const v = value();
      if (v !== 'SYNC_FLUSH' && v !== 'ASYNC_FLUSH') throw new RangeError(`--flush must be SYNC_FLUSH or ASYNC_FLUSH, not ${v}`);
      args.overrides.flushDiskType = v;
    } else if (a === '--set') {
      const v = value();
      const eq = v.indexOf('=');
      if (eq <= 0) throw new RangeError(`--set needs key=value, not ${v}`);
      args.overrides[v.slice(0, eq)] = v.slice(eq + 1);
    } else if (!a.startsWith('-') && args.deployment === undefined) args.deployment = a;
    else throw new RangeError(`unexpected argument ${a}`);
  }
  return args;
}

async function start(args: CliArgs): Promise<number> {
  if (!args.deployment || !isDeploymentName(args.deployment)) {
    console.error(`cluster start: name a deployment: ${DEPLOYMENTS.join(', ')}`);
    return 2;
  }
  const d = await startDeployment({ deployment: args.deployment, dataDir: args.dataDir, portOffset: args.portOffset, overrides: args.overrides, detached: true });
  console.log(`${d.deployment} is running (data ${d.dataDir}):`);
  console.log(`  namesrv     ${d.namesrvAddr}  pid ${d.namesrv.pid}`);
  for (const b of d.brokers) console.log(`  ${b.name.padEnd(11)} ${b.addr}  ${b.role.padEnd(12)} brokerId ${b.brokerId}  HA port ${b.haPort}  pid ${b.pid}`);
  console.log(`Try it: pnpm example ${d.namesrvAddr}    Stop it: pnpm cluster stop${args.dataDir === DEFAULT_DATA_DIR ? '' : ` --data ${args.dataDir}`}`);
  return 0;
}

async function stop(args: CliArgs): Promise<number> {
  const results = await stopDeployment(args.dataDir);
  for (const r of results) console.log(`  ${r.name.padEnd(11)} pid ${String(r.pid).padEnd(8)} ${r.outcome}`);
  return 0;
}

async function status(args: CliArgs): Promise<number> {
  const state = readClusterState(resolve(args.dataDir));
  if (!state) {
    console.log(`no deployment recorded in ${resolve(args.dataDir)}`);
    return 1;
  }
  console.log(`${state.deployment} (data ${state.dataDir}, started ${state.startedAt}${state.stoppedAt ? `, stopped ${state.stoppedAt}` : ''})`);
  const nsUp = isOurProcess(state.namesrv.pid, state.namesrv.confPath);
  console.log(`  namesrv     ${state.namesrvAddr.padEnd(16)} ${nsUp ? 'up  ' : 'down'}  pid ${state.namesrv.pid}`);
  // Commit-log max offsets, so a slave's lag behind its master reads directly.
  const offsets = await Promise.all(state.brokers.map((b) => (isOurProcess(b.pid, b.confPath) ? commitLogMaxOffset(b.addr, STATUS_TIMEOUT_MS) : Promise.resolve(undefined))));
  for (const [i, b] of state.brokers.entries()) {
    const up = isOurProcess(b.pid, b.confPath);
    const offset = offsets[i];
    const master = state.brokers.findIndex((m) => m.brokerName === b.brokerName && m.brokerId === 0);
    const masterOffset = master >= 0 ? offsets[master] : undefined;
    const lag = b.role === 'SLAVE' && offset !== undefined && masterOffset !== undefined ? `  behind master by ${masterOffset - offset} B` : '';
    console.log(`  ${b.name.padEnd(11)} ${b.addr.padEnd(16)} ${up ? 'up  ' : 'down'}  pid ${String(b.pid).padEnd(8)} ${b.role.padEnd(12)} commitLogMaxOffset ${offset ?? '—'}${lag}`);
  }
  return 0;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  switch (args.command) {
    case 'start':
      return start(args);
    case 'stop':
      return stop(args);
    case 'status':
      return status(args);
    default:
      console.error(`unknown command ${args.command}\n${USAGE}`);
      return 2;
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`cluster: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
