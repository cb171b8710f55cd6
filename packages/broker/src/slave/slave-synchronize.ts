// A slave's copy of its master's metadata (RocketMQ's SlaveSynchronize, facts §6.2): the commit log
// arrives over the store's HA connection, but topics, subscription groups, consumer offsets and
// delay-level progress live in the broker's config files, so the slave asks the master's remoting
// port for each of them (GET_ALL_TOPIC_CONFIG 21, GET_ALL_CONSUMER_OFFSET 43, GET_ALL_DELAY_OFFSET
// 45, GET_ALL_SUBSCRIPTIONGROUP_CONFIG 201), applies them and writes them, at start, when the
// master's address becomes known or changes, and every slaveSyncIntervalMs.
//
// Each part is one request with a bounded timeout and fails on its own: a failure is recorded in
// the report (and logged when it is new), never thrown, and the next run tries again.
import { RequestCode, ResponseCode } from '@orbit/common';
import { createRequest, parseLenientJson, type RemotingClient } from '@orbit/remoting';
import type { ConsumerOffsetManager } from '../consumer-offset-manager.js';
import { parseDataVersion } from '../json-config-file.js';
import type { ScheduleMessageService } from '../schedule/schedule-message-service.js';
import type { SubscriptionGroupManager } from '../subscription-group-manager.js';
import type { TopicConfigManager } from '../topic-config-manager.js';

/** RocketMQ's BrokerOuterAPI uses 3 s for each of these calls. */
export const SLAVE_SYNC_REQUEST_TIMEOUT_MS = 3_000;

export type SlaveSyncPart = 'topicConfig' | 'consumerOffset' | 'delayOffset' | 'subscriptionGroupConfig';

/** Where the copies go: the broker's managers (only the methods a sync uses). */
export interface SlaveSyncTargets {
  topics: Pick<TopicConfigManager, 'replaceFromMaster'>;
  groups: Pick<SubscriptionGroupManager, 'replaceFromMaster'>;
  offsets: Pick<ConsumerOffsetManager, 'putAllFromMaster'>;
  schedule: Pick<ScheduleMessageService, 'replaceOffsets'>;
}

export interface SlaveSyncOptions {
  intervalMs: number;
  requestTimeoutMs?: number;
  warn?: (text: string) => void;
}

export interface SlaveSyncReport {
  masterAddr: string;
  startedAtMs: number;
  durationMs: number;
  /** What failed, by part; empty when everything was copied. */
  errors: Partial<Record<SlaveSyncPart, string>>;
  topicsReplaced: boolean;
  groupsReplaced: boolean;
  consumerOffsetsTaken: number;
}

type Json = Record<string, unknown>;
const UNREACHABLE = 'no answer';
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export class SlaveSynchronize {
  private masterAddr: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<SlaveSyncReport | undefined> | undefined;
  private stopped = false;
  private readonly requestTimeoutMs: number;
  private readonly warn: (text: string) => void;
  /** The last finished run. */
  lastReport: SlaveSyncReport | undefined;
  /** When a run last copied every part (0: never). */
  lastFullSuccessMs = 0;

  constructor(
    private readonly client: RemotingClient,
    private readonly targets: SlaveSyncTargets,
    private readonly options: SlaveSyncOptions,
  ) {
    this.requestTimeoutMs = options.requestTimeoutMs ?? SLAVE_SYNC_REQUEST_TIMEOUT_MS;
    this.warn = options.warn ?? ((text) => console.warn(`slave sync: ${text}`));
  }

  /** The master's remoting address (learnt from REGISTER_BROKER), if known. */
  get master(): string | undefined {
    return this.masterAddr;
  }

  /** A new master (or the first one) is copied from at once, not at the next tick. */
  setMasterAddr(addr: string | undefined): void {
    const next = addr ? addr : undefined;
    if (next === this.masterAddr) return;
    this.masterAddr = next;
    if (next !== undefined && this.timer !== undefined) void this.syncAll();
  }

  start(): void {
    if (this.stopped || this.timer !== undefined) return;
    this.timer = setInterval(() => void this.syncAll(), this.options.intervalMs);
    void this.syncAll();
  }

  /** One run over every part; a run already under way is joined, not doubled. */
  syncAll(): Promise<SlaveSyncReport | undefined> {
    const addr = this.masterAddr;
    if (this.stopped || addr === undefined) return Promise.resolve(undefined);
    if (this.running) return this.running;
    const run = this.runOnce(addr).finally(() => {
      this.running = undefined;
    });
    this.running = run;
    return run;
  }

  /** Stops the timer now; resolves when a run under way has finished (each request is bounded). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  private async runOnce(masterAddr: string): Promise<SlaveSyncReport> {
    const report: SlaveSyncReport = { masterAddr, startedAtMs: Date.now(), durationMs: 0, errors: {}, topicsReplaced: false, groupsReplaced: false, consumerOffsetsTaken: 0 };
    const { topics, groups, offsets, schedule } = this.targets;
    // RocketMQ's order: topics first, so the offsets and groups that follow refer to known topics.
    await this.part(report, 'topicConfig', RequestCode.GET_ALL_TOPIC_CONFIG, (json) => {
      const version = parseDataVersion(json.dataVersion);
      if (!isObject(json.topicConfigTable) || !version) throw new Error('the body has no topicConfigTable and dataVersion');
      report.topicsReplaced = topics.replaceFromMaster(json.topicConfigTable, version);
    });
    await this.part(report, 'consumerOffset', RequestCode.GET_ALL_CONSUMER_OFFSET, (json) => {
      if (!isObject(json.offsetTable)) throw new Error('the body has no offsetTable');
      report.consumerOffsetsTaken = offsets.putAllFromMaster(json.offsetTable);
    });
    await this.part(report, 'delayOffset', RequestCode.GET_ALL_DELAY_OFFSET, (json) => {
      if (!isObject(json.offsetTable)) throw new Error('the body has no offsetTable');
      schedule.replaceOffsets(json.offsetTable);
    });
    await this.part(report, 'subscriptionGroupConfig', RequestCode.GET_ALL_SUBSCRIPTIONGROUP_CONFIG, (json) => {
      const version = parseDataVersion(json.dataVersion);
      if (!isObject(json.subscriptionGroupTable) || !version) throw new Error('the body has no subscriptionGroupTable and dataVersion');
      report.groupsReplaced = groups.replaceFromMaster(json.subscriptionGroupTable, version);
    });
    report.durationMs = Date.now() - report.startedAtMs;
    // One line per run, and only when the failures differ from the last run's (a master that is
    // down for minutes is reported once, not every interval).
    const failures = Object.entries(report.errors).map(([part, error]) => `${part}: ${error}`).join('; ');
    const previous = this.lastReport ? Object.entries(this.lastReport.errors).map(([part, error]) => `${part}: ${error}`).join('; ') : '';
    if (failures && failures !== previous) this.warn(`from ${masterAddr}: ${failures}`);
    if (Object.keys(report.errors).length === 0) this.lastFullSuccessMs = Date.now();
    this.lastReport = report;
    return report;
  }

  /** One request and its application; its failure is written into the report. */
  private async part(report: SlaveSyncReport, part: SlaveSyncPart, code: number, apply: (json: Json) => void): Promise<void> {
    if (this.stopped) {
      report.errors[part] = 'stopped';
      return;
    }
    // A master that could not be reached for one part is not asked for the others in this run: each
    // would wait out its own connect timeout.
    const unreachable = Object.values(report.errors).find((e) => e.startsWith(UNREACHABLE));
    if (unreachable) {
      report.errors[part] = `skipped, ${unreachable}`;
      return;
    }
    try {
      let res;
      try {
        res = await this.client.invoke(report.masterAddr, createRequest(code, {}), this.requestTimeoutMs);
      } catch (err) {
        throw new Error(`${UNREACHABLE}: ${(err as Error).message}`);
      }
      if (res.code !== ResponseCode.SUCCESS) throw new Error(`code ${res.code}: ${res.remark ?? ''}`);
      // Answers that arrive after stop() are dropped: the managers are being written for the last time.
      if (this.stopped) throw new Error('stopped');
      const json = parseLenientJson((res.body ?? Buffer.alloc(0)).toString('utf8'));
      if (!isObject(json)) throw new Error('the body is not a JSON object');
      apply(json);
    } catch (err) {
      report.errors[part] = (err as Error).message;
    }
  }
}
