// Subscription group commands: updateSubGroup, deleteSubGroup (RocketMQ's UpdateSubGroupSubCommand,
// DeleteSubscriptionGroupCommand).
import { MQClientError } from '@orbit/client';
import { dlqTopic, retryTopic } from '@orbit/common';
import type { SubscriptionGroupConfig } from '../admin-api.js';
import { UsageError, type CommandContext, type CommandSpec } from '../cli.js';
import { parseAttributes } from './topic.js';

function groupOption(ctx: CommandContext): string {
  const group = ctx.opts.need('groupName');
  if (!/^[%|a-zA-Z0-9_-]+$/.test(group) || group.length > 255) throw new UsageError(`the specified group[${group}] contains illegal characters or is too long, allowing only ^[%|a-zA-Z0-9_-]+$ and 255 characters`);
  return group;
}

/** SubscriptionGroupConfig.toString (Guava's toStringHelper). */
export function subscriptionGroupText(c: SubscriptionGroupConfig): string {
  const policy = `GroupRetryPolicy{type=${String(c.groupRetryPolicy.type ?? 'CUSTOMIZED')}, exponentialRetryPolicy=${JSON.stringify(c.groupRetryPolicy.exponentialRetryPolicy ?? null)}, customizedRetryPolicy=${JSON.stringify(c.groupRetryPolicy.customizedRetryPolicy ?? null)}}`;
  const attrs = `{${Object.entries(c.attributes).map(([k, v]) => `${k}=${v}`).join(', ')}}`;
  return (
    `SubscriptionGroupConfig{groupName=${c.groupName}, consumeEnable=${c.consumeEnable}, consumeFromMinEnable=${c.consumeFromMinEnable}, ` +
    `consumeBroadcastEnable=${c.consumeBroadcastEnable}, consumeMessageOrderly=${c.consumeMessageOrderly}, retryQueueNums=${c.retryQueueNums}, ` +
    `retryMaxTimes=${c.retryMaxTimes}, groupRetryPolicy=${policy}, brokerId=${c.brokerId}, whichBrokerWhenConsumeSlowly=${c.whichBrokerWhenConsumeSlowly}, ` +
    `notifyConsumerIdsChangedEnable=${c.notifyConsumerIdsChangedEnable}, groupSysFlag=${c.groupSysFlag}, consumeTimeoutMinute=${c.consumeTimeoutMinute}, ` +
    `subscriptionDataSet=null, attributes=${attrs}}`
  );
}

interface BrokerOutcome {
  addr: string;
  success: boolean;
  error?: string;
}

// --- updateSubGroup -----------------------------------------------------------------------------

interface UpdateSubGroupResult {
  config: SubscriptionGroupConfig;
  brokers: BrokerOutcome[];
}

export const updateSubGroup: CommandSpec<UpdateSubGroupResult> = {
  name: 'updateSubGroup',
  desc: 'Update or create subscription group.',
  options: [
    { short: 'b', long: 'brokerAddr', arg: 'arg', desc: 'create subscription group to which broker' },
    { short: 'c', long: 'clusterName', arg: 'arg', desc: 'create subscription group to which cluster' },
    { short: 'g', long: 'groupName', arg: 'arg', desc: 'consumer group name', required: true },
    { short: 's', long: 'consumeEnable', arg: 'arg', desc: 'consume enable (true|false, default true)' },
    { short: 'm', long: 'consumeFromMinEnable', arg: 'arg', desc: 'from min offset (true|false, default false)' },
    { short: 'd', long: 'consumeBroadcastEnable', arg: 'arg', desc: 'broadcast (true|false, default false)' },
    { short: 'o', long: 'consumeMessageOrderly', arg: 'arg', desc: 'consume message orderly (true|false, default false)' },
    { short: 'q', long: 'retryQueueNums', arg: 'arg', desc: 'retry queue nums (default 1)' },
    { short: 'r', long: 'retryMaxTimes', arg: 'arg', desc: 'retry max times (default 16)' },
    { short: 'p', long: 'groupRetryPolicy', arg: 'arg', desc: 'the json string of retry policy, eg: {"type":"CUSTOMIZED","customizedRetryPolicy":{"next":[1000,5000,10000]}}' },
    { short: 'i', long: 'brokerId', arg: 'arg', desc: 'consumer from which broker id (default 0)' },
    { short: 'w', long: 'whichBrokerWhenConsumeSlowly', arg: 'arg', desc: 'which broker id when consume slowly (default 1)' },
    { short: 'a', long: 'notifyConsumerIdsChanged', arg: 'arg', desc: 'notify consumerId changed (true|false, default true)' },
    { long: 'attributes', arg: 'arg', desc: 'attribute(+a=b,+c=d,-e)' },
  ],
  oneOf: [['brokerAddr', 'clusterName']],
  async run(ctx) {
    const o = ctx.opts;
    let groupRetryPolicy: Record<string, unknown> = { type: 'CUSTOMIZED' };
    if (o.has('groupRetryPolicy')) {
      try {
        const parsed = JSON.parse(o.str('groupRetryPolicy')!) as unknown;
        if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
        groupRetryPolicy = parsed as Record<string, unknown>;
      } catch (error) {
        throw new UsageError(`bad value for -p (--groupRetryPolicy): ${(error as Error).message}`);
      }
    }
    const config: SubscriptionGroupConfig = {
      groupName: groupOption(ctx),
      consumeEnable: o.bool('consumeEnable') ?? true,
      consumeFromMinEnable: o.bool('consumeFromMinEnable') ?? false,
      consumeBroadcastEnable: o.bool('consumeBroadcastEnable') ?? false,
      consumeMessageOrderly: o.bool('consumeMessageOrderly') ?? false,
      retryQueueNums: o.int('retryQueueNums', { min: 0, max: 65535 }) ?? 1,
      retryMaxTimes: o.int('retryMaxTimes', { min: -1 }) ?? 16,
      groupRetryPolicy,
      brokerId: o.long('brokerId', { min: 0 }) ?? 0,
      whichBrokerWhenConsumeSlowly: o.long('whichBrokerWhenConsumeSlowly', { min: 0 }) ?? 1,
      notifyConsumerIdsChangedEnable: o.bool('notifyConsumerIdsChanged') ?? true,
      groupSysFlag: 0,
      consumeTimeoutMinute: 15,
      attributes: o.has('attributes') ? parseAttributes(o.str('attributes')!) : {},
    };
    const api = ctx.api();
    const result: UpdateSubGroupResult = { config, brokers: [] };
    const brokerAddr = o.str('brokerAddr');
    if (brokerAddr !== undefined) {
      await api.createSubscriptionGroup(brokerAddr, config);
      result.brokers.push({ addr: brokerAddr, success: true });
      return result;
    }
    const clusterName = o.need('clusterName');
    const addrs = await api.masterAddrsOfCluster(clusterName);
    if (addrs.length === 0) throw new MQClientError(`no master broker in cluster ${clusterName}`);
    for (const addr of addrs) {
      try {
        await api.createSubscriptionGroup(addr, config);
        result.brokers.push({ addr, success: true });
      } catch (error) {
        ctx.fail(`create subscription group to ${addr} failed`, error);
        result.brokers.push({ addr, success: false, error: (error as Error).message });
      }
    }
    return result;
  },
  text(r) {
    const lines = r.brokers.filter((b) => b.success).map((b) => `create subscription group to ${b.addr} success.`);
    lines.push(subscriptionGroupText(r.config));
    return lines.join('\n');
  },
};

// --- deleteSubGroup -----------------------------------------------------------------------------

interface DeleteSubGroupResult {
  groupName: string;
  cleanOffset: boolean;
  clusterName?: string;
  brokers: BrokerOutcome[];
  /** With -c: the group's %RETRY% and %DLQ% topics, deleted from the cluster and the NameServer. */
  deletedTopics: string[];
}

export const deleteSubGroup: CommandSpec<DeleteSubGroupResult> = {
  name: 'deleteSubGroup',
  desc: 'Delete subscription group from broker.',
  options: [
    { short: 'b', long: 'brokerAddr', arg: 'arg', desc: 'delete subscription group from which broker' },
    { short: 'c', long: 'clusterName', arg: 'arg', desc: 'delete subscription group from which cluster' },
    { short: 'g', long: 'groupName', arg: 'arg', desc: 'subscription group name', required: true },
    { short: 'r', long: 'removeOffset', arg: 'arg', desc: 'remove offset (true|false, default false)' },
  ],
  oneOf: [['brokerAddr', 'clusterName']],
  async run(ctx) {
    const groupName = groupOption(ctx);
    const cleanOffset = ctx.opts.bool('removeOffset') ?? false;
    const api = ctx.api();
    const brokerAddr = ctx.opts.str('brokerAddr');
    if (brokerAddr !== undefined) {
      await api.deleteSubscriptionGroup(brokerAddr, groupName, cleanOffset);
      return { groupName, cleanOffset, brokers: [{ addr: brokerAddr, success: true }], deletedTopics: [] };
    }
    const clusterName = ctx.opts.need('clusterName');
    const result: DeleteSubGroupResult = { groupName, cleanOffset, clusterName, brokers: [], deletedTopics: [] };
    const masters = await api.masterAddrsOfCluster(clusterName);
    for (const addr of masters) {
      try {
        await api.deleteSubscriptionGroup(addr, groupName, cleanOffset);
        result.brokers.push({ addr, success: true });
      } catch (error) {
        ctx.fail(`delete subscription group [${groupName}] from broker [${addr}] failed`, error);
        result.brokers.push({ addr, success: false, error: (error as Error).message });
      }
    }
    // As RocketMQ does: the group's retry and dead-letter topics go too (a failure is only reported).
    for (const topic of [retryTopic(groupName), dlqTopic(groupName)]) {
      try {
        for (const addr of masters) await api.deleteTopicInBroker(addr, topic);
        await api.deleteTopicInNameServers(topic, clusterName);
        result.deletedTopics.push(topic);
      } catch (error) {
        ctx.note(`delete topic ${topic} failed: ${(error as Error).message}`);
      }
    }
    return result;
  },
  text(r) {
    return r.brokers
      .filter((b) => b.success)
      .map((b) =>
        r.clusterName === undefined
          ? `delete subscription group [${r.groupName}] from broker [${b.addr}] success.`
          : `delete subscription group [${r.groupName}] from broker [${b.addr}] in cluster [${r.clusterName}] success.`,
      )
      .join('\n');
  },
};
