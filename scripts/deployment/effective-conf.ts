// Each process's effective configuration: its conf/ file plus what running the whole set on one
// machine needs (loopback addresses, the NameServer's address, a store of its own, shifted ports),
// plus the caller's overrides. Written next to the process's data, so what ran can be read back.
import { join } from 'node:path';
import { DEFAULT_NAMESRV_PORT, fileListenPort, type BrokerSpec } from './deployment-sets.js';

/** Every address is 127.0.0.1: nothing listens on or advertises another interface. */
export const LOCAL_HOST = '127.0.0.1';

export interface BrokerConfInput {
  dataDir: string;
  namesrvAddr: string;
  portOffset: number;
  /** For every broker. */
  overrides?: Record<string, string>;
  /** Keyed by brokerName (master and slaves of that group) or by instance name (broker-a-s); the instance's win. */
  brokerOverrides?: Record<string, Record<string, string>>;
}

export interface EffectiveBrokerConf {
  properties: Map<string, string>;
  listenPort: number;
  haPort: number;
  storeDir: string;
}

export function brokerDir(dataDir: string, name: string): string {
  return join(dataDir, name);
}

export function effectiveBrokerConf(spec: BrokerSpec, input: BrokerConfInput): EffectiveBrokerConf {
  const storeDir = join(brokerDir(input.dataDir, spec.name), 'store');
  const props = new Map(spec.properties);
  const fileHaPort = props.get('haListenPort');
  const set = (entries: Record<string, string> | undefined) => {
    for (const [k, v] of Object.entries(entries ?? {})) props.set(k, v);
  };
  set({
    brokerIP1: LOCAL_HOST,
    // Orbit's bind addresses (RocketMQ binds every interface): keep the set on loopback.
    listenHost: LOCAL_HOST,
    haListenHost: LOCAL_HOST,
    namesrvAddr: input.namesrvAddr,
    storePathRootDir: storeDir,
    listenPort: String(fileListenPort(spec) + input.portOffset),
  });
  if (fileHaPort !== undefined) props.set('haListenPort', String(Number(fileHaPort) + input.portOffset));
  set(input.overrides);
  set(input.brokerOverrides?.[spec.brokerName]);
  if (spec.name !== spec.brokerName) set(input.brokerOverrides?.[spec.name]);
  const listenPort = Number(props.get('listenPort'));
  const haPort = props.has('haListenPort') ? Number(props.get('haListenPort')) : listenPort + 1;
  return { properties: props, listenPort, haPort, storeDir };
}

export function namesrvPort(portOffset: number): number {
  return DEFAULT_NAMESRV_PORT + portOffset;
}

export function namesrvProperties(dataDir: string, portOffset: number): Map<string, string> {
  return new Map([
    ['listenPort', String(namesrvPort(portOffset))],
    ['bindAddress', LOCAL_HOST],
    ['kvConfigPath', join(dataDir, 'namesrv', 'kvConfig.json')],
    ['configStorePath', join(dataDir, 'namesrv', 'namesrv.properties')],
  ]);
}

/** key=value lines under a comment header; values are written as they are (paths need no escaping). */
export function formatProperties(props: Map<string, string>, header: string[]): string {
  const lines = header.map((h) => `# ${h}`);
  for (const [k, v] of props) lines.push(`${k}=${v}`);
  return `${lines.join('\n')}\n`;
}
