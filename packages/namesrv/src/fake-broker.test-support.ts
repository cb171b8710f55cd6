// Test support: a fake broker that registers with a NameServer over a real connection, as a
// RocketMQ broker's BrokerOuterAPI does, plus small helpers for requests and JSON bodies.
import { RequestCode } from '@orbit/common/request-code';
import { rocketmqCrc32 } from '@orbit/common/crc32';
import { createRequest, RemotingClient, type ExtFieldValue, type RemotingCommand } from '@orbit/remoting';
import { encodeRegisterBrokerBody } from './register-broker-body.js';
import type { DataVersion, TopicConfig } from './route-data.js';

export const HOST = '127.0.0.1';

export function topicConfig(topicName: string, overrides: Partial<TopicConfig> = {}): TopicConfig {
  return {
    topicName,
    readQueueNums: 4,
    writeQueueNums: 4,
    perm: 6,
    topicFilterType: 'SINGLE_TAG',
    topicSysFlag: 0,
    order: false,
    attributes: {},
    ...overrides,
  };
}

export interface FakeBrokerOptions {
  cluster: string;
  brokerName: string;
  brokerId: number;
  brokerAddr: string;
  haServerAddr?: string;
  topics?: TopicConfig[];
  dataVersion?: DataVersion;
}

export interface RegisterOptions {
  compressed?: boolean;
  /** Send bodyCrc32 (the right one unless crcOverride). */
  withCrc?: boolean;
  crcOverride?: number;
  extFields?: Record<string, ExtFieldValue>;
}

export class FakeBroker {
  readonly client = new RemotingClient({ requestTimeoutMs: 3000 });
  topics: TopicConfig[];
  dataVersion: DataVersion;

  constructor(
    readonly namesrvAddr: string,
    readonly options: FakeBrokerOptions,
  ) {
    this.topics = options.topics ?? [];
    this.dataVersion = options.dataVersion ?? { stateVersion: 0, timestamp: 1_700_000_000_000, counter: 1 };
  }

  get brokerAddr(): string {
    return this.options.brokerAddr;
  }

  /** Sets new topics and bumps the DataVersion, as a broker does when its topic table changes. */
  changeTopics(topics: TopicConfig[]): void {
    this.topics = topics;
    this.dataVersion = { ...this.dataVersion, counter: this.dataVersion.counter + 1 };
  }

  body(compressed = false): Buffer {
    return encodeRegisterBrokerBody(
      {
        topicConfigSerializeWrapper: {
          topicConfigTable: new Map(this.topics.map((t) => [t.topicName, t])),
          dataVersion: this.dataVersion,
          topicQueueMappingInfoMap: new Map(),
        },
        filterServerList: [],
      },
      compressed,
    );
  }

  register(options: RegisterOptions = {}): Promise<RemotingCommand> {
    const body = this.body(options.compressed ?? false);
    const { cluster, brokerName, brokerId, brokerAddr } = this.options;
    const haServerAddr = this.options.haServerAddr ?? brokerAddr.replace(/:(\d+)$/, (_, p: string) => `:${Number(p) + 1}`);
    return this.client.invoke(
      this.namesrvAddr,
      createRequest(
        RequestCode.REGISTER_BROKER,
        {
          brokerAddr,
          brokerId,
          brokerName,
          clusterName: cluster,
          haServerAddr,
          enableActingMaster: false,
          compressed: options.compressed ?? false,
          bodyCrc32: options.crcOverride ?? (options.withCrc ? rocketmqCrc32(body) : 0),
          ...options.extFields,
        },
        body,
      ),
    );
  }

  queryDataVersion(): Promise<RemotingCommand> {
    const { cluster, brokerName, brokerId, brokerAddr } = this.options;
    return this.client.invoke(
      this.namesrvAddr,
      createRequest(
        RequestCode.QUERY_DATA_VERSION,
        { brokerAddr, brokerId, brokerName, clusterName: cluster },
        Buffer.from(JSON.stringify(this.dataVersion)),
      ),
    );
  }

  unregister(): Promise<RemotingCommand> {
    const { cluster, brokerName, brokerId, brokerAddr } = this.options;
    return this.client.invoke(this.namesrvAddr, createRequest(RequestCode.UNREGISTER_BROKER, { brokerAddr, brokerId, brokerName, clusterName: cluster }));
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

export function bodyText(cmd: RemotingCommand): string {
  return cmd.body?.toString('utf8') ?? '';
}

export function bodyJson(cmd: RemotingCommand): any {
  return JSON.parse(bodyText(cmd));
}

/** Polls until check() is true; throws after timeoutMs. */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - started;
}
