// The body of HEART_BEAT (facts §7.1). Keys are written in alphabetical order, as fastjson does, so
// our bytes look like a Java client's. The inner producer group CLIENT_INNER_PRODUCER is always in
// producerDataSet, as the Java client's MQClientInstance always has one.
import type { SubscriptionData } from './subscription.js';

export const CLIENT_INNER_PRODUCER_GROUP = 'CLIENT_INNER_PRODUCER';

export type ConsumeType = 'CONSUME_PASSIVELY' | 'CONSUME_ACTIVELY';
export type MessageModel = 'CLUSTERING' | 'BROADCASTING';
export type ConsumeFromWhere = 'CONSUME_FROM_LAST_OFFSET' | 'CONSUME_FROM_FIRST_OFFSET' | 'CONSUME_FROM_TIMESTAMP';

export interface ConsumerData {
  groupName: string;
  consumeType: ConsumeType;
  messageModel: MessageModel;
  consumeFromWhere: ConsumeFromWhere;
  subscriptionDataSet: SubscriptionData[];
  unitMode: boolean;
}

export interface HeartbeatData {
  clientID: string;
  producerDataSet: { groupName: string }[];
  consumerDataSet: ConsumerData[];
  heartbeatFingerprint: number;
  withoutSub: boolean;
}

export function buildHeartbeatData(clientId: string, producerGroups: readonly string[], consumers: readonly ConsumerData[]): HeartbeatData {
  const groups = [CLIENT_INNER_PRODUCER_GROUP, ...producerGroups.filter((g) => g !== CLIENT_INNER_PRODUCER_GROUP)];
  return {
    clientID: clientId,
    producerDataSet: groups.map((groupName) => ({ groupName })),
    consumerDataSet: consumers.map((c) => ({ ...c, subscriptionDataSet: c.subscriptionDataSet.map((s) => ({ ...s })) })),
    heartbeatFingerprint: 0,
    withoutSub: false,
  };
}

/** JSON with object keys sorted (fastjson's default SortField), arrays kept in order. */
export function sortedJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(v as object).sort()) sorted[key] = (v as Record<string, unknown>)[key];
    return sorted;
  });
}

export function encodeHeartbeatData(data: HeartbeatData): Buffer {
  return Buffer.from(sortedJson(data), 'utf8');
}
