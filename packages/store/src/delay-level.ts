// Delay levels (RocketMQ's messageDelayLevel, facts §7.4): level n (1-based) waits the n-th value of
// the table. A message parked in SCHEDULE_TOPIC_XXXX has, as its consume-queue tag code, the time it
// becomes due (store time + the level's delay), which is what lets the broker's schedule service
// find the next due message without reading the commit log. The store knows the table only for that
// tag code; delivering is the broker's job.

/** RocketMQ's default table: 18 levels. */
export const DEFAULT_MESSAGE_DELAY_LEVEL = '1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h';

/** A table longer than this is refused (RocketMQ's SCHEDULE_TOPIC_XXXX has 18 queues). */
export const MAX_DELAY_LEVELS = 64;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses a level table: space-separated `<integer><unit>` values, units s, m, h, d as in RocketMQ,
 * plus `ms` (an Orbit extension, so tests can use short delays). Returns the delay of each level in
 * ms, level 1 first. Throws a RangeError naming the bad entry.
 */
export function parseDelayLevels(text: string): number[] {
  const parts = text.trim().split(/\s+/).filter((p) => p.length > 0);
  if (parts.length === 0) throw new RangeError('messageDelayLevel is empty');
  if (parts.length > MAX_DELAY_LEVELS) throw new RangeError(`messageDelayLevel has ${parts.length} levels, at most ${MAX_DELAY_LEVELS} are allowed`);
  return parts.map((part, i) => {
    const m = /^(\d+)(ms|s|m|h|d)$/.exec(part);
    if (!m) throw new RangeError(`messageDelayLevel level ${i + 1} is "${part}": expected an integer and a unit (ms, s, m, h or d)`);
    const ms = Number(m[1]) * UNIT_MS[m[2]!]!;
    if (!Number.isSafeInteger(ms)) throw new RangeError(`messageDelayLevel level ${i + 1} "${part}" is too long`);
    return ms;
  });
}

/**
 * The level a `DELAY` property asks for: 0 when absent or not a positive integer (not delayed);
 * levels above the table's last are clamped to it, as RocketMQ does.
 */
export function delayLevelOf(value: string | undefined, levelCount: number): number {
  if (value === undefined || !/^\d{1,9}$/.test(value)) return 0;
  const level = Number(value);
  if (level <= 0) return 0;
  return Math.min(level, levelCount);
}

/** When a message stored at `storeTimestamp` at `level` becomes due (computeDeliverTimestamp). */
export function deliverTimestamp(delayLevelsMs: readonly number[], level: number, storeTimestamp: number): number {
  return storeTimestamp + (delayLevelsMs[level - 1] ?? 1_000);
}
