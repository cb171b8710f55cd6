// Who consumes what: QUERY_TOPIC_CONSUME_BY_WHO (300) from the broker's own tables, and
// GET_CONSUMER_RUNNING_INFO (307) passed on to the client that knows (AdminBrokerProcessor
// .getConsumerRunningInfo → Broker2Client.callClient): mqadmin's `topicList -c` and
// `consumerProgress -s true` ask these.
import { RequestCode, ResponseCode } from '@orbit/common';
import { createRequest, createResponse, optionalBool, requireString, type RemotingCommand } from '@orbit/remoting';
import type { BrokerContext } from '../broker-context.js';

/** How long the broker waits for a client's running info (RocketMQ: 5 s). */
export const CONSUMER_RUNNING_INFO_TIMEOUT_MS = 5_000;

export class ConsumerQueryProcessor {
  constructor(private readonly ctx: BrokerContext) {}

  /** Groups online with a subscription to the topic, and groups with an offset committed on it. */
  topicConsumedBy(req: RemotingCommand): RemotingCommand {
    const topic = requireString(req, 'topic');
    const groups = new Set(this.ctx.offsets.groupsOfTopic(topic));
    for (const [group, info] of this.ctx.clients.consumers) if (info.subscriptions.has(topic)) groups.add(group);
    const res = createResponse(req, ResponseCode.SUCCESS, undefined, {});
    res.body = Buffer.from(JSON.stringify({ groupList: [...groups].sort() }));
    return res;
  }

  async consumerRunningInfo(req: RemotingCommand): Promise<RemotingCommand> {
    const group = requireString(req, 'consumerGroup');
    const clientId = requireString(req, 'clientId');
    const channel = this.ctx.clients.consumers.get(group)?.channels.get(clientId);
    if (!channel || channel.conn.closed) return createResponse(req, ResponseCode.SYSTEM_ERROR, `The Consumer <${group}> <${clientId}> not online`, {});
    const ask = createRequest(RequestCode.GET_CONSUMER_RUNNING_INFO, { consumerGroup: group, clientId, jstackEnable: optionalBool(req, 'jstackEnable', false) });
    try {
      const answer = await channel.conn.invoke(ask, CONSUMER_RUNNING_INFO_TIMEOUT_MS);
      const res = createResponse(req, answer.code, answer.remark, {});
      if (answer.body) res.body = answer.body;
      return res;
    } catch (error) {
      return createResponse(req, ResponseCode.SYSTEM_ERROR, `invoke consumer <${group}> <${clientId}> failed: ${(error as Error).message}`, {});
    }
  }
}
