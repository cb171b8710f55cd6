// Committed consumer offsets (ConsumerOffsetManager): "topic@group" → queueId → offset, kept in
// memory and persisted to config/consumerOffset.json every flushConsumerOffsetInterval and at
// shutdown. Negative commits are ignored (ali-ons sends offset 0 as -1; facts clients.md §1.5).
import { join } from 'node:path';
import { newDataVersion, nextDataVersion, readJsonConfig, writeJsonConfig, type DataVersion } from './json-config-file.js';

const KEY_SEPARATOR = '@';

export class ConsumerOffsetManager {
  private readonly table = new Map<string, Map<number, number>>();
  readonly dataVersion: DataVersion = newDataVersion();
  private readonly path: string;
  private dirty = false;

  constructor(storeRootDir: string) {
    this.path = join(storeRootDir, 'config', 'consumerOffset.json');
  }

  load(): void {
    const json = readJsonConfig(this.path) as { offsetTable?: Record<string, Record<string, number>>; dataVersion?: DataVersion } | undefined;
    if (!json) return;
    for (const [key, queues] of Object.entries(json.offsetTable ?? {})) {
      if (typeof queues !== 'object' || !queues) continue;
      const m = new Map<number, number>();
      for (const [q, o] of Object.entries(queues)) if (Number.isInteger(Number(q)) && typeof o === 'number' && o >= 0) m.set(Number(q), o);
      this.table.set(key, m);
    }
    if (json.dataVersion) Object.assign(this.dataVersion, json.dataVersion);
  }

  /** Writes only when something changed since the last write. */
  persist(force = false): void {
    if (!this.dirty && !force) return;
    this.dirty = false;
    nextDataVersion(this.dataVersion);
    writeJsonConfig(this.path, this.wrapper());
  }

  /** RocketMQ's ConsumerOffsetSerializeWrapper: what consumerOffset.json holds and GET_ALL_CONSUMER_OFFSET answers. */
  wrapper(): { offsetTable: Record<string, Record<string, number>>; dataVersion: DataVersion } {
    const offsetTable: Record<string, Record<string, number>> = {};
    for (const [key, queues] of this.table) offsetTable[key] = Object.fromEntries(queues);
    return { offsetTable, dataVersion: this.dataVersion };
  }

  /**
   * Slave: the master's offsets (GET_ALL_CONSUMER_OFFSET) overwrite these, one topic@group at a
   * time, as SlaveSynchronize.syncConsumerOffset's putAll does: what the master has wins, a
   * topic@group only this broker has (commits made here while the master was away) stays. Written at once.
   * Returns how many queue offsets were taken.
   */
  putAllFromMaster(offsetTable: Record<string, unknown>): number {
    let taken = 0;
    let changed = false;
    for (const [key, queues] of Object.entries(offsetTable)) {
      if (typeof queues !== 'object' || queues === null || !key.includes(KEY_SEPARATOR)) continue;
      const m = new Map<number, number>();
      for (const [q, o] of Object.entries(queues as Record<string, unknown>)) {
        if (Number.isInteger(Number(q)) && typeof o === 'number' && Number.isSafeInteger(o) && o >= 0) m.set(Number(q), o);
      }
      if (!sameOffsets(this.table.get(key), m)) changed = true;
      this.table.set(key, m);
      taken += m.size;
    }
    if (changed) {
      this.dirty = true;
      this.persist();
    }
    return taken;
  }

  commit(group: string, topic: string, queueId: number, offset: number): boolean {
    if (!Number.isSafeInteger(offset) || offset < 0) return false;
    const key = topic + KEY_SEPARATOR + group;
    let queues = this.table.get(key);
    if (!queues) this.table.set(key, (queues = new Map()));
    queues.set(queueId, offset);
    this.dirty = true;
    return true;
  }

  /** The committed offset, or -1 when none. */
  query(group: string, topic: string, queueId: number): number {
    return this.table.get(topic + KEY_SEPARATOR + group)?.get(queueId) ?? -1;
  }

  /** Offsets of every queue of topic@group. */
  queueOffsets(group: string, topic: string): Map<number, number> {
    return this.table.get(topic + KEY_SEPARATOR + group) ?? new Map();
  }

  /** Groups that committed offsets for a topic. */
  groupsOfTopic(topic: string): string[] {
    const out: string[] = [];
    for (const key of this.table.keys()) {
      const at = key.indexOf(KEY_SEPARATOR);
      if (key.slice(0, at) === topic) out.push(key.slice(at + 1));
    }
    return out;
  }

  /** Topics a group committed offsets for. */
  topicsOfGroup(group: string): string[] {
    const out: string[] = [];
    for (const key of this.table.keys()) {
      const at = key.lastIndexOf(KEY_SEPARATOR);
      if (key.slice(at + 1) === group) out.push(key.slice(0, at));
    }
    return out;
  }

  removeTopic(topic: string): void {
    for (const key of [...this.table.keys()]) if (key.startsWith(topic + KEY_SEPARATOR)) this.table.delete(key);
    this.dirty = true;
  }

  removeGroup(group: string): void {
    for (const key of [...this.table.keys()]) if (key.endsWith(KEY_SEPARATOR + group)) this.table.delete(key);
    this.dirty = true;
  }
}

function sameOffsets(a: Map<number, number> | undefined, b: Map<number, number>): boolean {
  if (a === undefined || a.size !== b.size) return false;
  for (const [q, o] of b) if (a.get(q) !== o) return false;
  return true;
}
