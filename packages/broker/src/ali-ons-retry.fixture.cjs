// Drives the retry path of the unmodified npm client `ali-ons` against Orbit, in a child process
// because ali-ons keeps timers alive after close (clients.md §1.5): we exit explicitly.
// Usage:
//   node ali-ons-retry.fixture.cjs retry-consume <namesrv> <topic> <group> <failures> <deliveries> <timeoutMs>
//     The handler fails each message's first <failures> deliveries (bodies starting "throw" throw,
//     the others return Consumer.ACTION_RETRY), then succeeds. ali-ons hands a failed message back
//     with CONSUMER_SEND_MSG_BACK, or, when that fails, re-publishes it to %RETRY%<group> itself.
//     (ali-ons quirk: its %RETRY% subscription drops the handler's return value, so ACTION_RETRY
//     retries a message once; a throw retries it every time.)
//     Prints one JSON line per delivery: {"body","msgId","topic","reconsumeTimes","properties","at"};
//     one {"consumerError": ...} line per error event; then "done" once <deliveries> deliveries
//     came (or at the timeout), a second passed and the consumer is closed.
'use strict';
const { Consumer } = require('ali-ons');

const [mode, nameSrv, topic, group, failuresText, messagesText, timeoutText] = process.argv.slice(2);
const httpclient = {}; // only used for Aliyun's onsAddr lookup, never with nameSrv set
const hardDeadline = setTimeout(() => {
  console.log(JSON.stringify({ error: 'fixture deadline reached' }));
  process.exit(3);
}, 90_000);

async function retryConsume(failures, expectedDeliveries, timeoutMs) {
  const consumer = new Consumer({ httpclient, nameSrv, consumerGroup: group, rebalanceInterval: 1000 });
  consumer.on('error', (err) => console.log(JSON.stringify({ consumerError: err.message })));
  const deliveries = new Map();
  let total = 0;
  let resolveDone;
  const done = new Promise((r) => (resolveDone = r));
  consumer.subscribe(topic, '*', async (msg) => {
    const body = msg.body.toString();
    const n = (deliveries.get(body) || 0) + 1;
    deliveries.set(body, n);
    console.log(JSON.stringify({ body, msgId: msg.msgId, topic: msg.topic, reconsumeTimes: msg.reconsumeTimes, properties: msg.properties, at: Date.now() }));
    if (++total >= expectedDeliveries) resolveDone();
    if (n <= failures) {
      if (body.startsWith('throw')) throw new Error(`handler failure ${n} of ${body}`);
      return Consumer.ACTION_RETRY;
    }
  });
  await consumer.ready();
  await Promise.race([done, new Promise((r) => setTimeout(r, timeoutMs))]);
  // Give the pull loops a moment so a wrongly re-delivered message would show up too.
  await new Promise((r) => setTimeout(r, 1000));
  await consumer.close();
  console.log('done');
}

(async () => {
  if (mode === 'retry-consume') await retryConsume(Number(failuresText), Number(messagesText), Number(timeoutText));
  else throw new Error(`unknown mode ${mode}`);
  clearTimeout(hardDeadline);
  process.exit(0);
})().catch((err) => {
  console.log(JSON.stringify({ error: err.message }));
  process.exit(2);
});
