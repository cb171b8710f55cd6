// The loads of the features benchmark, each through Orbit's own client against a running broker:
// sends of one kind (plain, delayed, transactional) by concurrent senders; delayed messages timed
// from the moment they were due to the moment a consumer got them; and one topic read back through
// filters (everything, a tag, a SQL92 expression), with every delivery checked against the filter.
import { MessageSelector, Producer, PushConsumer, TransactionProducer, type Message, type MessageExt } from '@orbit/client';
import { percentile } from '../lib/stats.js';
import { withTimeout } from '../lib/timing.js';

const SEND_TIMEOUT_MS = 30_000;
const SHUTDOWN_TIMEOUT_MS = 15_000;

export type SendKind = 'plain' | 'delayed' | 'transactional';

export interface SendRate {
  count: number;
  msgsPerSecond: number;
}

/** The delay level the delayed cases use, and what it means under the default messageDelayLevel. */
export const DELAY_LEVEL = 1;
export const DELAY_LEVEL_MS = 1_000;

/** `count` sends of `kind` by `senders` concurrent senders, each awaiting its acknowledgement. */
export async function runSends(namesrvAddr: string, topic: string, kind: SendKind, count: number, senders: number, body: Buffer): Promise<SendRate> {
  const group = `features_bench_${kind}_${Date.now() % 1_000_000_000}`;
  const common = { producerGroup: group, namesrvAddr, sendMsgTimeoutMs: SEND_TIMEOUT_MS, compressMsgBodyOverHowmuch: Number.MAX_SAFE_INTEGER };
  const tx =
    kind === 'transactional'
      ? new TransactionProducer({
          ...common,
          transactionListener: { executeLocalTransaction: () => 'COMMIT_MESSAGE', checkLocalTransaction: () => 'COMMIT_MESSAGE' },
        })
      : undefined;
  const producer = tx ?? new Producer(common);
  await producer.start();
  try {
    await producer.fetchPublishMessageQueues(topic); // route and connection before the clock starts
    let issued = 0;
    const message = (): Message => (kind === 'delayed' ? { topic, body, delayTimeLevel: DELAY_LEVEL } : { topic, body });
    const sender = async () => {
      while (issued < count) {
        issued++;
        if (tx) {
          const r = await tx.sendMessageInTransaction(message(), undefined);
          if (r.localTransactionState !== 'COMMIT_MESSAGE') throw new Error(`transactional send ended ${r.localTransactionState}`);
        } else await producer.send(message());
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: senders }, sender));
    return { count, msgsPerSecond: count / ((performance.now() - started) / 1000) };
  } finally {
    await withTimeout(producer.shutdown(), SHUTDOWN_TIMEOUT_MS, 'producer shutdown').catch(() => undefined);
  }
}

export interface DelayedDelivery {
  sent: SendRate;
  delivered: number;
  /** count ÷ (last delivery − first delivery). */
  deliveredPerSecond: number;
  /** Delivery time − due time (born timestamp + the level's delay), ms. */
  latenessP50Ms: number;
  latenessP99Ms: number;
  latenessMaxMs: number;
  /** Deliveries before their due time (should be 0). */
  early: number;
}

/**
 * A consumer on the topic first; then `count` level-1 sends as fast as `senders` allow; then waits
 * for every message. Due time = the message's born timestamp (the client's clock at send, the same
 * clock as the consumer's) + the level's delay, so lateness also holds the send's own latency
 * (well under a millisecond at these rates).
 */
export async function runDelayedDelivery(namesrvAddr: string, topic: string, count: number, senders: number, body: Buffer, timeoutMs: number): Promise<DelayedDelivery> {
  const lateness: number[] = [];
  let first = 0;
  let last = 0;
  let early = 0;
  let finished!: () => void;
  const done = new Promise<void>((r) => (finished = r));
  const consumer = new PushConsumer({ consumerGroup: `features_bench_delay_${Date.now() % 1_000_000_000}`, namesrvAddr, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', pullBatchSize: 32, consumeMessageBatchMaxSize: 32 });
  consumer.subscribe(topic, '*');
  consumer.registerMessageListener((msgs: MessageExt[]) => {
    const now = Date.now();
    if (first === 0) first = performance.now();
    for (const m of msgs) {
      const late = now - (m.bornTimestamp + DELAY_LEVEL_MS);
      if (late < 0) early++;
      lateness.push(late);
    }
    if (lateness.length >= count && last === 0) {
      last = performance.now();
      finished();
    }
    return 'CONSUME_SUCCESS';
  });
  await consumer.start();
  try {
    const sent = await runSends(namesrvAddr, topic, 'delayed', count, senders, body);
    await withTimeout(done, timeoutMs, `delayed delivery (${lateness.length} of ${count} delivered)`);
    return {
      sent,
      delivered: lateness.length,
      deliveredPerSecond: count / Math.max((last - first) / 1000, 0.001),
      latenessP50Ms: percentile(lateness, 50),
      latenessP99Ms: percentile(lateness, 99),
      latenessMaxMs: Math.max(...lateness),
      early,
    };
  } finally {
    await withTimeout(consumer.shutdown(), SHUTDOWN_TIMEOUT_MS, 'consumer shutdown').catch(() => undefined);
  }
}

/** What the filter topic holds: message i has TAGS A (even i) or B (odd i) and property a = i % 10. */
export const FILTER_TAG = 'A';
export const FILTER_SQL = 'a < 5';
export const isTagMatch = (i: number) => i % 2 === 0;
export const isSqlMatch = (i: number) => i % 10 < 5;

/** Fills the filter topic in batches of 128 (SEND_BATCH_MESSAGE), index in property i. */
export async function fillFilterTopic(namesrvAddr: string, topic: string, count: number, body: Buffer): Promise<void> {
  const producer = new Producer({ producerGroup: `features_bench_fill_${Date.now() % 1_000_000_000}`, namesrvAddr, sendMsgTimeoutMs: SEND_TIMEOUT_MS, compressMsgBodyOverHowmuch: Number.MAX_SAFE_INTEGER });
  await producer.start();
  try {
    const BATCH = 128;
    let next = 0;
    const sender = async () => {
      while (next < count) {
        const from = next;
        const n = Math.min(BATCH, count - from);
        next += n;
        const msgs: Message[] = [];
        for (let i = from; i < from + n; i++) msgs.push({ topic, body, tags: isTagMatch(i) ? 'A' : 'B', properties: { a: String(i % 10), i: String(i) } });
        await producer.sendBatch(msgs);
      }
    };
    await Promise.all(Array.from({ length: 8 }, sender));
  } finally {
    await withTimeout(producer.shutdown(), SHUTDOWN_TIMEOUT_MS, 'producer shutdown').catch(() => undefined);
  }
}

export type FilterKind = 'all' | 'tag' | 'sql92';

export interface FilteredConsume {
  expected: number;
  delivered: number;
  /** Matching messages ÷ (last delivery − first delivery). */
  deliveredPerSecond: number;
  /** Messages of the topic the filter went through ÷ the same time. */
  scannedPerSecond: number;
}

/** Reads the filter topic from its start through one filter; any delivery the filter should not pass, or a repeat, is an error. */
export async function runFilteredConsume(namesrvAddr: string, topic: string, count: number, kind: FilterKind, timeoutMs: number): Promise<FilteredConsume> {
  const matches = kind === 'all' ? () => true : kind === 'tag' ? isTagMatch : isSqlMatch;
  let expected = 0;
  for (let i = 0; i < count; i++) if (matches(i)) expected++;
  const seen = new Uint8Array(count);
  let delivered = 0;
  let wrong = 0;
  let first = 0;
  let last = 0;
  let finished!: () => void;
  const done = new Promise<void>((r) => (finished = r));
  const consumer = new PushConsumer({ consumerGroup: `features_bench_filter_${kind}_${Date.now() % 1_000_000_000}`, namesrvAddr, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', pullBatchSize: 32, consumeMessageBatchMaxSize: 32 });
  if (kind === 'sql92') consumer.subscribe(topic, MessageSelector.bySql(FILTER_SQL));
  else consumer.subscribe(topic, kind === 'tag' ? FILTER_TAG : '*');
  consumer.registerMessageListener((msgs: MessageExt[]) => {
    if (first === 0) first = performance.now();
    for (const m of msgs) {
      const i = Number(m.properties.i);
      if (!Number.isInteger(i) || i < 0 || i >= count || !matches(i) || seen[i] !== 0) wrong++;
      else seen[i] = 1;
      delivered++;
    }
    if (delivered >= expected && last === 0) {
      last = performance.now();
      finished();
    }
    return 'CONSUME_SUCCESS';
  });
  await consumer.start();
  try {
    await withTimeout(done, timeoutMs, `${kind} consume (${delivered} of ${expected} delivered)`);
    if (wrong > 0) throw new Error(`${kind} consume: ${wrong} deliveries the filter should not have passed, or repeats`);
    const seconds = Math.max((last - first) / 1000, 0.001);
    return { expected, delivered, deliveredPerSecond: expected / seconds, scannedPerSecond: count / seconds };
  } finally {
    await withTimeout(consumer.shutdown(), SHUTDOWN_TIMEOUT_MS, 'consumer shutdown').catch(() => undefined);
  }
}
