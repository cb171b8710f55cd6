// What request processors share: configs, the store, and the managers. One per broker.
import type { SocketAddress } from '@orbit/common';
import type { MessageStore } from '@orbit/store';
import type { MessageStoreConfig } from '@orbit/store';
import type { BrokerConfig } from './broker-config.js';
import type { ClientManager } from './client-manager.js';
import type { ConsumerOffsetManager } from './consumer-offset-manager.js';
import type { PullRequestHoldService } from './pull-request-hold-service.js';
import type { MasterLink } from './slave/master-link.js';
import type { SlaveSynchronize } from './slave/slave-synchronize.js';
import type { RebalanceLockManager } from './rebalance-lock-manager.js';
import type { SubscriptionGroupManager } from './subscription-group-manager.js';
import type { TopicConfigManager } from './topic-config-manager.js';

export interface BrokerContext {
  config: BrokerConfig;
  storeConfig: MessageStoreConfig;
  store: MessageStore;
  topics: TopicConfigManager;
  groups: SubscriptionGroupManager;
  offsets: ConsumerOffsetManager;
  clients: ClientManager;
  holds: PullRequestHoldService;
  /** `brokerIP1:listenPort`, what clients connect to and what message ids encode. */
  brokerAddr: string;
  storeHost: SocketAddress;
  bootTimestamp: number;
  /** Tell the NameServers about a topic change now rather than at the next period. */
  registerBrokerSoon(): void;
  stats: BrokerStats;
  /** Queue locks of orderly consumer groups (LOCK_BATCH_MQ). */
  rebalanceLocks: RebalanceLockManager;
  /** Slave only: what it knows of its master, and the metadata copy from it. */
  masterLink: MasterLink | undefined;
  slaveSync: SlaveSynchronize | undefined;
}

export interface BrokerStats {
  putMessages: number;
  putBytes: number;
  getMessages: number;
  getBytes: number;
}
