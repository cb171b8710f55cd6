// Consumer groups' settings (SubscriptionGroupManager), persisted in config/subscriptionGroup.json.
// Unknown groups are created on first use when autoCreateSubscriptionGroup is on (facts §3.5).
import { join } from 'node:path';
import { dataVersionEquals, newDataVersion, nextDataVersion, readJsonConfig, writeJsonConfig, type DataVersion } from './json-config-file.js';

export interface SubscriptionGroupConfig {
  groupName: string;
  consumeEnable: boolean;
  consumeFromMinEnable: boolean;
  consumeBroadcastEnable: boolean;
  consumeMessageOrderly: boolean;
  retryQueueNums: number;
  retryMaxTimes: number;
  brokerId: number;
  whichBrokerWhenConsumeSlowly: number;
  notifyConsumerIdsChangedEnable: boolean;
  groupSysFlag: number;
  consumeTimeoutMinute: number;
  attributes: Record<string, string>;
}

export function subscriptionGroupConfig(groupName: string, over: Partial<SubscriptionGroupConfig> = {}): SubscriptionGroupConfig {
  return {
    consumeEnable: true,
    consumeFromMinEnable: true,
    consumeBroadcastEnable: true,
    consumeMessageOrderly: false,
    retryQueueNums: 1,
    retryMaxTimes: 16,
    brokerId: 0,
    whichBrokerWhenConsumeSlowly: 1,
    notifyConsumerIdsChangedEnable: true,
    groupSysFlag: 0,
    consumeTimeoutMinute: 15,
    attributes: {},
    ...over,
    groupName,
  };
}

export class SubscriptionGroupManager {
  private readonly table = new Map<string, SubscriptionGroupConfig>();
  readonly dataVersion: DataVersion = newDataVersion();
  private readonly path: string;

  constructor(
    storeRootDir: string,
    private readonly autoCreate: boolean,
  ) {
    this.path = join(storeRootDir, 'config', 'subscriptionGroup.json');
    for (const g of ['TOOLS_CONSUMER', 'FILTERSRV_CONSUMER', 'SELF_TEST_C_GROUP', 'CID_ONS-HTTP-PROXY', 'CID_ONSAPI_PULL', 'CID_ONSAPI_PERMISSION', 'CID_ONSAPI_OWNER', 'CID_RMQ_SYS_TRANS']) {
      this.table.set(g, subscriptionGroupConfig(g));
    }
  }

  load(): void {
    const json = readJsonConfig(this.path) as { subscriptionGroupTable?: Record<string, Partial<SubscriptionGroupConfig>>; dataVersion?: DataVersion } | undefined;
    if (!json) return;
    for (const [name, c] of Object.entries(json.subscriptionGroupTable ?? {})) {
      if (typeof c === 'object' && c) this.table.set(name, subscriptionGroupConfig(name, c));
    }
    if (json.dataVersion) Object.assign(this.dataVersion, json.dataVersion);
  }

  /**
   * Slave: the master's groups (GET_ALL_SUBSCRIPTIONGROUP_CONFIG) replace these when the DataVersion
   * differs (SlaveSynchronize.syncSubscriptionGroupConfig). Returns whether anything was replaced.
   */
  replaceFromMaster(subscriptionGroupTable: Record<string, unknown>, masterVersion: DataVersion): boolean {
    if (dataVersionEquals(this.dataVersion, masterVersion)) return false;
    const next = new Map<string, SubscriptionGroupConfig>();
    for (const [name, c] of Object.entries(subscriptionGroupTable)) {
      if (typeof c === 'object' && c) next.set(name, subscriptionGroupConfig(name, c as Partial<SubscriptionGroupConfig>));
    }
    this.table.clear();
    for (const [name, c] of next) this.table.set(name, c);
    Object.assign(this.dataVersion, masterVersion);
    this.persist();
    return true;
  }

  persist(): void {
    writeJsonConfig(this.path, { subscriptionGroupTable: Object.fromEntries(this.table), forbiddenTable: {}, dataVersion: this.dataVersion });
  }

  /** The group's config; created with defaults when auto-creation is on, else undefined. */
  findOrCreate(group: string): SubscriptionGroupConfig | undefined {
    const found = this.table.get(group);
    if (found || !this.autoCreate) return found;
    const created = subscriptionGroupConfig(group);
    this.table.set(group, created);
    nextDataVersion(this.dataVersion);
    this.persist();
    return created;
  }

  get(group: string): SubscriptionGroupConfig | undefined {
    return this.table.get(group);
  }

  upsert(config: SubscriptionGroupConfig): void {
    this.table.set(config.groupName, config);
    nextDataVersion(this.dataVersion);
    this.persist();
  }

  delete(group: string): boolean {
    const had = this.table.delete(group);
    if (had) {
      nextDataVersion(this.dataVersion);
      this.persist();
    }
    return had;
  }

  all(): SubscriptionGroupConfig[] {
    return [...this.table.values()];
  }
}
