// Tag subscriptions (FilterAPI.buildSubscriptionData, facts §7.6): "*" takes everything; "A || B"
// is split on "||" and trimmed, each tag's Java String hash goes into codeSet for the broker's
// consume-queue filter, and the client re-checks the TAGS property because hashes can collide.
// SQL92 subscriptions (MessageSelector.bySql) keep the expression whole: only the broker filters.
import { javaStringHash } from '@orbit/common/java-hash';

export const SUB_ALL = '*';
export type ExpressionType = 'TAG' | 'SQL92';

export interface SubscriptionData {
  topic: string;
  subString: string;
  tagsSet: string[];
  codeSet: number[];
  /** Build time in ms; the broker keeps the newest subscription of a group. */
  subVersion: number;
  expressionType: ExpressionType;
  classFilterMode: boolean;
}

/** Longest subscription expression accepted (it travels in headers and heartbeats). */
export const MAX_SUB_EXPRESSION_CHARS = 4096;

export function buildSubscriptionData(topic: string, subString: string | undefined, expressionType: ExpressionType = 'TAG', nowMs: number = Date.now()): SubscriptionData {
  if (expressionType === 'SQL92' && (subString === undefined || subString.trim() === '')) throw new RangeError("Expression can't be null! SQL92");
  const text = subString === undefined || subString.trim() === '' ? SUB_ALL : subString.trim();
  if (text.length > MAX_SUB_EXPRESSION_CHARS) throw new RangeError(`subscription expression is longer than ${MAX_SUB_EXPRESSION_CHARS} characters`);
  const data: SubscriptionData = { topic, subString: text, tagsSet: [], codeSet: [], subVersion: nowMs, expressionType, classFilterMode: false };
  if (expressionType !== 'TAG' || text === SUB_ALL) return data;
  for (const part of text.split('||')) {
    const tag = part.trim();
    if (tag.length === 0 || data.tagsSet.includes(tag)) continue;
    data.tagsSet.push(tag);
    data.codeSet.push(javaStringHash(tag));
  }
  if (data.tagsSet.length === 0) throw new RangeError(`subString split error: "${subString}"`);
  return data;
}

/** True when the subscription keeps only some tags, so pulled messages are re-checked. */
export function subscriptionFiltersTags(sub: SubscriptionData): boolean {
  return sub.expressionType === 'TAG' && !sub.classFilterMode && sub.tagsSet.length > 0;
}

/** The client-side re-check (PullAPIWrapper.processPullResult): true when the message is wanted. */
export function tagsMatch(sub: SubscriptionData, tags: string | undefined): boolean {
  if (!subscriptionFiltersTags(sub)) return true;
  return tags !== undefined && sub.tagsSet.includes(tags);
}
