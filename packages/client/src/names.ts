// Names and bits the client relies on (facts §3.1, §7.9). Kept here rather than imported so the
// client depends only on the published parts of @orbit/common.

/** The auto-create template topic. */
export const AUTO_CREATE_TOPIC_KEY = 'TBW102';
/** Queues a producer asks for when its first send auto-creates a topic (defaultTopicQueueNums). */
export const DEFAULT_TOPIC_QUEUE_NUMS = 4;
export const RETRY_GROUP_TOPIC_PREFIX = '%RETRY%';
export const DLQ_GROUP_TOPIC_PREFIX = '%DLQ%';

export const retryTopicOf = (group: string): string => RETRY_GROUP_TOPIC_PREFIX + group;
export const isRetryTopic = (topic: string): boolean => topic.startsWith(RETRY_GROUP_TOPIC_PREFIX);

/** PermName bits. */
export const PERM_READ = 4;
export const PERM_WRITE = 2;
export const isReadablePerm = (perm: number): boolean => (perm & PERM_READ) === PERM_READ;
export const isWriteablePerm = (perm: number): boolean => (perm & PERM_WRITE) === PERM_WRITE;

/** Valid topic names (TopicValidator). */
export const TOPIC_NAME_PATTERN = /^[%|a-zA-Z0-9_-]+$/;
export const MAX_TOPIC_CHARS = 127;
export const MAX_RETRY_TOPIC_CHARS = 255;

/** Why a topic name is not accepted, or undefined. */
export function topicProblem(topic: string): string | undefined {
  if (!topic) return 'the specified topic is blank';
  const max = topic.startsWith(RETRY_GROUP_TOPIC_PREFIX) || topic.startsWith(DLQ_GROUP_TOPIC_PREFIX) ? MAX_RETRY_TOPIC_CHARS : MAX_TOPIC_CHARS;
  if (topic.length > max) return `the specified topic is longer than topic max length ${max}`;
  if (!TOPIC_NAME_PATTERN.test(topic)) return `the specified topic[${topic}] contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$`;
  return undefined;
}
