// Talking to the NameServers (BrokerOuterAPI): register with every one of them at start and every
// registerNameServerPeriod (30 s) with the full topic table, re-register soon after a topic change,
// unregister at shutdown. A slave learns its master's HA address from the answer (facts §3.2).
import { rocketmqCrc32, RequestCode, ResponseCode } from '@orbit/common';
import { createRequest, type RemotingClient } from '@orbit/remoting';
import type { BrokerConfig } from './broker-config.js';
import type { TopicConfigManager } from './topic-config-manager.js';

export interface RegisterResult {
  namesrvAddr: string;
  ok: boolean;
  masterAddr?: string;
  haServerAddr?: string;
  error?: string;
}

/** Debounce for registrations asked for after topic changes. */
const REGISTER_SOON_DELAY_MS = 100;

export class NamesrvRegistration {
  private timer: NodeJS.Timeout | undefined;
  private soonTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  lastResults: RegisterResult[] = [];

  constructor(
    private readonly client: RemotingClient,
    private readonly config: BrokerConfig,
    private readonly brokerAddr: string,
    private readonly topics: TopicConfigManager,
    private readonly onRegistered: (results: RegisterResult[]) => void = () => {},
  ) {}

  namesrvAddrs(): string[] {
    return this.config.namesrvAddr.split(';').map((s) => s.trim()).filter((s) => s.length > 0);
  }

  start(): Promise<RegisterResult[]> {
    const period = Math.min(60_000, Math.max(10_000, this.config.registerNameServerPeriod));
    this.timer = setInterval(() => void this.registerAll(), period);
    return this.registerAll();
  }

  registerSoon(): void {
    if (this.soonTimer || this.stopped) return;
    this.soonTimer = setTimeout(() => {
      this.soonTimer = undefined;
      void this.registerAll();
    }, REGISTER_SOON_DELAY_MS);
  }

  async registerAll(): Promise<RegisterResult[]> {
    if (this.stopped) return [];
    const body = Buffer.from(
      JSON.stringify({
        topicConfigSerializeWrapper: { topicConfigTable: this.topics.topicConfigTable(), dataVersion: this.topics.dataVersion },
        filterServerList: [],
      }),
    );
    const header = {
      brokerName: this.config.brokerName,
      brokerAddr: this.brokerAddr,
      clusterName: this.config.brokerClusterName,
      haServerAddr: `${this.config.brokerIP2}:${this.config.haListenPort}`,
      brokerId: this.config.brokerId,
      compressed: false,
      bodyCrc32: rocketmqCrc32(body),
    };
    const results = await Promise.all(
      this.namesrvAddrs().map(async (addr): Promise<RegisterResult> => {
        try {
          const res = await this.client.invoke(addr, createRequest(RequestCode.REGISTER_BROKER, header, body), this.config.registerBrokerTimeoutMills);
          if (res.code !== ResponseCode.SUCCESS) return { namesrvAddr: addr, ok: false, error: `code ${res.code}: ${res.remark ?? ''}` };
          return { namesrvAddr: addr, ok: true, masterAddr: res.extFields.masterAddr, haServerAddr: res.extFields.haServerAddr };
        } catch (err) {
          return { namesrvAddr: addr, ok: false, error: (err as Error).message };
        }
      }),
    );
    this.lastResults = results;
    this.onRegistered(results);
    return results;
  }

  async unregisterAll(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.soonTimer) clearTimeout(this.soonTimer);
    const header = { brokerName: this.config.brokerName, brokerAddr: this.brokerAddr, clusterName: this.config.brokerClusterName, brokerId: this.config.brokerId };
    await Promise.all(
      this.namesrvAddrs().map((addr) => this.client.invoke(addr, createRequest(RequestCode.UNREGISTER_BROKER, header), 3_000).catch(() => undefined)),
    );
  }
}
