// Cluster and broker commands: clusterList, brokerStatus, getBrokerConfig, updateBrokerConfig
// (RocketMQ's ClusterListSubCommand, BrokerStatusSubCommand, GetBrokerConfigCommand,
// UpdateBrokerConfigSubCommand).
import { MASTER_ID, MQClientError } from '@orbit/client';
import { UsageError, type CommandContext, type CommandSpec } from '../cli.js';
import { renderTable } from '../table.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// --- clusterList --------------------------------------------------------------------------------

interface ClusterRow {
  clusterName: string;
  brokerName: string;
  brokerId: number;
  addr: string;
  /** GET_BROKER_RUNTIME_INFO's table; null when the broker did not answer. */
  runtime: Record<string, string> | null;
}

interface ClusterListResult {
  moreStats: boolean;
  brokers: ClusterRow[];
}

const float = (v: string | undefined): number => {
  const n = Number.parseFloat((v ?? '').split(' ')[0] ?? '');
  return Number.isFinite(n) ? n : 0;
};
const long = (v: string | undefined): number => {
  const n = Number(v);
  return Number.isFinite(n) ? n : 0;
};

async function clusterRows(ctx: CommandContext, clusterName: string | undefined): Promise<ClusterRow[]> {
  const api = ctx.api();
  const info = await api.clusterInfo();
  const clusters = clusterName ? [clusterName] : Object.keys(info.clusterAddrTable).sort();
  const rows: ClusterRow[] = [];
  for (const cluster of clusters) {
    const names = [...(info.clusterAddrTable[cluster] ?? [])].sort();
    for (const brokerName of names) {
      const addrs = info.brokerAddrTable[brokerName]?.brokerAddrs ?? {};
      for (const id of Object.keys(addrs).map(Number).sort((a, b) => a - b)) {
        const addr = addrs[String(id)]!;
        let runtime: Record<string, string> | null = null;
        try {
          runtime = await api.runtimeInfo(addr);
        } catch (error) {
          ctx.fail(`runtime info of ${brokerName} (${addr}) failed`, error);
        }
        rows.push({ clusterName: cluster, brokerName, brokerId: id, addr, runtime });
      }
    }
  }
  return rows;
}

function baseInfoTable(rows: readonly ClusterRow[], nowMs = Date.now()): string {
  return renderTable(
    ['#Cluster Name', '#Broker Name', '#BID', '#Addr', '#Version', '#InTPS(LOAD)', '#OutTPS(LOAD)', '#Timer(Progress)', '#PCWait(ms)', '#Hour', '#SPACE', '#ACTIVATED'],
    rows.map((r) => {
      const t = r.runtime ?? {};
      const n = (k: string) => t[k] ?? 'N';
      const earliest = long(t.earliestMessageTimeStamp);
      const hour = earliest > 0 ? (nowMs - earliest) / 3_600_000 : 0;
      return [
        r.clusterName,
        r.brokerName,
        r.brokerId,
        r.addr,
        t.brokerVersionDesc ?? '',
        `${float(t.putTps).toFixed(2)}(${n('sendThreadPoolQueueSize')},${n('sendThreadPoolQueueHeadWaitTimeMills')}ms)`,
        `${float(t.getTransferredTps).toFixed(2)}(${n('pullThreadPoolQueueSize')},${n('pullThreadPoolQueueHeadWaitTimeMills')}ms|${n('ackThreadPoolQueueSize')},${n('ackThreadPoolQueueHeadWaitTimeMills')}ms)`,
        `${long(t.timerReadBehind)}-${long(t.timerOffsetBehind)}(${(long(t.timerCongestNum) / 10000).toFixed(1)}w, ${float(t.timerEnqueueTps).toFixed(1)}, ${float(t.timerDequeueTps).toFixed(1)})`,
        n('pageCacheLockTimeMills'),
        hour.toFixed(2),
        float(t.commitLogDiskRatio).toFixed(4),
        t.brokerActive === 'true',
      ];
    }),
    { rightAlign: [2, 5, 6, 8] },
  );
}

function moreStatsTable(rows: readonly ClusterRow[]): string {
  return renderTable(
    ['#Cluster Name', '#Broker Name', '#InTotalYest', '#OutTotalYest', '#InTotalToday', '#OutTotalToday'],
    rows.map((r) => {
      const t = r.runtime ?? {};
      return [
        r.clusterName,
        r.brokerName,
        long(t.msgPutTotalTodayMorning) - long(t.msgPutTotalYesterdayMorning),
        long(t.msgGetTotalTodayMorning) - long(t.msgGetTotalYesterdayMorning),
        long(t.msgPutTotalTodayNow) - long(t.msgPutTotalTodayMorning),
        long(t.msgGetTotalTodayNow) - long(t.msgGetTotalTodayMorning),
      ];
    }),
  );
}

export const clusterList: CommandSpec<ClusterListResult> = {
  name: 'clusterList',
  desc: 'List cluster infos.',
  options: [
    { short: 'm', long: 'moreStats', desc: 'Print more stats' },
    { short: 'i', long: 'interval', arg: 'arg', desc: 'print again every this many seconds, until interrupted' },
    { short: 'c', long: 'clusterName', arg: 'arg', desc: 'which cluster' },
  ],
  async run(ctx) {
    const intervalSec = ctx.opts.int('interval', { min: 1, max: 86_400 });
    const clusterName = ctx.opts.str('clusterName') || undefined;
    const moreStats = ctx.opts.has('moreStats');
    if (clusterName !== undefined && (await ctx.api().clusterInfo()).clusterAddrTable[clusterName] === undefined) {
      throw new MQClientError(`cluster ${clusterName} is not known to the NameServer`);
    }
    const round = async () => ({ moreStats, brokers: await clusterRows(ctx, clusterName) });
    if (intervalSec === undefined) return round();
    for (;;) {
      ctx.emit(await round());
      await sleep(intervalSec * 1000);
      ctx.api().clearClusterInfoCache();
    }
  },
  text: (r) => (r.moreStats ? moreStatsTable(r.brokers) : baseInfoTable(r.brokers)),
};

// --- brokerStatus -------------------------------------------------------------------------------

interface BrokerStatusResult {
  /** One entry per broker address asked. */
  brokers: { addr: string; table: Record<string, string> }[];
  withAddr: boolean;
}

export const brokerStatus: CommandSpec<BrokerStatusResult> = {
  name: 'brokerStatus',
  desc: 'Fetch broker runtime status data.',
  options: [
    { short: 'b', long: 'brokerAddr', arg: 'arg', desc: 'Broker address' },
    { short: 'c', long: 'clusterName', arg: 'arg', desc: 'which cluster' },
  ],
  oneOf: [['brokerAddr', 'clusterName']],
  async run(ctx) {
    const api = ctx.api();
    const brokerAddr = ctx.opts.str('brokerAddr');
    if (brokerAddr !== undefined) return { withAddr: false, brokers: [{ addr: brokerAddr, table: await api.runtimeInfo(brokerAddr) }] };
    const brokers: BrokerStatusResult['brokers'] = [];
    for (const { addr } of await api.allAddrsOfCluster(ctx.opts.need('clusterName'))) {
      try {
        brokers.push({ addr, table: await api.runtimeInfo(addr) });
      } catch (error) {
        ctx.fail(`runtime info of ${addr} failed`, error);
      }
    }
    return { withAddr: true, brokers };
  },
  text(r) {
    const lines: string[] = [];
    for (const b of r.brokers) {
      const keys = Object.keys(b.table).sort();
      const width = Math.max(32, ...keys.map((k) => k.length));
      const addrWidth = Math.max(24, b.addr.length);
      for (const k of keys) lines.push(`${r.withAddr ? `${b.addr.padEnd(addrWidth)} ` : ''}${k.padEnd(width)}: ${b.table[k]}`);
    }
    return lines.join('\n');
  },
  json: (r) => ({ brokers: Object.fromEntries(r.brokers.map((b) => [b.addr, b.table])) }),
};

// --- getBrokerConfig ----------------------------------------------------------------------------

interface BrokerConfigEntry {
  addr: string;
  role: 'broker' | 'master' | 'slave';
  masterAddr?: string;
  config: Record<string, string>;
}

export const getBrokerConfig: CommandSpec<BrokerConfigEntry[]> = {
  name: 'getBrokerConfig',
  desc: 'Get broker config by cluster or special broker.',
  options: [
    { short: 'b', long: 'brokerAddr', arg: 'arg', desc: 'get which broker' },
    { short: 'c', long: 'clusterName', arg: 'arg', desc: 'get which cluster' },
  ],
  oneOf: [['brokerAddr', 'clusterName']],
  async run(ctx) {
    const api = ctx.api();
    const brokerAddr = ctx.opts.str('brokerAddr');
    if (brokerAddr !== undefined) return [{ addr: brokerAddr, role: 'broker', config: Object.fromEntries(await api.brokerConfig(brokerAddr)) }];
    const out: BrokerConfigEntry[] = [];
    const addrs = await api.allAddrsOfCluster(ctx.opts.need('clusterName'));
    for (const { brokerName, brokerId, addr } of addrs) {
      const masterAddr = addrs.find((a) => a.brokerName === brokerName && a.brokerId === MASTER_ID)?.addr;
      try {
        const config = Object.fromEntries(await api.brokerConfig(addr));
        out.push(brokerId === MASTER_ID ? { addr, role: 'master', config } : { addr, role: 'slave', masterAddr: masterAddr ?? 'NO_MASTER', config });
      } catch (error) {
        ctx.fail(`get broker config of ${addr} failed`, error);
      }
    }
    return out;
  },
  text(entries) {
    const lines: string[] = [];
    for (const e of entries) {
      if (e.role === 'broker') lines.push(`============${e.addr}============`);
      else if (e.role === 'master') lines.push(`============Master: ${e.addr}============`);
      else lines.push(`============My Master: ${e.masterAddr}=====Slave: ${e.addr}============`);
      const keys = Object.keys(e.config);
      if (keys.length === 0) lines.push(`Broker[${e.addr}] has no config property!`);
      for (const k of keys) lines.push(`${k.padEnd(50)}=  ${e.config[k]}`);
      lines.push('');
    }
    return lines.join('\n');
  },
};

// --- updateBrokerConfig -------------------------------------------------------------------------

interface UpdateBrokerConfigResult {
  key: string;
  value: string;
  brokers: { addr: string; success: boolean; error?: string }[];
}

export const updateBrokerConfig: CommandSpec<UpdateBrokerConfigResult> = {
  name: 'updateBrokerConfig',
  desc: "Update broker's config.",
  options: [
    { short: 'b', long: 'brokerAddr', arg: 'arg', desc: 'update which broker' },
    { short: 'c', long: 'clusterName', arg: 'arg', desc: 'update which cluster' },
    { short: 'a', long: 'updateAllBroker', arg: 'arg', desc: 'with -c: update all brokers include slave (true|false)' },
    { short: 'k', long: 'key', arg: 'arg', desc: 'config key', required: true },
    { short: 'v', long: 'value', arg: 'arg', desc: 'config value', required: true },
  ],
  oneOf: [['brokerAddr', 'clusterName']],
  async run(ctx) {
    const key = ctx.opts.need('key');
    const value = ctx.opts.str('value') ?? '';
    if (/[=:\s]/.test(key)) throw new UsageError(`bad config key "${key}"`);
    if (/[\r\n]/.test(value)) throw new UsageError('a config value cannot contain line breaks');
    const all = ctx.opts.bool('updateAllBroker') ?? false;
    const api = ctx.api();
    const brokerAddr = ctx.opts.str('brokerAddr');
    const result: UpdateBrokerConfigResult = { key, value, brokers: [] };
    if (brokerAddr !== undefined) {
      await api.updateBrokerConfig(brokerAddr, { [key]: value });
      result.brokers.push({ addr: brokerAddr, success: true });
      return result;
    }
    const clusterName = ctx.opts.need('clusterName');
    const addrs = all ? (await api.allAddrsOfCluster(clusterName)).map((a) => a.addr) : await api.masterAddrsOfCluster(clusterName);
    for (const addr of addrs) {
      try {
        await api.updateBrokerConfig(addr, { [key]: value });
        result.brokers.push({ addr, success: true });
      } catch (error) {
        ctx.fail(`update broker config of ${addr} failed`, error);
        result.brokers.push({ addr, success: false, error: (error as Error).message });
      }
    }
    return result;
  },
  text: (r) => r.brokers.filter((b) => b.success).map((b) => `update broker config success, ${b.addr}`).join('\n'),
};
