// The client id the brokers know us by (ClientConfig.buildMQClientId, facts §4.5):
// clientIP@instanceName[@unitName]. Consumers of one group are told apart by it in rebalance.
import { DEFAULT_INSTANCE_NAME } from './client-config.js';

/**
 * ClientConfig.changeInstanceNameToPID (5.x): the name "DEFAULT" becomes "<pid>#<nanoTime>", so two
 * clients started in one process get different ids unless they are given the same instanceName.
 */
export function resolveInstanceName(instanceName: string, pid: number = process.pid, nanoTime: bigint = process.hrtime.bigint()): string {
  return instanceName === DEFAULT_INSTANCE_NAME ? `${pid}#${nanoTime}` : instanceName;
}

export function buildClientId(clientIP: string, instanceName: string, unitName?: string): string {
  return unitName ? `${clientIP}@${instanceName}@${unitName}` : `${clientIP}@${instanceName}`;
}
