export { MessageStore, type ArrivalListener, type RecoveryReport, type HaStatus } from './message-store.js';
export { defaultStoreConfig, validateStoreConfig, StorePaths, type MessageStoreConfig, type FlushDiskType, type BrokerRole } from './store-config.js';
export { StoreError, type StoreErrorCode } from './store-error.js';
export type { PutResult } from './append-channel.js';
export { PutStatus, type PutStatusName } from './append-protocol.js';
export type { GetMessageResult, GetMessageStatus, MessageFilter } from './store-reader.js';
export { DEFAULT_MESSAGE_DELAY_LEVEL, MAX_DELAY_LEVELS, delayLevelOf, deliverTimestamp, parseDelayLevels } from './delay-level.js';
