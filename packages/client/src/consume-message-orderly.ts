// ConsumeMessageOrderlyService (facts §7.5): hands each queue's messages to the listener strictly in
// queue-offset order, one call at a time per queue; different queues run in parallel, at most
// consumeConcurrency at once. In clustering mode a queue is consumed only while this client holds
// its broker lock and the lock is younger than rebalanceLockMaxLiveTimeMs (30 s); otherwise the
// queue waits, and is locked again and resumed.
//
// A queue's task holds the queue's consumeLock while it runs, listener call and offset commit
// included, so rebalance (which takes the same lock before committing the offset and unlocking the
// queue for its next owner) never gives a queue away in the middle of a call.
//
// The listener answers SUCCESS or SUSPEND_CURRENT_QUEUE_A_MOMENT (a throw counts as suspend).
// SUCCESS commits the offset after the highest message of the call; nothing later in the queue is
// ever committed before it (no gaps). Suspend puts the messages back at the head of the queue with
// reconsumeTimes + 1 and consumes them again after suspendCurrentQueueTimeMillis (1 s): nothing
// later in that queue is delivered meanwhile. A message suspended with reconsumeTimes already at
// maxReconsumeTimes (Integer.MAX_VALUE by default) is handed back to the broker, which puts it in
// %DLQ%<group>, and consumption goes on after it.
import { BoundedWorkQueue } from './bounded-work-queue.js';
import { errorText, PeriodicTask } from './async-util.js';
import type { ClientLogger } from './client-config.js';
import type { MessageModel } from './heartbeat-data.js';
import { restoreRetryTopics, type MessageExt } from './message.js';
import { formatMessageQueue, type MessageQueue } from './message-queue.js';
import type { ProcessQueue } from './process-queue.js';

export type ConsumeOrderlyStatus = 'SUCCESS' | 'SUSPEND_CURRENT_QUEUE_A_MOMENT';

export interface ConsumeOrderlyContext {
  readonly messageQueue: MessageQueue;
  /** Wait before suspended messages are consumed again; the listener may change it for this call. */
  suspendCurrentQueueTimeMillis: number;
}

/** An orderly listener: messages of one queue, in order, one call at a time per queue. */
export type MessageListenerOrderly = (msgs: MessageExt[], context: ConsumeOrderlyContext) => ConsumeOrderlyStatus | Promise<ConsumeOrderlyStatus>;

/** Java's Integer.MAX_VALUE: the orderly default of maxReconsumeTimes (suspend for ever). */
export const ORDERLY_MAX_RECONSUME_TIMES = 2_147_483_647;
/** A queue is consumed this long at most before other queues get its slot (MAX_TIME_CONSUME_CONTINUOUSLY). */
export const MAX_TIME_CONSUME_CONTINUOUSLY_MS = 60_000;
/** Bounds of a suspend, as ConsumeMessageOrderlyService.submitConsumeRequestLater clamps it. */
const MIN_SUSPEND_MS = 10;
const MAX_SUSPEND_MS = 30_000;

export interface ConsumeOrderlyServiceOptions {
  consumerGroup: string;
  messageModel: MessageModel;
  listener: MessageListenerOrderly;
  /** Queues consumed at once. */
  consumeConcurrency: number;
  consumeMessageBatchMaxSize: number;
  suspendCurrentQueueTimeMillis: number;
  maxReconsumeTimes: number;
  /** Locks of owned queues are renewed this often (clustering). */
  lockIntervalMs: number;
  /** The client's own view of how long a lock lasts after its request was sent. */
  rebalanceLockMaxLiveTimeMs: number;
  /** Wait before a queue whose lock was refused is tried again. */
  lockRetryDelayMs: number;
  /** Hands a message back to the broker for the DLQ; false when the broker did not take it. */
  sendMessageBack(msg: MessageExt): Promise<boolean>;
  /** Records the queue's consumed offset. */
  updateOffset(mq: MessageQueue, offset: number): void;
  /** Locks one owned queue on its broker; true when held now. */
  lockOne(mq: MessageQueue): Promise<boolean>;
  /** Renews the locks of every owned queue. */
  lockAll(): Promise<void>;
  logger: ClientLogger;
}

interface QueueTask {
  pq: ProcessQueue;
  mq: MessageQueue;
}

export class ConsumeMessageOrderlyService {
  private readonly work: BoundedWorkQueue<QueueTask>;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly lockTask: PeriodicTask | undefined;
  private stopped = false;

  constructor(private readonly options: ConsumeOrderlyServiceOptions) {
    if (!Number.isInteger(options.consumeConcurrency) || options.consumeConcurrency < 1) throw new RangeError('consumeConcurrency must be at least 1');
    if (!Number.isInteger(options.consumeMessageBatchMaxSize) || options.consumeMessageBatchMaxSize < 1) throw new RangeError('consumeMessageBatchMaxSize must be at least 1');
    if (!Number.isInteger(options.maxReconsumeTimes) || options.maxReconsumeTimes < 0) throw new RangeError('maxReconsumeTimes must be a non-negative integer');
    this.work = new BoundedWorkQueue(options.consumeConcurrency, (task) => this.run(task), (task, error) =>
      options.logger.error(`orderly consume of ${formatMessageQueue(task.mq)} failed: ${errorText(error)}`),
    );
    if (this.clustering) {
      this.lockTask = new PeriodicTask('lockMQPeriodically', options.lockIntervalMs, () => options.lockAll(), (name, error) => options.logger.warn(`${name} failed: ${errorText(error)}`));
    }
  }

  private get clustering(): boolean {
    return this.options.messageModel === 'CLUSTERING';
  }

  /** Starts renewing the locks of owned queues (clustering). */
  start(): void {
    this.lockTask?.start(Math.min(1_000, this.options.lockIntervalMs));
  }

  /** Queue tasks running plus waiting for a slot. */
  get backlog(): number {
    return this.work.backlog;
  }

  /** New messages are in `pq`: starts its task unless one is scheduled or running already. */
  submitConsumeRequest(_msgs: readonly MessageExt[], pq: ProcessQueue, mq: MessageQueue): void {
    if (this.stopped || pq.consuming) return;
    pq.consuming = true;
    this.enqueue({ pq, mq });
  }

  private enqueue(task: QueueTask): void {
    if (this.stopped) return;
    this.work.push(task);
  }

  /** Runs `fn` after `delayMs` unless the service stopped meanwhile. */
  private later(delayMs: number, fn: () => void): void {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.stopped) fn();
    }, delayMs);
    this.timers.add(timer);
  }

  /** Consumes the queue's task again after `delayMs` (its `consuming` flag stays set meanwhile). */
  private submitConsumeRequestLater(task: QueueTask, delayMs: number): void {
    const ms = Math.min(MAX_SUSPEND_MS, Math.max(MIN_SUSPEND_MS, delayMs));
    this.later(ms, () => {
      if (!task.pq.dropped) this.enqueue(task);
    });
  }

  /** The queue's lock is missing or stale: lock it, then resume (soon if that worked, else after lockRetryDelayMs). */
  private tryLockLaterAndReconsume(task: QueueTask, delayMs: number): void {
    this.later(delayMs, () => {
      if (task.pq.dropped) return;
      void this.options
        .lockOne(task.mq)
        .catch(() => false)
        .then((ok) => this.submitConsumeRequestLater(task, ok ? MIN_SUSPEND_MS : this.options.lockRetryDelayMs));
    });
  }

  private lockValid(pq: ProcessQueue): boolean {
    return pq.locked && !pq.isLockExpired(Date.now(), this.options.rebalanceLockMaxLiveTimeMs);
  }

  /** One queue's task (ConsumeRequest.run): batches in order until the queue is empty or must wait. */
  private async run(task: QueueTask): Promise<void> {
    const { pq, mq } = task;
    if (pq.dropped) return;
    const release = await pq.consumeLock.acquire();
    try {
      const beginMs = Date.now();
      for (;;) {
        if (pq.dropped || this.stopped) return;
        if (this.clustering && !this.lockValid(pq)) {
          this.tryLockLaterAndReconsume(task, pq.locked ? MIN_SUSPEND_MS : 100);
          return;
        }
        if (Date.now() - beginMs > MAX_TIME_CONSUME_CONTINUOUSLY_MS) {
          this.submitConsumeRequestLater(task, MIN_SUSPEND_MS); // let other queues have the slot
          return;
        }
        const msgs = pq.takeMessages(this.options.consumeMessageBatchMaxSize);
        if (msgs.length === 0) return; // pq.consuming is cleared: the next pull starts a new task
        restoreRetryTopics(msgs, this.options.consumerGroup);
        const context: ConsumeOrderlyContext = { messageQueue: mq, suspendCurrentQueueTimeMillis: this.options.suspendCurrentQueueTimeMillis };
        let status: ConsumeOrderlyStatus;
        try {
          const answer = await this.options.listener([...msgs], context);
          if (answer === 'SUCCESS' || answer === 'SUSPEND_CURRENT_QUEUE_A_MOMENT') status = answer;
          else {
            this.options.logger.warn(`consumeMessage returned ${String(answer)} for ${formatMessageQueue(mq)}; treated as SUSPEND_CURRENT_QUEUE_A_MOMENT`);
            status = 'SUSPEND_CURRENT_QUEUE_A_MOMENT';
          }
        } catch (error) {
          this.options.logger.warn(`consumeMessage exception on ${formatMessageQueue(mq)}: ${errorText(error)}`);
          status = 'SUSPEND_CURRENT_QUEUE_A_MOMENT';
        }
        // Committed even when the queue was dropped meanwhile: rebalance waits for this task
        // (consumeLock) and commits the offset right after, so the next owner does not repeat it.
        if (!(await this.processConsumeResult(msgs, status, context, task))) return;
      }
    } finally {
      release();
    }
  }



  /** Acts on the listener's answer; false when the queue must wait (suspended). */
  private async processConsumeResult(msgs: MessageExt[], status: ConsumeOrderlyStatus, context: ConsumeOrderlyContext, task: QueueTask): Promise<boolean> {
    const { pq, mq } = task;
    if (status === 'SUSPEND_CURRENT_QUEUE_A_MOMENT') {
      const again: MessageExt[] = [];
      for (const msg of msgs) {
        // Past the limit: to the DLQ (through the broker), and consumption goes on after it.
        if (msg.reconsumeTimes >= this.options.maxReconsumeTimes && this.clustering && (await this.options.sendMessageBack(msg))) continue;
        if (msg.reconsumeTimes >= this.options.maxReconsumeTimes && !this.clustering) {
          this.options.logger.warn(`BROADCASTING, the message ${msg.msgId} consume failed ${msg.reconsumeTimes + 1} times, drop it`);
          continue;
        }
        msg.reconsumeTimes++;
        again.push(msg);
      }
      if (again.length > 0) {
        pq.makeMessageToConsumeAgain(again);
        this.submitConsumeRequestLater(task, context.suspendCurrentQueueTimeMillis);
        return false;
      }
    }
    const offset = pq.commit();
    if (offset >= 0 && !pq.offsetReset) this.options.updateOffset(mq, offset);
    return true;
  }

  /** Stops taking work and renewing locks, and waits up to `awaitMs` for running listeners. */
  async shutdown(awaitMs: number): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await this.lockTask?.stop();
    await this.work.stop(awaitMs);
  }
}
