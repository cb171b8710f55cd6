// The store's index/ folder (RocketMQ IndexService): an ordered list of IndexFiles named by creation
// time, the newest one being written. One writer builds entries from dispatched commit-log records;
// readers on other threads open the same folder in 'read' mode, with their own read-only mappings,
// and pick up files the writer adds.
import { mkdirSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { IndexFile, indexFileSizeBytes, topicKeyHash, type IndexConfig, type IndexFileMode } from './index-file.js';

export interface IndexRecordInfo {
  topic: string;
  /** The KEYS property: space-separated business keys. */
  keys?: string;
  /** The UNIQ_KEY property (the client's msgId). */
  uniqKey?: string;
  phyOffset: number;
  storeTimestamp: number;
  sysFlag: number;
}

/** SYSFLAG bits 2-3. */
const TRANSACTION_TYPE_MASK = 0xc;
const TRANSACTION_ROLLBACK_TYPE = 0xc;
/** MessageConst.KEY_SEPARATOR */
const KEY_SEPARATOR = ' ';
/** yyyyMMddHHmmssSSS */
const INDEX_FILE_NAME = /^\d{17}$/;
/** Attempts to find a free file name before giving up (names only collide within one ms). */
const MAX_FILE_NAME_ATTEMPTS = 1000;

interface IndexFileEntry {
  name: string;
  file: IndexFile;
}

export class IndexService {
  readonly dir: string;
  readonly config: IndexConfig;
  readonly mode: IndexFileMode;
  private files: IndexFileEntry[] = [];
  private loaded = false;
  private closed = false;
  /** mtime and ctime of the folder when it was last listed (read mode). */
  private dirStamp = '';

  constructor(dir: string, config: IndexConfig, mode: IndexFileMode) {
    indexFileSizeBytes(config); // validates
    this.dir = dir;
    this.config = { maxHashSlotNum: config.maxHashSlotNum, maxIndexNum: config.maxIndexNum };
    this.mode = mode;
  }

  /**
   * Opens the files in the folder, oldest first. Write mode creates the folder, deletes empty files
   * (a crash while creating one) and fails on a file that does not match the config; read mode skips
   * such files (and tolerates a missing folder).
   */
  load(): void {
    this.assertOpen();
    for (const entry of this.files) entry.file.close();
    this.files = [];
    if (this.mode === 'write') {
      mkdirSync(this.dir, { recursive: true });
      for (const name of this.listFileNames()) {
        const path = join(this.dir, name);
        // A crash between creating a file and sizing it leaves it empty: it holds nothing.
        if (statSync(path).size === 0) {
          unlinkSync(path);
          continue;
        }
        this.files.push({ name, file: IndexFile.open(path, this.config, 'write') });
      }
    } else {
      this.relist();
    }
    this.loaded = true;
  }

  /**
   * Indexes one dispatched record: its UNIQ_KEY and each KEYS value, as topic#key. Records below the
   * last file's endPhyOffset are already indexed; rollback-type transaction records are not indexed.
   */
  buildIndex(record: IndexRecordInfo): void {
    this.assertWriter();
    if (record.phyOffset < this.lastIndexedPhyOffset) return;
    // Like RocketMQ's IndexService (unlike the consume queue), PREPARED records are indexed.
    if ((record.sysFlag & TRANSACTION_TYPE_MASK) === TRANSACTION_ROLLBACK_TYPE) return;
    const { topic, uniqKey, keys } = record;
    if (uniqKey !== undefined && uniqKey.length > 0) this.putKey(topicKeyHash(topic, uniqKey), record);
    if (keys !== undefined && keys.length > 0) {
      for (const key of keys.split(KEY_SEPARATOR)) {
        if (key.length > 0) this.putKey(topicKeyHash(topic, key), record);
      }
    }
  }

  /**
   * Commit-log offsets indexed under topic#key with a store time in [beginMs, endMs]: newest file
   * first, newest entry first within a file, de-duplicated, at most maxNum. Same-hash keys collide,
   * and the index may point at records cut off by recovery: callers verify the records they read.
   */
  queryPhyOffsets(topic: string, key: string, maxNum: number, beginMs: number, endMs: number): number[] {
    this.assertLoaded();
    if (this.mode === 'read') this.refreshIfChanged();
    const out: number[] = [];
    if (maxNum <= 0 || endMs < beginMs) return out;
    const fullKey = `${topic}#${key}`;
    const seen = new Set<number>();
    const files = this.files;
    for (let i = files.length - 1; i >= 0 && out.length < maxNum; i--) {
      const file = files[i]!.file;
      if (file.indexCount <= 1) continue;
      if (file.beginTimestamp > endMs) continue;
      // The newest file's endTimestamp may trail an entry a reader can already see.
      if (i !== files.length - 1 && file.endTimestamp < beginMs) continue;
      file.selectPhyOffsets(fullKey, maxNum, beginMs, endMs, out, seen);
    }
    return out;
  }

  /**
   * Recovery: lowers every file's endPhyOffset to phyOffset, so records from there on are indexed
   * again when re-dispatched. Entries already there stay; queries de-duplicate.
   */
  rollBackTo(phyOffset: number): void {
    this.assertWriter();
    for (const { file } of this.files) {
      if (file.endPhyOffset > phyOffset) file.setEndPhyOffset(phyOffset);
    }
  }

  /**
   * Retention: deletes the oldest files whose endPhyOffset < minPhyOffset (all their records are
   * gone from the commit log), never the newest file. Returns how many were deleted.
   */
  deleteFilesBelow(minPhyOffset: number): number {
    this.assertWriter();
    let deleted = 0;
    while (this.files.length > 1 && this.files[0]!.file.endPhyOffset < minPhyOffset) {
      const { file } = this.files.shift()!;
      file.close();
      try {
        unlinkSync(file.path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      deleted++;
    }
    return deleted;
  }

  /** msync of every file written since the last flush. */
  flush(): void {
    if (this.closed || this.mode !== 'write') return;
    for (const { file } of this.files) file.flush();
  }

  close(): void {
    if (this.closed) return;
    for (const { file } of this.files) file.close();
    this.files = [];
    this.closed = true;
  }

  /** The newest file's endPhyOffset: records below it are indexed (0 without files). */
  get lastIndexedPhyOffset(): number {
    const last = this.files.at(-1);
    return last === undefined ? 0 : last.file.endPhyOffset;
  }

  /** The newest file's endTimestamp: the store time of the last indexed record (checkpoint's indexMsgTimestamp). */
  get lastIndexedTimestamp(): number {
    const last = this.files.at(-1);
    return last === undefined ? 0 : last.file.endTimestamp;
  }

  /** Names of the open files, oldest first. */
  get fileNames(): string[] {
    return this.files.map((entry) => entry.name);
  }

  /** Adds topic#key, given as its topicKeyHash (the only thing an index entry keeps of a key). */
  private putKey(keyHash: number, record: IndexRecordInfo): void {
    let file = this.writableFile();
    if (file.putKeyHash(keyHash, record.phyOffset, record.storeTimestamp)) return;
    file = this.createFile();
    if (!file.putKeyHash(keyHash, record.phyOffset, record.storeTimestamp)) {
      throw new Error(`a new index file ${file.path} refused a key`);
    }
  }

  private writableFile(): IndexFile {
    const last = this.files.at(-1);
    return last !== undefined && !last.file.isFull ? last.file : this.createFile();
  }

  /** A new file that starts where the previous one ended (RocketMQ passes its end marks on). */
  private createFile(): IndexFile {
    const previous = this.files.at(-1);
    const name = this.nextFileName(previous?.name);
    const file = IndexFile.create(
      join(this.dir, name),
      this.config,
      saneMark(previous?.file.endPhyOffset),
      saneMark(previous?.file.endTimestamp),
    );
    this.files.push({ name, file });
    return file;
  }

  /** The creation time as yyyyMMddHHmmssSSS (local time, as RocketMQ), later than the previous name. */
  private nextFileName(previousName: string | undefined): string {
    let ms = Date.now();
    if (previousName !== undefined) {
      const previousMs = parseIndexFileName(previousName);
      if (previousMs !== undefined && ms <= previousMs) ms = previousMs + 1;
    }
    for (let attempt = 0; attempt < MAX_FILE_NAME_ATTEMPTS; attempt++, ms++) {
      const name = formatIndexFileName(ms);
      if (previousName !== undefined && name <= previousName) continue;
      if (!existsQuietly(join(this.dir, name))) return name;
    }
    throw new Error(`no free index file name in ${this.dir} after ${previousName ?? 'none'}`);
  }

  private listFileNames(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch (err) {
      if (this.mode === 'read' && (err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return names.filter((name) => INDEX_FILE_NAME.test(name)).sort();
  }

  /**
   * Read mode: lists the folder again when it may have changed: no file yet, the newest file is full
   * (the writer is about to add one), or the folder's mtime/ctime moved (files added or deleted).
   */
  private refreshIfChanged(): void {
    const last = this.files.at(-1);
    if (last === undefined || last.file.isFull || this.readDirStamp() !== this.dirStamp) this.relist();
  }

  private relist(): void {
    this.dirStamp = this.readDirStamp(); // before listing: a change after it is seen next time
    const byName = new Map(this.files.map((entry) => [entry.name, entry]));
    const next: IndexFileEntry[] = [];
    for (const name of this.listFileNames()) {
      const known = byName.get(name);
      if (known !== undefined) {
        next.push(known);
        byName.delete(name);
        continue;
      }
      try {
        next.push({ name, file: IndexFile.open(join(this.dir, name), this.config, 'read') });
      } catch {
        // Vanished, not yet sized by the writer, or written with another config: skip it; a file
        // still being created is opened at a later listing.
      }
    }
    for (const gone of byName.values()) gone.file.close();
    this.files = next;
  }

  private readDirStamp(): string {
    try {
      const stat = statSync(this.dir, { bigint: true });
      return `${stat.mtimeNs}:${stat.ctimeNs}`;
    } catch {
      return '';
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error(`index service on ${this.dir} is closed`);
  }

  private assertLoaded(): void {
    this.assertOpen();
    if (!this.loaded) throw new Error(`index service on ${this.dir}: call load() first`);
  }

  private assertWriter(): void {
    this.assertLoaded();
    if (this.mode !== 'write') throw new Error(`index service on ${this.dir} is read-only`);
  }
}

/** Local time as yyyyMMddHHmmssSSS (UtilAll.timeMillisToHumanString). */
export function formatIndexFileName(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number, width: number): string => String(n).padStart(width, '0');
  return (
    pad(d.getFullYear(), 4) +
    pad(d.getMonth() + 1, 2) +
    pad(d.getDate(), 2) +
    pad(d.getHours(), 2) +
    pad(d.getMinutes(), 2) +
    pad(d.getSeconds(), 2) +
    pad(d.getMilliseconds(), 3)
  );
}

/** The local time a yyyyMMddHHmmssSSS name stands for, or undefined when it is not such a name. */
export function parseIndexFileName(name: string): number | undefined {
  if (!INDEX_FILE_NAME.test(name)) return undefined;
  const part = (from: number, to: number): number => Number(name.slice(from, to));
  const ms = new Date(part(0, 4), part(4, 6) - 1, part(6, 8), part(8, 10), part(10, 12), part(12, 14), part(14, 17)).getTime();
  return Number.isFinite(ms) ? ms : undefined;
}

/** A header mark to carry into a new file; a corrupt one (negative, beyond 2^53) becomes 0. */
function saneMark(value: number | undefined): number {
  return value !== undefined && Number.isSafeInteger(value) && value >= 0 ? value : 0;
}

function existsQuietly(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}
