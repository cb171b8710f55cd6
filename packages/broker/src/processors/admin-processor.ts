// Admin and query requests (AdminBrokerProcessor, QueryMessageProcessor): topics, subscription
// groups, offsets, stats, and looking messages up by id or key. Bodies in RocketMQ's JSON shapes.
import { ResponseCode, topicNameProblem } from '@orbit/common';
import {
  createResponse,
  optionalBool,
  optionalInt,
  optionalString,
  parseLenientJson,
  requireInt,
  requireLong,
  requireString,
  type RemotingCommand,
} from '@orbit/remoting';
import type { BrokerContext } from '../broker-context.js';
import { messageQueueKeyedJson } from '../queue-keyed-json.js';
import { subscriptionGroupConfig, type SubscriptionGroupConfig } from '../subscription-group-manager.js';
import { topicConfig } from '../topic-config-manager.js';

const fail = (req: RemotingCommand, code: number, remark: string) => createResponse(req, code, remark, {});
const ok = (req: RemotingCommand, extFields: Record<string, string | number | boolean | undefined> = {}, body?: unknown) => {
  const res = createResponse(req, ResponseCode.SUCCESS, undefined, extFields);
  if (body !== undefined) res.body = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return res;
};


const MAX_QUERY_RESULTS = 64;

export class AdminProcessor {
  constructor(private readonly ctx: BrokerContext) {}

  createTopic(req: RemotingCommand): RemotingCommand {
    const topic = requireString(req, 'topic');
    const problem = topicNameProblem(topic);
    if (problem) return fail(req, ResponseCode.INVALID_PARAMETER, problem);
    if (topic === this.ctx.config.brokerClusterName) return fail(req, ResponseCode.INVALID_PARAMETER, `the topic[${topic}] is conflict with system topic.`);
    const readQueueNums = requireInt(req, 'readQueueNums');
    const writeQueueNums = requireInt(req, 'writeQueueNums');
    const perm = requireInt(req, 'perm');
    if (readQueueNums < 0 || writeQueueNums < 0 || readQueueNums > 65535 || writeQueueNums > 65535) {
      return fail(req, ResponseCode.INVALID_PARAMETER, `queue numbers must be within 0..65535, got read ${readQueueNums} write ${writeQueueNums}`);
    }
    if (perm < 0 || perm > 15) return fail(req, ResponseCode.INVALID_PARAMETER, `perm ${perm} is not a permission (0..15)`);
    const filterType = optionalString(req, 'topicFilterType', 'SINGLE_TAG');
    this.ctx.topics.upsert(
      topicConfig(topic, 0, perm, {
        readQueueNums,
        writeQueueNums,
        topicFilterType: filterType === 'MULTI_TAG' ? 'MULTI_TAG' : 'SINGLE_TAG',
        topicSysFlag: optionalInt(req, 'topicSysFlag', 0),
        order: optionalBool(req, 'order', false),
      }),
    );
    this.ctx.registerBrokerSoon();
    return ok(req);
  }

  deleteTopic(req: RemotingCommand): RemotingCommand {
    const topic = requireString(req, 'topic');
    this.ctx.topics.delete(topic);
    this.ctx.offsets.removeTopic(topic);
    this.ctx.registerBrokerSoon();
    return ok(req);
  }

  allTopicConfig(req: RemotingCommand): RemotingCommand {
    return ok(req, {}, {
      topicConfigTable: this.ctx.topics.topicConfigTable(),
      dataVersion: this.ctx.topics.dataVersion,
      topicQueueMappingInfoMap: {},
      topicQueueMappingDetailMap: {},
      mappingDataVersion: { stateVersion: 0, timestamp: 0, counter: 0 },
    });
  }

  createSubscriptionGroup(req: RemotingCommand): RemotingCommand {
    let json: unknown;
    try {
      json = parseLenientJson((req.body ?? Buffer.alloc(0)).toString('utf8'));
    } catch (err) {
      return fail(req, ResponseCode.SYSTEM_ERROR, `subscription group body is not JSON: ${(err as Error).message}`);
    }
    const c = json as Partial<SubscriptionGroupConfig> | null;
    if (!c || typeof c !== 'object' || typeof c.groupName !== 'string' || c.groupName === '') {
      return fail(req, ResponseCode.SYSTEM_ERROR, 'subscription group body needs a groupName');
    }
    this.ctx.groups.upsert(subscriptionGroupConfig(c.groupName, c));
    return ok(req);
  }

  deleteSubscriptionGroup(req: RemotingCommand): RemotingCommand {
    const group = requireString(req, 'groupName');
    this.ctx.groups.delete(group);
    if (optionalBool(req, 'cleanOffset', false)) this.ctx.offsets.removeGroup(group);
    return ok(req);
  }

  allSubscriptionGroups(req: RemotingCommand): RemotingCommand {
    return ok(req, {}, { subscriptionGroupTable: Object.fromEntries(this.ctx.groups.all().map((g) => [g.groupName, g])), forbiddenTable: {}, dataVersion: this.ctx.groups.dataVersion });
  }

  /** GET_ALL_CONSUMER_OFFSET (43): consumerOffset.json's content, for slaves (ConsumerOffsetSerializeWrapper). */
  allConsumerOffsets(req: RemotingCommand): RemotingCommand {
    return ok(req, {}, this.ctx.offsets.wrapper());
  }

  maxOffset(req: RemotingCommand): RemotingCommand {
    return ok(req, { offset: this.ctx.store.getMaxOffsetInQueue(requireString(req, 'topic'), requireInt(req, 'queueId')) });
  }

  minOffset(req: RemotingCommand): RemotingCommand {
    return ok(req, { offset: this.ctx.store.getMinOffsetInQueue(requireString(req, 'topic'), requireInt(req, 'queueId')) });
  }

  searchOffset(req: RemotingCommand): RemotingCommand {
    const boundary = optionalString(req, 'boundaryType', 'LOWER') === 'UPPER' ? 'UPPER' : 'LOWER';
    return ok(req, { offset: this.ctx.store.getOffsetInQueueByTime(requireString(req, 'topic'), requireInt(req, 'queueId'), requireLong(req, 'timestamp'), boundary) });
  }

  earliestMessageTime(req: RemotingCommand): RemotingCommand {
    return ok(req, { timestamp: this.ctx.store.getEarliestMessageTime(requireString(req, 'topic'), requireInt(req, 'queueId')) ?? -1 });
  }

  viewMessageById(req: RemotingCommand): RemotingCommand {
    const offset = requireLong(req, 'offset');
    const record = this.ctx.store.getMessageByPhysicalOffset(offset);
    if (!record) return fail(req, ResponseCode.SYSTEM_ERROR, `can not find message by the offset, ${offset}`);
    return ok(req, {}, record);
  }

  queryMessage(req: RemotingCommand): RemotingCommand {
    const topic = requireString(req, 'topic');
    const key = requireString(req, 'key');
    let maxNum = Math.min(MAX_QUERY_RESULTS, Math.max(1, requireInt(req, 'maxNum')));
    if (optionalString(req, '_UNIQUE_KEY_QUERY') === 'true') maxNum = 32;
    const begin = requireLong(req, 'beginTimestamp');
    const end = requireLong(req, 'endTimestamp');
    const records = this.ctx.store.queryMessagesByKey(topic, key, maxNum, begin, end);
    if (records.length === 0) return fail(req, ResponseCode.QUERY_NOT_FOUND, 'can not find message, maybe time range not correct');
    const res = ok(req, { indexLastUpdateTimestamp: Date.now(), indexLastUpdatePhyoffset: this.ctx.store.dispatchedOffset });
    res.bodyParts = records;
    return res;
  }

  runtimeInfo(req: RemotingCommand): RemotingCommand {
    const { ctx } = this;
    const uptimeMs = Date.now() - ctx.bootTimestamp;
    const table: Record<string, string> = {
      brokerVersionDesc: 'V5_3_3 (Orbit)',
      brokerVersion: '479',
      bootTimestamp: String(ctx.bootTimestamp),
      runtime: `[ ${Math.floor(uptimeMs / 86_400_000)} days, ${Math.floor(uptimeMs / 3_600_000) % 24} hours, ${Math.floor(uptimeMs / 60_000) % 60} minutes, ${Math.floor(uptimeMs / 1000) % 60} seconds ]`,
      msgPutTotalTodayNow: String(ctx.stats.putMessages),
      msgGetTotalTodayNow: String(ctx.stats.getMessages),
      putTps: '0',
      getTransferredTps: '0',
      commitLogMinOffset: String(ctx.store.commitLogMinOffset),
      commitLogMaxOffset: String(ctx.store.commitLogMaxOffset),
      dispatchBehindBytes: String(Math.max(0, ctx.store.commitLogMaxOffset - ctx.store.dispatchedOffset)),
      pullThreadPoolQueueSize: String(ctx.holds.heldCount),
      brokerRole: ctx.config.brokerRole,
      flushDiskType: ctx.storeConfig.flushDiskType,
      earliestMessageTimeStamp: '0',
      ...this.replicationInfo(),
    };
    return ok(req, {}, { table });
  }

  /**
   * RocketMQ's HA lines of the runtime info. A master: how far its slave has acknowledged and how far
   * behind that is (slaveFallBehindMuch, as DefaultMessageStore.slaveFallBehindMuch); a slave: its
   * master's address and whether the HA connection is up.
   */
  private replicationInfo(): Record<string, string> {
    const ha = this.ctx.store.haStatus();
    if (ha.role === 'SLAVE') {
      return {
        masterAddr: this.ctx.masterLink?.masterAddr ?? '',
        haMasterAddr: this.ctx.storeConfig.haMasterAddress || this.ctx.masterLink?.haServerAddr || '',
        haMasterConnected: String(ha.masterConnected),
        haReceivedOffset: String(ha.receivedOffset),
        slaveSyncLastSuccess: String(this.ctx.slaveSync?.lastFullSuccessMs ?? 0),
      };
    }
    return {
      haListenPort: String(ha.haListenPort),
      haConnectedSlaves: String(ha.connectedSlaves),
      slaveAckOffset: String(ha.slaveAckOffset),
      slaveFallBehindMuch: String(ha.connectedSlaves > 0 ? Math.max(0, ha.commitLogMaxOffset - ha.slaveAckOffset) : ha.commitLogMaxOffset),
    };
  }

  topicStats(req: RemotingCommand): RemotingCommand {
    const topic = requireString(req, 'topic');
    const config = this.ctx.topics.get(topic);
    if (!config) return fail(req, ResponseCode.TOPIC_NOT_EXIST, `topic[${topic}] not exist`);
    const entries: [{ topic: string; brokerName: string; queueId: number }, unknown][] = [];
    for (let q = 0; q < config.writeQueueNums; q++) {
      entries.push([
        { topic, brokerName: this.ctx.config.brokerName, queueId: q },
        { minOffset: this.ctx.store.getMinOffsetInQueue(topic, q), maxOffset: this.ctx.store.getMaxOffsetInQueue(topic, q), lastUpdateTimestamp: 0 },
      ]);
    }
    return ok(req, {}, `{"offsetTable":${messageQueueKeyedJson(entries)}}`);
  }

  consumeStats(req: RemotingCommand): RemotingCommand {
    const group = requireString(req, 'consumerGroup');
    const onlyTopic = optionalString(req, 'topic');
    const topics = onlyTopic ? [onlyTopic] : this.ctx.offsets.topicsOfGroup(group);
    const entries: [{ topic: string; brokerName: string; queueId: number }, unknown][] = [];
    for (const topic of topics) {
      const config = this.ctx.topics.get(topic);
      if (!config) continue;
      for (let q = 0; q < config.readQueueNums; q++) {
        const consumerOffset = Math.max(0, this.ctx.offsets.query(group, topic, q));
        entries.push([
          { topic, brokerName: this.ctx.config.brokerName, queueId: q },
          { brokerOffset: this.ctx.store.getMaxOffsetInQueue(topic, q), consumerOffset, pullOffset: consumerOffset, lastTimestamp: 0 },
        ]);
      }
    }
    return ok(req, {}, `{"consumeTps":0,"offsetTable":${messageQueueKeyedJson(entries)}}`);
  }

  consumerConnectionList(req: RemotingCommand): RemotingCommand {
    const group = requireString(req, 'consumerGroup');
    const info = this.ctx.clients.consumers.get(group);
    if (!info) return fail(req, ResponseCode.CONSUMER_NOT_ONLINE, `the consumer group[${group}] not online`);
    return ok(req, {}, {
      connectionSet: [...info.channels.values()].map((c) => ({ clientId: c.clientId, clientAddr: c.conn.remoteAddress, language: c.language, version: c.version })),
      subscriptionTable: Object.fromEntries(info.subscriptions),
      consumeType: info.consumeType,
      messageModel: info.messageModel,
      consumeFromWhere: info.consumeFromWhere,
    });
  }
}
