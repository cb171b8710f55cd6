// Topic commands: updateTopic, deleteTopic, topicList, topicRoute, topicStatus
// (RocketMQ's UpdateTopicSubCommand, DeleteTopicSubCommand, TopicListSubCommand,
// TopicRouteSubCommand, TopicStatusSubCommand).
import { compareMessageQueues, MQClientError, type TopicRouteData } from '@orbit/client';
import { DLQ_GROUP_TOPIC_PREFIX, RETRY_GROUP_TOPIC_PREFIX, topicNameProblem } from '@orbit/common';
import { AdminApi, type TopicOffset } from '../admin-api.js';
import { UsageError, type CommandContext, type CommandSpec } from '../cli.js';
import { humanTime, javaMapText, topicConfigText, type TopicConfigView } from '../format.js';
import { renderTable } from '../table.js';

/** Topic name from -t, checked as the broker will (TopicValidator). */
export function topicOption(ctx: CommandContext, long = 'topic'): string {
  const topic = ctx.opts.need(long);
  const problem = topicNameProblem(topic);
  if (problem) throw new UsageError(problem);
  return topic;
}

/** AttributeParser: "+a=b,+c=d,-e" → {"+a":"b","+c":"d","-e":""}. */
export function parseAttributes(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (text.trim() === '') return out;
  for (const part of text.split(',')) {
    const item = part.trim();
    const sign = item[0];
    if (sign === '+') {
      const eq = item.indexOf('=');
      if (eq <= 1 || eq === item.length - 1) throw new UsageError(`bad attribute "${item}": expected +key=value`);
      out[item.slice(0, eq)] = item.slice(eq + 1);
    } else if (sign === '-') {
      if (item.length < 2 || item.includes('=')) throw new UsageError(`bad attribute "${item}": expected -key`);
      out[item] = '';
    } else {
      throw new UsageError(`bad attribute "${item}": must start with + (add) or - (delete)`);
    }
  }
  return out;
}

const attributesText = (attrs: Record<string, string>) => Object.entries(attrs).map(([k, v]) => (k.startsWith('+') ? `${k}=${v}` : k)).join(',');

interface BrokerOutcome {
  addr: string;
  success: boolean;
  error?: string;
}

// --- updateTopic --------------------------------------------------------------------------------

interface UpdateTopicResult {
  topicConfig: TopicConfigView;
  brokers: BrokerOutcome[];
  orderConf?: string;
  orderConfScope?: 'broker' | 'cluster';
}

export const updateTopic: CommandSpec<UpdateTopicResult> = {
  name: 'updateTopic',
  desc: 'Update or create topic.',
  options: [
    { short: 'b', long: 'brokerAddr', arg: 'arg', desc: 'create topic to which broker' },
    { short: 'c', long: 'clusterName', arg: 'arg', desc: 'create topic to which cluster' },
    { short: 't', long: 'topic', arg: 'arg', desc: 'topic name', required: true },
    { short: 'r', long: 'readQueueNums', arg: 'arg', desc: 'set read queue nums (default 8)' },
    { short: 'w', long: 'writeQueueNums', arg: 'arg', desc: 'set write queue nums (default 8)' },
    { short: 'p', long: 'perm', arg: 'arg', desc: "set topic's permission(2|4|6), intro[2:W 4:R; 6:RW] (default 6)" },
    { short: 'o', long: 'order', arg: 'arg', desc: "set topic's order(true|false)" },
    { short: 'a', long: 'attributes', arg: 'arg', desc: 'attribute(+a=b,+c=d,-e)' },
    { short: 'u', long: 'unit', arg: 'arg', desc: 'is unit topic (true|false)' },
    { short: 's', long: 'hasUnitSub', arg: 'arg', desc: 'has unit sub (true|false)' },
  ],
  oneOf: [['brokerAddr', 'clusterName']],
  async run(ctx) {
    const o = ctx.opts;
    const topicConfig: TopicConfigView = {
      topicName: topicOption(ctx),
      readQueueNums: o.int('readQueueNums', { min: 0, max: 65535 }) ?? 8,
      writeQueueNums: o.int('writeQueueNums', { min: 0, max: 65535 }) ?? 8,
      perm: o.int('perm', { min: 0, max: 15 }) ?? 6,
      topicFilterType: 'SINGLE_TAG',
      topicSysFlag: (o.bool('unit') ? 1 : 0) | (o.bool('hasUnitSub') ? 2 : 0),
      order: o.bool('order') ?? false,
      attributes: o.has('attributes') ? parseAttributes(o.str('attributes')!) : {},
    };
    const api = ctx.api();
    const result: UpdateTopicResult = { topicConfig, brokers: [] };
    const input = {
      topic: topicConfig.topicName,
      readQueueNums: topicConfig.readQueueNums,
      writeQueueNums: topicConfig.writeQueueNums,
      perm: topicConfig.perm,
      topicSysFlag: topicConfig.topicSysFlag,
      order: topicConfig.order,
      ...(Object.keys(topicConfig.attributes).length > 0 ? { attributes: attributesText(topicConfig.attributes) } : {}),
    };
    const brokerAddr = o.str('brokerAddr');
    const addrs = brokerAddr !== undefined ? [brokerAddr] : await api.masterAddrsOfCluster(o.need('clusterName'));
    if (addrs.length === 0) throw new MQClientError(`no master broker in cluster ${o.str('clusterName')}`);
    for (const addr of addrs) {
      try {
        await api.client.createTopic(addr, input);
        result.brokers.push({ addr, success: true });
      } catch (error) {
        if (brokerAddr !== undefined) throw error;
        ctx.fail(`create topic to ${addr} failed`, error);
        result.brokers.push({ addr, success: false, error: (error as Error).message });
      }
    }
    if (topicConfig.order) {
      if (brokerAddr !== undefined) {
        const brokerName = await api.brokerNameOfAddr(brokerAddr);
        if (brokerName === undefined) throw new MQClientError(`broker ${brokerAddr} is not registered with the NameServer, so its name for the order conf is unknown`);
        result.orderConf = `${brokerName}:${topicConfig.writeQueueNums}`;
        result.orderConfScope = 'broker';
      } else {
        const names = await api.brokerNamesOfCluster(o.need('clusterName'));
        result.orderConf = names.map((n) => `${n}:${topicConfig.writeQueueNums}`).join(';');
        result.orderConfScope = 'cluster';
      }
      await api.putOrderConf(topicConfig.topicName, result.orderConf);
    }
    return result;
  },
  text(r) {
    const lines = r.brokers.filter((b) => b.success).map((b) => `create topic to ${b.addr} success.`);
    if (r.orderConf !== undefined) lines.push(`set ${r.orderConfScope} orderConf. isOrder=${r.topicConfig.order}, orderConf=[${r.orderConf}]`);
    lines.push(topicConfigText(r.topicConfig));
    return lines.join('\n');
  },
};

// --- deleteTopic --------------------------------------------------------------------------------

interface DeleteTopicResult {
  topic: string;
  clusterName: string;
  brokers: BrokerOutcome[];
  deletedFromNameServer: boolean;
}

export const deleteTopic: CommandSpec<DeleteTopicResult> = {
  name: 'deleteTopic',
  desc: 'Delete topic from broker and NameServer.',
  options: [
    { short: 't', long: 'topic', arg: 'arg', desc: 'topic name', required: true },
    { short: 'c', long: 'clusterName', arg: 'arg', desc: 'delete topic from which cluster', required: true },
  ],
  async run(ctx) {
    const topic = topicOption(ctx);
    const clusterName = ctx.opts.need('clusterName');
    const api = ctx.api();
    const result: DeleteTopicResult = { topic, clusterName, brokers: [], deletedFromNameServer: false };
    for (const addr of await api.masterAddrsOfCluster(clusterName)) {
      try {
        await api.deleteTopicInBroker(addr, topic);
        result.brokers.push({ addr, success: true });
      } catch (error) {
        ctx.fail(`delete topic [${topic}] from broker ${addr} failed`, error);
        result.brokers.push({ addr, success: false, error: (error as Error).message });
      }
    }
    await api.deleteTopicInNameServers(topic, clusterName);
    result.deletedFromNameServer = true;
    return result;
  },
  text(r) {
    const lines: string[] = [];
    if (r.brokers.every((b) => b.success)) lines.push(`delete topic [${r.topic}] from cluster [${r.clusterName}] success.`);
    else for (const b of r.brokers.filter((x) => x.success)) lines.push(`delete topic [${r.topic}] from broker [${b.addr}] success.`);
    if (r.deletedFromNameServer) lines.push(`delete topic [${r.topic}] from NameServer success.`);
    return lines.join('\n');
  },
};

// --- topicList ----------------------------------------------------------------------------------

interface TopicListResult {
  topicList: string[];
  /** With -c: one row per (topic, consumer group). */
  clusterModel?: { clusterName: string; topic: string; consumerGroup: string }[];
}

export const topicList: CommandSpec<TopicListResult> = {
  name: 'topicList',
  desc: 'Fetch all topic list from name server.',
  options: [{ short: 'c', long: 'clusterModel', desc: 'print the cluster and the consumer groups of each topic' }],
  async run(ctx) {
    const api = ctx.api();
    const topics = [...(await api.topicList())].sort();
    if (!ctx.opts.has('clusterModel')) return { topicList: topics };
    const info = await api.clusterInfo();
    const rows: NonNullable<TopicListResult['clusterModel']> = [];
    for (const topic of topics) {
      if (topic.startsWith(RETRY_GROUP_TOPIC_PREFIX) || topic.startsWith(DLQ_GROUP_TOPIC_PREFIX)) continue;
      let clusterName = '';
      let groups: string[] = [];
      try {
        const route = await api.route(topic);
        const broker = route.brokerDatas[0];
        if (broker) {
          clusterName = broker.cluster || (Object.entries(info.clusterAddrTable).find(([, names]) => names.includes(broker.brokerName))?.[0] ?? '');
          const addr = AdminApi.addrOf(route, broker.brokerName);
          if (addr) groups = await api.topicConsumedBy(addr, topic).catch(() => []);
        }
      } catch {
        // a topic without a route, or a broker that cannot tell its consumers: print what is known
      }
      for (const group of groups.length > 0 ? groups : ['']) rows.push({ clusterName, topic, consumerGroup: group });
    }
    return { topicList: topics, clusterModel: rows };
  },
  text(r) {
    if (!r.clusterModel) return r.topicList.join('\n');
    return renderTable(['#Cluster Name', '#Topic', '#Consumer Group'], r.clusterModel.map((x) => [x.clusterName, x.topic, x.consumerGroup]));
  },
};

// --- topicRoute ---------------------------------------------------------------------------------

interface TopicRouteResult {
  route: TopicRouteData;
  list: boolean;
}

export const topicRoute: CommandSpec<TopicRouteResult> = {
  name: 'topicRoute',
  desc: 'Examine topic route info.',
  options: [
    { short: 't', long: 'topic', arg: 'arg', desc: 'topic name', required: true },
    { short: 'l', long: 'list', desc: 'Use list format to print data' },
  ],
  async run(ctx) {
    const route = await ctx.api().route(topicOption(ctx));
    return { route, list: ctx.opts.has('list') };
  },
  text(r) {
    return r.list ? routeTable(r) : JSON.stringify(r.route, null, 2);
  },
  json: (r) => r.route,
};

function routeTable({ route }: TopicRouteResult): string {
  const queues = new Map(route.queueDatas.map((q) => [q.brokerName, q]));
  const brokers = [...route.brokerDatas].sort((a, b) => (a.brokerName < b.brokerName ? -1 : a.brokerName > b.brokerName ? 1 : 0));
  let totalRead = 0;
  let totalWrite = 0;
  const rows = brokers.map((b) => {
    const q = queues.get(b.brokerName);
    totalRead += q?.readQueueNums ?? 0;
    totalWrite += q?.writeQueueNums ?? 0;
    return [b.cluster, b.brokerName, javaMapText(b.brokerAddrs), q?.readQueueNums ?? 0, q?.writeQueueNums ?? 0, q?.perm ?? 0];
  });
  const table = renderTable(['#ClusterName', '#BrokerName', '#BrokerAddrs', '#ReadQueue', '#WriteQueue', '#Perm'], [...rows, ['Total:', queues.size, '', totalRead, totalWrite, '']], { rightAlign: [3, 4, 5] });
  const lines = table.split('\n');
  const width = Math.max(...lines.map((l) => l.length));
  lines.splice(lines.length - 1, 0, '-'.repeat(width));
  return lines.join('\n');
}

// --- topicStatus --------------------------------------------------------------------------------

interface TopicStatusResult {
  topic: string;
  queues: ({ brokerName: string; queueId: number } & TopicOffset)[];
  topicPutTps: number;
}

export const topicStatus: CommandSpec<TopicStatusResult> = {
  name: 'topicStatus',
  desc: 'Examine topic Status info.',
  options: [
    { short: 't', long: 'topic', arg: 'arg', desc: 'topic name', required: true },
    { short: 'c', long: 'cluster', arg: 'arg', desc: 'ask the master brokers of this cluster instead of the brokers in the route' },
  ],
  async run(ctx) {
    const topic = topicOption(ctx);
    const api = ctx.api();
    const cluster = ctx.opts.str('cluster');
    let addrs: string[];
    if (cluster) addrs = await api.masterAddrsOfCluster(cluster);
    else {
      const route = await api.route(topic);
      addrs = route.brokerDatas.map((b) => AdminApi.addrOf(route, b.brokerName)).filter((a): a is string => a !== undefined);
    }
    const queues: TopicStatusResult['queues'] = [];
    let topicPutTps = 0;
    for (const addr of addrs) {
      try {
        const stats = await api.topicStats(addr, topic);
        for (const { mq, value } of stats.offsetTable) queues.push({ brokerName: mq.brokerName, queueId: mq.queueId, ...value });
        topicPutTps += stats.topicPutTps;
      } catch (error) {
        ctx.fail(`topic stats from ${addr} failed`, error);
      }
    }
    if (queues.length === 0) throw new MQClientError(`Not found the topic stats info of ${topic}`);
    queues.sort((a, b) => compareMessageQueues({ topic, ...a }, { topic, ...b }));
    return { topic, queues, topicPutTps };
  },
  text(r) {
    const table = renderTable(
      ['#Broker Name', '#QID', '#Min Offset', '#Max Offset', '#Last Updated'],
      r.queues.map((q) => [q.brokerName, q.queueId, q.minOffset, q.maxOffset, q.lastUpdateTimestamp > 0 ? humanTime(q.lastUpdateTimestamp) : '']),
    );
    return `${table}\n\nTopic Put TPS: ${r.topicPutTps.toFixed(1)}`;
  },
};
