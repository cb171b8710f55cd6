// Drives the unmodified npm client `ali-ons` (RocketMQ 4.x remoting) against Orbit, in a child
// process because ali-ons keeps timers alive after close (clients.md §1.5): we exit explicitly.
// Usage:
//   node ali-ons.fixture.cjs produce <namesrv> <topic> <count> <tagPrefix>
//     prints one JSON line per send: {"i":..,"msgId":..,"queueId":..,"queueOffset":..,"status":..}
//   node ali-ons.fixture.cjs consume <namesrv> <topic> <group> <expected> <timeoutMs>
//     prints one JSON line per message: {"body":..,"msgId":..,"queueId":..,"queueOffset":..,"tags":..}
//     then "done", after closing the consumer (which commits its offsets).
'use strict';
const { Producer, Consumer, Message } = require('ali-ons');

const [mode, nameSrv, topic, ...rest] = process.argv.slice(2);
const httpclient = {}; // only used for Aliyun's onsAddr lookup, never with nameSrv set
const hardDeadline = setTimeout(() => {
  console.log(JSON.stringify({ error: 'fixture deadline reached' }));
  process.exit(3);
}, 90_000);

async function produce(count, tagPrefix) {
  const producer = new Producer({ httpclient, nameSrv, producerGroup: 'ali_ons_pg' });
  await producer.ready();
  for (let i = 0; i < count; i++) {
    const msg = new Message(topic, `${tagPrefix}${i % 2}`, `body-${tagPrefix}-${i}`);
    msg.keys = [`key-${tagPrefix}-${i}`];
    const r = await producer.send(msg);
    console.log(JSON.stringify({ i, msgId: r.msgId, queueId: r.messageQueue.queueId, queueOffset: r.queueOffset, status: r.sendStatus }));
  }
  await producer.close();
}

async function consume(group, expected, timeoutMs) {
  const consumer = new Consumer({ httpclient, nameSrv, consumerGroup: group, rebalanceInterval: 1000 });
  consumer.on('error', (err) => console.error(`consumer error: ${err.message}`));
  let received = 0;
  let resolveDone;
  const done = new Promise((r) => (resolveDone = r));
  consumer.subscribe(topic, '*', async (msg) => {
    console.log(JSON.stringify({ body: msg.body.toString(), msgId: msg.msgId, queueId: msg.queueId, queueOffset: msg.queueOffset, tags: msg.tags }));
    if (++received >= expected) resolveDone();
  });
  await consumer.ready();
  await Promise.race([done, new Promise((r) => setTimeout(r, timeoutMs))]);
  // Give the pull loops a moment so a wrongly re-delivered message would show up too.
  await new Promise((r) => setTimeout(r, 1500));
  await consumer.close();
  console.log('done');
}

(async () => {
  if (mode === 'produce') await produce(Number(rest[0]), rest[1]);
  else if (mode === 'consume') await consume(rest[0], Number(rest[1]), Number(rest[2]));
  else throw new Error(`unknown mode ${mode}`);
  clearTimeout(hardDeadline);
  process.exit(0);
})().catch((err) => {
  console.log(JSON.stringify({ error: err.message }));
  process.exit(2);
});
