// NATS JetStream through the `nats` npm client: a fresh file-storage stream per run, async
// publishes with a window of PubAcks in flight, a durable pull consumer (no acks: it reads the
// stream as XREAD and RocketMQ's pull do, the consumer's position kept by the server) whose
// consume() keeps pulls of natsPullBatch messages outstanding.
import { AckPolicy, connect, DeliverPolicy, StorageType, type JsMsg, type NatsConnection } from 'nats';
import { withTimeout } from '../lib/timing.js';
import { runWindowed, type ConsumeTiming, type LoadKnobs, type SystemLoad } from './load-common.js';

const CLOSE_TIMEOUT_MS = 10_000;

export async function openNatsLoad(address: string, stream: string, knobs: LoadKnobs, phaseTimeoutMs: number): Promise<SystemLoad> {
  const nc: NatsConnection = await connect({ servers: address, name: 'peers-bench', maxReconnectAttempts: 0, timeout: 10_000 });
  const jsm = await nc.jetstreamManager();
  const subject = `${stream}.msgs`;
  await jsm.streams.add({ name: stream, subjects: [subject], storage: StorageType.File });
  // PubAcks can take a while behind a window of 1000 on a busy machine; the default is 5 s.
  const js = nc.jetstream({ timeout: 30_000 });

  return {
    usage: {
      produce: `js.publish() async, ${knobs.natsWindow} PubAcks in flight (sliding window), file-storage stream`,
      consume: `durable pull consumer (ack none), consume({ max_messages: ${knobs.natsPullBatch} }) with a callback`,
      latency: 'await js.publish() of one message',
    },
    async produce(count, body) {
      await runWindowed(count, knobs.natsWindow, () => js.publish(subject, body));
    },
    async consume(count, bodyBytes): Promise<ConsumeTiming> {
      const calledMs = performance.now();
      const durable = `bench_${Date.now() % 1_000_000_000}`;
      await jsm.consumers.add(stream, { durable_name: durable, ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All });
      const consumer = await js.consumers.get(stream, durable);
      let got = 0;
      let firstMs = 0;
      let lastMs = 0;
      let bad = 0;
      let finished!: () => void;
      const done = new Promise<void>((r) => (finished = r));
      const messages = await consumer.consume({
        max_messages: knobs.natsPullBatch,
        callback: (m: JsMsg) => {
          if (got === 0) firstMs = performance.now();
          if (m.data.length !== bodyBytes) bad++;
          got++;
          if (got === count) {
            lastMs = performance.now();
            finished();
          }
        },
      });
      try {
        await withTimeout(done, phaseTimeoutMs, `NATS consume (${got} of ${count} read)`);
      } finally {
        await messages.close().catch(() => undefined);
      }
      if (bad > 0) throw new Error(`NATS consume: ${bad} bodies were not ${bodyBytes} bytes`);
      await jsm.consumers.delete(stream, durable).catch(() => undefined);
      return { count: got, calledMs, firstMs, lastMs };
    },
    async sendOne(body) {
      await js.publish(subject, body);
    },
    async close() {
      try {
        await withTimeout(jsm.streams.delete(stream), CLOSE_TIMEOUT_MS, 'NATS stream delete');
      } finally {
        await withTimeout(nc.close(), CLOSE_TIMEOUT_MS, 'NATS close').catch(() => undefined);
      }
    },
  };
}
