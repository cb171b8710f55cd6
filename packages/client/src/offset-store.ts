// Where a consumer keeps how far it got on each queue (facts §7.2):
// - RemoteBrokerOffsetStore (clustering): the broker keeps it; QUERY_CONSUMER_OFFSET(14) reads,
//   UPDATE_CONSUMER_OFFSET(15) writes. Negative offsets are never sent.
// - LocalFileOffsetStore (broadcasting): every member keeps its own in
//   <dir>/<clientId>/<group>/offsets.json (default dir ~/.rocketmq_offsets), written atomically
//   (temporary file, fsync, rename; the previous version is kept as offsets.json.bak).
import { mkdir, open, readFile, rename, copyFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseLenientJson } from '@orbit/remoting';
import { errorText } from './async-util.js';
import type { ClientLogger } from './client-config.js';
import { messageQueue, mqKey, type MessageQueue } from './message-queue.js';

export type ReadOffsetType = 'READ_FROM_MEMORY' | 'READ_FROM_STORE' | 'MEMORY_FIRST_THEN_STORE';

/** readOffset results that are not offsets. */
export const OFFSET_NOT_FOUND = -1;
export const OFFSET_READ_ERROR = -2;

export interface OffsetStore {
  load(): Promise<void>;
  /** Sets the offset in memory; with increaseOnly it never moves backwards. */
  updateOffset(mq: MessageQueue, offset: number, increaseOnly: boolean): void;
  /** The in-memory offset, or -1. */
  readOffsetFromMemory(mq: MessageQueue): number;
  /** An offset, -1 when none is stored, -2 when the store could not be read. */
  readOffset(mq: MessageQueue, type: ReadOffsetType): Promise<number>;
  /** Writes the offsets of `mqs` out; in the remote store, forgets queues not in `mqs`. */
  persistAll(mqs: readonly MessageQueue[], options?: { oneway?: boolean }): Promise<void>;
  persist(mq: MessageQueue, options?: { oneway?: boolean }): Promise<void>;
  removeOffset(mq: MessageQueue): void;
  /** A copy of the in-memory offsets. */
  offsets(): { mq: MessageQueue; offset: number }[];
}

/** In-memory table both stores share. */
abstract class OffsetTable {
  protected readonly table = new Map<string, { mq: MessageQueue; offset: number }>();

  updateOffset(mq: MessageQueue, offset: number, increaseOnly: boolean): void {
    if (!Number.isSafeInteger(offset)) return;
    const key = mqKey(mq);
    const entry = this.table.get(key);
    if (entry === undefined) this.table.set(key, { mq, offset });
    else if (!increaseOnly || offset > entry.offset) entry.offset = offset;
  }

  readOffsetFromMemory(mq: MessageQueue): number {
    return this.table.get(mqKey(mq))?.offset ?? OFFSET_NOT_FOUND;
  }

  removeOffset(mq: MessageQueue): void {
    this.table.delete(mqKey(mq));
  }

  offsets(): { mq: MessageQueue; offset: number }[] {
    return [...this.table.values()].map((e) => ({ mq: e.mq, offset: e.offset }));
  }
}

/** The broker calls the remote store needs. */
export interface OffsetBrokerApi {
  /** Where offsets of `mq` live (the broker's master, else any of its addresses). */
  brokerAddrFor(mq: MessageQueue): Promise<string>;
  /** -1 when the broker has none (QUERY_NOT_FOUND). */
  queryConsumerOffset(addr: string, group: string, mq: MessageQueue): Promise<number>;
  updateConsumerOffset(addr: string, group: string, mq: MessageQueue, offset: number, oneway: boolean): Promise<void>;
}

export class RemoteBrokerOffsetStore extends OffsetTable implements OffsetStore {
  constructor(
    private readonly group: string,
    private readonly broker: OffsetBrokerApi,
    private readonly logger: ClientLogger,
  ) {
    super();
  }

  async load(): Promise<void> {}

  async readOffset(mq: MessageQueue, type: ReadOffsetType): Promise<number> {
    if (type !== 'READ_FROM_STORE') {
      const memory = this.readOffsetFromMemory(mq);
      if (memory >= 0 || type === 'READ_FROM_MEMORY') return memory;
    }
    try {
      const addr = await this.broker.brokerAddrFor(mq);
      const offset = await this.broker.queryConsumerOffset(addr, this.group, mq);
      if (offset < 0) return OFFSET_NOT_FOUND;
      this.updateOffset(mq, offset, false);
      return offset;
    } catch (error) {
      this.logger.warn(`fetch consume offset of ${mqKey(mq)} from broker failed: ${errorText(error)}`);
      return OFFSET_READ_ERROR;
    }
  }

  async persistAll(mqs: readonly MessageQueue[], options: { oneway?: boolean } = {}): Promise<void> {
    const wanted = new Set(mqs.map(mqKey));
    const work: Promise<void>[] = [];
    for (const [key, entry] of [...this.table]) {
      if (!wanted.has(key)) {
        this.table.delete(key); // no longer ours (RemoteBrokerOffsetStore.persistAll drops unused queues)
        continue;
      }
      work.push(this.commit(entry.mq, entry.offset, options.oneway ?? true));
    }
    await Promise.all(work);
  }

  async persist(mq: MessageQueue, options: { oneway?: boolean } = {}): Promise<void> {
    const offset = this.readOffsetFromMemory(mq);
    if (offset >= 0) await this.commit(mq, offset, options.oneway ?? true);
  }

  private async commit(mq: MessageQueue, offset: number, oneway: boolean): Promise<void> {
    if (offset < 0) return; // never commit a negative offset
    try {
      const addr = await this.broker.brokerAddrFor(mq);
      await this.broker.updateConsumerOffset(addr, this.group, mq, offset, oneway);
    } catch (error) {
      this.logger.warn(`update consume offset of ${mqKey(mq)} to ${offset} failed: ${errorText(error)}`);
    }
  }
}

export const DEFAULT_LOCAL_OFFSET_DIR = join(homedir(), '.rocketmq_offsets');
/** The file is read whole; anything larger is refused rather than parsed. */
export const MAX_OFFSET_FILE_BYTES = 64 * 1024 * 1024;

/** The file's JSON: keys are MessageQueue objects as JSON text (readable by fastjson-style readers too). */
interface OffsetFile {
  offsetTable: Record<string, number>;
}

export function localOffsetFilePath(dir: string, clientId: string, group: string): string {
  return join(dir, clientId, group, 'offsets.json');
}

/** Parses an offsets file: ours, or Java's (`{{"brokerName":…,"queueId":0,"topic":…}:12}` keys). */
export function parseOffsetFile(text: string): { mq: MessageQueue; offset: number }[] {
  const root = parseLenientJson(text) as { offsetTable?: unknown } | null;
  const table = root?.offsetTable;
  if (table === null || typeof table !== 'object' || Array.isArray(table)) return [];
  const out: { mq: MessageQueue; offset: number }[] = [];
  for (const [key, value] of Object.entries(table as Record<string, unknown>)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(key);
    } catch {
      continue;
    }
    const q = parsed as { topic?: unknown; brokerName?: unknown; queueId?: unknown };
    const offset = typeof value === 'number' ? value : Number(value);
    if (typeof q?.topic !== 'string' || typeof q.brokerName !== 'string' || !Number.isInteger(q.queueId) || !Number.isSafeInteger(offset)) continue;
    out.push({ mq: messageQueue(q.topic, q.brokerName, q.queueId as number), offset });
  }
  return out;
}

export function formatOffsetFile(entries: readonly { mq: MessageQueue; offset: number }[]): string {
  const file: OffsetFile = { offsetTable: {} };
  for (const { mq, offset } of entries) {
    file.offsetTable[JSON.stringify({ brokerName: mq.brokerName, queueId: mq.queueId, topic: mq.topic })] = offset;
  }
  return JSON.stringify(file, null, 2);
}

/** Writes `text` to `path` so a crash leaves either the old or the new content, never a mix. */
export async function writeFileAtomically(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  const handle = await open(tmp, 'w');
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await copyFile(path, `${path}.bak`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await rename(tmp, path);
  try {
    const dir = await open(dirname(path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch {
    // Some file systems cannot fsync a directory; the rename is still atomic.
  }
}

export class LocalFileOffsetStore extends OffsetTable implements OffsetStore {
  readonly path: string;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    clientId: string,
    group: string,
    private readonly logger: ClientLogger,
    dir: string = DEFAULT_LOCAL_OFFSET_DIR,
  ) {
    super();
    this.path = localOffsetFilePath(dir, clientId, group);
  }

  /** Reads the file (or its .bak when the file is missing or broken) into memory. */
  async load(): Promise<void> {
    for (const entry of await this.readFileEntries()) this.updateOffset(entry.mq, entry.offset, false);
  }

  private async readFileEntries(): Promise<{ mq: MessageQueue; offset: number }[]> {
    for (const candidate of [this.path, `${this.path}.bak`]) {
      try {
        const buf = await readFile(candidate);
        if (buf.length > MAX_OFFSET_FILE_BYTES) throw new RangeError(`offset file is ${buf.length} bytes`);
        if (buf.length === 0) continue;
        return parseOffsetFile(buf.toString('utf8'));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.logger.warn(`read offsets file ${candidate} failed: ${errorText(error)}`);
      }
    }
    return [];
  }

  async readOffset(mq: MessageQueue, type: ReadOffsetType): Promise<number> {
    if (type !== 'READ_FROM_STORE') {
      const memory = this.readOffsetFromMemory(mq);
      if (memory >= 0 || type === 'READ_FROM_MEMORY') return memory;
    }
    const key = mqKey(mq);
    const found = (await this.readFileEntries()).find((e) => mqKey(e.mq) === key);
    if (found === undefined) return OFFSET_NOT_FOUND;
    this.updateOffset(mq, found.offset, false);
    return found.offset;
  }

  /** Writes the offsets of `mqs` to the file (one write at a time). */
  persistAll(mqs: readonly MessageQueue[]): Promise<void> {
    const wanted = new Set(mqs.map(mqKey));
    const entries = [...this.table.entries()].filter(([key, e]) => wanted.has(key) && e.offset >= 0).map(([, e]) => ({ ...e }));
    const next = this.writing.then(async () => {
      if (entries.length === 0) return;
      await writeFileAtomically(this.path, formatOffsetFile(entries));
    });
    this.writing = next.catch((error: unknown) => this.logger.warn(`write offsets file ${this.path} failed: ${errorText(error)}`));
    return this.writing;
  }

  /** The local store writes all queues at once (LocalFileOffsetStore.persist is a no-op in Java). */
  async persist(): Promise<void> {}
}
