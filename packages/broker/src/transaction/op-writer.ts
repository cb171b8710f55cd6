// Writes op messages (RocketMQ 5.x's TransactionalOpBatchService, without its timer): one op put is
// in flight at a time, and the ENDs that arrive meanwhile share the next op, up to 4 KiB of offsets.
// Under load ops batch themselves; alone, an END's op is written at once. A put that fails is tried
// again a few times, then given up (the halves stay ended in memory; after a restart such a half
// may be checked back once more, and the producer answers again: at-least-once, as in RocketMQ).
import { UniqKeyGenerator, type SocketAddress } from '@orbit/common';
import type { MessageStore } from '@orbit/store';
import { isStoredStatus } from '../put-status.js';
import { buildOpMessage, MAX_OP_BODY_BYTES } from './op-message.js';

/** ENDs waiting for their op at most; past it an END's op is not written (and it says so). */
const MAX_WAITING_OPS = 65_536;
/** Tries of one op put before it is given up. */
const MAX_PUT_ATTEMPTS = 3;
const RETRY_AFTER_FAILURE_MS = 200;

interface Waiting {
  halfOffsets: number[];
  done: (written: boolean) => void;
}

export class OpWriter {
  private readonly waiting: Waiting[] = [];
  private readonly uniqKeys: UniqKeyGenerator;
  private draining: Promise<void> | undefined;

  constructor(
    private readonly store: MessageStore,
    private readonly storeHost: SocketAddress,
    brokerIP: string,
    /** Called in op queue order for every op stored. */
    private readonly onWritten: (opOffset: number, halfOffsets: number[], atMs: number) => void,
    private readonly warn: (text: string) => void,
  ) {
    this.uniqKeys = new UniqKeyGenerator({ ip: brokerIP });
  }

  /** Resolves true once an op naming these half offsets is stored, false when it could not be. */
  write(halfOffsets: readonly number[]): Promise<boolean> {
    if (halfOffsets.length === 0) return Promise.resolve(true);
    if (this.waiting.length >= MAX_WAITING_OPS) {
      this.warn(`op queue full (${MAX_WAITING_OPS} waiting); the op for half offsets ${halfOffsets.join(',')} is not written`);
      return Promise.resolve(false);
    }
    return new Promise((done) => {
      this.waiting.push({ halfOffsets: [...halfOffsets], done });
      this.draining ??= this.drain().finally(() => (this.draining = undefined));
    });
  }

  /** Resolves once every op asked for so far is written or given up. */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    while (this.waiting.length > 0) {
      const batch = this.takeBatch();
      const offsets = batch.flatMap((w) => w.halfOffsets);
      const written = await this.putWithRetries(offsets);
      for (const w of batch) w.done(written);
    }
  }

  /** The first waiting ENDs whose offsets fit one op body (at least one END). */
  private takeBatch(): Waiting[] {
    let bytes = 0;
    let count = 0;
    for (const w of this.waiting) {
      const more = w.halfOffsets.reduce((sum, o) => sum + String(o).length + 1, 0);
      if (count > 0 && bytes + more > MAX_OP_BODY_BYTES) break;
      bytes += more;
      count++;
    }
    return this.waiting.splice(0, Math.max(1, count));
  }

  private async putWithRetries(halfOffsets: number[]): Promise<boolean> {
    let why = '';
    for (let attempt = 1; attempt <= MAX_PUT_ATTEMPTS; attempt++) {
      try {
        const now = Date.now();
        const result = await this.store.putMessage(buildOpMessage(halfOffsets, this.uniqKeys.next(), this.storeHost, now), { waitStoreOk: false });
        if (isStoredStatus(result.status)) {
          this.onWritten(result.queueOffset, halfOffsets, now);
          return true;
        }
        why = result.status;
      } catch (err) {
        why = (err as Error).message;
      }
      if (attempt < MAX_PUT_ATTEMPTS) await new Promise((r) => setTimeout(r, RETRY_AFTER_FAILURE_MS));
    }
    this.warn(`writing the op for half offsets ${halfOffsets.join(',')} failed (${why}); given up after ${MAX_PUT_ATTEMPTS} tries`);
    return false;
  }
}
