// Consumer commands: consumerProgress, consumerConnection, resetOffsetByTime (RocketMQ's
// ConsumerProgressSubCommand, ConsumerConnectionSubCommand, ResetOffsetByTimeCommand and the
// client-side ResetOffsetByTimeOldCommand it falls back to).
import { compareMessageQueues, MQBrokerError, MQClientError, type MessageQueue, type TopicRouteData } from '@orbit/client';
import { RETRY_GROUP_TOPIC_PREFIX, ResponseCode, retryTopic } from '@orbit/common';
import { AdminApi, type ConsumerConnection, type OffsetWrapper, type QueueEntry } from '../admin-api.js';
import { UsageError, type CommandContext, type CommandSpec } from '../cli.js';
import { humanTimeSeconds, parseTimestamp, versionDesc } from '../format.js';
import { renderTable } from '../table.js';
import { topicOption } from './topic.js';

function groupOption(ctx: CommandContext, long = 'groupName'): string {
  const group = ctx.opts.need(long);
  if (!/^[%|a-zA-Z0-9_-]+$/.test(group)) throw new UsageError(`the specified group[${group}] contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$`);
  return group;
}

/** Master (or any) address of every broker of a route. */
function routeAddrs(route: TopicRouteData): { brokerName: string; addr: string }[] {
  return route.brokerDatas
    .map((b) => ({ brokerName: b.brokerName, addr: AdminApi.addrOf(route, b.brokerName) }))
    .filter((x): x is { brokerName: string; addr: string } => x.addr !== undefined);
}

/**
 * examineConsumerConnectionInfo: GET_CONSUMER_CONNECTION_LIST at the brokers of %RETRY%<group>
 * (every member heartbeats to every broker, so the first broker that knows the group answers).
 */
async function findConsumerConnection(ctx: CommandContext, group: string, brokerAddr?: string): Promise<{ addr: string; connection: ConsumerConnection }> {
  const api = ctx.api();
  let addrs: string[];
  if (brokerAddr !== undefined) addrs = [brokerAddr];
  else {
    const route = await api.routeIfExists(retryTopic(group));
    addrs = route ? routeAddrs(route).map((x) => x.addr) : [];
  }
  let lastError: unknown;
  for (const addr of addrs) {
    try {
      const connection = await api.consumerConnection(addr, group);
      if (connection.connectionSet.length > 0) return { addr, connection };
    } catch (error) {
      lastError = error;
      if (brokerAddr !== undefined) throw error;
    }
  }
  if (lastError instanceof MQBrokerError && lastError.code !== ResponseCode.CONSUMER_NOT_ONLINE) throw lastError;
  throw new MQClientError(`Not found the consumer group connection: the consumer group[${group}] is not online`, ResponseCode.CONSUMER_NOT_ONLINE);
}

// --- consumerConnection -------------------------------------------------------------------------

export const consumerConnection: CommandSpec<ConsumerConnection & { group: string; brokerAddr: string }> = {
  name: 'consumerConnection',
  desc: "Query consumer's socket connection, client version and subscription.",
  options: [
    { short: 'g', long: 'consumerGroup', arg: 'arg', desc: 'consumer group name', required: true },
    { short: 'b', long: 'brokerAddr', arg: 'arg', desc: 'broker address' },
  ],
  async run(ctx) {
    const group = groupOption(ctx, 'consumerGroup');
    const { addr, connection } = await findConsumerConnection(ctx, group, ctx.opts.str('brokerAddr'));
    return { group, brokerAddr: addr, ...connection };
  },
  text(c) {
    const conns = renderTable(
      ['#ClientId', '#ClientAddr', '#Language', '#Version'],
      [...c.connectionSet].sort((a, b) => (a.clientId < b.clientId ? -1 : 1)).map((x) => [x.clientId, x.clientAddr, x.language, versionDesc(x.version)]),
    );
    const subs = renderTable(
      ['#Topic', '#SubExpression'],
      Object.values(c.subscriptionTable).map((s) => [s.topic, s.subString]),
    );
    return [conns, '', 'Below is subscription:', subs, '', `ConsumeType: ${c.consumeType}`, `MessageModel: ${c.messageModel}`, `ConsumeFromWhere: ${c.consumeFromWhere}`].join('\n');
  },
};

// --- consumerProgress ---------------------------------------------------------------------------

interface ProgressRow extends OffsetWrapper {
  topic: string;
  brokerName: string;
  queueId: number;
  diff: number;
  inflight: number;
  clientIP?: string;
}

interface GroupRow {
  group: string;
  count: number;
  version: string;
  type: string;
  model: string;
  tps: number;
  diffTotal: number;
}

type ProgressResult =
  | { mode: 'group'; group: string; showClientIP: boolean; queues: ProgressRow[]; consumeTps: number; diffTotal: number; inflightTotal: number }
  | { mode: 'all'; groups: GroupRow[] };

/** examineConsumeStats: GET_CONSUME_STATS at every broker of %RETRY%<group> (or of the topic). */
async function consumeStatsOf(ctx: CommandContext, group: string, topic: string | undefined, reportFailures: boolean): Promise<{ entries: QueueEntry<OffsetWrapper>[]; consumeTps: number }> {
  const api = ctx.api();
  let route: TopicRouteData | undefined;
  for (const t of topic === undefined ? [retryTopic(group)] : [retryTopic(group), topic]) {
    route = await api.routeIfExists(t);
    if (route) break;
  }
  if (!route) throw new MQClientError(`No topic route info in name server for the group ${group}${topic ? ` or the topic ${topic}` : ''}`, ResponseCode.TOPIC_NOT_EXIST);
  const entries: QueueEntry<OffsetWrapper>[] = [];
  let consumeTps = 0;
  for (const { addr } of routeAddrs(route)) {
    try {
      const stats = await api.consumeStats(addr, group, topic);
      entries.push(...stats.offsetTable);
      consumeTps += stats.consumeTps;
    } catch (error) {
      if (reportFailures) ctx.fail(`consume stats from ${addr} failed`, error);
      else throw error;
    }
  }
  return { entries, consumeTps };
}

export const consumerProgress: CommandSpec<ProgressResult> = {
  name: 'consumerProgress',
  desc: "Query consumer's progress, speed.",
  options: [
    { short: 'g', long: 'groupName', arg: 'arg', desc: 'consumer group name (without it: one line per group)' },
    { short: 't', long: 'topicName', arg: 'arg', desc: 'topic name' },
    { short: 's', long: 'showClientIP', arg: 'arg', desc: 'Show Client IP per Queue (true|false)' },
    { short: 'c', long: 'cluster', arg: 'arg', desc: 'Cluster name (accepted for compatibility; routes come from the NameServer)' },
  ],
  async run(ctx) {
    const showClientIP = ctx.opts.bool('showClientIP') ?? false;
    const topic = ctx.opts.has('topicName') ? topicOption(ctx, 'topicName') : undefined;
    const api = ctx.api();
    if (ctx.opts.has('groupName')) {
      const group = groupOption(ctx);
      const { entries, consumeTps } = await consumeStatsOf(ctx, group, topic, true);
      if (entries.length === 0 && ctx.failures.length === 0) {
        let connection: ConsumerConnection;
        try {
          connection = (await findConsumerConnection(ctx, group)).connection;
        } catch {
          throw new MQClientError('Not found the consumer group consume stats, because return offset table is empty, maybe the consumer not online', ResponseCode.CONSUMER_NOT_ONLINE);
        }
        if (connection.messageModel === 'BROADCASTING') {
          throw new MQClientError('Not found the consumer group consume stats, because return offset table is empty, the consumer is under the broadcast mode');
        }
      }
      const owners = new Map<string, string>();
      if (showClientIP) {
        try {
          const { addr, connection } = await findConsumerConnection(ctx, group);
          for (const c of connection.connectionSet) {
            const queues = await api.consumerRunningQueues(addr, group, c.clientId).catch(() => [] as MessageQueue[]);
            for (const mq of queues) owners.set(`${mq.topic}@${mq.brokerName}@${mq.queueId}`, c.clientId.split('@')[0]!);
          }
        } catch {
          // not online, or the clients cannot report their queues: the column shows N/A
        }
      }
      entries.sort((a, b) => compareMessageQueues(a.mq, b.mq));
      const queues: ProgressRow[] = entries.map(({ mq, value }) => ({
        topic: mq.topic,
        brokerName: mq.brokerName,
        queueId: mq.queueId,
        ...value,
        diff: value.brokerOffset - value.consumerOffset,
        inflight: value.pullOffset - value.consumerOffset,
        ...(showClientIP ? { clientIP: owners.get(`${mq.topic}@${mq.brokerName}@${mq.queueId}`) ?? 'N/A' } : {}),
      }));
      return {
        mode: 'group',
        group,
        showClientIP,
        queues,
        consumeTps,
        diffTotal: queues.reduce((s, q) => s + q.diff, 0),
        inflightTotal: queues.reduce((s, q) => s + q.inflight, 0),
      };
    }
    const groups: GroupRow[] = [];
    const topics = (await api.topicList()).filter((t) => t.startsWith(RETRY_GROUP_TOPIC_PREFIX)).sort();
    for (const t of topics) {
      const group = t.slice(RETRY_GROUP_TOPIC_PREFIX.length);
      const row: GroupRow = { group, count: 0, version: 'OFFLINE', type: '', model: '', tps: 0, diffTotal: 0 };
      try {
        const stats = await consumeStatsOf(ctx, group, undefined, false);
        row.tps = Math.trunc(stats.consumeTps);
        row.diffTotal = stats.entries.reduce((s, e) => s + e.value.brokerOffset - e.value.consumerOffset, 0);
      } catch {
        // offline group whose stats cannot be read: zeros, as RocketMQ prints
      }
      try {
        const { connection } = await findConsumerConnection(ctx, group);
        row.count = connection.connectionSet.length;
        row.version = versionDesc(Math.min(...connection.connectionSet.map((c) => c.version)));
        row.type = connection.consumeType === 'CONSUME_ACTIVELY' ? 'PULL' : 'PUSH';
        row.model = connection.consumeType === 'CONSUME_PASSIVELY' ? connection.messageModel : '';
      } catch {
        // not online
      }
      groups.push(row);
    }
    return { mode: 'all', groups };
  },
  text(r) {
    if (r.mode === 'all') {
      return renderTable(
        ['#Group', '#Count', '#Version', '#Type', '#Model', '#TPS', '#Diff Total'],
        r.groups.map((g) => [g.group, g.count, g.version, g.type, g.model, g.tps, g.diffTotal]),
        { rightAlign: [1, 5, 6] },
      );
    }
    const headers = ['#Topic', '#Broker Name', '#QID', '#Broker Offset', '#Consumer Offset', ...(r.showClientIP ? ['#Client IP'] : []), '#Diff', '#Inflight', '#LastTime'];
    const rows = r.queues.map((q) => [
      q.topic,
      q.brokerName,
      q.queueId,
      q.brokerOffset,
      q.consumerOffset,
      ...(r.showClientIP ? [q.clientIP] : []),
      q.diff,
      q.inflight,
      q.lastTimestamp === 0 ? 'N/A' : humanTimeSeconds(q.lastTimestamp),
    ]);
    const numeric = r.showClientIP ? [2, 3, 4, 6, 7] : [2, 3, 4, 5, 6];
    return [
      renderTable(headers, rows, { rightAlign: numeric }),
      '',
      `Consume TPS: ${r.consumeTps.toFixed(2)}`,
      `Consume Diff Total: ${r.diffTotal}`,
      `Consume Inflight Total: ${r.inflightTotal}`,
    ].join('\n');
  },
};

// --- resetOffsetByTime --------------------------------------------------------------------------

interface RollbackStats {
  brokerName: string;
  queueId: number;
  brokerOffset: number;
  consumerOffset: number;
  timestampOffset: number;
  resetOffset: number;
}

interface ResetResult {
  group: string;
  topic: string;
  timestampText: string;
  timestamp: number;
  force: boolean;
  /** Set by the brokers (INVOKE_BROKER_TO_RESET_OFFSET); online consumers were told. */
  brokerReset: { brokerName: string; queueId: number; offset: number }[];
  /** Set here: SEARCH_OFFSET_BY_TIMESTAMP then UPDATE_CONSUMER_OFFSET per queue (RocketMQ 4's way). */
  clientReset: RollbackStats[];
  /** -b and -q: one queue. */
  single?: { brokerAddr: string; queueId: number; offset: number };
}

const NOT_TOLD = 'consumers that are online were not told and may commit their own offsets over the reset';

/** resetOffsetByTimestampOld for one broker: per queue of the topic, search the offset and commit it. */
async function resetOnClientSide(ctx: CommandContext, addr: string, brokerName: string, readQueueNums: number, group: string, topic: string, timestamp: number, force: boolean): Promise<RollbackStats[]> {
  const api = ctx.api();
  let queues = (await api.consumeStats(addr, group, topic)).offsetTable.filter((e) => e.mq.topic === topic);
  if (queues.length === 0) {
    const stats = await api.topicStats(addr, topic);
    queues = stats.offsetTable
      .filter((e) => e.mq.queueId < readQueueNums)
      .map(({ mq, value }) => ({ mq, value: { brokerOffset: value.maxOffset, consumerOffset: value.minOffset, pullOffset: value.minOffset, lastTimestamp: 0 } }));
  }
  queues.sort((a, b) => compareMessageQueues(a.mq, b.mq));
  const out: RollbackStats[] = [];
  for (const { mq, value } of queues) {
    const timestampOffset = await api.searchOffset(addr, mq, timestamp);
    let resetOffset = value.consumerOffset;
    if (force || timestampOffset <= value.consumerOffset) {
      resetOffset = timestampOffset;
      await api.updateConsumerOffset(addr, group, mq, timestampOffset);
    }
    out.push({ brokerName: mq.brokerName || brokerName, queueId: mq.queueId, brokerOffset: value.brokerOffset, consumerOffset: value.consumerOffset, timestampOffset, resetOffset });
  }
  return out;
}

export const resetOffsetByTime: CommandSpec<ResetResult> = {
  name: 'resetOffsetByTime',
  desc: 'Reset consumer offset by timestamp(without client restart).',
  options: [
    { short: 'g', long: 'group', arg: 'arg', desc: 'set the consumer group', required: true },
    { short: 't', long: 'topic', arg: 'arg', desc: 'set the topic', required: true },
    { short: 's', long: 'timestamp', arg: 'arg', desc: 'set the timestamp[now|currentTimeMillis|yyyy-MM-dd#HH:mm:ss:SSS]', required: true },
    { short: 'f', long: 'force', arg: 'arg', desc: 'set the force rollback by timestamp switch[true|false] (default true)' },
    { short: 'b', long: 'broker', arg: 'arg', desc: 'broker addr (with -q: reset one queue)' },
    { short: 'q', long: 'queue', arg: 'arg', desc: 'queue id (with -b)' },
    { short: 'o', long: 'offset', arg: 'arg', desc: 'with -b and -q: reset to this queue offset instead of searching by time' },
    { short: 'c', long: 'cluster', arg: 'arg', desc: 'Cluster name (accepted for compatibility; routes come from the NameServer)' },
  ],
  async run(ctx) {
    const group = groupOption(ctx, 'group');
    const topic = topicOption(ctx);
    const timestampText = ctx.opts.need('timestamp');
    const timestamp = parseTimestamp(timestampText);
    if (timestamp === undefined) throw new UsageError(`bad value for -s (--timestamp): "${timestampText}" is not now, milliseconds or yyyy-MM-dd#HH:mm:ss:SSS`);
    const force = ctx.opts.bool('force') ?? true;
    const brokerAddr = ctx.opts.str('broker');
    const queueId = ctx.opts.int('queue', { min: 0, max: 65535 });
    const explicitOffset = ctx.opts.long('offset', { min: 0 });
    if ((brokerAddr === undefined) !== (queueId === undefined)) throw new UsageError('-b (--broker) and -q (--queue) go together');
    if (explicitOffset !== undefined && queueId === undefined) throw new UsageError('-o (--offset) needs -b and -q');
    const api = ctx.api();
    const result: ResetResult = { group, topic, timestampText, timestamp, force, brokerReset: [], clientReset: [] };

    if (brokerAddr !== undefined && queueId !== undefined) {
      const brokerName = (await api.brokerNameOfAddr(brokerAddr)) ?? '';
      const mq = { topic, brokerName, queueId };
      const offset = explicitOffset ?? (await api.searchOffset(brokerAddr, mq, timestamp));
      await api.updateConsumerOffset(brokerAddr, group, mq, offset);
      try {
        await api.resetOffsetOnBroker(brokerAddr, topic, group, 0, { queueId, offset });
      } catch (error) {
        if (!(error instanceof MQBrokerError) || (error.code !== ResponseCode.REQUEST_CODE_NOT_SUPPORTED && error.code !== ResponseCode.CONSUMER_NOT_ONLINE)) throw error;
        if (error.code === ResponseCode.REQUEST_CODE_NOT_SUPPORTED) ctx.note(`note: ${brokerAddr} does not support INVOKE_BROKER_TO_RESET_OFFSET(222); the offset was committed with UPDATE_CONSUMER_OFFSET, and ${NOT_TOLD}.`);
      }
      result.single = { brokerAddr, queueId, offset };
      return result;
    }

    const route = await api.route(topic);
    for (const { brokerName, addr } of routeAddrs(route)) {
      try {
        const table = await api.resetOffsetOnBroker(addr, topic, group, timestamp, { force });
        for (const { mq, value } of table) result.brokerReset.push({ brokerName: mq.brokerName, queueId: mq.queueId, offset: value });
        continue;
      } catch (error) {
        const code = error instanceof MQBrokerError ? error.code : undefined;
        if (code !== ResponseCode.CONSUMER_NOT_ONLINE && code !== ResponseCode.REQUEST_CODE_NOT_SUPPORTED) {
          ctx.fail(`reset offset on ${addr} failed`, error);
          continue;
        }
        if (code === ResponseCode.REQUEST_CODE_NOT_SUPPORTED) {
          ctx.note(`note: ${addr} does not support INVOKE_BROKER_TO_RESET_OFFSET(222); resetting its queues client side (SEARCH_OFFSET_BY_TIMESTAMP + UPDATE_CONSUMER_OFFSET); ${NOT_TOLD}.`);
        }
      }
      try {
        const readQueueNums = route.queueDatas.find((q) => q.brokerName === brokerName)?.readQueueNums ?? Number.MAX_SAFE_INTEGER;
        result.clientReset.push(...(await resetOnClientSide(ctx, addr, brokerName, readQueueNums, group, topic, timestamp, force)));
      } catch (error) {
        ctx.fail(`reset offset on ${addr} failed`, error);
      }
    }
    result.brokerReset.sort((a, b) => compareMessageQueues({ topic, ...a }, { topic, ...b }));
    return result;
  },
  text(r) {
    if (r.single) {
      return [
        `start reset consumer offset by specified, group[${r.group}], topic[${r.topic}], queueId[${r.single.queueId}], broker[${r.single.brokerAddr}], timestamp(string)[${r.timestampText}], timestamp(long)[${r.timestamp}]`,
        `reset consumer offset to ${r.single.offset}`,
      ].join('\n');
    }
    const parts: string[] = [];
    if (r.brokerReset.length > 0) {
      parts.push(`start reset consumer offset by specified, group[${r.group}], topic[${r.topic}], force[${r.force}], timestamp(string)[${r.timestampText}], timestamp(long)[${r.timestamp}]`);
      parts.push(renderTable(['#brokerName', '#queueId', '#offset'], r.brokerReset.map((x) => [x.brokerName, x.queueId, x.offset])));
    }
    if (r.clientReset.length > 0 || r.brokerReset.length === 0) {
      parts.push(`reset consumer offset by specified consumerGroup[${r.group}], topic[${r.topic}], force[${r.force}], timestamp(string)[${r.timestampText}], timestamp(long)[${r.timestamp}]`);
      parts.push(
        renderTable(
          ['#brokerName', '#queueId', '#brokerOffset', '#consumerOffset', '#timestampOffset', '#resetOffset'],
          r.clientReset.map((x) => [x.brokerName, x.queueId, x.brokerOffset, x.consumerOffset, x.timestampOffset, x.resetOffset]),
        ),
      );
    }
    return parts.join('\n');
  },
};
