// Send and receive against a running Orbit (start it with `pnpm start` in another terminal).
// Run: pnpm example [namesrvAddr]        (default 127.0.0.1:9876)
import { AdminClient, Producer, PushConsumer, silentLogger } from '@orbit/client';

const namesrvAddr = process.argv[2] ?? '127.0.0.1:9876';
const topic = 'QuickStartTopic';
const count = 10;

const producer = new Producer({ producerGroup: 'quickstart-producer', namesrvAddr, logger: silentLogger });
await producer.start();
for (let i = 0; i < count; i++) {
  // The first send creates the topic from TBW102 (autoCreateTopicEnable=true, as RocketMQ).
  const r = await producer.send({ topic, body: `Hello Orbit ${i}`, tags: 'TagA', keys: [`key-${i}`] });
  console.log(`sent  ${r.sendStatus} msgId=${r.msgId} queue=${r.messageQueue.brokerName}/${r.messageQueue.queueId} offset=${r.queueOffset}`);
}
await producer.shutdown();

// A topic created by its first send reaches the NameServer with the broker's next registration (a
// moment later); a consumer that asked before that would wait for its 30 s route refresh.
const admin = new AdminClient({ namesrvAddr, logger: silentLogger });
for (let tries = 0; tries < 50; tries++) {
  const found = await admin.getTopicRoute(topic).then(() => true, () => false);
  if (found) break;
  await new Promise((r) => setTimeout(r, 100));
}
await admin.shutdown();

const consumer = new PushConsumer({ consumerGroup: 'quickstart-consumer', namesrvAddr, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', logger: silentLogger });
consumer.subscribe(topic, 'TagA');
let received = 0;
const done = new Promise<void>((resolve) => {
  consumer.registerMessageListener(async (msgs) => {
    for (const m of msgs) console.log(`got   "${m.body.toString()}" queue=${m.brokerName}/${m.queueId} offset=${m.queueOffset}`);
    received += msgs.length;
    if (received >= count) resolve();
    return 'CONSUME_SUCCESS';
  });
});
await consumer.start();
const timeout = setTimeout(() => console.log(`only ${received} of ${count} arrived within 15 s (run it again: offsets are committed per group)`), 15_000);
await Promise.race([done, new Promise((r) => setTimeout(r, 15_000))]);
clearTimeout(timeout);
await consumer.shutdown(); // commits the group's offsets on the broker
console.log(`received ${received}; running this again receives only the new messages`);
process.exit(0);
