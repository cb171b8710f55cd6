// All routing state of a NameServer (RocketMQ's RouteInfoManager, facts §3.2): which brokers are
// alive, which broker groups form which cluster, and which brokers serve which topic. Pure: no
// sockets, no timers, no clock of its own beyond the injectable `clock`. A broker's connection is an
// opaque `channel` token; the controller closes it when the broker expires and calls
// onChannelClosed when it closes.
//
//   topicQueueTable   topic → brokerName → QueueData
//   brokerAddrTable   brokerName → BrokerData (cluster, brokerId → addr)
//   clusterAddrTable  cluster → brokerNames
//   brokerLiveTable   (cluster, brokerAddr) → last heartbeat, timeout, DataVersion, channel, haServerAddr
//   filterServerTable (cluster, brokerAddr) → filter servers
//   topicQueueMappingInfoTable topic → brokerName → TopicQueueMappingInfo (static topics)
import { silentLogger, type NamesrvLogger } from './namesrv-logger.js';
import type { TopicConfigSerializeWrapper } from './register-broker-body.js';
import {
  cloneBrokerData,
  dataVersionEquals,
  MASTER_ID,
  PERM_READ,
  PERM_WRITE,
  type BrokerData,
  type ClusterInfo,
  type DataVersion,
  type JsonObject,
  type QueueData,
  type TopicConfig,
  type TopicRouteData,
} from './route-data.js';

/** TopicValidator.SYNC_BROKER_MEMBER_GROUP_PREFIX: routes of these system topics are never rewritten. */
export const SYNC_BROKER_MEMBER_GROUP_PREFIX = 'rmq_sys_SYNC_BROKER_MEMBER_';

/** RocketMQ's DEFAULT_BROKER_CHANNEL_EXPIRED_TIME. */
export const DEFAULT_BROKER_CHANNEL_EXPIRED_TIME_MS = 120_000;

export interface RouteInfoManagerOptions {
  /** Heartbeat timeout of a broker whose registration names none. */
  brokerChannelExpiredTimeMs?: number;
  /** A master's registration drops its queue data of topics it no longer lists. */
  deleteTopicWithBrokerRegistration?: boolean;
  /**
   * Slave-acting-master: in routes, a broker group that enables it and has lost its master shows
   * its lowest-id slave as id 0 (its queues are read-only by then).
   */
  supportActingMaster?: boolean;
  clock?: () => number;
  logger?: NamesrvLogger;
}

export interface RegisterBrokerRequest<C> {
  clusterName: string;
  brokerAddr: string;
  brokerName: string;
  brokerId: number;
  haServerAddr: string;
  zoneName?: string;
  /** Overrides the default expiry for this broker (sent in slave-acting-master mode). */
  heartbeatTimeoutMillis?: number;
  /** Absent from brokers older than 5.0. */
  enableActingMaster?: boolean;
  topicConfigWrapper: TopicConfigSerializeWrapper;
  filterServerList: string[];
  channel?: C;
}

/** What a slave needs to find its master (RegisterBrokerResult). */
export interface RegisterBrokerResult {
  haServerAddr?: string;
  masterAddr?: string;
}

export interface BrokerIdentity {
  clusterName: string;
  brokerAddr: string;
  brokerName: string;
  brokerId: number;
}

export interface BrokerLiveInfo<C> {
  lastUpdateTimestamp: number;
  heartbeatTimeoutMillis: number;
  dataVersion: DataVersion;
  channel: C | undefined;
  haServerAddr: string;
}

/** A broker removed by the expiry scan; the caller closes its channel. */
export interface ExpiredBroker<C> {
  clusterName: string;
  brokerAddr: string;
  channel: C | undefined;
  lastUpdateTimestamp: number;
}

type TopicOperation = 'wipe' | 'add';

function liveKey(clusterName: string, brokerAddr: string): string {
  return JSON.stringify([clusterName, brokerAddr]);
}

function queueDataEquals(a: QueueData, b: QueueData): boolean {
  return (
    a.brokerName === b.brokerName &&
    a.readQueueNums === b.readQueueNums &&
    a.writeQueueNums === b.writeQueueNums &&
    a.perm === b.perm &&
    a.topicSysFlag === b.topicSysFlag
  );
}

export class RouteInfoManager<C = unknown> {
  private readonly topicQueueTable = new Map<string, Map<string, QueueData>>();
  private readonly brokerAddrTable = new Map<string, BrokerData>();
  private readonly clusterAddrTable = new Map<string, Set<string>>();
  private readonly brokerLiveTable = new Map<string, { clusterName: string; brokerAddr: string; info: BrokerLiveInfo<C> }>();
  private readonly filterServerTable = new Map<string, string[]>();
  private readonly topicQueueMappingInfoTable = new Map<string, Map<string, JsonObject>>();
  private readonly defaultTimeoutMs: number;
  private readonly deleteTopicWithBrokerRegistration: boolean;
  private readonly supportActingMaster: boolean;
  private readonly clock: () => number;
  private readonly log: NamesrvLogger;

  constructor(options: RouteInfoManagerOptions = {}) {
    this.defaultTimeoutMs = options.brokerChannelExpiredTimeMs ?? DEFAULT_BROKER_CHANNEL_EXPIRED_TIME_MS;
    if (!(this.defaultTimeoutMs > 0)) throw new RangeError('brokerChannelExpiredTimeMs must be positive');
    this.deleteTopicWithBrokerRegistration = options.deleteTopicWithBrokerRegistration ?? false;
    this.supportActingMaster = options.supportActingMaster ?? false;
    this.clock = options.clock ?? Date.now;
    this.log = options.logger ?? silentLogger;
  }

  // -------------------------------------------------------------------------------------------
  // Registration

  registerBroker(req: RegisterBrokerRequest<C>): RegisterBrokerResult {
    const { clusterName, brokerAddr, brokerName, brokerId } = req;
    const wrapper = req.topicConfigWrapper;
    const result: RegisterBrokerResult = {};

    let names = this.clusterAddrTable.get(clusterName);
    if (names === undefined) this.clusterAddrTable.set(clusterName, (names = new Set()));
    names.add(brokerName);

    let registerFirst = false;
    let brokerData = this.brokerAddrTable.get(brokerName);
    if (brokerData === undefined) {
      registerFirst = true;
      brokerData = { cluster: clusterName, brokerName, brokerAddrs: new Map(), enableActingMaster: false };
      this.brokerAddrTable.set(brokerName, brokerData);
    }
    const isOldVersionBroker = req.enableActingMaster === undefined;
    brokerData.enableActingMaster = !isOldVersionBroker && req.enableActingMaster === true;
    if (req.zoneName !== undefined) brokerData.zoneName = req.zoneName;

    const addrs = brokerData.brokerAddrs;
    // Slave → master switch: one ip:port has one id. Drop the address under any other id first.
    for (const [id, addr] of [...addrs]) {
      if (addr === brokerAddr && id !== brokerId) addrs.delete(id);
    }

    // A different address already holding this id with a newer state version wins; this one is refused.
    const oldAddr = addrs.get(brokerId);
    if (oldAddr !== undefined && oldAddr !== brokerAddr) {
      const old = this.brokerLiveTable.get(liveKey(clusterName, oldAddr));
      if (old !== undefined && old.info.dataVersion.stateVersion > wrapper.dataVersion.stateVersion) {
        this.log.warn(
          `registered broker conflicts with the existing broker: [${brokerName}] id ${brokerId} at ${oldAddr} has stateVersion ` +
            `${old.info.dataVersion.stateVersion} > ${wrapper.dataVersion.stateVersion} of ${brokerAddr}; refused`,
        );
        this.brokerLiveTable.delete(liveKey(clusterName, brokerAddr));
        return result;
      }
    }

    addrs.set(brokerId, brokerAddr);
    registerFirst ||= oldAddr === undefined || oldAddr === '';

    const isMaster = brokerId === MASTER_ID;
    const isPrimeSlave = !isOldVersionBroker && !isMaster && brokerId === Math.min(...addrs.keys());
    // Queue data comes from the master; in slave-acting-master mode from the lowest-id slave while
    // the master is away (read-only then).
    if (isMaster || (isPrimeSlave && brokerData.enableActingMaster)) {
      const topicConfigChanged = this.isBrokerTopicConfigChanged(clusterName, brokerAddr, wrapper.dataVersion);
      if (this.deleteTopicWithBrokerRegistration && wrapper.topicQueueMappingInfoMap.size === 0) {
        for (const [topic, queues] of [...this.topicQueueTable]) {
          if (wrapper.topicConfigTable.has(topic) || !queues.delete(brokerName)) continue;
          this.log.info(`deleteTopicWithBrokerRegistration: removed queue data of ${topic} on ${brokerName}`);
          if (queues.size === 0) this.topicQueueTable.delete(topic);
        }
      }
      for (const config of wrapper.topicConfigTable.values()) {
        if (registerFirst || topicConfigChanged || !this.topicQueueTable.get(config.topicName)?.has(brokerName)) {
          const perm = isPrimeSlave ? config.perm & ~PERM_WRITE : config.perm;
          this.createAndUpdateQueueData(brokerName, config, perm);
        }
      }
      if (registerFirst || topicConfigChanged) {
        for (const [topic, info] of wrapper.topicQueueMappingInfoMap) {
          let byBroker = this.topicQueueMappingInfoTable.get(topic);
          if (byBroker === undefined) this.topicQueueMappingInfoTable.set(topic, (byBroker = new Map()));
          const bname = typeof info.bname === 'string' ? info.bname : brokerName;
          byBroker.set(bname, info);
        }
      }
    }

    const key = liveKey(clusterName, brokerAddr);
    const previous = this.brokerLiveTable.get(key);
    this.brokerLiveTable.set(key, {
      clusterName,
      brokerAddr,
      info: {
        lastUpdateTimestamp: this.clock(),
        heartbeatTimeoutMillis: req.heartbeatTimeoutMillis ?? this.defaultTimeoutMs,
        dataVersion: { ...wrapper.dataVersion },
        channel: req.channel,
        haServerAddr: req.haServerAddr,
      },
    });
    if (previous === undefined) this.log.info(`new broker registered, ${brokerAddr} HAService: ${req.haServerAddr}`);

    if (req.filterServerList.length === 0) this.filterServerTable.delete(key);
    else this.filterServerTable.set(key, [...req.filterServerList]);

    if (!isMaster) {
      const masterAddr = addrs.get(MASTER_ID);
      if (masterAddr !== undefined) {
        const master = this.brokerLiveTable.get(liveKey(clusterName, masterAddr));
        if (master !== undefined) {
          result.haServerAddr = master.info.haServerAddr;
          result.masterAddr = masterAddr;
        }
      }
    }
    return result;
  }

  private createAndUpdateQueueData(brokerName: string, config: TopicConfig, perm: number): void {
    const queue: QueueData = {
      brokerName,
      readQueueNums: config.readQueueNums,
      writeQueueNums: config.writeQueueNums,
      perm,
      topicSysFlag: config.topicSysFlag,
    };
    let queues = this.topicQueueTable.get(config.topicName);
    if (queues === undefined) {
      this.topicQueueTable.set(config.topicName, (queues = new Map()));
      this.log.info(`new topic registered, ${config.topicName} ${JSON.stringify(queue)}`);
    } else {
      const existing = queues.get(brokerName);
      if (existing !== undefined && !queueDataEquals(existing, queue)) {
        this.log.info(`topic changed, ${config.topicName} OLD: ${JSON.stringify(existing)} NEW: ${JSON.stringify(queue)}`);
      }
    }
    queues.set(brokerName, queue);
  }

  /** True when the broker is unknown or last registered with a different DataVersion. */
  isBrokerTopicConfigChanged(clusterName: string, brokerAddr: string, dataVersion: DataVersion): boolean {
    const previous = this.queryBrokerTopicConfig(clusterName, brokerAddr);
    return previous === undefined || !dataVersionEquals(previous, dataVersion);
  }

  /** The DataVersion of the broker's last registration. */
  queryBrokerTopicConfig(clusterName: string, brokerAddr: string): DataVersion | undefined {
    const live = this.brokerLiveTable.get(liveKey(clusterName, brokerAddr));
    return live === undefined ? undefined : { ...live.info.dataVersion };
  }

  /** A heartbeat without re-registration (QUERY_DATA_VERSION, BROKER_HEARTBEAT). False if unknown. */
  updateBrokerInfoUpdateTimestamp(clusterName: string, brokerAddr: string, nowMs: number = this.clock()): boolean {
    const live = this.brokerLiveTable.get(liveKey(clusterName, brokerAddr));
    if (live === undefined) return false;
    live.info.lastUpdateTimestamp = nowMs;
    return true;
  }

  // -------------------------------------------------------------------------------------------
  // Removal

  /** Removes one broker address from every table; true when it was known. */
  unregisterBroker(req: BrokerIdentity): boolean {
    const { clusterName, brokerAddr, brokerName } = req;
    const key = liveKey(clusterName, brokerAddr);
    const wasLive = this.brokerLiveTable.delete(key);
    this.filterServerTable.delete(key);
    this.log.info(`unregisterBroker, remove from brokerLiveTable ${wasLive ? 'OK' : 'Failed'}, ${brokerAddr}`);

    let removedAddr = false;
    let removeBrokerName = false;
    const brokerData = this.brokerAddrTable.get(brokerName);
    if (brokerData !== undefined) {
      for (const [id, addr] of [...brokerData.brokerAddrs]) {
        if (addr === brokerAddr) {
          brokerData.brokerAddrs.delete(id);
          removedAddr = true;
        }
      }
      if (brokerData.brokerAddrs.size === 0) {
        this.brokerAddrTable.delete(brokerName);
        removeBrokerName = true;
      }
    }
    if (removeBrokerName) {
      const names = this.clusterAddrTable.get(clusterName);
      if (names !== undefined) {
        names.delete(brokerName);
        if (names.size === 0) this.clusterAddrTable.delete(clusterName);
      }
      this.removeTopicsOfBroker(brokerName);
    } else if (brokerData !== undefined && brokerData.enableActingMaster && !brokerData.brokerAddrs.has(MASTER_ID)) {
      // The master left and a slave acts for it: nobody may write there any more.
      for (const queues of this.topicQueueTable.values()) {
        const queue = queues.get(brokerName);
        if (queue !== undefined) queue.perm &= ~PERM_WRITE;
      }
    }
    return wasLive || removedAddr;
  }

  private removeTopicsOfBroker(brokerName: string): void {
    for (const [topic, queues] of [...this.topicQueueTable]) {
      if (queues.delete(brokerName)) this.log.info(`removeTopicByBrokerName, remove one broker's topic ${brokerName} ${topic}`);
      if (queues.size === 0) {
        this.topicQueueTable.delete(topic);
        this.log.info(`removeTopicByBrokerName, remove the topic all queue ${topic}`);
      }
    }
    for (const [topic, byBroker] of [...this.topicQueueMappingInfoTable]) {
      byBroker.delete(brokerName);
      if (byBroker.size === 0) this.topicQueueMappingInfoTable.delete(topic);
    }
  }

  /** Where (cluster, addr) sits in brokerAddrTable, for unregistering by address alone. */
  private findBrokerIdentity(clusterName: string, brokerAddr: string): BrokerIdentity | undefined {
    for (const data of this.brokerAddrTable.values()) {
      if (data.cluster !== clusterName) continue;
      for (const [id, addr] of data.brokerAddrs) {
        if (addr === brokerAddr) return { clusterName, brokerAddr, brokerName: data.brokerName, brokerId: id };
      }
    }
    return undefined;
  }

  private unregisterByAddress(clusterName: string, brokerAddr: string): void {
    const identity = this.findBrokerIdentity(clusterName, brokerAddr);
    if (identity !== undefined) this.unregisterBroker(identity);
    else {
      const key = liveKey(clusterName, brokerAddr);
      this.brokerLiveTable.delete(key);
      this.filterServerTable.delete(key);
    }
  }

  /**
   * Drops every broker whose last heartbeat is older than its timeout, from every table. Returns
   * them so the caller can close their channels.
   */
  scanNotActiveBroker(nowMs: number = this.clock()): ExpiredBroker<C>[] {
    const expired: ExpiredBroker<C>[] = [];
    for (const live of [...this.brokerLiveTable.values()]) {
      if (live.info.lastUpdateTimestamp + live.info.heartbeatTimeoutMillis >= nowMs) continue;
      this.log.warn(`The broker channel expired, ${live.brokerAddr} ${live.info.heartbeatTimeoutMillis}ms`);
      expired.push({
        clusterName: live.clusterName,
        brokerAddr: live.brokerAddr,
        channel: live.info.channel,
        lastUpdateTimestamp: live.info.lastUpdateTimestamp,
      });
      this.unregisterByAddress(live.clusterName, live.brokerAddr);
    }
    return expired;
  }

  /** A connection closed: every broker that last registered over it is unregistered at once. */
  onChannelClosed(channel: C): Array<{ clusterName: string; brokerAddr: string }> {
    const gone: Array<{ clusterName: string; brokerAddr: string }> = [];
    for (const live of [...this.brokerLiveTable.values()]) {
      if (live.info.channel === undefined || live.info.channel !== channel) continue;
      this.log.info(`the broker's channel destroyed, ${live.brokerAddr}, clean it's data structure at once`);
      gone.push({ clusterName: live.clusterName, brokerAddr: live.brokerAddr });
      this.unregisterByAddress(live.clusterName, live.brokerAddr);
    }
    return gone;
  }

  // -------------------------------------------------------------------------------------------
  // Queries

  /** The route of a topic, or undefined when no live broker group serves it (TOPIC_NOT_EXIST). */
  pickupTopicRouteData(topic: string): TopicRouteData | undefined {
    const queues = this.topicQueueTable.get(topic);
    if (queues === undefined) return undefined;
    const names = [...queues.keys()].sort();
    const route: TopicRouteData = {
      queueDatas: names.map((name) => ({ ...queues.get(name)! })),
      brokerDatas: [],
      filterServerTable: new Map(),
    };
    for (const name of names) {
      const data = this.brokerAddrTable.get(name);
      if (data === undefined) continue;
      const clone = cloneBrokerData(data);
      route.brokerDatas.push(clone);
      if (this.filterServerTable.size === 0) continue;
      for (const addr of clone.brokerAddrs.values()) {
        const servers = this.filterServerTable.get(liveKey(clone.cluster, addr));
        if (servers !== undefined) route.filterServerTable.set(addr, [...servers]);
      }
    }
    if (route.brokerDatas.length === 0) return undefined;
    const mapping = this.topicQueueMappingInfoTable.get(topic);
    if (mapping !== undefined && mapping.size > 0) route.topicQueueMappingByBroker = new Map(mapping);
    if (this.supportActingMaster && !topic.startsWith(SYNC_BROKER_MEMBER_GROUP_PREFIX)) this.applyActingMaster(route);
    return route;
  }

  /** A group without a master whose queues are read-only answers with its lowest-id slave as id 0. */
  private applyActingMaster(route: TopicRouteData): void {
    for (const broker of route.brokerDatas) {
      const addrs = broker.brokerAddrs;
      if (addrs.size === 0 || addrs.has(MASTER_ID) || !broker.enableActingMaster) continue;
      const queue = route.queueDatas.find((q) => q.brokerName === broker.brokerName);
      if (queue === undefined || (queue.perm & PERM_WRITE) !== 0) continue;
      const minId = Math.min(...addrs.keys());
      const actingAddr = addrs.get(minId)!;
      addrs.delete(minId);
      addrs.set(MASTER_ID, actingAddr);
    }
  }

  getClusterInfo(): ClusterInfo {
    const brokerAddrTable = new Map<string, BrokerData>();
    for (const [name, data] of this.brokerAddrTable) brokerAddrTable.set(name, cloneBrokerData(data));
    const clusterAddrTable = new Map<string, string[]>();
    for (const [cluster, names] of this.clusterAddrTable) clusterAddrTable.set(cluster, [...names]);
    return { brokerAddrTable, clusterAddrTable };
  }

  getAllTopicList(): string[] {
    return [...this.topicQueueTable.keys()];
  }

  /** Topics with queues on any broker group of the cluster. */
  getTopicsByCluster(clusterName: string): string[] {
    const names = this.clusterAddrTable.get(clusterName);
    if (names === undefined) return [];
    const topics: string[] = [];
    for (const [topic, queues] of this.topicQueueTable) {
      for (const name of names) {
        if (queues.has(name)) {
          topics.push(topic);
          break;
        }
      }
    }
    return topics;
  }

  // -------------------------------------------------------------------------------------------
  // Admin

  /**
   * Forgets a topic's route: everywhere, or only on the broker groups of one cluster. True when
   * something was removed. The brokers still hold the topic; their next changed registration brings it back.
   */
  deleteTopic(topic: string, clusterName?: string): boolean {
    if (clusterName === undefined || clusterName === '') {
      this.topicQueueMappingInfoTable.delete(topic);
      return this.topicQueueTable.delete(topic);
    }
    const names = this.clusterAddrTable.get(clusterName);
    const queues = this.topicQueueTable.get(topic);
    if (names === undefined || queues === undefined) return false;
    let removed = false;
    for (const name of names) {
      if (queues.delete(name)) removed = true;
    }
    if (queues.size === 0) this.topicQueueTable.delete(topic);
    return removed;
  }

  /** Clears the WRITE bit of every queue of a broker group; returns how many topics it touched. */
  wipeWritePermOfBroker(brokerName: string): number {
    return this.operateWritePermOfBroker(brokerName, 'wipe');
  }

  /** Sets every queue of a broker group back to READ|WRITE (as RocketMQ does); returns the topic count. */
  addWritePermOfBroker(brokerName: string): number {
    return this.operateWritePermOfBroker(brokerName, 'add');
  }

  private operateWritePermOfBroker(brokerName: string, operation: TopicOperation): number {
    let count = 0;
    for (const queues of this.topicQueueTable.values()) {
      const queue = queues.get(brokerName);
      if (queue === undefined) continue;
      queue.perm = operation === 'wipe' ? queue.perm & ~PERM_WRITE : PERM_READ | PERM_WRITE;
      count++;
    }
    return count;
  }

  // -------------------------------------------------------------------------------------------
  // Inspection (tests, logs)

  liveBrokers(): Array<{ clusterName: string; brokerAddr: string; info: BrokerLiveInfo<C> }> {
    return [...this.brokerLiveTable.values()].map((live) => ({ clusterName: live.clusterName, brokerAddr: live.brokerAddr, info: { ...live.info } }));
  }
}
