// Bodies keyed by MessageQueue objects: fastjson writes the object itself as the map key
// (`{{"brokerName":"b","queueId":0,"topic":"t"}:5}`, facts §1.5). ResetOffsetBody, ConsumeStats and
// TopicStatsTable come this way; parseLenientJson reads them, this turns the keys back into queues.
import { parseLenientJson } from '@orbit/remoting';
import type { MessageQueue } from './message-queue.js';

export interface QueueEntry<T> {
  mq: MessageQueue;
  value: T;
}

const num = (v: unknown, fallback = 0): number => (typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : fallback);

/** Entries whose key is not a queue are left out; a value that is not an object comes as `{ value }`. */
export function parseQueueKeyedTable(table: unknown): QueueEntry<Record<string, unknown>>[] {
  if (table === null || typeof table !== 'object' || Array.isArray(table)) return [];
  const out: QueueEntry<Record<string, unknown>>[] = [];
  for (const [key, value] of Object.entries(table as Record<string, unknown>)) {
    let mq: unknown;
    try {
      mq = parseLenientJson(key);
    } catch {
      continue;
    }
    if (mq === null || typeof mq !== 'object' || Array.isArray(mq)) continue;
    const m = mq as Record<string, unknown>;
    if (typeof m.topic !== 'string' || typeof m.brokerName !== 'string') continue;
    const v = value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : { value };
    out.push({ mq: { topic: m.topic, brokerName: m.brokerName, queueId: num(m.queueId) }, value: v });
  }
  return out;
}

/** The other way: a map keyed by MessageQueue objects as fastjson writes it (keys in field order). */
export function queueKeyedJson(entries: readonly QueueEntry<unknown>[]): string {
  return `{${entries.map(({ mq, value }) => `${JSON.stringify({ brokerName: mq.brokerName, queueId: mq.queueId, topic: mq.topic })}:${JSON.stringify(value)}`).join(',')}}`;
}
