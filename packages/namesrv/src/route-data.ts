// The route records the NameServer keeps and serves (facts §3.1): QueueData, BrokerData,
// TopicRouteData, ClusterInfo, DataVersion, TopicConfig, and their JSON as RocketMQ writes it.
//
// JSON: fastjson sorts bean fields alphabetically and leaves out nulls; the NameServer writes route
// data with quoted keys (standard JSON, facts §1.5), which every client parses. Maps built from
// peer-supplied names use null-prototype objects, so a broker or topic called "__proto__" is just a
// key.

import { Perm } from '@orbit/common/perm';
import { MASTER_ID, type QueueData, type TopicConfig } from '@orbit/common/route-types';

export { MASTER_ID, type QueueData, type TopicConfig };

/** PermName bits (facts §3.1). */
export const PERM_INHERIT = Perm.INHERIT;
export const PERM_WRITE = Perm.WRITE;
export const PERM_READ = Perm.READ;
export const PERM_PRIORITY = Perm.PRIORITY;

/** Every registration carries one; a broker bumps it whenever its topic table changes. */
export interface DataVersion {
  stateVersion: number;
  timestamp: number;
  counter: number;
}

export function dataVersionEquals(a: DataVersion, b: DataVersion): boolean {
  return a.stateVersion === b.stateVersion && a.timestamp === b.timestamp && a.counter === b.counter;
}

/** One broker group: a master (id 0) and its slaves, by id. */
export interface BrokerData {
  cluster: string;
  brokerName: string;
  brokerAddrs: Map<number, string>;
  zoneName?: string;
  enableActingMaster: boolean;
}

export type JsonObject = { [key: string]: unknown };

export interface TopicRouteData {
  /** "broker-a:4;broker-b:4" for an order topic (orderMessageEnable). */
  orderTopicConf?: string;
  queueDatas: QueueData[];
  brokerDatas: BrokerData[];
  /** brokerAddr → filter servers; normally empty. */
  filterServerTable: Map<string, string[]>;
  /** Static topics only: brokerName → TopicQueueMappingInfo, kept as the broker sent it. */
  topicQueueMappingByBroker?: Map<string, JsonObject>;
}

export interface ClusterInfo {
  brokerAddrTable: Map<string, BrokerData>;
  clusterAddrTable: Map<string, string[]>;
}

export function cloneBrokerData(data: BrokerData): BrokerData {
  const copy: BrokerData = {
    cluster: data.cluster,
    brokerName: data.brokerName,
    brokerAddrs: new Map(data.brokerAddrs),
    enableActingMaster: data.enableActingMaster,
  };
  if (data.zoneName !== undefined) copy.zoneName = data.zoneName;
  return copy;
}

// ---------------------------------------------------------------------------------------------
// JSON shapes. Each function returns the plain value; *ToJson returns the text.

function dict(): Record<string, unknown> {
  return Object.create(null) as Record<string, unknown>;
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export function dataVersionJson(version: DataVersion): JsonObject {
  return { counter: version.counter, stateVersion: version.stateVersion, timestamp: version.timestamp };
}

export function queueDataJson(queue: QueueData): JsonObject {
  return {
    brokerName: queue.brokerName,
    perm: queue.perm,
    readQueueNums: queue.readQueueNums,
    topicSysFlag: queue.topicSysFlag,
    writeQueueNums: queue.writeQueueNums,
  };
}

/** brokerAddrs keyed by the brokerId in decimal ("0" master, "1"… slaves), in id order. */
export function brokerDataJson(broker: BrokerData): JsonObject {
  const addrs = dict();
  for (const id of [...broker.brokerAddrs.keys()].sort((a, b) => a - b)) addrs[String(id)] = broker.brokerAddrs.get(id);
  const out: JsonObject = {
    brokerAddrs: addrs,
    brokerName: broker.brokerName,
    cluster: broker.cluster,
    enableActingMaster: broker.enableActingMaster,
  };
  if (broker.zoneName !== undefined) out.zoneName = broker.zoneName;
  return out;
}

export function topicRouteDataJson(route: TopicRouteData): JsonObject {
  const filterServerTable = dict();
  for (const addr of [...route.filterServerTable.keys()].sort(byText)) filterServerTable[addr] = route.filterServerTable.get(addr);
  const out: JsonObject = {
    brokerDatas: route.brokerDatas.map(brokerDataJson),
    filterServerTable,
  };
  if (route.orderTopicConf !== undefined) out.orderTopicConf = route.orderTopicConf;
  out.queueDatas = route.queueDatas.map(queueDataJson);
  if (route.topicQueueMappingByBroker !== undefined) {
    const mapping = dict();
    for (const name of [...route.topicQueueMappingByBroker.keys()].sort(byText)) mapping[name] = route.topicQueueMappingByBroker.get(name);
    out.topicQueueMappingByBroker = mapping;
  }
  return out;
}

export function topicRouteDataToJson(route: TopicRouteData): string {
  return JSON.stringify(topicRouteDataJson(route));
}

export function clusterInfoJson(info: ClusterInfo): JsonObject {
  const brokerAddrTable = dict();
  for (const name of [...info.brokerAddrTable.keys()].sort(byText)) brokerAddrTable[name] = brokerDataJson(info.brokerAddrTable.get(name)!);
  const clusterAddrTable = dict();
  for (const cluster of [...info.clusterAddrTable.keys()].sort(byText)) {
    clusterAddrTable[cluster] = [...info.clusterAddrTable.get(cluster)!].sort(byText);
  }
  return { brokerAddrTable, clusterAddrTable };
}

export function clusterInfoToJson(info: ClusterInfo): string {
  return JSON.stringify(clusterInfoJson(info));
}

/** TopicList: `{"topicList":[…]}`. */
export function topicListToJson(topics: Iterable<string>): string {
  return JSON.stringify({ topicList: [...topics].sort(byText) });
}

/** KVTable: `{"table":{k:v}}`. */
export function kvTableToJson(table: ReadonlyMap<string, string>): string {
  const out = dict();
  for (const key of [...table.keys()].sort(byText)) out[key] = table.get(key);
  return JSON.stringify({ table: out });
}

export function topicConfigJson(config: TopicConfig): JsonObject {
  const attributes = dict();
  for (const key of Object.keys(config.attributes).sort(byText)) attributes[key] = config.attributes[key];
  return {
    attributes,
    order: config.order,
    perm: config.perm,
    readQueueNums: config.readQueueNums,
    topicFilterType: config.topicFilterType,
    topicName: config.topicName,
    topicSysFlag: config.topicSysFlag,
    writeQueueNums: config.writeQueueNums,
  };
}
