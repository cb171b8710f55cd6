// Long polling (PullRequestHoldService, facts §7.3): a pull that finds nothing new is parked under
// topic@queueId and answered as soon as the store reports an arrival past its offset (or past the
// queue end its read saw, when that was larger), or when its hold time runs out. Bounded: past
// maxHeldPulls a pull is answered at once.
import type { RemotingCommand, RemotingConnection } from '@orbit/remoting';

export interface HeldPull {
  req: RemotingCommand;
  conn: RemotingConnection;
  topic: string;
  queueId: number;
  offset: number;
  /** Answered once the queue ends past this: the pull's offset, or the end its read saw if larger. */
  waitPast: number;
  timer: NodeJS.Timeout;
}

/** Re-runs a held pull without the right to be held again, and writes its response. */
export type PullReplay = (held: HeldPull) => Promise<void>;

/** The store's side: arrival notices on or off, and where a queue ends now. */
export interface ArrivalSource {
  setArrivalInterest(on: boolean): void;
  getMaxOffsetInQueue(topic: string, queueId: number): number;
}

export class PullRequestHoldService {
  private readonly byQueue = new Map<string, Set<HeldPull>>();
  private readonly byConnection = new Map<RemotingConnection, Set<HeldPull>>();
  private count = 0;

  /**
   * Arrival notices cost the store a wake-up of this thread per dispatch, so they are on only while
   * a pull is held (a producer-only load, like a latency test, then wakes nothing).
   */
  constructor(
    private readonly maxHeldPulls: number,
    private readonly replay: PullReplay,
    private readonly store: ArrivalSource,
  ) {
    store.setArrivalInterest(false);
  }

  get heldCount(): number {
    return this.count;
  }

  /**
   * Parks a pull; returns false when the bound is reached (answer it now instead). `seenMaxOffset`
   * is the queue's end the pull's read saw: a pull may be held below it (an entry that could not be
   * read, a slave keeping a consumer's too-small offset) and must then wait for growth past it,
   * not be answered again at once in a loop.
   */
  hold(req: RemotingCommand, conn: RemotingConnection, topic: string, queueId: number, offset: number, holdMs: number, seenMaxOffset = offset): boolean {
    if (this.count >= this.maxHeldPulls || conn.closed) return false;
    const held: HeldPull = { req, conn, topic, queueId, offset, waitPast: Math.max(offset, seenMaxOffset), timer: undefined as unknown as NodeJS.Timeout };
    held.timer = setTimeout(() => this.release(held), holdMs);
    const key = `${topic}@${queueId}`;
    let set = this.byQueue.get(key);
    if (!set) this.byQueue.set(key, (set = new Set()));
    set.add(held);
    let perConn = this.byConnection.get(conn);
    if (!perConn) {
      this.byConnection.set(conn, (perConn = new Set()));
      conn.once('close', () => this.dropConnection(conn));
    }
    perConn.add(held);
    this.count++;
    if (this.count === 1) this.store.setArrivalInterest(true);
    // Records dispatched while notices were off (or between the pull's read and now) are announced
    // to no one: look once, after the caller has returned, as a notice would. The interest store
    // above, the dispatcher's publication and the reader's atomic read of it before the queue bytes
    // are all sequentially consistent, so a record whose dispatcher saw interest off is seen here.
    queueMicrotask(() => {
      if (this.store.getMaxOffsetInQueue(topic, queueId) > held.waitPast) this.release(held);
    });
    return true;
  }

  /** Store arrival: wake pulls on that queue waiting below the new max (topic undefined: all). */
  onArrival(topic: string | undefined, queueId: number, maxOffset: number): void {
    if (topic === undefined) {
      for (const set of [...this.byQueue.values()]) for (const held of [...set]) this.release(held);
      return;
    }
    const set = this.byQueue.get(`${topic}@${queueId}`);
    if (!set) return;
    for (const held of [...set]) if (maxOffset > held.waitPast) this.release(held);
  }

  private forget(held: HeldPull): boolean {
    const key = `${held.topic}@${held.queueId}`;
    const set = this.byQueue.get(key);
    if (!set?.delete(held)) return false;
    if (set.size === 0) this.byQueue.delete(key);
    this.byConnection.get(held.conn)?.delete(held);
    clearTimeout(held.timer);
    this.count--;
    if (this.count === 0) this.store.setArrivalInterest(false);
    return true;
  }

  private release(held: HeldPull): void {
    if (!this.forget(held)) return;
    void this.replay(held).catch(() => {
      // The connection may be gone; nothing else to do for this pull.
    });
  }

  private dropConnection(conn: RemotingConnection): void {
    for (const held of [...(this.byConnection.get(conn) ?? [])]) this.forget(held);
    this.byConnection.delete(conn);
  }

  /** Answers every held pull now (shutdown). */
  releaseAll(): void {
    for (const set of [...this.byQueue.values()]) for (const held of [...set]) this.release(held);
  }
}
