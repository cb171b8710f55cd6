// What a pull filters with (facts §7.6). Tag subscriptions (FilterAPI.build): "*" or "" is
// everything; "TagA || TagB" a set of tags, with their Java hashes for the consume-queue test and the
// exact strings for the re-check. SQL92 subscriptions (MessageSelector.bySql, README "Filters"):
// served only with enablePropertyFilter, compiled once per (group, topic, expression) and evaluated
// on each record's properties.
import { checkStoredRecord, findProperty, javaStringHash, PropertyKey, ResponseCode } from '@orbit/common';
import type { MessageFilter } from '@orbit/store';
import { FilterCache } from './filter/filter-cache.js';
import { SqlFilterError } from './filter/sql-filter-error.js';
import { sqlMessageFilter } from './filter/sql-message-filter.js';
import { parseSql } from './filter/sql-parser.js';

export const SUB_ALL = '*';

export const ExpressionType = { TAG: 'TAG', SQL92: 'SQL92' } as const;

/** ExpressionType.isTagType: no type, an empty one, or TAG. */
export function isTagType(expressionType: string | undefined): boolean {
  return expressionType === undefined || expressionType === '' || expressionType === ExpressionType.TAG;
}

export function parseTags(subString: string): string[] {
  const s = subString.trim();
  if (s === '' || s === SUB_ALL) return [];
  return s.split('||').map((t) => t.trim()).filter((t) => t.length > 0);
}

/** undefined when the subscription takes everything. */
export function tagFilter(tags: string[]): MessageFilter | undefined {
  if (tags.length === 0) return undefined;
  const codes = new Set(tags.map(javaStringHash));
  const names = new Set(tags);
  return {
    isMatchedByTagsCode: (code) => codes.has(code),
    // Hashes collide; the record's own TAGS decides.
    isMatchedByRecord: (record) => {
      const check = checkStoredRecord(record, 0, record.length, false);
      if (check.kind !== 'message') return false;
      const props = record.toString('utf8', check.propertiesStart, check.propertiesStart + check.propertiesBytes);
      const tag = findProperty(props, PropertyKey.TAGS);
      return tag !== undefined && names.has(tag);
    },
  };
}

/** A subscription's store filter (undefined: everything), or the response code and remark refusing it. */
export type SubscriptionFilterResult = { ok: true; filter: MessageFilter | undefined } | { ok: false; code: number; remark: string };

/** RocketMQ's remark when a non-TAG expression reaches a broker without enablePropertyFilter. */
export function propertyFilterDisabledRemark(expressionType: string): string {
  return `The broker does not support consumer to filter message by ${expressionType}`;
}

/**
 * Compiles a subscription. `disabledCode` is what a non-TAG type gets without enablePropertyFilter:
 * NO_PERMISSION on a pull, SYSTEM_ERROR on CHECK_CLIENT_CONFIG (as RocketMQ answers each).
 */
export function compileSubscription(expressionType: string | undefined, subString: string, enablePropertyFilter: boolean, disabledCode: number): SubscriptionFilterResult {
  if (isTagType(expressionType)) return { ok: true, filter: tagFilter(parseTags(subString)) };
  if (!enablePropertyFilter) return { ok: false, code: disabledCode, remark: propertyFilterDisabledRemark(expressionType!) };
  if (expressionType !== ExpressionType.SQL92) {
    return { ok: false, code: ResponseCode.SUBSCRIPTION_PARSE_FAILED, remark: `unsupported expression type ${JSON.stringify(expressionType)}: TAG or SQL92` };
  }
  try {
    return { ok: true, filter: sqlMessageFilter(parseSql(subString)) };
  } catch (err) {
    if (!(err instanceof SqlFilterError)) throw err;
    return { ok: false, code: ResponseCode.SUBSCRIPTION_PARSE_FAILED, remark: `Invalid MessageSelector (SQL92): ${err.message}` };
  }
}

/** The pull path's filters: SQL92 ones compiled once per (group, topic, type, expression), in a bounded cache. */
export class SubscriptionFilters {
  private readonly compiled: FilterCache<SubscriptionFilterResult>;

  /** `config` is read on every pull, so UPDATE_BROKER_CONFIG of enablePropertyFilter applies at once. */
  constructor(
    private readonly config: { readonly enablePropertyFilter: boolean },
    maxCachedFilters?: number,
  ) {
    this.compiled = new FilterCache(maxCachedFilters);
  }

  get cachedCount(): number {
    return this.compiled.size;
  }

  forPull(group: string, topic: string, expressionType: string | undefined, subString: string): SubscriptionFilterResult {
    // Tag filters cost two small sets; not worth a cache entry per group.
    if (isTagType(expressionType) || !this.config.enablePropertyFilter) return compileSubscription(expressionType, subString, this.config.enablePropertyFilter, ResponseCode.NO_PERMISSION);
    const key = FilterCache.key(group, topic, expressionType!, subString);
    return this.compiled.getOrCreate(key, () => compileSubscription(expressionType, subString, true, ResponseCode.NO_PERMISSION));
  }
}
