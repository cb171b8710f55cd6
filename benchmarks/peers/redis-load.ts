// Redis Streams through `ioredis`: a fresh stream key per run, XADD in pipelines of redisPipeline
// commands with redisPipelinesInFlight pipelines outstanding, read back with XREAD COUNT
// redisReadCount from the last id seen (xreadBuffer: bodies stay Buffers, as the other clients
// hand them out), one XADD awaited at a time per paced send for latency.
import { Redis } from 'ioredis';
import { withTimeout } from '../lib/timing.js';
import { runWindowed, type ConsumeTiming, type LoadKnobs, type SystemLoad } from './load-common.js';

const CLOSE_TIMEOUT_MS = 10_000;
/** XREAD returning nothing before all messages were read (should not happen: they were acknowledged) is retried after this. */
const EMPTY_READ_PAUSE_MS = 5;

type XReadReply = [Buffer, [Buffer, Buffer[]][]][] | null;

export async function openRedisLoad(address: string, key: string, knobs: LoadKnobs, phaseTimeoutMs: number): Promise<SystemLoad> {
  const [host, portText] = address.split(':');
  const redis = new Redis({ host, port: Number(portText), lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, connectTimeout: 10_000 });
  await redis.connect();
  await redis.del(key);

  return {
    usage: {
      produce: `pipelines of ${knobs.redisPipeline} XADD <key> * b <body>, ${knobs.redisPipelinesInFlight} pipelines in flight`,
      consume: `XREAD COUNT ${knobs.redisReadCount} from the last id read (xreadBuffer), one at a time`,
      latency: 'await XADD of one message',
    },
    async produce(count, body) {
      const pipelines = Math.ceil(count / knobs.redisPipeline);
      await runWindowed(pipelines, knobs.redisPipelinesInFlight, async (index) => {
        const n = Math.min(knobs.redisPipeline, count - index * knobs.redisPipeline);
        const p = redis.pipeline();
        for (let i = 0; i < n; i++) p.xadd(key, '*', 'b', body);
        const replies = await p.exec();
        if (!replies) throw new Error('Redis pipeline was discarded');
        for (const [err] of replies) if (err) throw err;
      });
    },
    async consume(count, bodyBytes): Promise<ConsumeTiming> {
      const calledMs = performance.now();
      const deadline = calledMs + phaseTimeoutMs;
      let lastId = '0-0';
      let got = 0;
      let bad = 0;
      let firstMs = 0;
      while (got < count) {
        if (performance.now() > deadline) throw new Error(`Redis consume: ${got} of ${count} read within ${phaseTimeoutMs} ms`);
        const reply = (await redis.xreadBuffer('COUNT', Math.min(knobs.redisReadCount, count - got), 'STREAMS', key, lastId)) as XReadReply;
        const entries = reply?.[0]?.[1];
        if (!entries || entries.length === 0) {
          await new Promise((r) => setTimeout(r, EMPTY_READ_PAUSE_MS));
          continue;
        }
        if (got === 0) firstMs = performance.now();
        for (const [, fields] of entries) if (fields[1]?.length !== bodyBytes) bad++;
        got += entries.length;
        lastId = entries[entries.length - 1]![0].toString();
      }
      const lastMs = performance.now();
      if (bad > 0) throw new Error(`Redis consume: ${bad} bodies were not ${bodyBytes} bytes`);
      return { count: got, calledMs, firstMs, lastMs };
    },
    async sendOne(body) {
      await redis.xadd(key, '*', 'b', body);
    },
    async close() {
      try {
        await withTimeout(redis.del(key), CLOSE_TIMEOUT_MS, 'Redis DEL');
      } finally {
        await withTimeout(redis.quit(), CLOSE_TIMEOUT_MS, 'Redis QUIT').catch(() => redis.disconnect());
      }
    },
  };
}
