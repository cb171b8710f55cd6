// fastjson writes maps keyed by MessageQueue with the object itself as the key (facts §1.5):
// ConsumeStats, ResetOffsetBody. Keys in fastjson's field order (brokerName, queueId, topic).
export interface QueueKey {
  topic: string;
  brokerName: string;
  queueId: number;
}

export function messageQueueKeyedJson(entries: readonly [QueueKey, unknown][]): string {
  return `{${entries.map(([mq, v]) => `${JSON.stringify({ brokerName: mq.brokerName, queueId: mq.queueId, topic: mq.topic })}:${JSON.stringify(v)}`).join(',')}}`;
}
