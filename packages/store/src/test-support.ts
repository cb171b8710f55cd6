// Shared by the store's tests and benchmarks: temporary stores and message builders.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeProperties, parseSocketAddress, type MessageToStore } from '@orbit/common';

const BORN_HOST = parseSocketAddress('127.0.0.1:50000');
const STORE_HOST = parseSocketAddress('127.0.0.1:10911');

export function makeMessage(topic: string, queueId: number, body: Buffer | string, props: Record<string, string> = {}): MessageToStore {
  return {
    topic,
    queueId,
    flag: 0,
    sysFlag: 0,
    bornTimestamp: Date.now(),
    bornHost: BORN_HOST,
    storeHost: STORE_HOST,
    reconsumeTimes: 0,
    preparedTransactionOffset: 0,
    body: typeof body === 'string' ? Buffer.from(body) : body,
    properties: encodeProperties(props),
  };
}

export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `orbit-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Small segments so tests cross boundaries quickly. */
export const SMALL_STORE = {
  mappedFileSizeCommitLog: 64 * 1024,
  mappedFileSizeConsumeQueue: 20 * 64,
  maxMessageSize: 16 * 1024,
  maxHashSlotNum: 1024,
  maxIndexNum: 4096,
  appendRingBytes: 1024 * 1024,
  flushIntervalConsumeQueue: 100,
  flushIntervalCommitLog: 100,
} as const;
