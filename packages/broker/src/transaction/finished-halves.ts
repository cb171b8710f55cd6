// Which half messages are ended (committed, rolled back, or discarded after too many checks): the
// in-memory index of the op queue (RocketMQ rebuilds a removeMap from RMQ_SYS_TRANS_OP_HALF_TOPIC
// on every check pass; Orbit reads the op queue once at start and adds what it writes).
//
// An offset is remembered from the moment an END decides (before its op is written, so a second
// END for the same half sees it) until it is both behind the check offset and older than the
// retention, which outlives every put-back copy of its transaction (they carry the first half's
// offset and are ended by it). The op records still naming a remembered offset are kept in order,
// and the first of them is the op queue offset a restart reads from (CID_RMQ_SYS_TRANS's offset on
// the op topic).
export class FinishedHalves {
  /** Half queue offset → when it was ended (ms). Insertion order is roughly time order. */
  private readonly endedAt = new Map<number, number>();
  /** Op records read or written, in op queue order, from `head` on. */
  private ops: { opOffset: number; halfOffsets: number[] }[] = [];
  private head = 0;
  /** The op queue offset after the last op record seen. */
  private nextOpOffset = 0;

  constructor(private readonly maxRemembered: number) {
    if (!(maxRemembered >= 1)) throw new RangeError('maxRemembered must be at least 1');
  }

  get size(): number {
    return this.endedAt.size;
  }

  has(halfOffset: number): boolean {
    return this.endedAt.has(halfOffset);
  }

  /** Remembers offsets as ended now, before their op is written. */
  mark(halfOffsets: readonly number[], atMs: number): void {
    for (const o of halfOffsets) if (!this.endedAt.has(o)) this.endedAt.set(o, atMs);
  }

  /** Forgets offsets whose END did not go through (the committed message could not be stored). */
  unmark(halfOffsets: readonly number[]): void {
    for (const o of halfOffsets) this.endedAt.delete(o);
  }

  /** An op record read at start or just written. Records arrive in op queue order. */
  recordOp(opOffset: number, halfOffsets: readonly number[], atMs: number): void {
    if (opOffset < this.nextOpOffset) throw new Error(`invariant violated: op record ${opOffset} after ${this.nextOpOffset - 1}`);
    this.mark(halfOffsets, atMs);
    this.ops.push({ opOffset, halfOffsets: [...halfOffsets] });
    this.nextOpOffset = opOffset + 1;
  }

  /** Where reading the op queue stopped (start) when no record was seen past it. */
  skipOpsTo(opOffset: number): void {
    if (opOffset > this.nextOpOffset) this.nextOpOffset = opOffset;
  }

  /**
   * Forgets offsets behind `checkOffset` ended before `nowMs − retainMs`, and more when over
   * maxRemembered (oldest first). Returns the op queue offset a restart must read from.
   */
  prune(checkOffset: number, nowMs: number, retainMs: number): number {
    const cutoff = nowMs - retainMs;
    for (const [offset, at] of this.endedAt) {
      const over = this.endedAt.size > this.maxRemembered;
      if (at >= cutoff && !over) break;
      if (offset < checkOffset) this.endedAt.delete(offset);
    }
    while (this.head < this.ops.length && !this.ops[this.head]!.halfOffsets.some((o) => this.endedAt.has(o))) this.head++;
    if (this.head > 1024 && this.head * 2 > this.ops.length) {
      this.ops = this.ops.slice(this.head);
      this.head = 0;
    }
    return this.head < this.ops.length ? this.ops[this.head]!.opOffset : this.nextOpOffset;
  }
}
