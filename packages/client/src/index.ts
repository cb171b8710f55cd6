// @orbit/client: Producer, PushConsumer, LitePullConsumer and admin calls over RocketMQ's remoting
// protocol. Point it at a NameServer ("host:port;host:port") and nothing else.
export * from './client-config.js';
export * from './client-id.js';
export * from './errors.js';
export * from './message.js';
export * from './message-batch.js';
export * from './message-queue.js';
export * from './message-queue-selector.js';
export * from './latency-fault-tolerance.js';
export * from './topic-route.js';
export * from './subscription.js';
export * from './message-selector.js';
export { checkClientConfigInBrokers } from './client-config-check.js';
export * from './heartbeat-data.js';
export * from './uniq-key.js';
export * from './send-result.js';
export * from './mq-client-api.js';
export * from './mq-client-instance.js';
export * from './allocate-strategy.js';
export * from './offset-store.js';
export * from './process-queue.js';
export * from './pull-api.js';
export * from './rebalance.js';
export * from './consume-from-where.js';
export * from './consume-message-concurrently.js';
export * from './consume-message-orderly.js';
export { Producer, ProducerDefaults, RETRY_RESPONSE_CODES, MAX_BATCH_MESSAGES, type ProducerOptions, type SendOptions } from './producer.js';
export {
  TransactionProducer,
  TransactionProducerDefaults,
  type LocalTransactionState,
  type TransactionListener,
  type TransactionMessage,
  type TransactionMessageExt,
  type TransactionProducerOptions,
  type TransactionSendResult,
} from './transaction-producer.js';
export { PushConsumer, PushConsumerDefaults, MAX_SUBSCRIPTIONS, type PushConsumerOptions } from './push-consumer.js';
export { LitePullConsumer, LitePullConsumerDefaults, type LitePullConsumerOptions } from './lite-pull-consumer.js';
export { AdminClient, TopicConfigDefaults, type AdminClientOptions, type TopicConfigInput } from './admin-client.js';
export { AUTO_CREATE_TOPIC_KEY, DEFAULT_TOPIC_QUEUE_NUMS, retryTopicOf, isRetryTopic } from './names.js';
export * from './queue-keyed-table.js';
