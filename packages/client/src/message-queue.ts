// MessageQueue: one queue of a topic on one broker (facts §3.1), the unit producers choose and
// consumers are allocated. Compared and sorted as Java's MessageQueue.compareTo does.

export interface MessageQueue {
  readonly topic: string;
  readonly brokerName: string;
  readonly queueId: number;
}

export function messageQueue(topic: string, brokerName: string, queueId: number): MessageQueue {
  return { topic, brokerName, queueId };
}

/** A stable map key. */
export function mqKey(mq: MessageQueue): string {
  return `${mq.topic}@${mq.brokerName}@${mq.queueId}`;
}

/** Java's MessageQueue.compareTo: topic, then broker name, then queue id. */
export function compareMessageQueues(a: MessageQueue, b: MessageQueue): number {
  if (a.topic !== b.topic) return a.topic < b.topic ? -1 : 1;
  if (a.brokerName !== b.brokerName) return a.brokerName < b.brokerName ? -1 : 1;
  return a.queueId - b.queueId;
}

export function sameQueue(a: MessageQueue, b: MessageQueue): boolean {
  return a.queueId === b.queueId && a.brokerName === b.brokerName && a.topic === b.topic;
}

export function formatMessageQueue(mq: MessageQueue): string {
  return `MessageQueue [topic=${mq.topic}, brokerName=${mq.brokerName}, queueId=${mq.queueId}]`;
}
