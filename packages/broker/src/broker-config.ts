// The broker's settings with RocketMQ's key names and defaults (BrokerConfig, NettyServerConfig,
// facts §8.2). One flat .properties file (like RocketMQ's conf/broker.conf) sets broker and store
// keys alike: each key goes to whichever of the two knows it.
import { readFileSync } from 'node:fs';
import { hostname, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { applySettings, parsePropertiesFile } from '@orbit/common';
import { defaultStoreConfig, type BrokerRole, type MessageStoreConfig } from '@orbit/store';

export type { BrokerRole };

export interface BrokerConfig {
  brokerClusterName: string;
  brokerName: string;
  brokerId: number;
  /** `ip:port;ip:port`; empty means NAMESRV_ADDR from the environment. */
  namesrvAddr: string;
  listenPort: number;
  /** Address clients are told to use; the first non-loopback IPv4 by default. */
  brokerIP1: string;
  /** Address slaves use for HA; brokerIP1 by default. */
  brokerIP2: string;
  /** Also the store's brokerRole (loadBrokerConfig copies it): the store is what replicates. */
  brokerRole: BrokerRole;
  autoCreateTopicEnable: boolean;
  autoCreateSubscriptionGroup: boolean;
  /**
   * Serve SQL92 property filters (MessageSelector.bySql; README "Filters"). Off, as in RocketMQ: a
   * SQL92 pull gets NO_PERMISSION and CHECK_CLIENT_CONFIG SYSTEM_ERROR.
   */
  enablePropertyFilter: boolean;
  defaultTopicQueueNums: number;
  brokerPermission: number;
  registerNameServerPeriod: number;
  registerBrokerTimeoutMills: number;
  longPollingEnable: boolean;
  shortPollingTimeMills: number;
  /** Held pulls allowed at once; past it a pull is answered at once (PULL_NOT_FOUND). */
  maxHeldPulls: number;
  /**
   * A queue lock (LOCK_BATCH_MQ, orderly consumers) not renewed for this long is free for another
   * client (RocketMQ's system property rocketmq.broker.rebalance.lockMaxLiveTime).
   */
  rebalanceLockMaxLiveTimeMs: number;
  flushConsumerOffsetInterval: number;
  /** How often delay-level progress is written to config/delayOffset.json (a MessageStoreConfig key in RocketMQ). */
  flushDelayOffsetInterval: number;
  /** A client silent this long is dropped from producer and consumer tables. */
  channelExpiredTimeout: number;
  /** Ratio of RAM; pulls further behind than this are served by a slave (issue 4). */
  accessMessageInMemoryMaxRatio: number;
  /**
   * Master: when true, a pull far behind (cold data) is told to go to the group's
   * whichBrokerWhenConsumeSlowly. Slave: when false it sends consumers back to the master while its
   * HA connection is up (facts §6.4; README "Replication").
   */
  slaveReadEnable: boolean;
  /** Slave: a pull offset outside its queue is corrected as on a master (else retried as is). A MessageStoreConfig key in RocketMQ. */
  offsetCheckInSlave: boolean;
  /** The HA port slaves connect to (listenPort + 1 by default); copied to the store's haListenPort. */
  haListenPort: number;
  /** Slave: how often topics, groups, consumer and delay offsets are copied from the master (SlaveSynchronize). */
  slaveSyncIntervalMs: number;
  /** Clients idle this long are disconnected (serverChannelMaxIdleTimeSeconds, in ms here). */
  serverChannelMaxIdleTimeMs: number;
  /** Listen on this host; 0.0.0.0 by default, tests use 127.0.0.1. */
  listenHost: string;
  /** A half (transactional) message younger than this (ms) is not checked back yet (CHECK_IMMUNITY_TIME_IN_SECONDS overrides it per message). */
  transactionTimeOut: number;
  /** Check-backs of one half message before it is moved to TRANS_CHECK_MAX_TIME_TOPIC. */
  transactionCheckMax: number;
  /** How often (ms) the half queue is scanned for messages to check back. */
  transactionCheckInterval: number;
  /** Refuse transactional (TRAN_MSG=true) sends with NO_PERMISSION. */
  rejectTransactionMessage: boolean;
}

export function defaultBrokerConfig(): BrokerConfig {
  return {
    brokerClusterName: 'DefaultCluster',
    brokerName: hostname() || 'DEFAULT_BROKER',
    brokerId: 0,
    namesrvAddr: process.env.NAMESRV_ADDR ?? '',
    listenPort: 10911,
    brokerIP1: localIPv4(),
    brokerIP2: '',
    brokerRole: 'ASYNC_MASTER',
    autoCreateTopicEnable: true,
    autoCreateSubscriptionGroup: true,
    enablePropertyFilter: false,
    defaultTopicQueueNums: 8,
    brokerPermission: 6,
    registerNameServerPeriod: 30_000,
    registerBrokerTimeoutMills: 24_000,
    longPollingEnable: true,
    shortPollingTimeMills: 1_000,
    maxHeldPulls: 100_000,
    rebalanceLockMaxLiveTimeMs: 60_000,
    flushConsumerOffsetInterval: 5_000,
    flushDelayOffsetInterval: 10_000,
    channelExpiredTimeout: 120_000,
    accessMessageInMemoryMaxRatio: 40,
    slaveReadEnable: false,
    offsetCheckInSlave: false,
    haListenPort: 0,
    slaveSyncIntervalMs: 10_000,
    serverChannelMaxIdleTimeMs: 120_000,
    listenHost: '0.0.0.0',
    transactionTimeOut: 6_000,
    transactionCheckMax: 15,
    transactionCheckInterval: 30_000,
    rejectTransactionMessage: false,
  };
}

/** The first non-internal IPv4 address, as RocketMQ picks brokerIP1; loopback when there is none. */
export function localIPv4(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const ni of list ?? []) if (ni.family === 'IPv4' && !ni.internal) return ni.address;
  }
  return '127.0.0.1';
}

export interface LoadedConfig {
  broker: BrokerConfig;
  store: MessageStoreConfig;
  unknownKeys: string[];
}

/** Builds both configs from a properties text plus overrides (command line), RocketMQ style. */
export function loadBrokerConfig(propertiesText: string | undefined, overrides: Record<string, string> = {}): LoadedConfig {
  const settings = propertiesText ? parsePropertiesFile(propertiesText) : new Map<string, string>();
  for (const [k, v] of Object.entries(overrides)) settings.set(k, v);
  const brokerKeys = new Map<string, string>();
  const storeKeys = new Map<string, string>();
  const brokerDefaults = defaultBrokerConfig();
  const storeDefaults = defaultStoreConfig({ storePathRootDir: join(process.cwd(), 'data', 'store') });
  const unknownKeys: string[] = [];
  for (const [k, v] of settings) {
    if (k in brokerDefaults) brokerKeys.set(k, v);
    else if (k in storeDefaults) storeKeys.set(k, v);
    else unknownKeys.push(k);
  }
  const broker = applySettings(brokerDefaults, brokerKeys).config;
  const store = applySettings(storeDefaults, storeKeys).config;
  if (!broker.brokerIP2) broker.brokerIP2 = broker.brokerIP1;
  // listenPort 0 (tests) picks a free port; the HA port then does too (the store reports the one it bound).
  if (!broker.haListenPort && broker.listenPort !== 0) broker.haListenPort = broker.listenPort + 1;
  if (!['ASYNC_MASTER', 'SYNC_MASTER', 'SLAVE'].includes(broker.brokerRole)) throw new RangeError(`brokerRole ${broker.brokerRole} is not ASYNC_MASTER, SYNC_MASTER or SLAVE`);
  if (broker.brokerRole !== 'SLAVE') broker.brokerId = 0; // masters are forced to 0 (facts §6.1)
  if (broker.brokerRole === 'SLAVE' && broker.brokerId <= 0) throw new RangeError("Slave's brokerId must be > 0");
  if (!(broker.slaveSyncIntervalMs >= 1_000)) throw new RangeError(`slaveSyncIntervalMs ${broker.slaveSyncIntervalMs} must be at least 1000`);
  // RocketMQ keeps these in MessageStoreConfig; Orbit's file sets them once, for both.
  store.brokerRole = broker.brokerRole;
  store.haListenPort = broker.haListenPort;
  if (!storeKeys.has('haListenHost')) store.haListenHost = broker.listenHost;
  return { broker, store, unknownKeys };
}

export function loadBrokerConfigFile(path: string | undefined, overrides: Record<string, string> = {}): LoadedConfig {
  return loadBrokerConfig(path ? readFileSync(path, 'utf8') : undefined, overrides);
}
