// Where a consumer starts on a queue (RebalancePushImpl.computePullFromWhereWithException, facts
// §7.7): the stored offset when there is one; otherwise, only when the store says "none"
// (QUERY_NOT_FOUND), by consumeFromWhere:
//   LAST      → GET_MAX_OFFSET (retry topics: 0)
//   FIRST     → GET_MIN_OFFSET (0 if the broker cannot say; Java uses 0 and lets OFFSET_ILLEGAL correct it)
//   TIMESTAMP → SEARCH_OFFSET_BY_TIMESTAMP (retry topics: GET_MAX_OFFSET)
// A store that could not be read gives -1: the queue is skipped this round and tried again.
import { errorText } from './async-util.js';
import type { ClientLogger } from './client-config.js';
import type { ConsumeFromWhere } from './heartbeat-data.js';
import { mqKey, type MessageQueue } from './message-queue.js';
import type { MQClientApi } from './mq-client-api.js';
import { isRetryTopic } from './names.js';
import { OFFSET_NOT_FOUND, type OffsetStore } from './offset-store.js';

export interface ConsumeFromWhereContext {
  store: OffsetStore;
  api: Pick<MQClientApi, 'getMaxOffset' | 'getMinOffset' | 'searchOffset'>;
  brokerAddrFor(mq: MessageQueue): Promise<string>;
  consumeFromWhere: ConsumeFromWhere;
  consumeTimestampMs: number;
  logger: ClientLogger;
}

export async function computePullFromWhere(ctx: ConsumeFromWhereContext, mq: MessageQueue): Promise<number> {
  const lastOffset = await ctx.store.readOffset(mq, 'READ_FROM_STORE');
  if (lastOffset >= 0) return lastOffset;
  if (lastOffset !== OFFSET_NOT_FOUND) return -1;
  try {
    const addr = await ctx.brokerAddrFor(mq);
    switch (ctx.consumeFromWhere) {
      case 'CONSUME_FROM_FIRST_OFFSET':
        try {
          return Math.max(0, await ctx.api.getMinOffset(addr, mq));
        } catch {
          return 0;
        }
      case 'CONSUME_FROM_TIMESTAMP':
        if (isRetryTopic(mq.topic)) return await ctx.api.getMaxOffset(addr, mq);
        return await ctx.api.searchOffset(addr, mq, ctx.consumeTimestampMs);
      case 'CONSUME_FROM_LAST_OFFSET':
      default:
        if (isRetryTopic(mq.topic)) return 0;
        return await ctx.api.getMaxOffset(addr, mq);
    }
  } catch (error) {
    ctx.logger.warn(`compute pull offset of ${mqKey(mq)} (${ctx.consumeFromWhere}) failed: ${errorText(error)}`);
    return -1;
  }
}

/** Parses consumeTimestamp: ms, or "yyyyMMddHHmmss" in local time (UtilAll.parseDate). */
export function parseConsumeTimestamp(value: number | string): number {
  if (typeof value === 'number') return value;
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(value);
  if (m === null) throw new RangeError(`consumeTimestamp "${value}" is not yyyyMMddHHmmss`);
  return new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])).getTime();
}

/** Default consumeTimestamp: half an hour before the consumer starts. */
export const CONSUME_TIMESTAMP_AGO_MS = 30 * 60 * 1000;
