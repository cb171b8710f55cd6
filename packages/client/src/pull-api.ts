// PULL_MESSAGE (facts §2.4, PullAPIWrapper): builds the request (sysFlag bits COMMIT_OFFSET,
// SUSPEND for long polling, SUBSCRIPTION when the expression is sent), reads the response status
// (0 FOUND, 19 NO_NEW_MSG, 20 NO_MATCHED_MSG, 21 OFFSET_ILLEGAL; anything else throws), decodes
// the body's stored records, re-filters tags on the client, and remembers which broker id the
// broker suggested for the next pull of each queue (master 0, or a slave when the master is busy).
import { RecordFormatError } from '@orbit/common/message-record';
import { PropertyKey } from '@orbit/common/message-const';
import { ResponseCode } from '@orbit/common/response-code';
import { optionalLong, type RemotingCommand } from '@orbit/remoting';
import type { ClientLogger } from './client-config.js';
import { MQBrokerError, MQClientError } from './errors.js';
import type { MessageExt } from './message.js';
import { decodeMessageExt, type PulledMessageExt } from './message-decoder.js';
import { mqKey, type MessageQueue } from './message-queue.js';
import type { MQClientApi } from './mq-client-api.js';
import type { FindBrokerResult } from './mq-client-instance.js';
import { subscriptionFiltersTags, tagsMatch, type SubscriptionData } from './subscription.js';
import { MASTER_ID } from './topic-route.js';

/** PullSysFlag bits. */
export const PullSysFlag = {
  COMMIT_OFFSET: 0x1,
  SUSPEND: 0x2,
  SUBSCRIPTION: 0x4,
  CLASS_FILTER: 0x8,
  LITE_PULL: 0x10,
} as const;

export function buildPullSysFlag(flags: { commitOffset?: boolean; suspend?: boolean; subscription?: boolean; classFilter?: boolean; litePull?: boolean }): number {
  let sysFlag = 0;
  if (flags.commitOffset) sysFlag |= PullSysFlag.COMMIT_OFFSET;
  if (flags.suspend) sysFlag |= PullSysFlag.SUSPEND;
  if (flags.subscription) sysFlag |= PullSysFlag.SUBSCRIPTION;
  if (flags.classFilter) sysFlag |= PullSysFlag.CLASS_FILTER;
  if (flags.litePull) sysFlag |= PullSysFlag.LITE_PULL;
  return sysFlag;
}

export function clearCommitOffsetFlag(sysFlag: number): number {
  return sysFlag & ~PullSysFlag.COMMIT_OFFSET;
}

export type PullStatus = 'FOUND' | 'NO_NEW_MSG' | 'NO_MATCHED_MSG' | 'OFFSET_ILLEGAL';

export interface PullResult {
  pullStatus: PullStatus;
  nextBeginOffset: number;
  minOffset: number;
  maxOffset: number;
  /** FOUND only: the messages that passed the client-side tag check. */
  msgFoundList: MessageExt[];
  /** Messages the broker returned before the tag check (FOUND only). */
  rawCount: number;
  suggestWhichBrokerId: number;
}

/** Long-poll hold the push consumer asks for, and how long it waits for the answer (facts §7.3). */
export const BROKER_SUSPEND_MAX_TIME_MS = 15_000;
export const CONSUMER_TIMEOUT_MS_WHEN_SUSPEND = 30_000;
/** Most messages one pull may ask for. */
export const MAX_PULL_BATCH_SIZE = 1024;

export function pullStatusOf(code: number): PullStatus | undefined {
  switch (code) {
    case ResponseCode.SUCCESS:
      return 'FOUND';
    case ResponseCode.PULL_NOT_FOUND:
      return 'NO_NEW_MSG';
    case ResponseCode.PULL_RETRY_IMMEDIATELY:
      return 'NO_MATCHED_MSG';
    case ResponseCode.PULL_OFFSET_MOVED:
      return 'OFFSET_ILLEGAL';
    default:
      return undefined;
  }
}

/**
 * Reads a pull response. The body is decoded record by record; a record that does not decode ends
 * the batch (the rest is skipped, as Java's decodesBatch does) and is reported to `onBadRecord`.
 */
export function processPullResponse(
  response: RemotingCommand,
  mq: MessageQueue,
  sub: SubscriptionData | undefined,
  brokerAddr: string,
  onBadRecord?: (error: unknown) => void,
): PullResult {
  const pullStatus = pullStatusOf(response.code);
  if (pullStatus === undefined) throw new MQBrokerError(response.code, response.remark ?? '', brokerAddr);
  const nextBeginOffset = optionalLong(response, 'nextBeginOffset');
  if (nextBeginOffset === undefined) throw new MQClientError(`pull response from ${brokerAddr} has no nextBeginOffset`);
  const minOffset = optionalLong(response, 'minOffset') ?? 0;
  const maxOffset = optionalLong(response, 'maxOffset') ?? 0;
  const result: PullResult = {
    pullStatus,
    nextBeginOffset,
    minOffset,
    maxOffset,
    msgFoundList: [],
    rawCount: 0,
    suggestWhichBrokerId: optionalLong(response, 'suggestWhichBrokerId') ?? MASTER_ID,
  };
  if (pullStatus !== 'FOUND' || response.body === undefined) return result;
  const body = response.body;
  const minOffsetText = String(minOffset);
  const maxOffsetText = String(maxOffset);
  let at = 0;
  while (at < body.length) {
    let msg: PulledMessageExt;
    try {
      msg = decodeMessageExt(body, at, body.length, mq.brokerName);
    } catch (error) {
      if (onBadRecord) onBadRecord(error instanceof RecordFormatError ? error : new MQClientError(`bad record at ${at}: ${String(error)}`));
      break;
    }
    at += msg.storeSize;
    result.rawCount++;
    // The re-check reads TAGS only when the subscription names tags (decoding properties costs).
    if (sub !== undefined && subscriptionFiltersTags(sub) && !tagsMatch(sub, msg.tags)) continue;
    msg.addPullProperty(PropertyKey.MIN_OFFSET, minOffsetText);
    msg.addPullProperty(PropertyKey.MAX_OFFSET, maxOffsetText);
    result.msgFoundList.push(msg);
  }
  return result;
}

/** The broker lookups a pull needs (MQClientInstance provides them). */
export interface PullBrokerLookup {
  findBrokerAddressInSubscribe(brokerName: string, brokerId: number, onlyThisBroker: boolean): FindBrokerResult | undefined;
  /** Every broker id the route knows for a broker name (master 0 and its slaves). */
  brokerIdsOf(brokerName: string): number[];
  updateTopicRoute(topic: string): Promise<unknown>;
}

export interface PullRequestOptions {
  offset: number;
  maxNums: number;
  /** Commit this offset with the pull (COMMIT_OFFSET); ignored when the pull goes to a slave. */
  commitOffset?: number;
  /** Ask the broker to hold the request until a message arrives (SUSPEND). */
  suspend: boolean;
  /** Send the subscription expression with the pull (SUBSCRIPTION). */
  postSubscription: boolean;
  suspendTimeoutMs: number;
  /** RPC timeout. */
  timeoutMs: number;
  /** Set the LITE_PULL flag (the request code stays PULL_MESSAGE). */
  litePull?: boolean;
}

export class PullAPIWrapper {
  /** mqKey → broker id the broker suggested (pullFromWhichNodeTable). */
  private readonly pullFromWhichNode = new Map<string, number>();

  constructor(
    private readonly lookup: PullBrokerLookup,
    private readonly api: MQClientApi,
    private readonly consumerGroup: string,
    private readonly logger: ClientLogger,
  ) {}

  /** The broker id the next pull of `mq` goes to. */
  recalculatePullFromWhichNode(mq: MessageQueue): number {
    return this.pullFromWhichNode.get(mqKey(mq)) ?? MASTER_ID;
  }

  forget(mq: MessageQueue): void {
    this.pullFromWhichNode.delete(mqKey(mq));
  }

  async pull(mq: MessageQueue, sub: SubscriptionData, options: PullRequestOptions): Promise<PullResult> {
    if (!Number.isInteger(options.maxNums) || options.maxNums < 1 || options.maxNums > MAX_PULL_BATCH_SIZE) throw new RangeError(`maxNums must be 1..${MAX_PULL_BATCH_SIZE}`);
    const brokerId = this.recalculatePullFromWhichNode(mq);
    let found = this.lookup.findBrokerAddressInSubscribe(mq.brokerName, brokerId, false);
    if (found === undefined) {
      await this.lookup.updateTopicRoute(mq.topic);
      found = this.lookup.findBrokerAddressInSubscribe(mq.brokerName, brokerId, false);
    }
    if (found === undefined) throw new MQClientError(`The broker[${mq.brokerName}] not exist`);
    const commitOffset = options.commitOffset ?? 0;
    let sysFlag = buildPullSysFlag({
      commitOffset: commitOffset > 0,
      suspend: options.suspend,
      subscription: options.postSubscription,
      litePull: options.litePull ?? false,
    });
    if (found.slave) sysFlag = clearCommitOffsetFlag(sysFlag);
    const response = await this.pullFrom(mq, found, () => this.api.pullMessage(
      found.brokerAddr,
      {
        consumerGroup: this.consumerGroup,
        topic: mq.topic,
        queueId: mq.queueId,
        queueOffset: options.offset,
        maxMsgNums: options.maxNums,
        sysFlag,
        commitOffset,
        suspendTimeoutMillis: options.suspendTimeoutMs,
        subscription: options.postSubscription ? sub.subString : undefined,
        subVersion: sub.subVersion,
        expressionType: sub.expressionType, // always, as PullAPIWrapper.pullKernelImpl sends it
        brokerName: mq.brokerName,
      },
      options.timeoutMs,
    ));
    const result = processPullResponse(response, mq, sub, found.brokerAddr, (error) =>
      this.logger.warn(`pull of ${mqKey(mq)} from ${found.brokerAddr} returned an undecodable record: ${String(error)}`),
    );
    this.pullFromWhichNode.set(mqKey(mq), result.suggestWhichBrokerId);
    return result;
  }

  /**
   * A pull that fails in transport (the broker is gone, not answering) sends the queue's next pull
   * to another node of the same broker: a dead master's slave serves the queue at once instead of
   * after the next route refresh (up to pollNameServerInterval, 30 s). The slave sends the consumer
   * back (suggestWhichBrokerId 0) once its master is up again.
   */
  private async pullFrom<T>(mq: MessageQueue, found: FindBrokerResult, pull: () => Promise<T>): Promise<T> {
    try {
      return await pull();
    } catch (error) {
      if (!(error instanceof MQBrokerError)) {
        const others = this.lookup.brokerIdsOf(mq.brokerName).filter((id) => id !== found.brokerId);
        if (others.length > 0) {
          const next = others.sort((a, b) => a - b)[0]!;
          this.pullFromWhichNode.set(mqKey(mq), next);
          this.logger.info(`pull of ${mqKey(mq)} from ${found.brokerAddr} failed (${String(error)}); next pulls go to broker id ${next}`);
        }
      }
      throw error;
    }
  }
}
