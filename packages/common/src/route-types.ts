// Route records as they travel between NameServer, brokers and clients (facts §3.1), in the shapes
// every side agrees on. BrokerData differs per side (a Map on the NameServer, a JSON record in the
// client) and stays with each.

/** MixAll.MASTER_ID: brokerId of a master; slaves have ids above it. */
export const MASTER_ID = 0;

/** A topic as a broker keeps it and registers it (TopicConfig; persisted in config/topics.json). */
export interface TopicConfig {
  topicName: string;
  readQueueNums: number;
  writeQueueNums: number;
  perm: number;
  /** SINGLE_TAG or MULTI_TAG. */
  topicFilterType: string;
  topicSysFlag: number;
  order: boolean;
  attributes: Record<string, string>;
}

/** One broker's share of a topic in a route. */
export interface QueueData {
  brokerName: string;
  readQueueNums: number;
  writeQueueNums: number;
  perm: number;
  topicSysFlag: number;
}
