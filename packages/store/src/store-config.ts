// The storage engine's settings, with RocketMQ's key names (MessageStoreConfig) and defaults, so a
// broker.conf line such as `flushDiskType=SYNC_FLUSH` means the same thing here.
import { join } from 'node:path';
import { homedir } from 'node:os';
import { DEFAULT_MESSAGE_DELAY_LEVEL, parseDelayLevels } from './delay-level.js';

export type FlushDiskType = 'ASYNC_FLUSH' | 'SYNC_FLUSH';
/** RocketMQ keeps the role in MessageStoreConfig: the store is what replicates. */
export type BrokerRole = 'ASYNC_MASTER' | 'SYNC_MASTER' | 'SLAVE';

export interface MessageStoreConfig {
  storePathRootDir: string;
  /** Commit-log segment size. Must be a multiple of the page size and < 2 GiB (mmap-io takes C ints). */
  mappedFileSizeCommitLog: number;
  /** Consume-queue file size: a multiple of 20 (300,000 units by default). */
  mappedFileSizeConsumeQueue: number;
  flushDiskType: FlushDiskType;
  /** ASYNC_FLUSH: how often the flusher wakes. */
  flushIntervalCommitLog: number;
  /** ASYNC_FLUSH: sync only when at least this many 4 KiB pages are dirty... */
  flushCommitLogLeastPages: number;
  /** ...or when this long has passed since the last full sync. */
  flushCommitLogThoroughInterval: number;
  /** SYNC_FLUSH: an append not durable after this long completes with FLUSH_DISK_TIMEOUT. */
  syncFlushTimeout: number;
  /** Largest message body accepted. */
  maxMessageSize: number;
  /** Hours a commit-log segment is kept after its last write (fractions allowed, for tests). */
  fileReservedTime: number;
  /** Hours ("04", or "04;16") at which expired segments are deleted. */
  deleteWhen: string;
  /** Above this disk use (percent) expired segments are deleted at any hour. */
  diskMaxUsedSpaceRatio: number;
  /** At or above this disk use (percent) appends are refused with SERVICE_NOT_AVAILABLE. */
  diskSpaceWarningLevelRatio: number;
  /** How often retention runs. */
  cleanResourceInterval: number;
  /** Verify body CRCs when recovering after a crash. */
  checkCRCOnRecover: boolean;
  messageIndexEnable: boolean;
  maxHashSlotNum: number;
  maxIndexNum: number;
  /** Threads that build consume queues; queue actors are placed over them by hash. */
  dispatchThreadCount: number;
  /** Consume-queue and index flush interval. */
  flushIntervalConsumeQueue: number;
  /** Pre-write new segments with zeros so a full disk fails at preparation, not in a mapped write. */
  warmMappedFileEnable: boolean;
  /** Shared ring between the caller and the writer thread. */
  appendRingBytes: number;
  /** Appends allowed to wait for ring space before new ones are refused as busy. */
  maxPendingAppends: number;
  /** Pull limits (DefaultMessageStore): messages and bytes one read may return. */
  maxTransferCountOnMessageInMemory: number;
  maxTransferBytesOnMessageInMemory: number;
  /**
   * Delay levels, e.g. "1s 5s 10s 30s 1m ... 2h" (units s, m, h, d; `ms` too, an Orbit extension).
   * The store uses it for the tag code of SCHEDULE_TOPIC_XXXX units (the delivery time).
   */
  messageDelayLevel: string;

  // ---- replication (facts §6) ----
  /** ASYNC_MASTER and SYNC_MASTER serve slaves on haListenPort; a SLAVE copies its master's log and refuses appends. */
  brokerRole: BrokerRole;
  /**
   * Master: the HA port (a broker sets listenPort + 1). 0 picks a free port (tests); -1, the default
   * for an embedded store, serves no slaves at all (no HA thread, no port).
   */
  haListenPort: number;
  /** Master: the interface the HA port listens on. */
  haListenHost: string;
  /** Slave: the master's HA address (host:port); empty means "learn it from the NameServer". */
  haMasterAddress: string;
  /** Slave: its offset report is sent at least this often (ms). */
  haSendHeartbeatInterval: number;
  /** Either side drops an HA connection that has been silent this long (ms). */
  haHousekeepingInterval: number;
  /** Master: bytes sent per transfer chunk. */
  haTransferBatchSize: number;
  /** SYNC_MASTER: a slave further behind than this many bytes is not waited for (SLAVE_NOT_AVAILABLE). */
  haSlaveFallbehindMax: number;
}

export function defaultStoreConfig(overrides: Partial<MessageStoreConfig> = {}): MessageStoreConfig {
  return {
    storePathRootDir: join(homedir(), 'store'),
    mappedFileSizeCommitLog: 1024 * 1024 * 1024,
    mappedFileSizeConsumeQueue: 300_000 * 20,
    flushDiskType: 'ASYNC_FLUSH',
    flushIntervalCommitLog: 500,
    flushCommitLogLeastPages: 4,
    flushCommitLogThoroughInterval: 10_000,
    syncFlushTimeout: 5_000,
    maxMessageSize: 4 * 1024 * 1024,
    fileReservedTime: 72,
    deleteWhen: '04',
    diskMaxUsedSpaceRatio: 75,
    diskSpaceWarningLevelRatio: 90,
    cleanResourceInterval: 10_000,
    checkCRCOnRecover: true,
    messageIndexEnable: true,
    maxHashSlotNum: 5_000_000,
    maxIndexNum: 20_000_000,
    dispatchThreadCount: 1,
    flushIntervalConsumeQueue: 1_000,
    warmMappedFileEnable: true,
    appendRingBytes: 32 * 1024 * 1024,
    maxPendingAppends: 100_000,
    maxTransferCountOnMessageInMemory: 32,
    maxTransferBytesOnMessageInMemory: 256 * 1024,
    messageDelayLevel: DEFAULT_MESSAGE_DELAY_LEVEL,
    brokerRole: 'ASYNC_MASTER',
    haListenPort: -1,
    haListenHost: '127.0.0.1',
    haMasterAddress: '',
    haSendHeartbeatInterval: 5_000,
    haHousekeepingInterval: 20_000,
    haTransferBatchSize: 32 * 1024,
    haSlaveFallbehindMax: 256 * 1024 * 1024,
    ...overrides,
  };
}

export function validateStoreConfig(config: MessageStoreConfig): void {
  const fail = (why: string) => {
    throw new RangeError(`store config: ${why}`);
  };
  if (config.mappedFileSizeCommitLog % 4096 !== 0 || config.mappedFileSizeCommitLog < 64 * 1024) {
    fail(`mappedFileSizeCommitLog ${config.mappedFileSizeCommitLog} must be a multiple of 4096 and at least 64 KiB`);
  }
  if (config.mappedFileSizeCommitLog >= 2 ** 31) fail('mappedFileSizeCommitLog must be below 2 GiB');
  if (config.mappedFileSizeConsumeQueue % 20 !== 0 || config.mappedFileSizeConsumeQueue < 20 * 16) {
    fail(`mappedFileSizeConsumeQueue ${config.mappedFileSizeConsumeQueue} must be a multiple of 20 and at least 320`);
  }
  if (config.flushDiskType !== 'ASYNC_FLUSH' && config.flushDiskType !== 'SYNC_FLUSH') fail(`flushDiskType ${config.flushDiskType}`);
  if (config.maxMessageSize + 1024 > config.mappedFileSizeCommitLog / 2) {
    fail('maxMessageSize must fit comfortably in a segment (at most half of mappedFileSizeCommitLog)');
  }
  if (!['ASYNC_MASTER', 'SYNC_MASTER', 'SLAVE'].includes(config.brokerRole)) fail(`brokerRole ${config.brokerRole} is not ASYNC_MASTER, SYNC_MASTER or SLAVE`);
  if (!Number.isInteger(config.haListenPort) || config.haListenPort < -1 || config.haListenPort > 65535) fail(`haListenPort ${config.haListenPort} must be -1 (no HA), 0 (any free port) or a port`);
  if (config.brokerRole === 'SYNC_MASTER' && config.haListenPort === -1) fail('a SYNC_MASTER needs an haListenPort for its slaves');
  if (config.haTransferBatchSize < 1024 || config.haTransferBatchSize > 16 * 1024 * 1024) fail('haTransferBatchSize must be 1 KiB..16 MiB');
  if (config.dispatchThreadCount < 1 || config.dispatchThreadCount > 8) fail('dispatchThreadCount must be 1..8');
  try {
    parseDelayLevels(config.messageDelayLevel);
  } catch (err) {
    fail((err as Error).message);
  }
}

export const StorePaths = {
  commitLog: (c: MessageStoreConfig) => join(c.storePathRootDir, 'commitlog'),
  consumeQueue: (c: MessageStoreConfig) => join(c.storePathRootDir, 'consumequeue'),
  index: (c: MessageStoreConfig) => join(c.storePathRootDir, 'index'),
  checkpoint: (c: MessageStoreConfig) => join(c.storePathRootDir, 'checkpoint'),
  abort: (c: MessageStoreConfig) => join(c.storePathRootDir, 'abort'),
  config: (c: MessageStoreConfig) => join(c.storePathRootDir, 'config'),
};
