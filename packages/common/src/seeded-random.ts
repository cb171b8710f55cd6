// A small seeded pseudo-random generator (xorshift32) for fuzz tests: the same seed gives the same
// inputs, so a failure names the seed that reproduces it. Not for anything that needs real randomness.
export class SeededRandom {
  private s: number;

  constructor(seed: number) {
    this.s = seed | 0 || 1; // xorshift has one fixed point, 0
  }

  /** In [0, 1). */
  next(): number {
    let s = this.s;
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    this.s = s;
    return (s >>> 0) / 0x1_0000_0000;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}
