// What the deployment tests (and the netns driver) do with messages, through Orbit's client: create
// a topic on every master, send numbered bodies, consume them as a group, count what a topic holds,
// and wait until each slave's commit log has caught up with its master's. Every wait is bounded.
import { commitLogMaxOffset } from './runtime-info.js';
import { sleepMs } from './processes.js';
import { AdminClient, Producer, PushConsumer, silentLogger, type MessageExt, type SendResult } from './workspace.js';

const POLL_MS = 100;
let instanceSeq = 0;

/** Client timers short enough for a test: routes, heartbeats and rebalances within a second. */
export function fastClientOptions(namesrvAddr: string) {
  return {
    namesrvAddr,
    instanceName: `check-${process.pid}-${++instanceSeq}`,
    pollNameServerIntervalMs: 1_000,
    heartbeatBrokerIntervalMs: 1_000,
    rebalanceIntervalMs: 1_000,
    persistConsumerOffsetIntervalMs: 500,
    logger: silentLogger,
  };
}

export async function until(what: string, timeoutMs: number, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleepMs(POLL_MS);
  }
}

/** UPDATE_AND_CREATE_TOPIC at every master, then waits until the NameServer's route lists them all with `queues` queues. */
export async function createTopicOnMasters(namesrvAddr: string, masterAddrs: string[], topic: string, queues: number, timeoutMs = 20_000): Promise<void> {
  const admin = new AdminClient({ ...fastClientOptions(namesrvAddr) });
  try {
    for (const addr of masterAddrs) await admin.createTopic(addr, { topic, readQueueNums: queues, writeQueueNums: queues });
    await until(`the route of ${topic} to list ${masterAddrs.length} master(s)`, timeoutMs, async () => {
      const route = await admin.getTopicRoute(topic).catch(() => undefined);
      if (!route) return false;
      const masters = route.brokerDatas.map((b) => b.brokerAddrs['0']).filter((a): a is string => a !== undefined);
      const full = route.queueDatas.filter((q) => q.writeQueueNums === queues).length;
      return masterAddrs.every((a) => masters.includes(a)) && full >= masterAddrs.length;
    });
  } finally {
    await admin.shutdown();
  }
}

/** Sends `count` messages with bodies `${prefix}-<i>`, one at a time; returns each send's result. */
export async function sendNumbered(namesrvAddr: string, topic: string, prefix: string, count: number, timeoutMs = 10_000): Promise<SendResult[]> {
  const producer = new Producer({ ...fastClientOptions(namesrvAddr), producerGroup: `${prefix}-pg`, sendMsgTimeoutMs: timeoutMs });
  await producer.start();
  try {
    const results: SendResult[] = [];
    for (let i = 0; i < count; i++) results.push(await producer.send({ topic, body: `${prefix}-${i}`, keys: [`${prefix}-${i}`] }));
    return results;
  } finally {
    await producer.shutdown();
  }
}

/** A new consumer group from the first offset; resolves with what it received once `expected` bodies all arrived (or the time is up). */
export async function consumeAll(namesrvAddr: string, topic: string, group: string, expected: Set<string>, timeoutMs = 20_000): Promise<Map<string, number>> {
  const received = new Map<string, number>();
  const consumer = new PushConsumer({ ...fastClientOptions(namesrvAddr), consumerGroup: group, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
  consumer.subscribe(topic, '*');
  consumer.registerMessageListener(async (msgs: MessageExt[]) => {
    for (const m of msgs) received.set(m.body.toString(), (received.get(m.body.toString()) ?? 0) + 1);
    return 'CONSUME_SUCCESS' as const;
  });
  await consumer.start();
  try {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && ![...expected].every((b) => received.has(b))) await sleepMs(POLL_MS);
    return received;
  } finally {
    await consumer.shutdown();
  }
}

/** Messages a topic holds: the sum over its queues of (max offset − min offset), asked of each queue's master. */
export async function topicMessageCount(namesrvAddr: string, topic: string): Promise<number> {
  const admin = new AdminClient({ ...fastClientOptions(namesrvAddr) });
  try {
    let total = 0;
    for (const mq of await admin.fetchSubscribeMessageQueues(topic)) total += (await admin.getMaxOffset(mq)) - (await admin.getMinOffset(mq));
    return total;
  } finally {
    await admin.shutdown();
  }
}

/**
 * Sends one message at a time to the first queue of `brokerName` until one is answered SEND_OK (a
 * SYNC_MASTER answers so only once a slave acknowledged it, so this also waits for its slave to be
 * connected). Returns the attempts made and the last status when the time ran out.
 */
export async function sendToBrokerUntilOk(namesrvAddr: string, topic: string, brokerName: string, timeoutMs = 20_000): Promise<{ ok: boolean; attempts: number; last?: string }> {
  const admin = new AdminClient({ ...fastClientOptions(namesrvAddr) });
  const producer = new Producer({ ...fastClientOptions(namesrvAddr), producerGroup: 'until-send-ok-pg', sendMsgTimeoutMs: 5_000, retryTimesWhenSendFailed: 0 });
  try {
    const queue = (await admin.fetchSubscribeMessageQueues(topic)).find((q) => q.brokerName === brokerName);
    if (!queue) throw new Error(`topic ${topic} has no queue on ${brokerName}`);
    await producer.start();
    const deadline = Date.now() + timeoutMs;
    for (let attempts = 1; ; attempts++) {
      const last = await producer.send({ topic, body: `probe-${attempts}` }, { messageQueue: queue }).then(
        (r) => r.sendStatus as string,
        (err: Error) => `error: ${err.message}`,
      );
      if (last === 'SEND_OK') return { ok: true, attempts };
      if (Date.now() > deadline) return { ok: false, attempts, last };
      await sleepMs(200);
    }
  } finally {
    await producer.shutdown();
    await admin.shutdown();
  }
}

export interface ReplicaPair {
  name: string;
  masterAddr: string;
  slaveAddr: string;
}

/**
 * Waits until every slave's commit-log max offset equals its master's (and is > 0). Returns the last
 * offsets seen per pair, so a failure can say how far behind each slave was.
 */
export async function waitForSlavesToCatchUp(pairs: ReplicaPair[], timeoutMs: number): Promise<{ caughtUp: boolean; offsets: Record<string, { master?: number; slave?: number }> }> {
  const offsets: Record<string, { master?: number; slave?: number }> = {};
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let all = true;
    for (const p of pairs) {
      const master = await commitLogMaxOffset(p.masterAddr, 1_000);
      const slave = await commitLogMaxOffset(p.slaveAddr, 1_000);
      offsets[p.name] = { master, slave };
      if (master === undefined || master === 0 || slave !== master) all = false;
    }
    if (all) return { caughtUp: true, offsets };
    if (Date.now() > deadline) return { caughtUp: false, offsets };
    await sleepMs(200);
  }
}
