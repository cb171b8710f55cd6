// Delivers delayed messages when they fall due (RocketMQ's ScheduleMessageService, facts §7.4).
// A delayed message waits in SCHEDULE_TOPIC_XXXX, queue level−1, and that queue's tag codes are
// the due times (the store's dispatcher writes them), so each level is a queue sorted by due time:
// store times never go backwards and every message of a level waits the same delay.
//
// Per level: read from the level's offset the units already due (tag code ≤ now), put each message
// back on its real topic and queue, advance the offset; then sleep until the head unit's due time,
// read from its tag code. New messages wake an idle level through the store's arrival callback.
// Delivery is never early (a unit is taken only once now ≥ its due time, whatever the timer did)
// and late by the timer's slack plus one put, a few ms.
//
// Progress is kept in config/delayOffset.json (RocketMQ's shape: level → next queue offset), written
// about once a second after deliveries, every flushDelayOffsetInterval ms and at shutdown. A message
// delivered after the last write may be delivered again after a crash: at-least-once, as RocketMQ.
import { join } from 'node:path';
import { decodeStoredRecord, SystemTopic, type MessageToStore } from '@orbit/common';
import { StoreError, type MessageFilter, type MessageStore, type PutResult } from '@orbit/store';
import { newDataVersion, nextDataVersion, readJsonConfig, writeJsonConfig, type DataVersion } from '../json-config-file.js';
import { isStoredStatus } from '../put-status.js';
import { fromScheduleRecord } from './schedule-message.js';

/** Messages asked for per read (the store caps a read at 32 messages / 256 KiB anyway). */
const READ_BATCH = 32;
/** Reads per wake of one level before it yields to the event loop. */
const MAX_READS_PER_WAKE = 8;
/** An idle level looks again this often, in case an arrival notice was missed. */
const IDLE_RECHECK_MS = 1_000;
/** After a put failed (disk full, store busy) the level tries again this much later. */
const RETRY_AFTER_FAILURE_MS = 1_000;
/** A unit whose record does not read back: look again this soon… */
const UNREADABLE_RECHECK_MS = 5;
/** …and after this long skip it (a damaged record must not stop its level for good). */
const UNREADABLE_SKIP_AFTER_MS = 10_000;
/**
 * Longest single sleep. Timers run on the monotonic clock and due times are wall-clock times, so a
 * level waiting hours looks again every second (and a delay beyond setTimeout's 24.8-day limit works).
 */
const MAX_SLEEP_MS = 1_000;
/** Offsets are written at most this often because of deliveries (each write syncs a file). */
const PERSIST_AFTER_DELIVERY_MS = 1_000;

export interface ScheduleMessageServiceOptions {
  store: MessageStore;
  storePathRootDir: string;
  /** Delay of each level in ms, level 1 first. */
  delayLevelsMs: readonly number[];
  /** RocketMQ's flushDelayOffsetInterval. */
  flushDelayOffsetIntervalMs: number;
  warn?: (text: string) => void;
}

interface LevelState {
  level: number;
  queueId: number;
  delayMs: number;
  /** Next SCHEDULE_TOPIC_XXXX queue offset to deliver. */
  offset: number;
  timer: NodeJS.Timeout | undefined;
  /** True while the timer waits for the head unit's due time (an arrival then changes nothing). */
  waitingForDue: boolean;
  running: boolean;
  /** An arrival came while a pass ran: run once more. */
  again: boolean;
  /** Since when the unit at `offset` has not read back (0: it is fine). */
  unreadableSinceMs: number;
}

/** Takes units that are due at `now` and remembers the due time of the first that is not. */
class DueFilter implements MessageFilter {
  nextDueMs: number | undefined;

  constructor(
    private readonly now: number,
    private readonly levelDelayMs: number,
  ) {}

  isMatchedByTagsCode(tagsCode: number): boolean {
    if (this.nextDueMs !== undefined) return false; // one not due: none after it is either
    // correctDeliverTimestamp: a due time further off than the level's delay (the clock went back,
    // or the table was shortened since) counts as due now.
    const due = tagsCode > this.now + this.levelDelayMs ? this.now : tagsCode;
    if (due <= this.now) return true;
    this.nextDueMs = due;
    return false;
  }
}

export interface ScheduleStats {
  delivered: number;
  lastError: string | undefined;
  offsets: Record<string, number>;
}

export class ScheduleMessageService {
  private readonly levels: LevelState[];
  private readonly extraOffsets = new Map<number, number>();
  private readonly path: string;
  private readonly dataVersion: DataVersion = newDataVersion();
  private readonly passes = new Set<Promise<void>>();
  private readonly warn: (text: string) => void;
  private unsubscribe: (() => void) | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private persistTimer: NodeJS.Timeout | undefined;
  private dirty = false;
  private started = false;
  private stopped = false;
  private delivered = 0;
  private lastError: string | undefined;
  private replacedOnce = false;

  constructor(private readonly options: ScheduleMessageServiceOptions) {
    this.path = join(options.storePathRootDir, 'config', 'delayOffset.json');
    this.warn = options.warn ?? ((text) => console.warn(`schedule: ${text}`));
    this.levels = options.delayLevelsMs.map((delayMs, i) => ({
      level: i + 1,
      queueId: i,
      delayMs,
      offset: 0,
      timer: undefined,
      waitingForDue: false,
      running: false,
      again: false,
      unreadableSinceMs: 0,
    }));
  }

  /** Reads delayOffset.json (fastjson's bare numeric keys accepted); levels not in it start at 0. */
  load(): void {
    const json = readJsonConfig(this.path) as { offsetTable?: Record<string, unknown>; dataVersion?: DataVersion } | undefined;
    if (!json) return;
    this.applyOffsetTable(json.offsetTable ?? {});
    if (json.dataVersion) Object.assign(this.dataVersion, json.dataVersion);
  }

  /**
   * A slave takes its master's progress (GET_ALL_DELAY_OFFSET, SlaveSynchronize) and writes it, so
   * that were it ever promoted it would not deliver again what the master delivered. Never while
   * this service delivers: a master's offsets are its own.
   */
  replaceOffsets(offsetTable: Record<string, unknown>): void {
    if (this.started) throw new Error('delay offsets are replaced only on a broker that does not deliver (a slave)');
    const changed = this.applyOffsetTable(offsetTable);
    // Written the first time even when equal, so the slave's file always exists after a sync.
    if (changed || !this.replacedOnce) this.persist(true);
    this.replacedOnce = true;
  }

  /** Returns whether an offset changed. */
  private applyOffsetTable(offsetTable: Record<string, unknown>): boolean {
    let changed = false;
    for (const [key, value] of Object.entries(offsetTable)) {
      const level = Number(key);
      if (!Number.isInteger(level) || level < 1 || typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) continue;
      const state = this.levels[level - 1];
      if (state) {
        changed ||= state.offset !== value;
        state.offset = value;
      } else {
        changed ||= this.extraOffsets.get(level) !== value;
        this.extraOffsets.set(level, value); // a level beyond today's table: kept, not served
      }
    }
    return changed;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.unsubscribe = this.options.store.onArrival((topic, queueId) => {
      if (topic === undefined) for (const s of this.levels) this.onArrival(s);
      else if (topic === SystemTopic.SCHEDULE_TOPIC) {
        const s = this.levels[queueId];
        if (s) this.onArrival(s);
      }
    });
    this.flushTimer = setInterval(() => this.persist(), this.options.flushDelayOffsetIntervalMs);
    for (const s of this.levels) this.wake(s);
  }

  /** Stops the timers, waits for deliveries in progress, and writes the offsets. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.unsubscribe?.();
    if (this.flushTimer) clearInterval(this.flushTimer);
    if (this.persistTimer) clearTimeout(this.persistTimer);
    for (const s of this.levels) if (s.timer) clearTimeout(s.timer);
    while (this.passes.size > 0) await Promise.allSettled([...this.passes]);
    if (this.started) this.persist(true);
  }

  /** RocketMQ's delayOffset.json content (GET_ALL_DELAY_OFFSET answers with it). */
  encode(): string {
    return JSON.stringify({ offsetTable: this.offsetTable(), dataVersion: this.dataVersion }, null, 2);
  }

  stats(): ScheduleStats {
    return { delivered: this.delivered, lastError: this.lastError, offsets: this.offsetTable() };
  }

  /** Writes delayOffset.json when something changed since the last write (or when forced). */
  persist(force = false): void {
    if (!this.dirty && !force) return;
    this.dirty = false;
    nextDataVersion(this.dataVersion);
    try {
      writeJsonConfig(this.path, { offsetTable: this.offsetTable(), dataVersion: this.dataVersion });
    } catch (err) {
      this.dirty = true;
      this.note(`writing ${this.path} failed: ${(err as Error).message}`);
    }
  }

  private offsetTable(): Record<string, number> {
    const table: Record<string, number> = {};
    for (const s of this.levels) table[String(s.level)] = s.offset;
    for (const [level, offset] of this.extraOffsets) table[String(level)] = offset;
    return table;
  }

  private onArrival(s: LevelState): void {
    // A level waiting for its head's due time has nothing to do: what arrived is due later.
    if (s.waitingForDue && !s.running) return;
    this.wake(s);
  }

  private wake(s: LevelState): void {
    if (this.stopped) return;
    if (s.running) {
      s.again = true;
      return;
    }
    if (s.timer) clearTimeout(s.timer);
    s.timer = undefined;
    s.waitingForDue = false;
    s.running = true;
    const pass = this.pass(s)
      .catch((err: Error) => {
        this.note(`level ${s.level}: ${err.stack ?? err.message}`);
        return RETRY_AFTER_FAILURE_MS as number | undefined;
      })
      .then((nextMs) => {
        s.running = false;
        if (this.stopped) return;
        const arrivedMeanwhile = s.again;
        s.again = false;
        // What arrived during the pass matters only if the level found nothing waiting: otherwise
        // it is due after the head the level now sleeps for.
        if (arrivedMeanwhile && nextMs === undefined) setImmediate(() => this.wake(s));
        else this.arm(s, nextMs);
      });
    this.passes.add(pass);
    void pass.finally(() => this.passes.delete(pass));
  }

  /** Sets the level's timer: `ms` from now, or the idle recheck when nothing is waiting. */
  private arm(s: LevelState, ms: number | undefined): void {
    if (this.stopped) return;
    s.waitingForDue = ms !== undefined;
    const delay = ms === undefined ? IDLE_RECHECK_MS : Math.min(MAX_SLEEP_MS, Math.max(0, Math.ceil(ms)));
    s.timer = setTimeout(() => {
      s.timer = undefined;
      this.wake(s);
    }, delay);
  }

  /** Delivers what is due now; returns ms until the level should look again (undefined: idle). */
  private async pass(s: LevelState): Promise<number | undefined> {
    const { store } = this.options;
    for (let reads = 0; reads < MAX_READS_PER_WAKE; reads++) {
      if (this.stopped) return undefined;
      const due = new DueFilter(Date.now(), s.delayMs);
      const result = store.getMessage(SystemTopic.SCHEDULE_TOPIC, s.queueId, s.offset, READ_BATCH, due);
      switch (result.status) {
        case 'FOUND': {
          const ok = await this.deliver(s, result.messages, result.queueOffsets);
          if (!ok) return RETRY_AFTER_FAILURE_MS;
          if (due.nextDueMs !== undefined) return due.nextDueMs - Date.now();
          continue; // the read stopped at its size limit: more may be due
        }
        case 'OFFSET_TOO_SMALL': // retention removed what the offset pointed at
        case 'OFFSET_OVERFLOW_BADLY': // delayOffset.json is ahead of the queue (its files were lost)
          this.note(`level ${s.level}: offset ${s.offset} corrected to ${result.nextBeginOffset} (${result.status})`);
          this.moveTo(s, result.nextBeginOffset);
          continue;
        case 'MESSAGE_WAS_REMOVING': {
          const min = store.getMinOffsetInQueue(SystemTopic.SCHEDULE_TOPIC, s.queueId);
          if (min <= s.offset) return due.nextDueMs !== undefined ? due.nextDueMs - Date.now() : undefined;
          this.moveTo(s, min);
          continue;
        }
        case 'OFFSET_FOUND_NULL': {
          if (due.nextDueMs !== undefined) return due.nextDueMs - Date.now();
          // The unit at the offset is due but its record does not read back (damage, or a unit
          // written ahead of its record): wait a little, and in the end skip it.
          const now = Date.now();
          if (s.unreadableSinceMs === 0) s.unreadableSinceMs = now;
          if (now - s.unreadableSinceMs < UNREADABLE_SKIP_AFTER_MS) return UNREADABLE_RECHECK_MS;
          this.note(`level ${s.level}: the message at offset ${s.offset} does not read back; skipped`);
          this.moveTo(s, s.offset + 1);
          continue;
        }
        default: // NO_MATCHED_MESSAGE (nothing due yet), OFFSET_OVERFLOW_ONE / NO_MESSAGE_IN_QUEUE (empty)
          return due.nextDueMs !== undefined ? due.nextDueMs - Date.now() : undefined;
      }
    }
    return 0; // bounded work per wake: come back at once, after other timers and sockets had a turn
  }

  /**
   * Puts the due messages back on their real topics (in order: the append ring keeps it) and moves
   * the offset past every one that was stored. False when a put failed for a reason that may pass;
   * the offset then stays on that message and the level tries again later.
   */
  private async deliver(s: LevelState, records: Buffer[], queueOffsets: number[]): Promise<boolean> {
    const { store } = this.options;
    const puts: Promise<PutResult | 'skip'>[] = records.map((record, i) => {
      let msg: MessageToStore;
      try {
        msg = fromScheduleRecord(decodeStoredRecord(record, 0));
      } catch (err) {
        this.note(`level ${s.level} offset ${queueOffsets[i]}: dropped, ${(err as Error).message}`);
        return Promise.resolve('skip' as const);
      }
      return store.putMessage(msg);
    });
    const results = await Promise.allSettled(puts);
    for (let i = 0; i < results.length; i++) {
      const r = results[i]!;
      // SYNC_MASTER's FLUSH_SLAVE_TIMEOUT / SLAVE_NOT_AVAILABLE are stored too: putting again would duplicate.
      const stored = r.status === 'fulfilled' && (r.value === 'skip' || isStoredStatus(r.value.status));
      // A message the store calls illegal will never be stored: it is dropped rather than retried forever.
      const illegal =
        (r.status === 'rejected' && r.reason instanceof StoreError && (r.reason.code === 'MESSAGE_ILLEGAL' || r.reason.code === 'PROPERTIES_SIZE_EXCEEDED')) ||
        (r.status === 'fulfilled' && r.value !== 'skip' && r.value.status === 'MESSAGE_ILLEGAL');
      if (!stored && !illegal) {
        const why = r.status === 'rejected' ? (r.reason as Error).message : r.value === 'skip' ? 'skipped' : r.value.status;
        this.note(`level ${s.level} offset ${queueOffsets[i]}: put failed (${why}); retrying in ${RETRY_AFTER_FAILURE_MS} ms`);
        this.moveTo(s, queueOffsets[i]!);
        return false;
      }
      if (illegal) this.note(`level ${s.level} offset ${queueOffsets[i]}: dropped, the store refuses it`);
      else if (r.status === 'fulfilled' && r.value !== 'skip') this.delivered++;
    }
    this.moveTo(s, queueOffsets[queueOffsets.length - 1]! + 1);
    return true;
  }

  private moveTo(s: LevelState, offset: number): void {
    if (offset === s.offset) return;
    s.offset = offset;
    s.unreadableSinceMs = 0;
    this.dirty = true;
    if (!this.persistTimer && !this.stopped) {
      this.persistTimer = setTimeout(() => {
        this.persistTimer = undefined;
        this.persist();
      }, PERSIST_AFTER_DELIVERY_MS);
    }
  }

  private note(text: string): void {
    this.lastError = `${new Date().toISOString()} ${text}`;
    this.warn(text);
  }
}
