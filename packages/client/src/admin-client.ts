// Thin admin calls (the part of DefaultMQAdminExt mqadmin needs first): create a topic on a broker,
// read routes and the cluster, queue offsets, a group's committed offset, and look messages up by
// id or key. No heartbeats, no background tasks: one RemotingClient, closed by shutdown().
import { decodeOffsetMessageId } from '@orbit/common/message-id';
import { formatSocketAddress } from '@orbit/common/socket-address';
import { RemotingClient } from '@orbit/remoting';
import { resolveClientConfig, type ClientConfig } from './client-config.js';
import { MQClientError } from './errors.js';
import type { MessageExt } from './message.js';
import { decodeMessageExt, decodeMessageExts } from './message-decoder.js';
import type { MessageQueue } from './message-queue.js';
import { MQClientApi, type ClusterInfo, type CreateTopicOptions } from './mq-client-api.js';
import { AUTO_CREATE_TOPIC_KEY } from './names.js';
import { MASTER_ID, toTopicSubscribeInfo, type TopicRouteData } from './topic-route.js';

export interface AdminClientOptions extends Partial<Omit<ClientConfig, 'namesrvAddr'>> {
  namesrvAddr: string;
}

export interface TopicConfigInput {
  topic: string;
  readQueueNums?: number;
  writeQueueNums?: number;
  perm?: number;
  topicFilterType?: 'SINGLE_TAG' | 'MULTI_TAG';
  topicSysFlag?: number;
  order?: boolean;
  attributes?: string;
}

/** Defaults of TopicConfig (facts §3.1) and of mqadmin updateTopic (8 queues). */
export const TopicConfigDefaults = { readQueueNums: 8, writeQueueNums: 8, perm: 6, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false } as const;

/** Default maxNum of a key query (mqadmin queryMsgByKey). */
export const DEFAULT_QUERY_MAX_NUM = 64;

export class AdminClient {
  readonly config: ClientConfig;
  readonly remoting: RemotingClient;
  readonly api: MQClientApi;

  constructor(options: AdminClientOptions) {
    this.config = resolveClientConfig(options);
    this.remoting = new RemotingClient({ connectTimeoutMs: this.config.connectTimeoutMs, requestTimeoutMs: this.config.requestTimeoutMs });
    this.api = new MQClientApi(this.remoting, this.config);
  }

  /** Nothing to start; kept for symmetry with the other clients. */
  async start(): Promise<void> {}

  async shutdown(): Promise<void> {
    await this.remoting.close();
  }

  /** UPDATE_AND_CREATE_TOPIC(17) at one broker address (mqadmin updateTopic -b). */
  async createTopic(brokerAddr: string, input: TopicConfigInput): Promise<void> {
    const d = TopicConfigDefaults;
    const options: CreateTopicOptions = {
      topic: input.topic,
      readQueueNums: input.readQueueNums ?? d.readQueueNums,
      writeQueueNums: input.writeQueueNums ?? d.writeQueueNums,
      perm: input.perm ?? d.perm,
      topicFilterType: input.topicFilterType ?? d.topicFilterType,
      topicSysFlag: input.topicSysFlag ?? d.topicSysFlag,
      order: input.order ?? d.order,
      defaultTopic: AUTO_CREATE_TOPIC_KEY,
    };
    if (input.attributes !== undefined) options.attributes = input.attributes;
    await this.api.createTopic(brokerAddr, options);
  }

  /** The topic's route; throws when the NameServer does not know it. */
  async getTopicRoute(topic: string): Promise<TopicRouteData> {
    const route = await this.api.getTopicRouteInfoFromNameServer(topic);
    if (route === undefined) throw new MQClientError(`No topic route info in name server for the topic: ${topic}`, 17);
    return route;
  }

  getClusterInfo(): Promise<ClusterInfo> {
    return this.api.getBrokerClusterInfo();
  }

  /** The readable queues of a topic. */
  async fetchSubscribeMessageQueues(topic: string): Promise<MessageQueue[]> {
    return toTopicSubscribeInfo(topic, await this.getTopicRoute(topic));
  }

  /** Master address of a broker of the topic (any address when it has no master). */
  async brokerAddrOf(mq: MessageQueue): Promise<string> {
    const route = await this.getTopicRoute(mq.topic);
    const broker = route.brokerDatas.find((b) => b.brokerName === mq.brokerName);
    const addr = broker?.brokerAddrs[String(MASTER_ID)] ?? (broker ? Object.values(broker.brokerAddrs)[0] : undefined);
    if (addr === undefined) throw new MQClientError(`the broker[${mq.brokerName}] not exist`);
    return addr;
  }

  async getMinOffset(mq: MessageQueue): Promise<number> {
    return this.api.getMinOffset(await this.brokerAddrOf(mq), mq);
  }

  async getMaxOffset(mq: MessageQueue): Promise<number> {
    return this.api.getMaxOffset(await this.brokerAddrOf(mq), mq);
  }

  async searchOffset(mq: MessageQueue, timestampMs: number): Promise<number> {
    return this.api.searchOffset(await this.brokerAddrOf(mq), mq, timestampMs);
  }

  /** A group's committed offset on a queue; -1 when the broker has none. */
  async queryConsumerOffset(group: string, mq: MessageQueue): Promise<number> {
    return this.api.queryConsumerOffset(await this.brokerAddrOf(mq), group, mq);
  }

  /** A message by its offsetMsgId: store host + commit-log offset → VIEW_MESSAGE_BY_ID(33) there. */
  async viewMessageById(offsetMsgId: string, brokerName = ''): Promise<MessageExt> {
    let decoded;
    try {
      decoded = decodeOffsetMessageId(offsetMsgId);
    } catch (error) {
      throw new MQClientError(`message id ${offsetMsgId} is not an offsetMsgId: ${(error as Error).message}`);
    }
    const addr = formatSocketAddress(decoded.storeHost);
    const body = await this.api.viewMessage(addr, decoded.physicalOffset);
    if (body.length === 0) throw new MQClientError(`no message at ${offsetMsgId}`);
    return decodeMessageExt(body, 0, body.length, brokerName).toJSON();
  }

  /**
   * Messages whose KEYS contain `key` (or whose UNIQ_KEY is `key` with `uniqKey`): QUERY_MESSAGE(12)
   * at the master of every broker of the topic; results are re-checked on the client.
   */
  async queryMessageByKey(
    topic: string,
    key: string,
    options: { maxNum?: number; beginTimestampMs?: number; endTimestampMs?: number; uniqKey?: boolean } = {},
  ): Promise<MessageExt[]> {
    const route = await this.getTopicRoute(topic);
    const out: MessageExt[] = [];
    await Promise.all(
      route.brokerDatas.map(async (broker) => {
        const addr = broker.brokerAddrs[String(MASTER_ID)] ?? Object.values(broker.brokerAddrs)[0];
        if (addr === undefined) return;
        const body = await this.api.queryMessage(addr, {
          topic,
          key,
          maxNum: options.maxNum ?? DEFAULT_QUERY_MAX_NUM,
          beginTimestamp: options.beginTimestampMs ?? 0,
          endTimestamp: options.endTimestampMs ?? Number.MAX_SAFE_INTEGER,
          uniqKey: options.uniqKey ?? false,
        });
        out.push(...decodeMessageExts(body, broker.brokerName));
      }),
    );
    return out.filter((msg) => {
      if (msg.topic !== topic) return false;
      if (options.uniqKey) return msg.msgId === key;
      return (msg.keys ?? '').split(' ').includes(key);
    });
  }
}
