// PULL_MESSAGE (11) and LITE_PULL_MESSAGE (361): checks as PullMessageProcessor, a read from the
// store, statuses and next offsets as facts §2.4, the body as raw stored records (slices of the
// mapped log, written without joining), and long polling when nothing is there yet.
//
// Masters and slaves (facts §6.4, README "Replication"): every answer suggests which broker id the
// consumer should pull from next. A slave with slaveReadEnable=false sends consumers back to the
// master while its HA connection is up, and serves them while it is down, so consumption goes on
// without the master. A slave never takes a commit riding on a pull, and does not correct offsets
// it lacks (it may just be behind): such a pull waits, like one that found nothing.
import { totalmem } from 'node:os';
import { isReadable, Perm, readInt64BE, RecordField, ResponseCode } from '@orbit/common';
import { createResponse, optionalInt, optionalLong, optionalString, requireInt, requireLong, requireString, type RemotingCommand, type RemotingConnection } from '@orbit/remoting';
import type { GetMessageStatus } from '@orbit/store';
import type { BrokerContext } from '../broker-context.js';
import type { HeldPull } from '../pull-request-hold-service.js';
import { SubscriptionFilters } from '../subscription-filter.js';
import type { SubscriptionGroupConfig } from '../subscription-group-manager.js';
import { topicConfig as topicConfigOf } from '../topic-config-manager.js';

export const PullSysFlag = { COMMIT_OFFSET: 1, SUSPEND: 2, SUBSCRIPTION: 4, CLASS_FILTER: 8, LITE_PULL: 16 } as const;

/** Longest hold honoured, whatever the client asks: every wait has a bound, below the idle timeout. */
const MAX_HOLD_MS = 60_000;
/** brokerId 0 is the master of a broker group (facts §3.1). */
const MASTER_ID = 0;

const fail = (req: RemotingCommand, code: number, remark: string) => createResponse(req, code, remark, {});

export function pullStatusToCode(status: GetMessageStatus, requestOffset: number): number {
  switch (status) {
    case 'FOUND':
      return ResponseCode.SUCCESS;
    case 'MESSAGE_WAS_REMOVING':
    case 'NO_MATCHED_MESSAGE':
      return ResponseCode.PULL_RETRY_IMMEDIATELY;
    case 'NO_MESSAGE_IN_QUEUE':
    case 'NO_MATCHED_LOGIC_QUEUE':
      return requestOffset !== 0 ? ResponseCode.PULL_OFFSET_MOVED : ResponseCode.PULL_NOT_FOUND;
    case 'OFFSET_FOUND_NULL':
    case 'OFFSET_OVERFLOW_ONE':
      return ResponseCode.PULL_NOT_FOUND;
    default:
      return ResponseCode.PULL_OFFSET_MOVED;
  }
}

export class PullMessageProcessor {
  /** Read once: os.totalmem() reads /proc/meminfo. */
  private readonly totalMemoryBytes = totalmem();
  private readonly slave: boolean;
  /** Compiled SQL92 subscriptions, bounded. */
  private readonly filters: SubscriptionFilters;

  constructor(private readonly ctx: BrokerContext) {
    this.slave = ctx.config.brokerRole === 'SLAVE';
    this.filters = new SubscriptionFilters(ctx.config);
  }

  /** Handler: null means "held; answered later". */
  async process(req: RemotingCommand, conn: RemotingConnection): Promise<RemotingCommand | null> {
    return this.pull(req, conn, true);
  }

  /** What the hold service calls when a held pull wakes: answer without holding again. */
  readonly replay = async (held: HeldPull): Promise<void> => {
    const res = await this.pull(held.req, held.conn, false);
    if (res && !held.conn.closed) held.conn.writeResponse(held.req, res);
  };

  private async pull(req: RemotingCommand, conn: RemotingConnection, mayHold: boolean): Promise<RemotingCommand | null> {
    const { ctx } = this;
    const group = requireString(req, 'consumerGroup');
    const topic = requireString(req, 'topic');
    const queueId = requireInt(req, 'queueId');
    const offset = requireLong(req, 'queueOffset');
    const maxMsgNums = requireInt(req, 'maxMsgNums');
    const sysFlag = optionalInt(req, 'sysFlag', 0);
    const commitOffset = optionalLong(req, 'commitOffset', -1);
    const suspendTimeoutMillis = optionalLong(req, 'suspendTimeoutMillis', 15_000);
    const subVersion = optionalLong(req, 'subVersion', 0);
    const expressionType = optionalString(req, 'expressionType', 'TAG');

    if (!isReadable(ctx.config.brokerPermission)) return fail(req, ResponseCode.NO_PERMISSION, `the broker[${ctx.config.brokerName}] pulling message is forbidden`);
    if (this.slave && !ctx.config.slaveReadEnable && ctx.store.haStatus().masterConnected) {
      // Before any check: the master knows this group and topic even when this slave has not synced them yet.
      return createResponse(req, ResponseCode.PULL_RETRY_IMMEDIATELY, 'the slave does not serve reads while its master is up (slaveReadEnable=false)', {
        suggestWhichBrokerId: MASTER_ID,
        nextBeginOffset: offset,
        minOffset: ctx.store.getMinOffsetInQueue(topic, queueId),
        maxOffset: ctx.store.getMaxOffsetInQueue(topic, queueId),
      });
    }
    const groupConfig = ctx.groups.findOrCreate(group);
    if (!groupConfig) return fail(req, ResponseCode.SUBSCRIPTION_GROUP_NOT_EXIST, `subscription group [${group}] does not exist`);
    if (!groupConfig.consumeEnable) return fail(req, ResponseCode.NO_PERMISSION, `subscription group no permission, ${group}`);
    let topicConfig = ctx.topics.get(topic);
    // A slave learns topics from its master every slaveSyncIntervalMs, but their messages arrive
    // with the log at once: a queue the replicated log already holds is served before the sync
    // (a master that died right after creating the topic would otherwise leave it unreadable).
    if (!topicConfig && ctx.config.brokerRole === 'SLAVE' && queueId >= 0 && ctx.store.getMaxOffsetInQueue(topic, queueId) > 0) {
      topicConfig = topicConfigOf(topic, queueId + 1, Perm.READ | Perm.WRITE);
    }
    if (!topicConfig) return fail(req, ResponseCode.TOPIC_NOT_EXIST, `topic[${topic}] not exist, apply first please!`);
    if (!isReadable(topicConfig.perm)) return fail(req, ResponseCode.NO_PERMISSION, `the topic[${topic}] pulling message is forbidden`);
    if (queueId < 0 || queueId >= topicConfig.readQueueNums) {
      return fail(req, ResponseCode.SYSTEM_ERROR, `queueId[${queueId}] is illegal, topic:[${topic}] topicConfig.readQueueNums:[${topicConfig.readQueueNums}] consumer:[${conn.remoteAddress}]`);
    }
    if (maxMsgNums <= 0) return fail(req, ResponseCode.INVALID_PARAMETER, `maxMsgNums ${maxMsgNums} must be positive`);
    if (offset < 0) return fail(req, ResponseCode.INVALID_PARAMETER, `queueOffset ${offset} is negative`);

    let subString: string;
    let subType = expressionType;
    if (sysFlag & PullSysFlag.SUBSCRIPTION) {
      subString = optionalString(req, 'subscription', '*');
    } else {
      const groupInfo = ctx.clients.consumers.get(group);
      if (!groupInfo) return fail(req, ResponseCode.SUBSCRIPTION_NOT_EXIST, `the consumer's group info not exist, group: ${group}`);
      const sub = groupInfo.subscriptions.get(topic);
      if (!sub) return fail(req, ResponseCode.SUBSCRIPTION_NOT_EXIST, `the consumer's subscription not exist, group: ${group} topic: ${topic}`);
      if (sub.subVersion < subVersion) return fail(req, ResponseCode.SUBSCRIPTION_NOT_LATEST, `the consumer's subscription not latest, group: ${group}`);
      subString = sub.subString;
      subType = sub.expressionType;
    }
    // TAG, or SQL92 with enablePropertyFilter (else NO_PERMISSION); a bad expression: SUBSCRIPTION_PARSE_FAILED.
    const filter = this.filters.forPull(group, topic, subType, subString);
    if (!filter.ok) return fail(req, filter.code, filter.remark);

    const result = ctx.store.getMessage(topic, queueId, offset, maxMsgNums, filter.filter);
    let code = pullStatusToCode(result.status, offset);
    let nextBeginOffset = result.nextBeginOffset;
    if (code === ResponseCode.PULL_OFFSET_MOVED && this.slave && !ctx.config.offsetCheckInSlave) {
      // A slave may merely lag: keep the consumer's offset. RocketMQ answers PULL_RETRY_IMMEDIATELY
      // here, which makes the client ask again at once, in a loop while the slave stays behind;
      // answering "nothing yet" holds the pull until the queue grows, the same for the client's offset.
      code = ResponseCode.PULL_NOT_FOUND;
      nextBeginOffset = offset;
    }
    if (mayHold && code === ResponseCode.PULL_NOT_FOUND && sysFlag & PullSysFlag.SUSPEND) {
      const holdMs = ctx.config.longPollingEnable ? Math.min(Math.max(0, suspendTimeoutMillis), MAX_HOLD_MS) : ctx.config.shortPollingTimeMills;
      if (ctx.holds.hold(req, conn, topic, queueId, offset, holdMs, result.maxOffset)) {
        this.commit(sysFlag, group, topic, queueId, commitOffset);
        return null;
      }
    }
    // A held pull replayed later (mayHold false) committed its offset when it arrived; committing that
    // old value again could move the group back behind a commit made meanwhile (RocketMQ:
    // storeOffsetEnable needs brokerAllowSuspend). Orderly handoffs rely on this (orderly.test.ts).
    if (mayHold) this.commit(sysFlag, group, topic, queueId, commitOffset);
    const res = createResponse(req, code, result.status, {
      suggestWhichBrokerId: this.suggestBrokerId(groupConfig, result.messages),
      nextBeginOffset,
      minOffset: result.minOffset,
      maxOffset: result.maxOffset,
    });
    if (code === ResponseCode.SUCCESS) {
      res.bodyParts = result.messages;
      ctx.stats.getMessages += result.messages.length;
      ctx.stats.getBytes += result.totalBytes;
    }
    return res;
  }

  /**
   * Where the consumer should pull next (facts §6.4). With slaveReadEnable, a pull whose last message
   * lies further behind the log's end than accessMessageInMemoryMaxRatio of RAM reads cold data: the
   * group's whichBrokerWhenConsumeSlowly (a slave) should serve it; otherwise the group's brokerId.
   * Without it, always the master.
   */
  private suggestBrokerId(groupConfig: SubscriptionGroupConfig, messages: Buffer[]): number {
    if (!this.ctx.config.slaveReadEnable) return MASTER_ID;
    const last = messages[messages.length - 1];
    if (last === undefined) return groupConfig.brokerId;
    // Data further behind the log's end than this share of RAM is probably not in page cache.
    const inMemoryBytes = (this.totalMemoryBytes * this.ctx.config.accessMessageInMemoryMaxRatio) / 100;
    const behindBytes = this.ctx.store.commitLogMaxOffset - readInt64BE(last, RecordField.PHYSICALOFFSET);
    return behindBytes > inMemoryBytes ? groupConfig.whichBrokerWhenConsumeSlowly : groupConfig.brokerId;
  }

  /** The consumer's offset rides along on pulls (COMMIT_OFFSET flag); slaves do not keep them. */
  private commit(sysFlag: number, group: string, topic: string, queueId: number, commitOffset: number): void {
    if (sysFlag & PullSysFlag.COMMIT_OFFSET && this.ctx.config.brokerRole !== 'SLAVE') {
      this.ctx.offsets.commit(group, topic, queueId, commitOffset);
    }
  }
}
