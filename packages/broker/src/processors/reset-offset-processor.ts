// INVOKE_BROKER_TO_RESET_OFFSET (222), what `mqadmin resetOffsetByTime` asks of each broker
// (Broker2Client.resetOffset): per queue of the topic, the offset at the timestamp (or the given
// offset of one queue), kept only when it goes back unless forced; the group's committed offsets are
// set to it, and every online member is told with RESET_CONSUMER_CLIENT_OFFSET (220, oneway), so a
// running consumer drops what it holds and starts again from there instead of committing over it.
import { RequestCode, ResponseCode } from '@orbit/common';
import { createRequest, createResponse, optionalBool, optionalInt, optionalLong, requireLong, requireString, type RemotingCommand } from '@orbit/remoting';
import type { BrokerContext } from '../broker-context.js';
import { messageQueueKeyedJson } from '../queue-keyed-json.js';

/** fastjson's ResetOffsetBody: `{"offsetTable":{<mq>:<offset>,…}}`. */
export function resetOffsetBodyJson(entries: { topic: string; brokerName: string; queueId: number; offset: number }[]): string {
  return `{"offsetTable":${messageQueueKeyedJson(entries.map((e) => [e, e.offset]))}}`;
}

export class ResetOffsetProcessor {
  constructor(private readonly ctx: BrokerContext) {}

  process(req: RemotingCommand): RemotingCommand {
    const { ctx } = this;
    const topic = requireString(req, 'topic');
    const group = requireString(req, 'group');
    const timestamp = requireLong(req, 'timestamp');
    const isForce = optionalBool(req, 'isForce', true);
    const onlyQueueId = optionalInt(req, 'queueId', -1);
    const givenOffset = optionalLong(req, 'offset', -1);
    const config = ctx.topics.get(topic);
    if (!config) return createResponse(req, ResponseCode.SYSTEM_ERROR, `[reset-offset] topic does not exist, ${topic}`, {});
    if (onlyQueueId >= config.writeQueueNums) return createResponse(req, ResponseCode.INVALID_PARAMETER, `queueId ${onlyQueueId} is not a queue of ${topic} (${config.writeQueueNums} queues)`, {});

    const entries: { topic: string; brokerName: string; queueId: number; offset: number }[] = [];
    for (let queueId = 0; queueId < config.writeQueueNums; queueId++) {
      if (onlyQueueId >= 0 && queueId !== onlyQueueId) continue;
      const min = ctx.store.getMinOffsetInQueue(topic, queueId);
      const max = ctx.store.getMaxOffsetInQueue(topic, queueId);
      let target: number;
      if (onlyQueueId >= 0 && givenOffset >= 0) target = Math.min(Math.max(givenOffset, min), max);
      else if (timestamp === -1) target = max;
      else target = Math.max(0, ctx.store.getOffsetInQueueByTime(topic, queueId, timestamp));
      const committed = ctx.offsets.query(group, topic, queueId);
      // Not forced: only a reset that goes back is applied (a consumer never skips messages by it).
      const offset = isForce || committed < 0 || target < committed ? target : committed;
      ctx.offsets.commit(group, topic, queueId, offset);
      entries.push({ topic, brokerName: ctx.config.brokerName, queueId, offset });
    }
    const body = Buffer.from(resetOffsetBodyJson(entries));

    const members = [...(ctx.clients.consumers.get(group)?.channels.values() ?? [])].filter((c) => !c.conn.closed);
    if (members.length === 0) {
      return createResponse(req, ResponseCode.CONSUMER_NOT_ONLINE, `Consumer not online, so can not reset offset, Group: ${group} Topic: ${topic} Timestamp: ${timestamp}`, {});
    }
    for (const member of members) {
      const notice = createRequest(RequestCode.RESET_CONSUMER_CLIENT_OFFSET, { topic, group, timestamp, isForce });
      notice.body = body;
      member.conn.invokeOneway(notice).catch(() => {});
    }
    const res = createResponse(req, ResponseCode.SUCCESS, undefined, {});
    res.body = body;
    return res;
  }
}
