// MessageSelector (org.apache.rocketmq.client.consumer.MessageSelector): what a consumer subscribes
// with besides a plain tag expression. `MessageSelector.bySql("a BETWEEN 3 AND 5 AND b = 'x'")`
// filters on message properties on the broker (it needs enablePropertyFilter=true there);
// `MessageSelector.byTag("TagA || TagB")` is the same as subscribing with that string.
import { MQClientError } from './errors.js';
import { buildSubscriptionData, type ExpressionType, type SubscriptionData } from './subscription.js';

export interface MessageSelector {
  readonly type: ExpressionType;
  readonly expression: string;
}

export const MessageSelector = {
  /** A SQL92 filter over message properties (user properties and system ones such as TAGS, KEYS). */
  bySql(sql: string): MessageSelector {
    return { type: 'SQL92', expression: sql };
  },
  /** A tag expression: "*", "TagA" or "TagA || TagB". */
  byTag(tag: string): MessageSelector {
    return { type: 'TAG', expression: tag };
  },
} as const;

/** What subscribe() builds from a tag expression or a selector. */
export function subscriptionOf(topic: string, selector: string | MessageSelector | undefined): SubscriptionData {
  try {
    if (selector === undefined || typeof selector === 'string') return buildSubscriptionData(topic, selector);
    if (selector.type !== 'TAG' && selector.type !== 'SQL92') throw new RangeError(`expression type ${JSON.stringify(selector.type)} is not TAG or SQL92`);
    return buildSubscriptionData(topic, selector.expression, selector.type);
  } catch (error) {
    throw new MQClientError(`subscription exception: ${error instanceof Error ? error.message : String(error)}`, undefined, { cause: error });
  }
}
