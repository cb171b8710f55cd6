// ConsumeMessageConcurrentlyService: hands pulled messages to the user's listener, at most
// consumeConcurrency batches at a time, consumeMessageBatchMaxSize messages per batch, and acts on
// the answer. CONSUME_SUCCESS removes the messages from the ProcessQueue, which moves the queue's
// consumed offset forward. RECONSUME_LATER (or a throw) in clustering mode sends each message back
// to the broker (CONSUMER_SEND_MSG_BACK, which puts it on %RETRY%<group> with a delay); a message
// the broker would not take back stays in the ProcessQueue (holding the offset) and is consumed
// again locally after localRetryDelayMs. In broadcasting mode a failed message is dropped (facts §7.2).
import { BoundedWorkQueue } from './bounded-work-queue.js';
import { errorText } from './async-util.js';
import type { ClientLogger } from './client-config.js';
import type { MessageModel } from './heartbeat-data.js';
import { restoreRetryTopics, type MessageExt } from './message.js';
import { formatMessageQueue, type MessageQueue } from './message-queue.js';
import type { ProcessQueue } from './process-queue.js';

export type ConsumeConcurrentlyStatus = 'CONSUME_SUCCESS' | 'RECONSUME_LATER';

export interface ConsumeConcurrentlyContext {
  readonly messageQueue: MessageQueue;
  /** 0: the broker picks (3 + reconsumeTimes); -1: straight to the DLQ; n: that delay level. */
  delayLevelWhenNextConsume: number;
  /** With CONSUME_SUCCESS: messages after this index count as failed (partial success). */
  ackIndex: number;
}

export type MessageListenerConcurrently = (
  msgs: MessageExt[],
  context: ConsumeConcurrentlyContext,
) => ConsumeConcurrentlyStatus | Promise<ConsumeConcurrentlyStatus>;

export interface ConsumeServiceOptions {
  consumerGroup: string;
  messageModel: MessageModel;
  listener: MessageListenerConcurrently;
  consumeConcurrency: number;
  consumeMessageBatchMaxSize: number;
  /** Wait before a message the broker would not take back is consumed again here. */
  localRetryDelayMs: number;
  /** CONSUMER_SEND_MSG_BACK; resolves false when the broker did not take the message. */
  sendMessageBack(msg: MessageExt, delayLevel: number): Promise<boolean>;
  /** Records the queue's new consumed offset (increase only). */
  updateOffset(mq: MessageQueue, offset: number): void;
  logger: ClientLogger;
}

interface ConsumeRequest {
  msgs: MessageExt[];
  pq: ProcessQueue;
  mq: MessageQueue;
}

export class ConsumeMessageConcurrentlyService {
  private readonly work: BoundedWorkQueue<ConsumeRequest>;
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(private readonly options: ConsumeServiceOptions) {
    if (!Number.isInteger(options.consumeConcurrency) || options.consumeConcurrency < 1) throw new RangeError('consumeConcurrency must be at least 1');
    if (!Number.isInteger(options.consumeMessageBatchMaxSize) || options.consumeMessageBatchMaxSize < 1) throw new RangeError('consumeMessageBatchMaxSize must be at least 1');
    this.work = new BoundedWorkQueue(options.consumeConcurrency, (request) => this.consume(request), (request, error) =>
      options.logger.error(`consume request of ${formatMessageQueue(request.mq)} failed: ${errorText(error)}`),
    );
  }

  /** Batches being consumed plus batches waiting for a slot. */
  get backlog(): number {
    return this.work.backlog;
  }

  /** Queues `msgs` (already in `pq`) for consumption in batches of consumeMessageBatchMaxSize. */
  submitConsumeRequest(msgs: readonly MessageExt[], pq: ProcessQueue, mq: MessageQueue): void {
    if (this.stopped) return;
    const size = this.options.consumeMessageBatchMaxSize;
    for (let i = 0; i < msgs.length; i += size) this.work.push({ msgs: msgs.slice(i, i + size), pq, mq });
  }

  private async consume(request: ConsumeRequest): Promise<void> {
    const { msgs, pq, mq } = request;
    if (pq.dropped) return;
    restoreRetryTopics(msgs, this.options.consumerGroup);
    const context: ConsumeConcurrentlyContext = { messageQueue: mq, delayLevelWhenNextConsume: 0, ackIndex: Number.MAX_SAFE_INTEGER };
    let status: ConsumeConcurrentlyStatus;
    try {
      const answer = await this.options.listener(msgs, context);
      status = answer === 'CONSUME_SUCCESS' ? 'CONSUME_SUCCESS' : 'RECONSUME_LATER';
      if (answer !== 'CONSUME_SUCCESS' && answer !== 'RECONSUME_LATER') {
        this.options.logger.warn(`consumeMessage returned ${String(answer)} for ${formatMessageQueue(mq)}; treated as RECONSUME_LATER`);
      }
    } catch (error) {
      this.options.logger.warn(`consumeMessage exception on ${formatMessageQueue(mq)}: ${errorText(error)}`);
      status = 'RECONSUME_LATER';
    }
    if (pq.dropped) return; // the queue went elsewhere meanwhile; its new owner consumes again
    await this.processConsumeResult(status, context, msgs, pq, mq);
  }



  private async processConsumeResult(status: ConsumeConcurrentlyStatus, context: ConsumeConcurrentlyContext, msgs: MessageExt[], pq: ProcessQueue, mq: MessageQueue): Promise<void> {
    let ackIndex = context.ackIndex;
    if (status === 'CONSUME_SUCCESS') {
      if (ackIndex >= msgs.length) ackIndex = msgs.length - 1;
    } else {
      ackIndex = -1;
    }
    const done: MessageExt[] = msgs.slice(0, Math.max(0, ackIndex + 1));
    const failed = msgs.slice(ackIndex + 1);
    const keep: MessageExt[] = [];
    if (this.options.messageModel === 'BROADCASTING') {
      for (const msg of failed) this.options.logger.warn(`BROADCASTING, the message ${msg.msgId} consume failed, drop it`);
      done.push(...failed);
    } else {
      for (const msg of failed) {
        if (await this.options.sendMessageBack(msg, context.delayLevelWhenNextConsume)) done.push(msg);
        else {
          msg.reconsumeTimes++;
          keep.push(msg);
        }
      }
    }
    const offset = pq.removeMessages(done);
    if (offset >= 0 && !pq.dropped) this.options.updateOffset(mq, offset);
    if (keep.length > 0) this.submitConsumeRequestLater(keep, pq, mq);
  }

  /** Consumes `msgs` again after localRetryDelayMs (they are still in the ProcessQueue). */
  private submitConsumeRequestLater(msgs: MessageExt[], pq: ProcessQueue, mq: MessageQueue): void {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer);
      if (!pq.dropped) this.submitConsumeRequest(msgs, pq, mq);
    }, this.options.localRetryDelayMs);
    this.retryTimers.add(timer);
  }

  /** Stops taking work, cancels local retries and waits up to `awaitMs` for running listeners. */
  async shutdown(awaitMs: number): Promise<void> {
    this.stopped = true;
    for (const timer of this.retryTimers) clearTimeout(timer);
    this.retryTimers.clear();
    await this.work.stop(awaitMs);
  }
}
