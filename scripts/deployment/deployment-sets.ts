// The four deployments and the conf/ files each one is made of (conf/README.md). A broker instance
// is named after its file (broker-a, broker-a-s, …); the single set's broker.conf holds broker-a.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONF_DIR, parsePropertiesFile } from './workspace.js';

export const DEPLOYMENTS = ['single', '2m-noslave', '2m-2s-async', '2m-2s-sync'] as const;
export type DeploymentName = (typeof DEPLOYMENTS)[number];

export type BrokerRole = 'ASYNC_MASTER' | 'SYNC_MASTER' | 'SLAVE';

/** RocketMQ's NameServer port (conf/namesrv.properties). */
export const DEFAULT_NAMESRV_PORT = 9876;
/** RocketMQ's broker port, used when a file sets no listenPort. */
export const DEFAULT_LISTEN_PORT = 10911;

const FILES: Record<DeploymentName, string[]> = {
  single: ['broker.conf'],
  '2m-noslave': ['2m-noslave/broker-a.properties', '2m-noslave/broker-b.properties'],
  '2m-2s-async': ['2m-2s-async/broker-a.properties', '2m-2s-async/broker-b.properties', '2m-2s-async/broker-a-s.properties', '2m-2s-async/broker-b-s.properties'],
  '2m-2s-sync': ['2m-2s-sync/broker-a.properties', '2m-2s-sync/broker-b.properties', '2m-2s-sync/broker-a-s.properties', '2m-2s-sync/broker-b-s.properties'],
};

/** One broker of a set, as its conf file describes it. */
export interface BrokerSpec {
  /** Unique in the set: broker-a, broker-a-s (a slave of broker-a), … */
  name: string;
  brokerName: string;
  brokerId: number;
  role: BrokerRole;
  /** The conf file, relative to conf/. */
  confFile: string;
  /** Its key=value pairs, in file order. */
  properties: Map<string, string>;
}

export function isDeploymentName(text: string): text is DeploymentName {
  return (DEPLOYMENTS as readonly string[]).includes(text);
}

/** The set's brokers, masters first (they start first, so a slave finds its master registered). */
export function loadDeploymentSet(deployment: DeploymentName, confDir = CONF_DIR): BrokerSpec[] {
  const specs = FILES[deployment].map((confFile) => {
    const properties = parsePropertiesFile(readFileSync(join(confDir, confFile), 'utf8'));
    const brokerName = properties.get('brokerName');
    if (!brokerName) throw new Error(`${confFile} sets no brokerName`);
    const role = (properties.get('brokerRole') ?? 'ASYNC_MASTER') as BrokerRole;
    // Masters are brokerId 0 whatever the file says (the broker forces it, facts §6.1).
    const brokerId = role === 'SLAVE' ? Number(properties.get('brokerId') ?? '0') : 0;
    if (role === 'SLAVE' && !(brokerId > 0)) throw new Error(`${confFile}: a slave needs brokerId > 0`);
    const name = role === 'SLAVE' ? `${brokerName}-s${brokerId > 1 ? brokerId : ''}` : brokerName;
    return { name, brokerName, brokerId, role, confFile, properties };
  });
  return specs.sort((a, b) => Number(a.role === 'SLAVE') - Number(b.role === 'SLAVE'));
}

/** The listenPort a spec's file sets (RocketMQ's 10911 when it sets none). */
export function fileListenPort(spec: BrokerSpec): number {
  return Number(spec.properties.get('listenPort') ?? DEFAULT_LISTEN_PORT);
}
