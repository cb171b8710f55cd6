// Smoke run of every client against a live NameServer and broker (Orbit or RocketMQ): auto-created
// topic, sync/async/oneway/batch/compressed sends, admin lookups, a push consumer with a tag filter and
// one RECONSUME_LATER, a live message through long polling, a lite pull consumer, committed offsets.
import { Producer, PushConsumer, LitePullConsumer, AdminClient, type MessageExt } from '@orbit/client';

// Usage: node --import tsx packages/client/examples/smoke.mts [namesrvAddr]   (default 127.0.0.1:9876)
const namesrvAddr = process.argv[2] ?? process.env.NAMESRV_ADDR ?? '127.0.0.1:9876';
const topic = `Smoke${Date.now() % 100000}`;
const t0 = Date.now();
const log = (...a: unknown[]) => console.log(`[${Date.now() - t0}ms]`, ...a);

const producer = new Producer({ producerGroup: 'smoke-pg', namesrvAddr, instanceName: 'smoke-producer' });
await producer.start();
const first = await producer.send({ topic, body: 'first', tags: 'TagA', keys: 'k-first' });
log('first send (auto-create)', first.sendStatus, first.messageQueue, first.queueOffset, first.offsetMsgId);
for (let i = 0; i < 19; i++) await producer.send({ topic, body: `m${i}`, tags: i % 2 ? 'TagA' : 'TagB', keys: `k${i}` });
const batch = await producer.sendBatch([{ topic, body: 'b1', tags: 'TagA' }, { topic, body: 'b2', tags: 'TagA' }]);
log('batch', batch.sendStatus, batch.messageQueue, batch.queueOffset, batch.offsetMsgId);
const big = await producer.send({ topic, body: Buffer.alloc(10000, 'z'), tags: 'TagA' });
log('compressed', big.sendStatus);
await producer.sendOneway({ topic, body: 'oneway', tags: 'TagA' });
const as = await producer.sendAsync({ topic, body: 'async', tags: 'TagA' });
log('async', as.sendStatus);

const admin = new AdminClient({ namesrvAddr });
let route;
for (let i = 0; i < 40 && route === undefined; i++) { route = await admin.getTopicRoute(topic).catch(() => undefined); if (!route) await new Promise((r) => setTimeout(r, 1000)); }
if (!route) throw new Error('topic never registered');
log('route', JSON.stringify(route));
const viewed = await admin.viewMessageById(first.offsetMsgId).catch((e) => e);
log('view by id', viewed instanceof Error ? viewed.message : viewed.body.toString());
const byKey = await admin.queryMessageByKey(topic, 'k-first').catch((e) => e);
log('query by key', byKey instanceof Error ? byKey.message : byKey.map((m: MessageExt) => m.body.toString()));
const mqs = await admin.fetchSubscribeMessageQueues(topic);
for (const mq of mqs) log('offsets', mq.queueId, await admin.getMinOffset(mq), await admin.getMaxOffset(mq));

const received: MessageExt[] = [];
const consumer = new PushConsumer({ consumerGroup: 'smoke-cg', namesrvAddr, instanceName: 'smoke-consumer', consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
consumer.subscribe(topic, 'TagA');
let failOnce = true;
consumer.registerMessageListener(async (msgs) => {
  if (failOnce && msgs[0]!.body.toString() === 'm1') { failOnce = false; log('RECONSUME_LATER for m1'); return 'RECONSUME_LATER'; }
  received.push(...msgs);
  return 'CONSUME_SUCCESS';
});
await consumer.start();
const deadline = Date.now() + 15000;
while (received.length < 15 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
log('push consumer received', received.length, received.map((m) => m.body.length > 20 ? `big(${m.body.length})` : m.body.toString()).join(','));
log('owned', consumer.ownedQueues().length);
// new message while long-polling
const live = Date.now();
await producer.send({ topic, body: 'live', tags: 'TagA' });
while (!received.some((m) => m.body.toString() === 'live') && Date.now() < live + 5000) await new Promise((r) => setTimeout(r, 10));
log('live message latency ms', Date.now() - live);
await new Promise((r) => setTimeout(r, 6000));
await consumer.shutdown();
for (const mq of mqs) log('committed', mq.queueId, await admin.queryConsumerOffset('smoke-cg', mq));

const lite = new LitePullConsumer({ consumerGroup: 'smoke-lite', namesrvAddr, instanceName: 'smoke-lite', consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', autoCommit: false });
lite.subscribe(topic, '*');
await lite.start();
let got = 0;
const liteDeadline = Date.now() + 10000;
while (got < 25 && Date.now() < liteDeadline) got += (await lite.poll(1000)).length;
log('lite polled', got);
await lite.commitSync();
await lite.shutdown();
for (const mq of mqs) log('lite committed', mq.queueId, await admin.queryConsumerOffset('smoke-lite', mq));
await admin.shutdown();
await producer.shutdown();
log('done');
