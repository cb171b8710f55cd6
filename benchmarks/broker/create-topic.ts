// Creates (or updates) a topic on a broker and waits until the NameServer routes it, like
// `mqadmin updateTopic -n <namesrv> -b <broker> -t <topic> -r 8 -w 8`. For benchmarks against a
// broker started by hand (see README.md, "Profiling the broker"): Orbit's brokers pre-create
// BenchmarkTest with 1024 queues, as RocketMQ's do, and the benchmarks use 8.
//
//   node --import tsx benchmarks/broker/create-topic.ts -n 127.0.0.1:19876 -t BenchmarkTest -q 8 [-b 127.0.0.1:10911]
import { AdminClient } from '@orbit/client';
import { createTopicAndWaitForRoute } from './local-cluster.js';
import { parseToolArgs, usageText, type OptionSpec } from './tool-common.js';

const SPECS: OptionSpec[] = [
  { names: ['n', 'namesrv'], kind: 'string', help: 'NameServer address list (127.0.0.1:9876)' },
  { names: ['t', 'topic'], kind: 'string', help: 'topic (BenchmarkTest)' },
  { names: ['q', 'queues'], kind: 'number', help: 'read and write queues (8)' },
  { names: ['b', 'broker'], kind: 'string', help: 'broker address; default: every master the NameServer knows' },
  { names: ['h', 'help'], kind: 'boolean', help: 'this help' },
];

const a = parseToolArgs(process.argv.slice(2), SPECS);
if (a.get('h')) {
  console.log(usageText('node --import tsx benchmarks/broker/create-topic.ts', SPECS));
  process.exit(0);
}
const namesrv = (a.get('n') as string | undefined) ?? process.env.NAMESRV_ADDR ?? '127.0.0.1:9876';
const topic = (a.get('t') as string | undefined) ?? 'BenchmarkTest';
const queues = (a.get('q') as number | undefined) ?? 8;
let brokers = a.get('b') ? [a.get('b') as string] : [];
if (brokers.length === 0) {
  const admin = new AdminClient({ namesrvAddr: namesrv });
  await admin.start();
  const info = await admin.getClusterInfo();
  await admin.shutdown();
  brokers = Object.values(info.brokerAddrTable)
    .map((b) => b.brokerAddrs['0'])
    .filter((x): x is string => !!x);
  if (brokers.length === 0) throw new Error(`the NameServer ${namesrv} knows no master broker`);
}
for (const broker of brokers) {
  await createTopicAndWaitForRoute(namesrv, broker, topic, queues);
  console.log(`create topic to ${broker} success: ${topic} with ${queues} queues`);
}
process.exit(0);
