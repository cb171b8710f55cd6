// The settings every client (producer, consumers, admin) shares: which NameServers to ask, who we
// are (clientIP@instanceName) and how often the background tasks run. Defaults are the Java
// client's (ClientConfig), so an Orbit client behaves like a RocketMQ 5.x one on the wire.
import { networkInterfaces } from 'node:os';
import { MqVersion, type LanguageName } from '@orbit/remoting';

/** Where the client reports what it cannot throw (background task failures). */
export interface ClientLogger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface ClientConfig {
  /** NameServer addresses, "host:port;host:port". */
  namesrvAddr: string;
  /** "DEFAULT" becomes pid#nanoTime at start (ClientConfig.changeInstanceNameToPID). */
  instanceName: string;
  /** The IP that goes into the client id and UNIQ_KEY; default: the first non-internal IPv4. */
  clientIP: string;
  /** Appended to the client id as "@unitName" when set. */
  unitName: string | undefined;
  /** Topic routes are re-read from the NameServer this often (pollNameServerInterval). */
  pollNameServerIntervalMs: number;
  /** HEART_BEAT to every broker this often (heartbeatBrokerInterval). */
  heartbeatBrokerIntervalMs: number;
  /** Consumer offsets are committed to the broker (or the local file) this often. */
  persistConsumerOffsetIntervalMs: number;
  /** Rebalance runs this often, and at once on NOTIFY_CONSUMER_IDS_CHANGED. */
  rebalanceIntervalMs: number;
  /** Timeout of ordinary requests (routes, offsets, heartbeats, admin calls). */
  requestTimeoutMs: number;
  /** Connect timeout of the remoting client. */
  connectTimeoutMs: number;
  /** Language name sent in request headers. JAVA: older Java brokers reject names they do not know. */
  language: LanguageName;
  /** MQVersion ordinal sent in request headers (V5_3_3 = 479; ≥ 401 asks for standard JSON routes). */
  version: number;
  logger: ClientLogger;
}

export const DEFAULT_INSTANCE_NAME = 'DEFAULT';

export const ClientConfigDefaults = {
  instanceName: DEFAULT_INSTANCE_NAME,
  pollNameServerIntervalMs: 30_000,
  heartbeatBrokerIntervalMs: 30_000,
  persistConsumerOffsetIntervalMs: 5_000,
  rebalanceIntervalMs: 20_000,
  requestTimeoutMs: 3_000,
  connectTimeoutMs: 3_000,
  language: 'JAVA' as LanguageName,
  version: MqVersion.V5_3_3,
} as const;

/** Writes warnings and errors to stderr; debug and info are dropped. */
export const stderrLogger: ClientLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (message) => console.warn(`[orbit-client] WARN ${message}`),
  error: (message) => console.error(`[orbit-client] ERROR ${message}`),
};

/** Drops everything (tests that provoke failures on purpose). */
export const silentLogger: ClientLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/** The longest interval any background task may be given: keeps timers within setTimeout's range. */
const MAX_INTERVAL_MS = 24 * 60 * 60 * 1000;

export function resolveClientConfig(options: Partial<ClientConfig> & { namesrvAddr: string }): ClientConfig {
  const config: ClientConfig = {
    namesrvAddr: options.namesrvAddr,
    instanceName: options.instanceName ?? ClientConfigDefaults.instanceName,
    clientIP: options.clientIP ?? localIPv4(),
    unitName: options.unitName,
    pollNameServerIntervalMs: options.pollNameServerIntervalMs ?? ClientConfigDefaults.pollNameServerIntervalMs,
    heartbeatBrokerIntervalMs: options.heartbeatBrokerIntervalMs ?? ClientConfigDefaults.heartbeatBrokerIntervalMs,
    persistConsumerOffsetIntervalMs: options.persistConsumerOffsetIntervalMs ?? ClientConfigDefaults.persistConsumerOffsetIntervalMs,
    rebalanceIntervalMs: options.rebalanceIntervalMs ?? ClientConfigDefaults.rebalanceIntervalMs,
    requestTimeoutMs: options.requestTimeoutMs ?? ClientConfigDefaults.requestTimeoutMs,
    connectTimeoutMs: options.connectTimeoutMs ?? ClientConfigDefaults.connectTimeoutMs,
    language: options.language ?? ClientConfigDefaults.language,
    version: options.version ?? ClientConfigDefaults.version,
    logger: options.logger ?? stderrLogger,
  };
  parseNamesrvAddr(config.namesrvAddr); // throws on a bad list
  for (const key of ['pollNameServerIntervalMs', 'heartbeatBrokerIntervalMs', 'persistConsumerOffsetIntervalMs', 'rebalanceIntervalMs', 'requestTimeoutMs', 'connectTimeoutMs'] as const) {
    const value = config[key];
    if (!Number.isInteger(value) || value < 1 || value > MAX_INTERVAL_MS) throw new RangeError(`${key} must be an integer from 1 to ${MAX_INTERVAL_MS}, got ${value}`);
  }
  if (!config.instanceName) throw new RangeError('instanceName must not be empty');
  if (/[@;]/.test(config.instanceName)) throw new RangeError(`instanceName "${config.instanceName}" must not contain '@' or ';'`);
  return config;
}

/** Splits "host:port;host:port" (RocketMQ's separator; commas and blanks are tolerated too). */
export function parseNamesrvAddr(text: string): string[] {
  const addrs = text
    .split(/[;,\s]+/)
    .map((part) => part.trim())
    .filter((part) => part.length > 0);
  if (addrs.length === 0) throw new RangeError('namesrvAddr is empty: expected "host:port;host:port"');
  for (const addr of addrs) {
    const colon = addr.lastIndexOf(':');
    const port = Number(addr.slice(colon + 1));
    if (colon <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`bad NameServer address "${addr}": expected host:port`);
  }
  return addrs;
}

/** RemotingUtil.getLocalAddress, simplified: the first non-internal IPv4, else 127.0.0.1. */
export function localIPv4(): string {
  const candidates: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const info of list ?? []) {
      if (info.family === 'IPv4' && !info.internal) candidates.push(info.address);
    }
  }
  // Java prefers a public address over 10/8, 172.16/12 and 192.168/16 ones.
  const isPrivate = (ip: string) => ip.startsWith('10.') || ip.startsWith('192.168.') || /^172\.(1[6-9]|2\d|3[01])\./.test(ip);
  return candidates.find((ip) => !isPrivate(ip)) ?? candidates[0] ?? '127.0.0.1';
}
