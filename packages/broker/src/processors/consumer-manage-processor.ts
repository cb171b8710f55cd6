// QUERY_CONSUMER_OFFSET (14), UPDATE_CONSUMER_OFFSET (15), GET_CONSUMER_LIST_BY_GROUP (38)
// (facts §2.5, §2.6).
import { ResponseCode } from '@orbit/common';
import { createResponse, optionalBool, requireInt, requireLong, requireString, type RemotingCommand } from '@orbit/remoting';
import type { BrokerContext } from '../broker-context.js';

export class ConsumerManageProcessor {
  constructor(private readonly ctx: BrokerContext) {}

  queryOffset(req: RemotingCommand): RemotingCommand {
    const group = requireString(req, 'consumerGroup');
    const topic = requireString(req, 'topic');
    const queueId = requireInt(req, 'queueId');
    const offset = this.ctx.offsets.query(group, topic, queueId);
    if (offset >= 0) return createResponse(req, ResponseCode.SUCCESS, undefined, { offset });
    // No committed offset. A young queue (nothing removed yet) starts a new group at 0, even when it
    // asked for the last offset: RocketMQ's surprising but relied-upon rule (facts §2.5).
    const setZeroIfNotFound = optionalBool(req, 'setZeroIfNotFound', true);
    if (setZeroIfNotFound && this.ctx.store.getMinOffsetInQueue(topic, queueId) <= 0) {
      return createResponse(req, ResponseCode.SUCCESS, undefined, { offset: 0 });
    }
    return createResponse(req, ResponseCode.QUERY_NOT_FOUND, 'Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first', {});
  }

  updateOffset(req: RemotingCommand): RemotingCommand {
    const group = requireString(req, 'consumerGroup');
    const topic = requireString(req, 'topic');
    const queueId = requireInt(req, 'queueId');
    const commitOffset = requireLong(req, 'commitOffset');
    // Negative offsets are ignored, not refused (ali-ons sends 0 as -1). A slave keeps them too: a
    // consumer commits here while the master is away and reads them back (QUERY_CONSUMER_OFFSET);
    // once the master answers again SlaveSynchronize overwrites them with the master's table.
    this.ctx.offsets.commit(group, topic, queueId, commitOffset);
    return createResponse(req, ResponseCode.SUCCESS, undefined, {});
  }

  consumerList(req: RemotingCommand): RemotingCommand {
    const group = requireString(req, 'consumerGroup');
    const ids = this.ctx.clients.consumerIds(group);
    if (ids.length === 0) return createResponse(req, ResponseCode.SYSTEM_ERROR, `no consumer for this group, ${group}`, {});
    const res = createResponse(req, ResponseCode.SUCCESS, undefined, {});
    res.body = Buffer.from(JSON.stringify({ consumerIdList: ids }));
    return res;
  }
}
