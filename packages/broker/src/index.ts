export { BrokerController } from './broker-controller.js';
export { defaultBrokerConfig, loadBrokerConfig, loadBrokerConfigFile, type BrokerConfig, type BrokerRole, type LoadedConfig } from './broker-config.js';
export type { TopicConfig } from './topic-config-manager.js';
