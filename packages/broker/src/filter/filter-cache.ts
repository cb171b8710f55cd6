// Compiled subscription filters by (consumer group, topic, expression), so a pull does not parse its
// expression again: RocketMQ's ConsumerFilterManager keeps one per group and topic. Bounded: the
// least recently used entry goes when the cache is full (a Map iterates in insertion order, and a
// hit is moved to the end).

/** Entries kept by default. */
export const DEFAULT_FILTER_CACHE_ENTRIES = 4096;

export class FilterCache<V> {
  private readonly entries = new Map<string, V>();

  constructor(readonly maxEntries: number = DEFAULT_FILTER_CACHE_ENTRIES) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError(`maxEntries ${maxEntries} must be a positive integer`);
  }

  /** e.g. key(group, topic, expressionType, expression): unambiguous whatever the parts contain. */
  static key(...parts: string[]): string {
    return JSON.stringify(parts);
  }

  get size(): number {
    return this.entries.size;
  }

  getOrCreate(key: string, create: () => V): V {
    const hit = this.entries.get(key);
    if (hit !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const value = create();
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, value);
    return value;
  }
}
