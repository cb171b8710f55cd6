// A compiled SQL92 subscription as the store's MessageFilter (RocketMQ's ExpressionMessageFilter):
// the consume-queue tag code says nothing about properties, so every unit passes the first test;
// the record's properties are then read straight from the stored bytes (only the names the
// expression uses, no map of all of them) and the expression must come out TRUE.
import { checkStoredRecord, findProperty } from '@orbit/common';
import type { MessageFilter } from '@orbit/store';
import { matchesSql } from './sql-evaluator.js';
import type { SqlSelector } from './sql-parser.js';

export function sqlMessageFilter(selector: SqlSelector): MessageFilter {
  return {
    isMatchedByTagsCode: () => true,
    isMatchedByRecord: (record) => {
      const check = checkStoredRecord(record, 0, record.length, false);
      if (check.kind !== 'message') return false;
      if (selector.properties.length === 0) return matchesSql(selector, () => undefined);
      const props = record.toString('utf8', check.propertiesStart, check.propertiesStart + check.propertiesBytes);
      return matchesSql(selector, (name) => findProperty(props, name));
    },
  };
}
