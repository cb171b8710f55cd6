// What the replication benchmark compares: the same producer load against four setups. The pair the
// issue's targets are about is 2m-2s-sync vs 2m-2s-async (same topology, only brokerRole differs);
// the single master with ASYNC_FLUSH and SYNC_FLUSH shows what a disk flush per send costs beside
// what a slave acknowledgement per send costs.
import type { DeploymentName } from '../../scripts/deployment/deployment-sets.js';

export type FlushDiskType = 'ASYNC_FLUSH' | 'SYNC_FLUSH';

export interface BenchSetup {
  /** Table and chart label. */
  label: string;
  deployment: DeploymentName;
  flushDiskType: FlushDiskType;
}

export const SETUPS: BenchSetup[] = [
  { label: 'single ASYNC_FLUSH', deployment: 'single', flushDiskType: 'ASYNC_FLUSH' },
  { label: 'single SYNC_FLUSH', deployment: 'single', flushDiskType: 'SYNC_FLUSH' },
  { label: '2m-2s-async', deployment: '2m-2s-async', flushDiskType: 'ASYNC_FLUSH' },
  { label: '2m-2s-sync', deployment: '2m-2s-sync', flushDiskType: 'ASYNC_FLUSH' },
];

export const DEFAULT_CONCURRENCIES = [1, 16, 128];

/** The cell the targets are judged on. */
export const TARGET_CONCURRENCY = 128;

export const TARGETS = {
  /** 2m-2s-sync throughput ≥ this share of 2m-2s-async's at TARGET_CONCURRENCY. */
  syncThroughputShare: 0.9,
  /** 2m-2s-sync p99 ≤ this multiple of 2m-2s-async's at TARGET_CONCURRENCY. */
  syncP99Multiple: 2,
};
