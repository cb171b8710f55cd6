// LOCK_BATCH_MQ (41) and UNLOCK_BATCH_MQ (42) (facts §2.7, §7.5): orderly consumers lock the queues
// they were given before pulling them. Both requests carry LockBatchRequestBody /
// UnlockBatchRequestBody JSON:
//   {"consumerGroup":"cg","clientId":"10.0.0.5@123","onlyThisBroker":false,
//    "mqSet":[{"brokerName":"broker-a","queueId":0,"topic":"T"}]}
// LOCK answers {"lockOKMQSet":[…]} (the queues the client now holds); UNLOCK answers SUCCESS only.
// A body that is not such JSON gets SYSTEM_ERROR with a remark naming what was wrong. Java clients
// write standard JSON here, but the lenient parser is used anyway (it also reads fastjson's bare
// numeric keys, facts §1.5). onlyThisBroker is accepted and ignored: RocketMQ 5.x uses it to forward
// locks to the other replicas of a broker group in controller mode, which Orbit does not have.
import { ResponseCode } from '@orbit/common';
import { createResponse, parseLenientJson, type RemotingCommand } from '@orbit/remoting';
import { LockTableFullError, MAX_LOCK_BATCH_MQS, type LockQueue, type RebalanceLockManager } from '../rebalance-lock-manager.js';

/** Longest topic name (TopicValidator's 127) and broker name accepted in a lock body, with room to spare. */
const MAX_NAME_LENGTH = 255;
/** A body of MAX_LOCK_BATCH_MQS queues with long names stays well below this. */
const MAX_LOCK_BODY_BYTES = 4 * 1024 * 1024;

interface LockBatchBody {
  consumerGroup: string;
  clientId: string;
  mqSet: LockQueue[];
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isName = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= MAX_NAME_LENGTH;

/** Parses and checks a LOCK/UNLOCK body; a string is the reason it was refused. */
export function parseLockBatchBody(body: Buffer | undefined, what: string): LockBatchBody | string {
  if (!body || body.length === 0) return `${what} needs a body: {"consumerGroup","clientId","mqSet":[…]}`;
  if (body.length > MAX_LOCK_BODY_BYTES) return `${what} body is ${body.length} bytes, more than ${MAX_LOCK_BODY_BYTES}`;
  let parsed: unknown;
  try {
    parsed = parseLenientJson(body.toString('utf8'));
  } catch (err) {
    return `${what} body is not JSON: ${(err as Error).message}`;
  }
  if (!isObject(parsed)) return `${what} body must be a JSON object`;
  if (!isName(parsed.consumerGroup)) return `${what} body needs a consumerGroup string`;
  if (!isName(parsed.clientId)) return `${what} body needs a clientId string`;
  const set = parsed.mqSet ?? [];
  if (!Array.isArray(set)) return `${what} body's mqSet must be an array`;
  if (set.length > MAX_LOCK_BATCH_MQS) return `${what} names ${set.length} queues, more than ${MAX_LOCK_BATCH_MQS}`;
  const mqSet: LockQueue[] = [];
  for (let i = 0; i < set.length; i++) {
    const q: unknown = set[i];
    if (!isObject(q)) return `mqSet[${i}] must be an object {topic, brokerName, queueId}`;
    if (!isName(q.topic)) return `mqSet[${i}] needs a topic string`;
    if (!isName(q.brokerName)) return `mqSet[${i}] needs a brokerName string`;
    if (typeof q.queueId !== 'number' || !Number.isInteger(q.queueId) || q.queueId < 0 || q.queueId > 0x7fffffff) return `mqSet[${i}] needs a queueId from 0 to 2147483647`;
    mqSet.push({ topic: q.topic, brokerName: q.brokerName, queueId: q.queueId });
  }
  return { consumerGroup: parsed.consumerGroup, clientId: parsed.clientId, mqSet };
}

const fail = (req: RemotingCommand, remark: string) => createResponse(req, ResponseCode.SYSTEM_ERROR, remark, {});

export class LockProcessor {
  constructor(private readonly locks: RebalanceLockManager) {}

  lockBatch(req: RemotingCommand): RemotingCommand {
    const body = parseLockBatchBody(req.body, 'LOCK_BATCH_MQ');
    if (typeof body === 'string') return fail(req, body);
    let held: LockQueue[];
    try {
      held = this.locks.tryLockBatch(body.consumerGroup, body.mqSet, body.clientId);
    } catch (err) {
      if (err instanceof LockTableFullError) return fail(req, err.message);
      throw err;
    }
    const res = createResponse(req, ResponseCode.SUCCESS, undefined, {});
    // fastjson's field order for MessageQueue (sorted): brokerName, queueId, topic.
    res.body = Buffer.from(JSON.stringify({ lockOKMQSet: held.map((q) => ({ brokerName: q.brokerName, queueId: q.queueId, topic: q.topic })) }));
    return res;
  }

  unlockBatch(req: RemotingCommand): RemotingCommand {
    const body = parseLockBatchBody(req.body, 'UNLOCK_BATCH_MQ');
    if (typeof body === 'string') return fail(req, body);
    this.locks.unlockBatch(body.consumerGroup, body.mqSet, body.clientId);
    return createResponse(req, ResponseCode.SUCCESS, undefined, {});
  }
}
