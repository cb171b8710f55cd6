// Starts one of the four deployments (conf/README.md) on this machine, one process per NameServer
// and broker as in RocketMQ, and stops it. Used by `pnpm cluster` (cluster-cli.ts), by the tests and
// by the replication benchmark:
//
//   const d = await startDeployment({ deployment: '2m-2s-sync', dataDir, portOffset: 'auto' });
//   d.namesrvAddr                      // "127.0.0.1:<port>"
//   await d.broker('broker-a-s').kill('SIGKILL'); await d.broker('broker-a-s').restart();
//   await d.stop();                    // brokers, then the NameServer: SIGTERM, SIGKILL after a grace period
//
// Layout of dataDir: namesrv/namesrv.properties, <broker>/broker.properties (the effective conf),
// <broker>/store (its store), logs/<process>.log, cluster.json (pids, addresses: cluster-state.ts).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { clusterStatePath, readClusterState, writeClusterState, type BrokerRecord, type ClusterState, type ProcessRecord } from './cluster-state.js';
import { loadDeploymentSet, type BrokerRole, type BrokerSpec, type DeploymentName } from './deployment-sets.js';
import { brokerDir, effectiveBrokerConf, formatProperties, LOCAL_HOST, namesrvPort, namesrvProperties } from './effective-conf.js';
import { findFreePortOffset, isPortFree, portsOf } from './ports.js';
import { BootError, isOurProcess, ManagedProcess, stopPid } from './processes.js';
import { MQBROKER, MQNAMESRV } from './workspace.js';

/** How long one process may take to print its boot line (brokers boot in parallel on few cores). */
export const DEFAULT_BOOT_TIMEOUT_MS = 60_000;
/** How long stop waits after SIGTERM before SIGKILL. */
export const DEFAULT_STOP_GRACE_MS = 15_000;
/** With portOffset 'auto', a start that lost a port to another process is tried again this often. */
const AUTO_PORT_ATTEMPTS = 3;

const NAMESRV_BOOT_LINE = /The Name Server boot success/;
const BROKER_BOOT_LINE = /The broker\[([^,\]]+), (\S+:\d+)\] boot success/;

export interface StartDeploymentOptions {
  deployment: DeploymentName;
  /** Everything goes under here; created when missing. A store already there is reused (restart). */
  dataDir: string;
  /** Added to every port of the set (NameServer 9876, listenPort, HA port); 'auto' picks free ones. Default 0. */
  portOffset?: number | 'auto';
  /** Broker properties for every broker (e.g. flushDiskType, mappedFileSizeCommitLog). */
  overrides?: Record<string, string>;
  /** Broker properties by brokerName (both members of the group) or by instance name (broker-a-s). */
  brokerOverrides?: Record<string, Record<string, string>>;
  /** true: processes outlive the caller (the CLI). Default false: they die with it. */
  detached?: boolean;
  bootTimeoutMs?: number;
  stopGraceMs?: number;
  /** Where the conf sets are; the workspace's conf/ by default. */
  confDir?: string;
}

export interface DeployedProcess {
  readonly name: string;
  readonly pid: number;
  readonly running: boolean;
  readonly confPath: string;
  readonly logPath: string;
  /** Sends a signal; for SIGTERM/SIGINT/SIGKILL resolves once the process is gone. Default SIGKILL. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Stops it if it runs (SIGTERM, then SIGKILL), starts it again with the same conf and waits for its boot line. */
  restart(): Promise<void>;
  /** SIGTERM, then SIGKILL after the grace period. */
  stop(): Promise<void>;
}

export interface DeployedBroker extends DeployedProcess {
  /** The instance: broker-a, broker-a-s, … */
  readonly name: string;
  readonly brokerName: string;
  readonly brokerId: number;
  readonly role: BrokerRole;
  /** Client address, host:port. */
  readonly addr: string;
  readonly haPort: number;
  readonly storeDir: string;
}

export interface Deployment {
  readonly deployment: DeploymentName;
  readonly dataDir: string;
  /** The offset used (the one 'auto' chose): pass it to a later start over the same dataDir to keep addresses. */
  readonly portOffset: number;
  readonly namesrvAddr: string;
  readonly namesrv: DeployedProcess;
  /** Masters first. */
  readonly brokers: DeployedBroker[];
  /** The broker instance of that name; throws when the set has none. */
  broker(name: string): DeployedBroker;
  /** Brokers (in parallel), then the NameServer. */
  stop(): Promise<void>;
}

/** Starts every process of the set and waits for each boot line; on failure, whatever started is killed. */
export async function startDeployment(options: StartDeploymentOptions): Promise<Deployment> {
  const dataDir = resolve(options.dataDir);
  refuseIfRunning(dataDir);
  const specs = loadDeploymentSet(options.deployment, options.confDir);
  if (options.portOffset !== 'auto') {
    const offset = options.portOffset ?? 0;
    const busy = [];
    for (const port of portsOf(specs, offset)) if (!(await isPortFree(port))) busy.push(port);
    if (busy.length > 0) throw new Error(`port(s) ${busy.join(', ')} on ${LOCAL_HOST} are in use; pick another --port-offset (or 'auto')`);
    return startOnce(options, dataDir, specs, offset);
  }
  for (let attempt = 1; ; attempt++) {
    const offset = await findFreePortOffset(specs);
    try {
      return await startOnce(options, dataDir, specs, offset);
    } catch (err) {
      // Another process may take a port between the check and the bind: pick another block.
      const lostAPort = err instanceof BootError && /EADDRINUSE|address already in use/i.test(err.log);
      if (!lostAPort || attempt >= AUTO_PORT_ATTEMPTS) throw err;
    }
  }
}

function refuseIfRunning(dataDir: string): void {
  const state = readClusterState(dataDir);
  if (!state) return;
  const live = [state.namesrv, ...state.brokers].filter((p) => isOurProcess(p.pid, p.confPath));
  if (live.length > 0) {
    throw new Error(`a deployment already runs over ${dataDir} (${live.map((p) => `${p.name} pid ${p.pid}`).join(', ')}); stop it first (pnpm cluster stop --data ${dataDir})`);
  }
}

async function startOnce(options: StartDeploymentOptions, dataDir: string, specs: BrokerSpec[], portOffset: number): Promise<Deployment> {
  const bootTimeoutMs = options.bootTimeoutMs ?? DEFAULT_BOOT_TIMEOUT_MS;
  const graceMs = options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS;
  const detached = options.detached ?? false;
  const logDir = join(dataDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  mkdirSync(join(dataDir, 'namesrv'), { recursive: true });

  const namesrvAddr = `${LOCAL_HOST}:${namesrvPort(portOffset)}`;
  const namesrvConf = join(dataDir, 'namesrv', 'namesrv.properties');
  writeFileSync(namesrvConf, formatProperties(namesrvProperties(dataDir, portOffset), [`NameServer of the ${options.deployment} deployment (written by scripts/deployment)`]));
  const namesrvProc = new ManagedProcess({
    name: 'namesrv',
    command: MQNAMESRV,
    args: ['-c', namesrvConf],
    logPath: join(logDir, 'namesrv.log'),
    detached,
    readyPattern: NAMESRV_BOOT_LINE,
  });

  const brokers = specs.map((spec) => {
    const conf = effectiveBrokerConf(spec, { dataDir, namesrvAddr, portOffset, overrides: options.overrides, brokerOverrides: options.brokerOverrides });
    mkdirSync(brokerDir(dataDir, spec.name), { recursive: true });
    const confPath = join(brokerDir(dataDir, spec.name), 'broker.properties');
    writeFileSync(confPath, formatProperties(conf.properties, [`${spec.name}: conf/${spec.confFile} plus the ${options.deployment} deployment's overrides (written by scripts/deployment)`]));
    const proc = new ManagedProcess({
      name: spec.name,
      command: MQBROKER,
      args: ['-n', namesrvAddr, '-c', confPath],
      logPath: join(logDir, `${spec.name}.log`),
      detached,
      readyPattern: BROKER_BOOT_LINE,
    });
    return { spec, conf, confPath, proc, addr: `${LOCAL_HOST}:${conf.listenPort}` };
  });

  const state: ClusterState = {
    deployment: options.deployment,
    dataDir,
    portOffset,
    namesrvAddr,
    startedAt: new Date().toISOString(),
    namesrv: { name: 'namesrv', pid: -1, confPath: namesrvConf, logPath: namesrvProc.options.logPath },
    brokers: brokers.map((b) => ({
      name: b.spec.name,
      brokerName: b.spec.brokerName,
      brokerId: b.spec.brokerId,
      role: b.spec.role,
      addr: b.addr,
      haPort: b.conf.haPort,
      storeDir: b.conf.storeDir,
      pid: -1,
      confPath: b.confPath,
      logPath: b.proc.options.logPath,
    })),
  };
  const saveState = () => {
    state.namesrv.pid = namesrvProc.pid;
    for (const [i, b] of brokers.entries()) state.brokers[i]!.pid = b.proc.pid;
    writeClusterState(state);
  };

  try {
    await namesrvProc.start(bootTimeoutMs);
    saveState();
    // Masters first, so a slave finds its master's HA address at the NameServer when it boots.
    for (const group of [brokers.filter((b) => b.spec.role !== 'SLAVE'), brokers.filter((b) => b.spec.role === 'SLAVE')]) {
      const booted = await Promise.allSettled(group.map((b) => b.proc.start(bootTimeoutMs)));
      saveState();
      const failed = booted.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      for (const [i, r] of booted.entries()) {
        const advertised = (r as PromiseFulfilledResult<RegExpMatchArray>).value[2]!;
        if (advertised !== group[i]!.addr) throw new Error(`${group[i]!.spec.name} booted at ${advertised}, expected ${group[i]!.addr}`);
      }
    }
  } catch (err) {
    await Promise.all(brokers.map((b) => b.proc.stop(2_000)));
    await namesrvProc.stop(2_000);
    saveState();
    throw err;
  }

  const handle = (proc: ManagedProcess, record: ProcessRecord): DeployedProcess => ({
    get name() {
      return proc.name;
    },
    get pid() {
      return proc.pid;
    },
    get running() {
      return proc.running;
    },
    confPath: record.confPath,
    logPath: record.logPath,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      await proc.kill(signal, graceMs);
    },
    async restart() {
      await proc.stop(graceMs);
      try {
        await proc.start(bootTimeoutMs);
      } finally {
        saveState();
      }
    },
    async stop() {
      await proc.stop(graceMs);
    },
  });

  const brokerHandles: DeployedBroker[] = brokers.map((b, i) => {
    const record: BrokerRecord = state.brokers[i]!;
    const h = handle(b.proc, record);
    return Object.defineProperties(h, {
      brokerName: { value: record.brokerName, enumerable: true },
      brokerId: { value: record.brokerId, enumerable: true },
      role: { value: record.role, enumerable: true },
      addr: { value: record.addr, enumerable: true },
      haPort: { value: record.haPort, enumerable: true },
      storeDir: { value: record.storeDir, enumerable: true },
    }) as DeployedBroker;
  });

  let stopped: Promise<void> | undefined;
  return {
    deployment: options.deployment,
    dataDir,
    portOffset,
    namesrvAddr,
    namesrv: handle(namesrvProc, state.namesrv),
    brokers: brokerHandles,
    broker(name: string) {
      const found = brokerHandles.find((b) => b.name === name);
      if (!found) throw new RangeError(`the ${options.deployment} deployment has no broker ${name} (it has ${brokerHandles.map((b) => b.name).join(', ')})`);
      return found;
    },
    stop() {
      stopped ??= (async () => {
        await Promise.all(brokers.map((b) => b.proc.stop(graceMs)));
        await namesrvProc.stop(graceMs);
        state.stoppedAt = new Date().toISOString();
        writeClusterState(state);
      })();
      return stopped;
    },
  };
}

export interface StoppedProcess {
  name: string;
  pid: number;
  outcome: 'stopped' | 'killed' | 'not running';
}

/**
 * Stops the deployment recorded in dataDir/cluster.json (started by another process: the CLI).
 * A pid is signalled only while its command line still names its conf file, so a pid reused by an
 * unrelated process since is left alone.
 */
export async function stopDeployment(dataDir: string, graceMs = DEFAULT_STOP_GRACE_MS): Promise<StoppedProcess[]> {
  const dir = resolve(dataDir);
  const state = readClusterState(dir);
  if (!state) throw new Error(`no deployment recorded in ${clusterStatePath(dir)}`);
  const stopOne = async (p: ProcessRecord): Promise<StoppedProcess> => {
    if (!(p.pid > 0) || !isOurProcess(p.pid, p.confPath)) return { name: p.name, pid: p.pid, outcome: 'not running' };
    const how = await stopPid(p.pid, graceMs);
    return { name: p.name, pid: p.pid, outcome: how === 'gone' ? 'not running' : how };
  };
  const results = await Promise.all(state.brokers.map(stopOne));
  results.push(await stopOne(state.namesrv));
  state.stoppedAt = new Date().toISOString();
  writeClusterState(state);
  return results;
}
