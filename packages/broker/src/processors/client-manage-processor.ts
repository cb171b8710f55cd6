// HEART_BEAT (34) and UNREGISTER_CLIENT (35) (facts §2.6, §7.1): keep the producer and consumer
// tables, create %RETRY%<group> for every consumer group, and make sure a malformed body gets a
// clear remark. CHECK_CLIENT_CONFIG (46): can this broker serve a consumer's subscription (SQL92)?
import { javaStringHash, Perm, ResponseCode, retryTopic } from '@orbit/common';
import { createResponse, optionalString, parseLenientJson, requireString, type RemotingCommand, type RemotingConnection } from '@orbit/remoting';
import type { BrokerContext } from '../broker-context.js';
import type { SubscriptionData } from '../client-manager.js';
import { compileSubscription, isTagType, parseTags } from '../subscription-filter.js';

const MAX_GROUPS_PER_HEARTBEAT = 1024;
const MAX_SUBSCRIPTIONS_PER_GROUP = 1024;
/** A CHECK_CLIENT_CONFIG body holds one subscription (its expression at most 4096 characters). */
const MAX_CHECK_CLIENT_CONFIG_BODY_BYTES = 64 * 1024;

const fail = (req: RemotingCommand, code: number, remark: string) => createResponse(req, code, remark, {});

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown, fallback = ''): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : fallback);

export class ClientManageProcessor {
  constructor(private readonly ctx: BrokerContext) {}

  heartbeat(req: RemotingCommand, conn: RemotingConnection): RemotingCommand {
    let body: unknown;
    try {
      body = parseLenientJson((req.body ?? Buffer.alloc(0)).toString('utf8'));
    } catch (err) {
      return fail(req, ResponseCode.SYSTEM_ERROR, `heartbeat body is not JSON: ${(err as Error).message}`);
    }
    if (!isObject(body) || typeof body.clientID !== 'string' || body.clientID === '') {
      return fail(req, ResponseCode.SYSTEM_ERROR, 'heartbeat body must be an object with a clientID string');
    }
    const clientId = body.clientID;
    const channel = { clientId, conn, language: str(req.language, 'JAVA'), version: req.version, lastUpdateMs: Date.now() };
    const consumers = Array.isArray(body.consumerDataSet) ? body.consumerDataSet : [];
    const producers = Array.isArray(body.producerDataSet) ? body.producerDataSet : [];
    if (consumers.length > MAX_GROUPS_PER_HEARTBEAT || producers.length > MAX_GROUPS_PER_HEARTBEAT) {
      return fail(req, ResponseCode.SYSTEM_ERROR, `heartbeat carries more than ${MAX_GROUPS_PER_HEARTBEAT} groups`);
    }
    for (const c of consumers) {
      if (!isObject(c) || typeof c.groupName !== 'string' || c.groupName === '') return fail(req, ResponseCode.SYSTEM_ERROR, 'consumerDataSet entries need a groupName');
      const subs = Array.isArray(c.subscriptionDataSet) ? c.subscriptionDataSet : [];
      if (subs.length > MAX_SUBSCRIPTIONS_PER_GROUP) return fail(req, ResponseCode.SYSTEM_ERROR, `group ${c.groupName} has more than ${MAX_SUBSCRIPTIONS_PER_GROUP} subscriptions`);
      const subscriptions: SubscriptionData[] = [];
      for (const s of subs) {
        if (!isObject(s) || typeof s.topic !== 'string') return fail(req, ResponseCode.SYSTEM_ERROR, `a subscription of group ${c.groupName} has no topic`);
        const subString = str(s.subString, '*');
        const expressionType = str(s.expressionType, 'TAG');
        // A SQL92 expression is compiled when a pull uses it (a bad one fails that pull, not the heartbeat).
        const tags = !isTagType(expressionType) ? [] : Array.isArray(s.tagsSet) ? s.tagsSet.map((t) => str(t)) : parseTags(subString);
        subscriptions.push({
          topic: s.topic,
          subString,
          tagsSet: tags,
          codeSet: tags.map(javaStringHash),
          subVersion: Number(s.subVersion ?? 0) || 0,
          expressionType,
        });
      }
      const groupConfig = this.ctx.groups.findOrCreate(c.groupName);
      if (groupConfig) {
        const { created } = this.ctx.topics.createIfMissing(retryTopic(c.groupName), Math.max(1, groupConfig.retryQueueNums), Perm.READ | Perm.WRITE);
        if (created) this.ctx.registerBrokerSoon();
      }
      this.ctx.clients.registerConsumer(
        c.groupName,
        { consumeType: str(c.consumeType, 'CONSUME_PASSIVELY'), messageModel: str(c.messageModel, 'CLUSTERING'), consumeFromWhere: str(c.consumeFromWhere, 'CONSUME_FROM_LAST_OFFSET'), subscriptions },
        channel,
      );
    }
    for (const p of producers) {
      if (isObject(p) && typeof p.groupName === 'string' && p.groupName !== '') this.ctx.clients.registerProducer(p.groupName, channel);
    }
    return createResponse(req, ResponseCode.SUCCESS, undefined, {});
  }

  /**
   * CHECK_CLIENT_CONFIG (46), ClientManageProcessor.checkClientConfig: the body is
   * `{"clientId","group","subscriptionData":{topic, subString, expressionType, …}}`. TAG: SUCCESS;
   * SQL92 without enablePropertyFilter: SYSTEM_ERROR; an expression that does not compile:
   * SUBSCRIPTION_PARSE_FAILED with the parser's message; no subscription in the body: SUCCESS.
   */
  checkClientConfig(req: RemotingCommand): RemotingCommand {
    const raw = req.body ?? Buffer.alloc(0);
    if (raw.length > MAX_CHECK_CLIENT_CONFIG_BODY_BYTES) return fail(req, ResponseCode.SYSTEM_ERROR, `CHECK_CLIENT_CONFIG body of ${raw.length} bytes, at most ${MAX_CHECK_CLIENT_CONFIG_BODY_BYTES}`);
    if (raw.length === 0) return createResponse(req, ResponseCode.SUCCESS, undefined, {});
    let body: unknown;
    try {
      body = parseLenientJson(raw.toString('utf8'));
    } catch (err) {
      return fail(req, ResponseCode.SYSTEM_ERROR, `CHECK_CLIENT_CONFIG body is not JSON: ${(err as Error).message}`);
    }
    const sub = isObject(body) && isObject(body.subscriptionData) ? body.subscriptionData : undefined;
    if (sub === undefined) return createResponse(req, ResponseCode.SUCCESS, undefined, {});
    const checked = compileSubscription(str(sub.expressionType, 'TAG'), str(sub.subString, ''), this.ctx.config.enablePropertyFilter, ResponseCode.SYSTEM_ERROR);
    return checked.ok ? createResponse(req, ResponseCode.SUCCESS, undefined, {}) : fail(req, checked.code, checked.remark);
  }

  unregister(req: RemotingCommand): RemotingCommand {
    const clientId = requireString(req, 'clientID');
    this.ctx.clients.unregister(clientId, optionalString(req, 'producerGroup'), optionalString(req, 'consumerGroup'));
    return createResponse(req, ResponseCode.SUCCESS, undefined, {});
  }
}
