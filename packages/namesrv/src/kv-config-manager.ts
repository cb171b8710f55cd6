// The NameServer's only persisted state (RocketMQ's KVConfigManager): namespace → key → value,
// kept in kvConfigPath as `{"configTable":{"<namespace>":{"<key>":"<value>"}}}`. Used for
// ORDER_TOPIC_CONFIG (order topics' "broker-a:4;broker-b:4") and by admin tools.
//
// Every change is written at once, atomically (temp file, fsync, rename, fsync of the directory),
// and writes are serialized, so the file always holds one complete table, the latest one written.
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { OrbitError } from '@orbit/common/errors';
import { parseLenientJson } from '@orbit/remoting';
import { silentLogger, type NamesrvLogger } from './namesrv-logger.js';

/** NamesrvUtil.NAMESPACE_ORDER_TOPIC_CONFIG. */
export const NAMESPACE_ORDER_TOPIC_CONFIG = 'ORDER_TOPIC_CONFIG';

export class KvConfigFileError extends OrbitError {
  constructor(readonly path: string, message: string) {
    super('KV_CONFIG_FILE', `${path}: ${message}`);
    this.name = 'KvConfigFileError';
  }
}

export class KvConfigManager {
  private readonly configTable = new Map<string, Map<string, string>>();
  /** The last write in progress; the next one starts after it. */
  private writing: Promise<void> = Promise.resolve();

  constructor(
    readonly path: string,
    private readonly log: NamesrvLogger = silentLogger,
  ) {}

  /**
   * Reads the file. A missing file is an empty table; a file that is not a KV config throws
   * KvConfigFileError (starting with an empty table would overwrite it on the next change).
   */
  async load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new KvConfigFileError(this.path, `cannot read: ${(error as Error).message}`);
    }
    if (text.trim() === '') return;
    let root: unknown;
    try {
      root = parseLenientJson(text);
    } catch (error) {
      throw new KvConfigFileError(this.path, `not valid JSON: ${(error as Error).message}`);
    }
    if (root === null || typeof root !== 'object' || Array.isArray(root)) throw new KvConfigFileError(this.path, 'expected a JSON object');
    const table = (root as Record<string, unknown>).configTable;
    if (table === undefined || table === null) return;
    if (typeof table !== 'object' || Array.isArray(table)) throw new KvConfigFileError(this.path, 'configTable must be an object');
    for (const namespace of Object.keys(table)) {
      const entries = (table as Record<string, unknown>)[namespace];
      if (entries === null || typeof entries !== 'object' || Array.isArray(entries)) {
        throw new KvConfigFileError(this.path, `configTable.${namespace} must be an object of strings`);
      }
      const kv = new Map<string, string>();
      for (const key of Object.keys(entries)) {
        const value = (entries as Record<string, unknown>)[key];
        if (typeof value !== 'string') throw new KvConfigFileError(this.path, `configTable.${namespace}.${key} must be a string`);
        kv.set(key, value);
      }
      this.configTable.set(namespace, kv);
    }
    this.log.info(`load KV config table OK, ${this.configTable.size} namespaces from ${this.path}`);
  }

  get(namespace: string, key: string): string | undefined {
    return this.configTable.get(namespace)?.get(key);
  }

  /** The namespace's table, or undefined when the namespace was never written. */
  getKvListByNamespace(namespace: string): ReadonlyMap<string, string> | undefined {
    const kv = this.configTable.get(namespace);
    return kv === undefined ? undefined : new Map(kv);
  }

  /** Sets a value and resolves once the file holds it. */
  put(namespace: string, key: string, value: string): Promise<void> {
    let kv = this.configTable.get(namespace);
    if (kv === undefined) this.configTable.set(namespace, (kv = new Map()));
    const previous = kv.get(key);
    kv.set(key, value);
    this.log.info(previous === undefined ? `putKVConfig create new config item, Namespace: ${namespace} Key: ${key} Value: ${value}` : `putKVConfig update config item, Namespace: ${namespace} Key: ${key} Value: ${value}`);
    return this.persist();
  }

  /** Removes a key (the namespace stays, possibly empty, as in RocketMQ); true when it existed. */
  async delete(namespace: string, key: string): Promise<boolean> {
    const kv = this.configTable.get(namespace);
    if (kv === undefined || !kv.delete(key)) return false;
    this.log.info(`deleteKVConfig delete a config item, Namespace: ${namespace} Key: ${key}`);
    await this.persist();
    return true;
  }

  /** The table as the file holds it. */
  toJson(): string {
    const configTable = Object.create(null) as Record<string, Record<string, string>>;
    for (const namespace of [...this.configTable.keys()].sort()) {
      const kv = Object.create(null) as Record<string, string>;
      const entries = this.configTable.get(namespace)!;
      for (const key of [...entries.keys()].sort()) kv[key] = entries.get(key)!;
      configTable[namespace] = kv;
    }
    return JSON.stringify({ configTable }, null, 2);
  }

  /** Resolves once every change made so far is on disk. */
  flush(): Promise<void> {
    return this.writing;
  }

  private persist(): Promise<void> {
    // Each write snapshots the table when it starts, after the previous one finished, so the last
    // write always carries the latest table.
    const next = this.writing.catch(() => undefined).then(() => this.writeFile(this.toJson()));
    this.writing = next;
    return next;
  }

  private async writeFile(text: string): Promise<void> {
    const tmp = `${this.path}.tmp`;
    try {
      await mkdir(dirname(this.path), { recursive: true });
      const file = await open(tmp, 'w', 0o644);
      try {
        await file.writeFile(text, 'utf8');
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(tmp, this.path);
      const dir = await open(dirname(this.path), 'r');
      try {
        await dir.sync();
      } catch {
        // Some file systems cannot sync a directory; the rename is still atomic.
      } finally {
        await dir.close();
      }
    } catch (error) {
      this.log.warn(`persist kvConfig failed, ${this.path}: ${(error as Error).message}`);
      throw new KvConfigFileError(this.path, `cannot write: ${(error as Error).message}`);
    }
  }
}
