// Client-side steps of the network-namespace test, run inside a namespace (the brokers' addresses
// are only reachable there): `ip netns exec orbit-ns node --import tsx scripts/netns/netns-driver.ts <command> ...`.
// Each command prints one JSON line on stdout as its last line and exits; every loop is bounded.
//
//   create-topic --namesrv A --topic T --queues N          on every master of the cluster; waits for the route
//   send --namesrv A --topic T --prefix P --count N [--broker NAME] [--concurrency C] [--timeout-ms MS]
//        N sends (C at a time) with bodies P-<i>; with --broker only to that broker's queues.
//        → {"statuses":{"SEND_OK":n,"FLUSH_SLAVE_TIMEOUT":m,...},"failed":k,"errors":[...]}
//   until-send-ok --namesrv A --topic T --broker NAME [--timeout-ms MS]
//        one send at a time to that broker until one is SEND_OK (a SYNC_MASTER answers so once its slave acks)
//   max-offset --addr HOST:PORT                             → {"commitLogMaxOffset":n}
import { createTopicOnMasters, fastClientOptions, sendToBrokerUntilOk } from '../deployment/message-checks.js';
import { commitLogMaxOffset } from '../deployment/runtime-info.js';
import { AdminClient, Producer, type SendResult } from '../deployment/workspace.js';

type Args = Map<string, string>;

function parse(argv: string[]): { command: string; args: Args } {
  const [command = '', ...rest] = argv;
  const args: Args = new Map();
  for (let i = 0; i < rest.length; i += 2) {
    const key = rest[i]!;
    if (!key.startsWith('--') || rest[i + 1] === undefined) throw new RangeError(`bad argument ${key}`);
    args.set(key.slice(2), rest[i + 1]!);
  }
  return { command, args };
}

function need(args: Args, key: string): string {
  const v = args.get(key);
  if (v === undefined) throw new RangeError(`--${key} is required`);
  return v;
}

function num(args: Args, key: string, dflt: number): number {
  const v = args.get(key);
  const n = v === undefined ? dflt : Number(v);
  if (!Number.isFinite(n)) throw new RangeError(`--${key} must be a number`);
  return n;
}

async function masterAddrs(namesrvAddr: string): Promise<string[]> {
  const admin = new AdminClient(fastClientOptions(namesrvAddr));
  try {
    const info = await admin.getClusterInfo();
    return Object.values(info.brokerAddrTable)
      .map((b) => b.brokerAddrs['0'])
      .filter((a): a is string => a !== undefined);
  } finally {
    await admin.shutdown();
  }
}

async function withProducer<T>(namesrvAddr: string, timeoutMs: number, fn: (p: Producer) => Promise<T>): Promise<T> {
  const producer = new Producer({ ...fastClientOptions(namesrvAddr), producerGroup: 'netns-driver', sendMsgTimeoutMs: timeoutMs, retryTimesWhenSendFailed: 0 });
  await producer.start();
  try {
    return await fn(producer);
  } finally {
    await producer.shutdown();
  }
}

async function queuesOf(namesrvAddr: string, topic: string, brokerName: string | undefined) {
  const admin = new AdminClient(fastClientOptions(namesrvAddr));
  try {
    const all = await admin.fetchSubscribeMessageQueues(topic);
    const queues = brokerName ? all.filter((q) => q.brokerName === brokerName) : all;
    if (queues.length === 0) throw new Error(`topic ${topic} has no queue${brokerName ? ` on ${brokerName}` : ''}`);
    return queues;
  } finally {
    await admin.shutdown();
  }
}

async function send(args: Args): Promise<unknown> {
  const namesrv = need(args, 'namesrv');
  const topic = need(args, 'topic');
  const prefix = need(args, 'prefix');
  const count = num(args, 'count', 10);
  const concurrency = Math.max(1, num(args, 'concurrency', 1));
  const timeoutMs = num(args, 'timeout-ms', 10_000);
  const broker = args.get('broker');
  const queues = broker ? await queuesOf(namesrv, topic, broker) : undefined;
  const statuses: Record<string, number> = {};
  const errors: string[] = [];
  let failed = 0;
  let next = 0;
  await withProducer(namesrv, timeoutMs, async (producer) => {
    const worker = async () => {
      for (let i = next++; i < count; i = next++) {
        const msg = { topic, body: `${prefix}-${i}`, keys: [`${prefix}-${i}`] };
        try {
          const r: SendResult = queues ? await producer.send(msg, { messageQueue: queues[i % queues.length]! }) : await producer.send(msg);
          statuses[r.sendStatus] = (statuses[r.sendStatus] ?? 0) + 1;
        } catch (err) {
          failed++;
          if (errors.length < 5) errors.push(String((err as Error).message ?? err).slice(0, 200));
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  });
  return { statuses, failed, errors };
}

async function untilSendOk(args: Args): Promise<unknown> {
  return sendToBrokerUntilOk(need(args, 'namesrv'), need(args, 'topic'), need(args, 'broker'), num(args, 'timeout-ms', 20_000));
}

async function main(): Promise<void> {
  const { command, args } = parse(process.argv.slice(2));
  let result: unknown;
  switch (command) {
    case 'create-topic': {
      const namesrv = need(args, 'namesrv');
      const masters = await masterAddrs(namesrv);
      await createTopicOnMasters(namesrv, masters, need(args, 'topic'), num(args, 'queues', 4));
      result = { masters };
      break;
    }
    case 'send':
      result = await send(args);
      break;
    case 'until-send-ok':
      result = await untilSendOk(args);
      break;
    case 'max-offset':
      result = { commitLogMaxOffset: (await commitLogMaxOffset(need(args, 'addr'))) ?? null };
      break;
    default:
      throw new RangeError(`unknown command "${command}" (create-topic, send, until-send-ok, max-offset)`);
  }
  console.log(JSON.stringify(result));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  },
);
