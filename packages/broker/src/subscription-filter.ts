// Tag subscriptions (FilterAPI.build): "*" or "" is everything; "TagA || TagB" a set of tags, with
// their Java hashes for the consume-queue test and the exact strings for the re-check.
import { checkStoredRecord, findProperty, javaStringHash, PropertyKey } from '@orbit/common';
import type { MessageFilter } from '@orbit/store';

export const SUB_ALL = '*';

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
