// The broker's topics (TopicConfigManager), persisted in config/topics.json. System topics are made
// at start; unknown topics are created on first send from a template topic with the INHERIT bit
// (TBW102 when autoCreateTopicEnable), and %RETRY%<group> on consumer heartbeat.
import { join } from 'node:path';
import { Perm, SystemTopic, isInherited, type TopicConfig } from '@orbit/common';
import { dataVersionEquals, newDataVersion, nextDataVersion, readJsonConfig, writeJsonConfig, type DataVersion } from './json-config-file.js';

export type { TopicConfig } from '@orbit/common';

export function topicConfig(topicName: string, queueNums: number, perm: number, over: Partial<TopicConfig> = {}): TopicConfig {
  return { topicName, readQueueNums: queueNums, writeQueueNums: queueNums, perm, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false, attributes: {}, ...over };
}

const MAX_QUEUE_NUMS = 65_535;

export class TopicConfigManager {
  private readonly table = new Map<string, TopicConfig>();
  readonly dataVersion: DataVersion = newDataVersion();
  private readonly path: string;

  constructor(
    storeRootDir: string,
    private readonly options: { brokerClusterName: string; brokerName: string; autoCreateTopicEnable: boolean; defaultTopicQueueNums: number },
  ) {
    this.path = join(storeRootDir, 'config', 'topics.json');
    const system = (name: string, queues: number, perm = Perm.READ | Perm.WRITE) => this.table.set(name, topicConfig(name, queues, perm));
    system(SystemTopic.SELF_TEST_TOPIC, 1);
    if (options.autoCreateTopicEnable) system(SystemTopic.AUTO_CREATE_TOPIC_KEY, options.defaultTopicQueueNums, Perm.INHERIT | Perm.READ | Perm.WRITE);
    system(SystemTopic.BENCHMARK_TOPIC, 1024);
    system(options.brokerClusterName, 16, Perm.INHERIT);
    system(options.brokerName, 1, Perm.INHERIT | Perm.READ | Perm.WRITE);
    system(SystemTopic.OFFSET_MOVED_EVENT, 1);
    system(SystemTopic.SCHEDULE_TOPIC, 18);
    system(SystemTopic.TRANS_HALF_TOPIC, 1);
    system(SystemTopic.TRANS_OP_HALF_TOPIC, 1);
  }

  load(): void {
    const json = readJsonConfig(this.path) as { topicConfigTable?: Record<string, Partial<TopicConfig>>; dataVersion?: DataVersion } | undefined;
    if (!json) return;
    for (const [name, c] of Object.entries(json.topicConfigTable ?? {})) {
      if (typeof c !== 'object' || !c) continue;
      this.table.set(name, { ...topicConfig(name, 16, 6), ...c, topicName: name });
    }
    if (json.dataVersion) Object.assign(this.dataVersion, json.dataVersion);
  }

  /**
   * Slave: the master's table (GET_ALL_TOPIC_CONFIG) replaces this one when its DataVersion differs,
   * as RocketMQ's SlaveSynchronize.syncTopicConfig does. Returns whether anything was replaced.
   */
  replaceFromMaster(topicConfigTable: Record<string, unknown>, masterVersion: DataVersion): boolean {
    if (dataVersionEquals(this.dataVersion, masterVersion)) return false;
    const next = new Map<string, TopicConfig>();
    for (const [name, c] of Object.entries(topicConfigTable)) {
      if (typeof c === 'object' && c) next.set(name, { ...topicConfig(name, 16, 6), ...(c as Partial<TopicConfig>), topicName: name });
    }
    this.table.clear();
    for (const [name, c] of next) this.table.set(name, c);
    Object.assign(this.dataVersion, masterVersion);
    this.persist();
    return true;
  }

  persist(): void {
    writeJsonConfig(this.path, { topicConfigTable: Object.fromEntries(this.table), dataVersion: this.dataVersion });
  }

  get(topic: string): TopicConfig | undefined {
    return this.table.get(topic);
  }

  all(): TopicConfig[] {
    return [...this.table.values()];
  }

  topicConfigTable(): Record<string, TopicConfig> {
    return Object.fromEntries(this.table);
  }

  /** UPDATE_AND_CREATE_TOPIC. */
  upsert(config: TopicConfig): void {
    if (config.readQueueNums < 0 || config.writeQueueNums < 0 || config.readQueueNums > MAX_QUEUE_NUMS || config.writeQueueNums > MAX_QUEUE_NUMS) {
      throw new RangeError(`queue numbers must be 0..${MAX_QUEUE_NUMS}`);
    }
    this.table.set(config.topicName, config);
    nextDataVersion(this.dataVersion);
    this.persist();
  }

  delete(topic: string): boolean {
    const had = this.table.delete(topic);
    if (had) {
      nextDataVersion(this.dataVersion);
      this.persist();
    }
    return had;
  }

  /**
   * First send to an unknown topic (facts §2.3): copy the template if it may be inherited; queue
   * numbers are min(requested, template's write queues); the INHERIT bit is not passed on.
   * Returns undefined when the template does not allow it.
   */
  createFromTemplate(topic: string, templateTopic: string, requestedQueueNums: number, topicSysFlag: number): TopicConfig | undefined {
    const existing = this.table.get(topic);
    if (existing) return existing;
    const template = this.table.get(templateTopic);
    if (!template || !isInherited(template.perm)) return undefined;
    const queues = Math.max(1, Math.min(requestedQueueNums, template.writeQueueNums));
    const created = topicConfig(topic, queues, template.perm & ~Perm.INHERIT, { topicSysFlag });
    this.upsert(created);
    return created;
  }

  /** %RETRY%<group> and similar: created with fixed queue numbers when missing. */
  createIfMissing(topic: string, queueNums: number, perm: number): { config: TopicConfig; created: boolean } {
    const existing = this.table.get(topic);
    if (existing) return { config: existing, created: false };
    const created = topicConfig(topic, queueNums, perm);
    this.upsert(created);
    return { config: created, created: true };
  }
}
