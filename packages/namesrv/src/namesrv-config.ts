// The NameServer's settings: RocketMQ's NamesrvConfig and the NettyServerConfig keys a namesrv.properties
// file may hold (facts §8.3), with RocketMQ's names and defaults, so an existing file loads as is.
// Keys RocketMQ has but Orbit does not act on (thread pool sizes: Node answers on one event loop)
// are accepted and listed in UNUSED_KEYS so they do not trigger "unknown key" warnings.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { applySettings, parsePropertiesFile } from '@orbit/common/properties-file';

export interface NamesrvConfig {
  // --- NettyServerConfig ---
  /** TCP port of the remoting server; 0 picks a free one (tests). */
  listenPort: number;
  /** Address the server binds to. */
  bindAddress: string;
  /** A connection with no traffic for this long is closed (a broker registers every 30 s). 0 = never. */
  serverChannelMaxIdleTimeSeconds: number;

  // --- NamesrvConfig ---
  rocketmqHome: string;
  /** Where the KV config is persisted (`{"configTable":{ns:{k:v}}}`). */
  kvConfigPath: string;
  /** RocketMQ writes the effective config here on UPDATE_NAMESRV_CONFIG; Orbit only reports it. */
  configStorePath: string;
  productEnvName: string;
  clusterTest: boolean;
  /** Adds `orderTopicConf` (KV namespace ORDER_TOPIC_CONFIG) to topic routes. */
  orderMessageEnable: boolean;
  /** REGISTER_BROKER answers with the ORDER_TOPIC_CONFIG namespace as a KVTable body. */
  returnOrderTopicConfigToBroker: boolean;
  clientRequestThreadPoolNums: number;
  defaultThreadPoolNums: number;
  clientRequestThreadPoolQueueCapacity: number;
  defaultThreadPoolQueueCapacity: number;
  unRegisterBrokerQueueCapacity: number;
  /** How often brokers past their heartbeat timeout are dropped. */
  scanNotActiveBrokerInterval: number;
  /**
   * A broker silent this long is dropped from every route (RocketMQ's fixed
   * DEFAULT_BROKER_CHANNEL_EXPIRED_TIME, 120 s; configurable here so tests can shorten it).
   * A REGISTER_BROKER header `heartbeatTimeoutMillis` overrides it for that broker.
   */
  brokerChannelExpiredTime: number;
  /**
   * Slave-acting-master: routes show the lowest-id slave of a group that lost its master as id 0
   * (for brokers that enable acting master; their queues are read-only by then).
   */
  supportActingMaster: boolean;
  /** GET_ALL_TOPIC_LIST_FROM_NAMESERVER answers SYSTEM_ERROR "disable" when false. */
  enableAllTopicList: boolean;
  /** GET_TOPICS_BY_CLUSTER answers SYSTEM_ERROR "disable" when false. */
  enableTopicList: boolean;
  notifyMinBrokerIdChanged: boolean;
  enableControllerInNamesrv: boolean;
  /** Route lookups answer "name server not ready" until waitSecondsForService after start. */
  needWaitForService: boolean;
  waitSecondsForService: number;
  /** A master's registration removes its queue data for topics it no longer lists. */
  deleteTopicWithBrokerRegistration: boolean;
}

export const DEFAULT_NAMESRV_PORT = 9876;

export function defaultNamesrvConfig(): NamesrvConfig {
  const home = homedir();
  return {
    listenPort: DEFAULT_NAMESRV_PORT,
    bindAddress: '0.0.0.0',
    serverChannelMaxIdleTimeSeconds: 120,
    rocketmqHome: process.env.ROCKETMQ_HOME ?? '',
    kvConfigPath: join(home, 'namesrv', 'kvConfig.json'),
    configStorePath: join(home, 'namesrv', 'namesrv.properties'),
    productEnvName: 'center',
    clusterTest: false,
    orderMessageEnable: false,
    returnOrderTopicConfigToBroker: true,
    clientRequestThreadPoolNums: 8,
    defaultThreadPoolNums: 16,
    clientRequestThreadPoolQueueCapacity: 50000,
    defaultThreadPoolQueueCapacity: 10000,
    unRegisterBrokerQueueCapacity: 3000,
    scanNotActiveBrokerInterval: 5000,
    brokerChannelExpiredTime: 120_000,
    supportActingMaster: false,
    enableAllTopicList: true,
    enableTopicList: true,
    notifyMinBrokerIdChanged: false,
    enableControllerInNamesrv: false,
    needWaitForService: false,
    waitSecondsForService: 45,
    deleteTopicWithBrokerRegistration: false,
  };
}

/** Keys accepted for compatibility with RocketMQ files that have no effect in Orbit. */
export const UNUSED_KEYS: ReadonlySet<keyof NamesrvConfig> = new Set<keyof NamesrvConfig>([
  'rocketmqHome',
  'configStorePath',
  'productEnvName',
  'clusterTest',
  'clientRequestThreadPoolNums',
  'defaultThreadPoolNums',
  'clientRequestThreadPoolQueueCapacity',
  'defaultThreadPoolQueueCapacity',
  'unRegisterBrokerQueueCapacity',
]);

/** `~` or `~/x` → the home directory (Java does not expand it; people write it anyway). */
export function expandHome(path: string): string {
  if (path === '~') return homedir();
  if (path.startsWith('~/')) return join(homedir(), path.slice(2));
  return path;
}

/** Throws RangeError naming the first setting that cannot work. */
export function validateNamesrvConfig(config: NamesrvConfig): void {
  const integerAtLeast = (key: keyof NamesrvConfig, min: number, max = Number.MAX_SAFE_INTEGER) => {
    const value = config[key] as number;
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new RangeError(`config ${key}=${value}: must be an integer from ${min} to ${max}`);
    }
  };
  integerAtLeast('listenPort', 0, 65535);
  integerAtLeast('serverChannelMaxIdleTimeSeconds', 0);
  integerAtLeast('scanNotActiveBrokerInterval', 1);
  integerAtLeast('brokerChannelExpiredTime', 1);
  integerAtLeast('waitSecondsForService', 0);
  if (config.kvConfigPath.trim() === '') throw new RangeError('config kvConfigPath: must not be empty');
  if (config.bindAddress.trim() === '') throw new RangeError('config bindAddress: must not be empty');
}

/** Defaults + overrides, with `~` expanded in paths, validated. */
export function resolveNamesrvConfig(overrides: Partial<NamesrvConfig> = {}): NamesrvConfig {
  const config: NamesrvConfig = defaultNamesrvConfig();
  for (const key of Object.keys(overrides) as Array<keyof NamesrvConfig>) {
    if (!(key in config)) throw new RangeError(`config ${key}: unknown key`);
    const value = overrides[key];
    if (value === undefined) continue;
    if (typeof value !== typeof config[key]) throw new RangeError(`config ${key}=${String(value)}: must be a ${typeof config[key]}`);
    (config as unknown as Record<string, unknown>)[key] = value;
  }
  config.kvConfigPath = expandHome(config.kvConfigPath);
  config.configStorePath = expandHome(config.configStorePath);
  validateNamesrvConfig(config);
  return config;
}

/**
 * Reads a namesrv.properties file onto the defaults. Unknown keys are returned (RocketMQ ignores
 * them silently; the command line warns). A value of the wrong type throws RangeError.
 */
export function loadNamesrvConfigFile(path: string): { config: NamesrvConfig; unknownKeys: string[] } {
  const settings = parsePropertiesFile(readFileSync(path, 'utf8'));
  const { config, unknownKeys } = applySettings(defaultNamesrvConfig(), settings);
  // As NamesrvStartup does: the file given with -c is where the config lives.
  if (!settings.has('configStorePath')) config.configStorePath = path;
  return { config: resolveNamesrvConfig(config), unknownKeys };
}

/** `key=value` lines in declaration order, as `mqnamesrv -p` prints them. */
export function formatNamesrvConfig(config: NamesrvConfig): string {
  return (Object.keys(config) as Array<keyof NamesrvConfig>).map((key) => `${key}=${String(config[key])}`).join('\n');
}
