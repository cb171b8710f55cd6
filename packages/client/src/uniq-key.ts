// UNIQ_KEY generation lives in @orbit/common (the broker makes them too, for messages sent without
// one); re-exported here because it is part of the client's API.
export { UniqKeyGenerator, parseUniqKey, createUniqKey, startOfMonthMs, type UniqKeyOptions, type ParsedUniqKey } from '@orbit/common';
