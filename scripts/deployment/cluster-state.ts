// DIR/cluster.json: what a deployment started, so that `pnpm cluster stop|status` (another process,
// later) can find its processes, and so that a second start over the same DIR is refused while the
// first still runs.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrokerRole, DeploymentName } from './deployment-sets.js';

export interface ProcessRecord {
  name: string;
  pid: number;
  /** The effective conf file: also the marker that tells our process from a reused pid. */
  confPath: string;
  logPath: string;
}

export interface BrokerRecord extends ProcessRecord {
  brokerName: string;
  brokerId: number;
  role: BrokerRole;
  addr: string;
  haPort: number;
  storeDir: string;
}

export interface ClusterState {
  deployment: DeploymentName;
  dataDir: string;
  portOffset: number;
  namesrvAddr: string;
  startedAt: string;
  /** Set by stop. */
  stoppedAt?: string;
  namesrv: ProcessRecord;
  brokers: BrokerRecord[];
}

export function clusterStatePath(dataDir: string): string {
  return join(dataDir, 'cluster.json');
}

export function readClusterState(dataDir: string): ClusterState | undefined {
  const path = clusterStatePath(dataDir);
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, 'utf8')) as ClusterState;
}

/** Written to a temporary file and renamed, so a reader never sees half a file. */
export function writeClusterState(state: ClusterState): void {
  const path = clusterStatePath(state.dataDir);
  writeFileSync(`${path}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
}
