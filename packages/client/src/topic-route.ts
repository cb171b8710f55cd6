// Topic routes as the NameServer returns them (GET_ROUTEINFO_BY_TOPIC, facts §3.1) and what
// producers and consumers derive from them (facts §3.3): publish queues (writable, brokers with a
// master, sorted by broker name) and subscribe queues (readable).
import { isReadablePerm as isReadable, isWriteablePerm as isWriteable } from './names.js';
import { parseLenientJson, type JsonValue } from '@orbit/remoting';
import { compareMessageQueues, messageQueue, type MessageQueue } from './message-queue.js';

import { MASTER_ID, type QueueData } from '@orbit/common/route-types';

export { MASTER_ID, type QueueData };

export interface BrokerData {
  cluster: string;
  brokerName: string;
  /** brokerId (as decimal text; "0" = master) → "ip:port". */
  brokerAddrs: Record<string, string>;
  zoneName?: string;
  enableActingMaster?: boolean;
}

export interface TopicRouteData {
  orderTopicConf?: string;
  queueDatas: QueueData[];
  brokerDatas: BrokerData[];
  filterServerTable: Record<string, string[]>;
}

/** Upper bounds on what a route body may hold, so a hostile or broken peer cannot blow memory up. */
export const RouteLimits = {
  maxBrokers: 4096,
  /** Queues per broker per topic (RocketMQ caps readQueueNums/writeQueueNums far below this). */
  maxQueueNums: 65_536,
} as const;

export class RouteFormatError extends Error {
  constructor(reason: string) {
    super(`bad topic route: ${reason}`);
    this.name = 'RouteFormatError';
  }
}

function asObject(value: JsonValue | undefined, what: string): Record<string, JsonValue> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new RouteFormatError(`${what} is not an object`);
  return value;
}

function asInt(value: JsonValue | undefined, what: string, fallback?: number): number {
  if (value === undefined || value === null) {
    if (fallback !== undefined) return fallback;
    throw new RouteFormatError(`${what} is missing`);
  }
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n)) throw new RouteFormatError(`${what} is not an integer`);
  return n;
}

function asString(value: JsonValue | undefined, what: string): string {
  if (typeof value !== 'string') throw new RouteFormatError(`${what} is not a string`);
  return value;
}

/** Parses a route body; accepts fastjson's bare numeric keys in brokerAddrs (facts §1.5). */
export function parseTopicRouteData(body: Buffer | string): TopicRouteData {
  const root = asObject(parseLenientJson(typeof body === 'string' ? body : body.toString('utf8')), 'route');
  const queueDatasRaw = root.queueDatas ?? [];
  const brokerDatasRaw = root.brokerDatas ?? [];
  if (!Array.isArray(queueDatasRaw) || !Array.isArray(brokerDatasRaw)) throw new RouteFormatError('queueDatas/brokerDatas are not arrays');
  if (queueDatasRaw.length > RouteLimits.maxBrokers || brokerDatasRaw.length > RouteLimits.maxBrokers) throw new RouteFormatError('too many brokers');
  const queueDatas = queueDatasRaw.map((raw, i): QueueData => {
    const q = asObject(raw, `queueDatas[${i}]`);
    const data: QueueData = {
      brokerName: asString(q.brokerName, `queueDatas[${i}].brokerName`),
      readQueueNums: asInt(q.readQueueNums, `queueDatas[${i}].readQueueNums`),
      writeQueueNums: asInt(q.writeQueueNums, `queueDatas[${i}].writeQueueNums`),
      perm: asInt(q.perm, `queueDatas[${i}].perm`),
      topicSysFlag: asInt(q.topicSysFlag, `queueDatas[${i}].topicSysFlag`, 0),
    };
    for (const nums of [data.readQueueNums, data.writeQueueNums]) {
      if (nums < 0 || nums > RouteLimits.maxQueueNums) throw new RouteFormatError(`queueDatas[${i}] queue count ${nums} out of range`);
    }
    return data;
  });
  const brokerDatas = brokerDatasRaw.map((raw, i): BrokerData => {
    const b = asObject(raw, `brokerDatas[${i}]`);
    const addrsRaw = asObject(b.brokerAddrs ?? {}, `brokerDatas[${i}].brokerAddrs`);
    const brokerAddrs: Record<string, string> = {};
    for (const [id, addr] of Object.entries(addrsRaw)) {
      if (!/^-?[0-9]+$/.test(id)) throw new RouteFormatError(`brokerDatas[${i}] has broker id "${id}"`);
      brokerAddrs[String(Number(id))] = asString(addr, `brokerDatas[${i}].brokerAddrs[${id}]`);
    }
    const data: BrokerData = {
      cluster: typeof b.cluster === 'string' ? b.cluster : '',
      brokerName: asString(b.brokerName, `brokerDatas[${i}].brokerName`),
      brokerAddrs,
    };
    if (typeof b.zoneName === 'string') data.zoneName = b.zoneName;
    if (typeof b.enableActingMaster === 'boolean') data.enableActingMaster = b.enableActingMaster;
    return data;
  });
  const filterServerTable: Record<string, string[]> = {};
  const route: TopicRouteData = { queueDatas, brokerDatas, filterServerTable };
  if (typeof root.orderTopicConf === 'string' && root.orderTopicConf.length > 0) route.orderTopicConf = root.orderTopicConf;
  return route;
}

/** A canonical text of a route, to tell whether a refresh changed anything. */
export function routeFingerprint(route: TopicRouteData): string {
  const queues = [...route.queueDatas].sort((a, b) => (a.brokerName < b.brokerName ? -1 : a.brokerName > b.brokerName ? 1 : 0));
  const brokers = [...route.brokerDatas]
    .sort((a, b) => (a.brokerName < b.brokerName ? -1 : a.brokerName > b.brokerName ? 1 : 0))
    .map((b) => ({ ...b, brokerAddrs: Object.fromEntries(Object.entries(b.brokerAddrs).sort(([x], [y]) => Number(x) - Number(y))) }));
  return JSON.stringify({ o: route.orderTopicConf ?? '', queues, brokers });
}

/** What a producer sends to: the publish queues of a topic (TopicPublishInfo). */
export interface TopicPublishInfo {
  topic: string;
  orderTopic: boolean;
  messageQueues: MessageQueue[];
  route: TopicRouteData;
}

/**
 * MQClientInstance.topicRouteData2TopicPublishInfo: with orderTopicConf "broker-a:4;broker-b:4" the
 * queues come from it; otherwise writable queueDatas sorted by broker name, skipping brokers
 * without a master (id 0).
 */
export function toTopicPublishInfo(topic: string, route: TopicRouteData): TopicPublishInfo {
  const messageQueues: MessageQueue[] = [];
  if (route.orderTopicConf) {
    for (const item of route.orderTopicConf.split(';')) {
      const [brokerName, numsText] = item.split(':');
      const nums = Number(numsText);
      if (!brokerName || !Number.isInteger(nums) || nums < 0 || nums > RouteLimits.maxQueueNums) continue;
      for (let i = 0; i < nums; i++) messageQueues.push(messageQueue(topic, brokerName, i));
    }
    return { topic, orderTopic: true, messageQueues, route };
  }
  const sorted = [...route.queueDatas].sort((a, b) => (a.brokerName < b.brokerName ? -1 : a.brokerName > b.brokerName ? 1 : 0));
  for (const qd of sorted) {
    if (!isWriteable(qd.perm)) continue;
    const broker = route.brokerDatas.find((b) => b.brokerName === qd.brokerName);
    if (broker === undefined || broker.brokerAddrs[String(MASTER_ID)] === undefined) continue;
    for (let i = 0; i < qd.writeQueueNums; i++) messageQueues.push(messageQueue(topic, qd.brokerName, i));
  }
  return { topic, orderTopic: false, messageQueues, route };
}

/** MQClientInstance.topicRouteData2TopicSubscribeInfo: every readable queue, sorted. */
export function toTopicSubscribeInfo(topic: string, route: TopicRouteData): MessageQueue[] {
  const out: MessageQueue[] = [];
  for (const qd of route.queueDatas) {
    if (!isReadable(qd.perm)) continue;
    for (let i = 0; i < qd.readQueueNums; i++) out.push(messageQueue(topic, qd.brokerName, i));
  }
  return out.sort(compareMessageQueues);
}

/**
 * The route a producer uses for a topic the NameServer does not know yet (facts §3.3): TBW102's
 * brokers, each with min(defaultTopicQueueNums, TBW102's writeQueueNums) queues. The first send
 * makes the broker create the topic from that template.
 */
export function autoCreateRouteFromTemplate(template: TopicRouteData, defaultTopicQueueNums: number): TopicRouteData {
  return {
    ...template,
    queueDatas: template.queueDatas.map((qd) => {
      const nums = Math.min(defaultTopicQueueNums, qd.writeQueueNums);
      return { ...qd, readQueueNums: nums, writeQueueNums: nums };
    }),
  };
}
