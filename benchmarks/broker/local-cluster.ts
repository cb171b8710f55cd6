// A NameServer and a single-master ASYNC_FLUSH broker started as real processes (bin/mqnamesrv,
// bin/mqbroker with a properties file, as scripts/start.ts does) on 127.0.0.1 with ports the OS
// picks (listenPort=0; each prints the port it bound), over a temporary store that is deleted when
// the cluster stops or the benchmark is interrupted.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AdminClient } from '@orbit/client';
import { startProcess, type RunningProcess } from '../lib/child-processes.js';
import { freshScratchDir, type ScratchDir } from '../lib/scratch-dir.js';
import { sleepMs } from '../lib/timing.js';

export const WORKSPACE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const MQNAMESRV = join(WORKSPACE_ROOT, 'packages/namesrv/bin/mqnamesrv');
export const MQBROKER = join(WORKSPACE_ROOT, 'packages/broker/bin/mqbroker');
export const TSX_LOADER = `file://${join(WORKSPACE_ROOT, 'node_modules/tsx/dist/loader.mjs')}`;

/** 256 MiB commit-log segments instead of RocketMQ's 1 GiB: less zero-filling ahead of the writer and less disk held. */
export const BENCH_COMMIT_LOG_SEGMENT_BYTES = 256 * 1024 * 1024;

export interface LocalCluster {
  namesrvAddr: string;
  brokerAddr: string;
  namesrv: RunningProcess;
  broker: RunningProcess;
  storeDir: string;
  /** The broker properties as written. */
  brokerProperties: Record<string, string>;
  createTopic(topic: string, queues: number): Promise<void>;
  stop(): Promise<void>;
}

export interface LocalClusterOptions {
  /** Extra or overriding broker properties. */
  brokerProperties?: Record<string, string>;
  /** Lines of the processes' output are passed here (for --verbose). */
  log?: (line: string) => void;
}

export async function startLocalCluster(options: LocalClusterOptions = {}): Promise<LocalCluster> {
  const scratch: ScratchDir = freshScratchDir('broker');
  const log = options.log;
  let namesrv: RunningProcess | undefined;
  let broker: RunningProcess | undefined;
  try {
    const nsProps = join(scratch.path, 'namesrv.properties');
    writeFileSync(nsProps, ['listenPort=0', 'bindAddress=127.0.0.1', `kvConfigPath=${join(scratch.path, 'kvConfig.json')}`].join('\n') + '\n');
    namesrv = await startProcess({
      name: 'namesrv',
      command: MQNAMESRV,
      args: ['-c', nsProps],
      readyPattern: /listening on (\S+:\d+)[\s\S]*boot success/,
      onStdout: log && ((t) => log(`[namesrv] ${t.trimEnd()}`)),
      onStderr: log && ((t) => log(`[namesrv] ${t.trimEnd()}`)),
    });
    const namesrvAddr = namesrv.ready[1]!.replace('0.0.0.0', '127.0.0.1');

    const brokerProperties: Record<string, string> = {
      brokerClusterName: 'BenchCluster',
      brokerName: 'broker-bench',
      brokerId: '0',
      brokerRole: 'ASYNC_MASTER',
      flushDiskType: 'ASYNC_FLUSH',
      listenPort: '0',
      listenHost: '127.0.0.1',
      brokerIP1: '127.0.0.1',
      storePathRootDir: join(scratch.path, 'store'),
      mappedFileSizeCommitLog: String(BENCH_COMMIT_LOG_SEGMENT_BYTES),
      autoCreateTopicEnable: 'true',
      ...options.brokerProperties,
    };
    const brokerConf = join(scratch.path, 'broker.properties');
    writeFileSync(brokerConf, Object.entries(brokerProperties).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
    broker = await startProcess({
      name: 'broker',
      command: MQBROKER,
      args: ['-n', namesrvAddr, '-c', brokerConf],
      readyPattern: /The broker\[[^,]+, (\S+:\d+)\] boot success/,
      onStdout: log && ((t) => log(`[broker] ${t.trimEnd()}`)),
      onStderr: log && ((t) => log(`[broker] ${t.trimEnd()}`)),
    });
    const brokerAddr = broker.ready[1]!;
    const ns = namesrv;
    const br = broker;

    return {
      namesrvAddr,
      brokerAddr,
      namesrv: ns,
      broker: br,
      storeDir: brokerProperties.storePathRootDir!,
      brokerProperties,
      createTopic: (topic, queues) => createTopicAndWaitForRoute(namesrvAddr, brokerAddr, topic, queues),
      async stop() {
        // Broker first, so it can unregister from the NameServer.
        await br.stop();
        await ns.stop();
        scratch.remove();
      },
    };
  } catch (err) {
    await broker?.stop(2_000);
    await namesrv?.stop(2_000);
    scratch.remove();
    throw err;
  }
}

/** UPDATE_AND_CREATE_TOPIC on the broker, then waits until the NameServer's route shows that broker with exactly `queues` queues. */
export async function createTopicAndWaitForRoute(namesrvAddr: string, brokerAddr: string, topic: string, queues: number, timeoutMs = 30_000): Promise<void> {
  const admin = new AdminClient({ namesrvAddr });
  try {
    await admin.start();
    await admin.createTopic(brokerAddr, { topic, readQueueNums: queues, writeQueueNums: queues });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const route = await admin.getTopicRoute(topic);
        const brokerName = route.brokerDatas.find((b) => Object.values(b.brokerAddrs).includes(brokerAddr))?.brokerName;
        const queueData = route.queueDatas.find((q) => q.brokerName === brokerName);
        if (queueData && queueData.writeQueueNums === queues && queueData.readQueueNums === queues) return;
      } catch {
        // not registered yet
      }
      if (Date.now() > deadline) throw new Error(`topic ${topic} did not appear in the NameServer's route within ${timeoutMs} ms`);
      await sleepMs(100);
    }
  } finally {
    await admin.shutdown();
  }
}

/** Sum over the topic's queues of the broker's max offset: messages stored in the topic. */
export async function topicMessageCount(namesrvAddr: string, topic: string): Promise<number> {
  const admin = new AdminClient({ namesrvAddr });
  try {
    await admin.start();
    const queues = await admin.fetchSubscribeMessageQueues(topic);
    let total = 0;
    for (const mq of queues) total += (await admin.getMaxOffset(mq)) - (await admin.getMinOffset(mq));
    return total;
  } finally {
    await admin.shutdown();
  }
}
