// Orbit through its own client (@orbit/client), as benchmarks/broker/producer.ts drives it: one
// Producer (one connection to the broker) with orbitSenders concurrent senders, each awaiting a
// sendBatch of orbitBatch messages (SEND_BATCH_MESSAGE: one request, one queue, consecutive
// offsets) before sending the next; read back by a LitePullConsumer assigned every queue of the
// topic (background pulls, poll() loop) or a PushConsumer; latency from sync send() of one message.
import { LitePullConsumer, Producer, PushConsumer, type Message, type MessageExt } from '@orbit/client';
import { withTimeout } from '../lib/timing.js';
import type { ConsumeTiming, LoadKnobs, SystemLoad } from './load-common.js';

const SHUTDOWN_TIMEOUT_MS = 15_000;
const POLL_TIMEOUT_MS = 1_000;
const SEND_TIMEOUT_MS = 30_000;

export async function openOrbitLoad(namesrvAddr: string, topic: string, knobs: LoadKnobs, phaseTimeoutMs: number): Promise<SystemLoad> {
  const producer = new Producer({
    producerGroup: `peers_bench_producer`,
    namesrvAddr,
    sendMsgTimeoutMs: SEND_TIMEOUT_MS,
    // Bodies are never compressed (the other clients do not compress either).
    compressMsgBodyOverHowmuch: Number.MAX_SAFE_INTEGER,
    maxMessageSizeBytes: 64 * 1024 * 1024,
  });
  await producer.start();
  // Route lookup and connection before the clock starts, as the other clients connect first.
  await producer.fetchPublishMessageQueues(topic);

  return {
    usage: {
      produce: `${knobs.orbitSenders} senders, each awaiting producer.sendBatch() of ${knobs.orbitBatch} messages`,
      consume:
        knobs.orbitConsumer === 'lite'
          ? `LitePullConsumer assigned all queues, pullBatchSize ${knobs.orbitPullBatch}, poll() loop`
          : `PushConsumer, pullBatchSize ${knobs.orbitPullBatch}, consumeMessageBatchMaxSize ${knobs.orbitPullBatch}, 20 listener calls at once`,
      latency: 'await producer.send() of one message',
    },
    async produce(count, body) {
      let issued = 0;
      const sender = async () => {
        while (issued < count) {
          const n = Math.min(knobs.orbitBatch, count - issued);
          issued += n;
          const msgs: Message[] = new Array(n);
          for (let i = 0; i < n; i++) msgs[i] = { topic, body };
          await producer.sendBatch(msgs);
        }
      };
      await Promise.all(Array.from({ length: knobs.orbitSenders }, sender));
    },
    consume(count, bodyBytes) {
      return knobs.orbitConsumer === 'lite' ? consumeLite(namesrvAddr, topic, count, bodyBytes, knobs, phaseTimeoutMs) : consumePush(namesrvAddr, topic, count, bodyBytes, knobs, phaseTimeoutMs);
    },
    async sendOne(body) {
      await producer.send({ topic, body });
    },
    async close() {
      await withTimeout(producer.shutdown(), SHUTDOWN_TIMEOUT_MS, 'Orbit producer shutdown');
    },
  };
}

async function consumeLite(namesrvAddr: string, topic: string, count: number, bodyBytes: number, knobs: LoadKnobs, phaseTimeoutMs: number): Promise<ConsumeTiming> {
  const calledMs = performance.now();
  const deadline = calledMs + phaseTimeoutMs;
  const consumer = new LitePullConsumer({
    consumerGroup: `peers_bench_lite_${Date.now() % 1_000_000_000}`,
    namesrvAddr,
    consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
    pullBatchSize: knobs.orbitPullBatch,
  });
  let got = 0;
  let bad = 0;
  let firstMs = 0;
  try {
    await consumer.start();
    consumer.assign(await consumer.fetchMessageQueues(topic));
    while (got < count) {
      if (performance.now() > deadline) throw new Error(`Orbit consume: ${got} of ${count} read within ${phaseTimeoutMs} ms`);
      const msgs = await consumer.poll(POLL_TIMEOUT_MS);
      if (msgs.length === 0) continue;
      if (got === 0) firstMs = performance.now();
      for (const m of msgs) if (m.body.length !== bodyBytes) bad++;
      got += msgs.length;
    }
    const lastMs = performance.now();
    if (bad > 0) throw new Error(`Orbit consume: ${bad} bodies were not ${bodyBytes} bytes`);
    return { count: got, calledMs, firstMs, lastMs };
  } finally {
    await withTimeout(consumer.shutdown(), SHUTDOWN_TIMEOUT_MS, 'Orbit consumer shutdown').catch(() => undefined);
  }
}

async function consumePush(namesrvAddr: string, topic: string, count: number, bodyBytes: number, knobs: LoadKnobs, phaseTimeoutMs: number): Promise<ConsumeTiming> {
  const calledMs = performance.now();
  const consumer = new PushConsumer({
    consumerGroup: `peers_bench_push_${Date.now() % 1_000_000_000}`,
    namesrvAddr,
    consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
    pullBatchSize: knobs.orbitPullBatch,
    consumeMessageBatchMaxSize: knobs.orbitPullBatch,
  });
  consumer.subscribe(topic, '*');
  let got = 0;
  let bad = 0;
  let firstMs = 0;
  let lastMs = 0;
  let finished!: () => void;
  const done = new Promise<void>((r) => (finished = r));
  consumer.registerMessageListener((msgs: MessageExt[]) => {
    if (got === 0) firstMs = performance.now();
    for (const m of msgs) if (m.body.length !== bodyBytes) bad++;
    got += msgs.length;
    if (got >= count && lastMs === 0) {
      lastMs = performance.now();
      finished();
    }
    return 'CONSUME_SUCCESS';
  });
  try {
    await consumer.start();
    await withTimeout(done, phaseTimeoutMs, `Orbit consume (${got} of ${count} read)`);
    if (bad > 0) throw new Error(`Orbit consume: ${bad} bodies were not ${bodyBytes} bytes`);
    return { count: got, calledMs, firstMs, lastMs };
  } finally {
    await withTimeout(consumer.shutdown(), SHUTDOWN_TIMEOUT_MS, 'Orbit consumer shutdown').catch(() => undefined);
  }
}
