// System topics and groups (TopicValidator, MixAll; facts §7.9).
import { MessageLimits, TOPIC_NAME_PATTERN } from './message-const.js';

export const SystemTopic = {
  AUTO_CREATE_TOPIC_KEY: 'TBW102',
  SCHEDULE_TOPIC: 'SCHEDULE_TOPIC_XXXX',
  BENCHMARK_TOPIC: 'BenchmarkTest',
  SELF_TEST_TOPIC: 'SELF_TEST_TOPIC',
  OFFSET_MOVED_EVENT: 'OFFSET_MOVED_EVENT',
  TRANS_HALF_TOPIC: 'RMQ_SYS_TRANS_HALF_TOPIC',
  TRANS_OP_HALF_TOPIC: 'RMQ_SYS_TRANS_OP_HALF_TOPIC',
  TRANS_CHECK_MAX_TIME_TOPIC: 'TRANS_CHECK_MAX_TIME_TOPIC',
} as const;

export const RETRY_GROUP_TOPIC_PREFIX = '%RETRY%';
export const DLQ_GROUP_TOPIC_PREFIX = '%DLQ%';

export const retryTopic = (group: string): string => RETRY_GROUP_TOPIC_PREFIX + group;
export const dlqTopic = (group: string): string => DLQ_GROUP_TOPIC_PREFIX + group;
export const isRetryTopic = (topic: string): boolean => topic.startsWith(RETRY_GROUP_TOPIC_PREFIX);

/** Producers may not send to these (NO_PERMISSION). */
export function isNotAllowedSendTopic(topic: string): boolean {
  return topic === SystemTopic.SCHEDULE_TOPIC || topic === SystemTopic.TRANS_HALF_TOPIC || topic === SystemTopic.TRANS_OP_HALF_TOPIC || topic === SystemTopic.TRANS_CHECK_MAX_TIME_TOPIC;
}

/** Why a topic name is illegal, or undefined when it is fine (TopicValidator.validateTopic). */
export function topicNameProblem(topic: string | undefined): string | undefined {
  if (!topic) return 'the specified topic is blank';
  const maxChars = isRetryTopic(topic) || topic.startsWith(DLQ_GROUP_TOPIC_PREFIX) ? 255 : MessageLimits.maxTopicBytes;
  if (topic.length > maxChars) return `the specified topic is longer than topic max length ${maxChars}`;
  if (!TOPIC_NAME_PATTERN.test(topic)) return `the specified topic[${topic}] contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$`;
  return undefined;
}
