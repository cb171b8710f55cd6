// The transactional producer (RocketMQ's TransactionMQProducer; facts §7.8). sendMessageInTransaction
// sends a half message (TRAN_MSG=true, PGROUP, the PREPARED sysFlag bit) with a sync send, runs the
// local transaction, and tells the broker that took the half what became of it with END_TRANSACTION
// (oneway: commit 8, rollback 12, unknown 0). A broker that hears nothing asks again later with
// CHECK_TRANSACTION_STATE; the client instance hands such checks to the producer of the message's
// group, which answers them from checkLocalTransaction, at most checkThreadPoolMaxSize at a time.
import { PropertyKey, SysFlag } from '@orbit/common/message-const';
import { decodeOffsetMessageId } from '@orbit/common/message-id';
import { RequestCode } from '@orbit/common/request-code';
import { optionalLong, optionalString, type ExtFieldValue, type RemotingCommand, type RemotingConnection } from '@orbit/remoting';
import { errorText } from './async-util.js';
import { MQClientError } from './errors.js';
import type { Message, MessageExt } from './message.js';
import { Producer, type ProducerOptions } from './producer.js';
import type { SendResult } from './send-result.js';
import { createUniqKey } from './uniq-key.js';

/** LocalTransactionState; UNKNOW is RocketMQ's spelling. */
export type LocalTransactionState = 'COMMIT_MESSAGE' | 'ROLLBACK_MESSAGE' | 'UNKNOW';

/** The message as sent in a transaction, with its transaction id (its UNIQ_KEY). */
export type TransactionMessage = Message & { transactionId: string };
/** A half message the broker asks about, decoded from CHECK_TRANSACTION_STATE (real topic and queue). */
export type TransactionMessageExt = MessageExt & { transactionId: string };

export interface TransactionListener {
  /** Runs the local transaction of a half message just sent. A throw counts as UNKNOW. */
  executeLocalTransaction(msg: TransactionMessage, arg: unknown): LocalTransactionState | Promise<LocalTransactionState>;
  /** Says what became of the local transaction of a half message the broker asks about. A throw counts as UNKNOW. */
  checkLocalTransaction(msg: TransactionMessageExt): LocalTransactionState | Promise<LocalTransactionState>;
}

export interface TransactionSendResult extends SendResult {
  localTransactionState: LocalTransactionState;
}

export interface TransactionProducerOptions extends ProducerOptions {
  transactionListener: TransactionListener;
  /** checkLocalTransaction calls running at once (TransactionMQProducer.checkThreadPoolMaxSize). */
  checkThreadPoolMaxSize?: number;
  /** Checks waiting for a turn at most; more are dropped, and the broker asks again later. */
  checkRequestHolderMax?: number;
}

export const TransactionProducerDefaults = {
  checkThreadPoolMaxSize: 1,
  checkRequestHolderMax: 2000,
} as const;

/** The sysFlag transaction values END_TRANSACTION carries in commitOrRollback. */
const END_CODES: Record<LocalTransactionState, number> = {
  COMMIT_MESSAGE: SysFlag.TRANSACTION_COMMIT_TYPE,
  ROLLBACK_MESSAGE: SysFlag.TRANSACTION_ROLLBACK_TYPE,
  UNKNOW: SysFlag.TRANSACTION_NOT_TYPE,
};

/** What a listener returned, as a state: anything else (null, a typo) is UNKNOW, as in the Java client. */
function stateOf(value: unknown): LocalTransactionState {
  return value === 'COMMIT_MESSAGE' || value === 'ROLLBACK_MESSAGE' ? value : 'UNKNOW';
}

export class TransactionProducer extends Producer {
  readonly transactionListener: TransactionListener;
  readonly checkThreadPoolMaxSize: number;
  readonly checkRequestHolderMax: number;
  private readonly checkQueue: (() => Promise<void>)[] = [];
  private checksRunning = 0;
  /** Brokers this producer has sent a half to and told who it is (a heartbeat), so their checks find it. */
  private readonly introducedTo = new Set<string>();
  private closed = false;

  constructor(options: TransactionProducerOptions) {
    super(options);
    if (!options.transactionListener || typeof options.transactionListener.executeLocalTransaction !== 'function' || typeof options.transactionListener.checkLocalTransaction !== 'function') {
      throw new MQClientError('transactionListener with executeLocalTransaction and checkLocalTransaction is required');
    }
    this.transactionListener = options.transactionListener;
    this.checkThreadPoolMaxSize = options.checkThreadPoolMaxSize ?? TransactionProducerDefaults.checkThreadPoolMaxSize;
    this.checkRequestHolderMax = options.checkRequestHolderMax ?? TransactionProducerDefaults.checkRequestHolderMax;
    if (!Number.isInteger(this.checkThreadPoolMaxSize) || this.checkThreadPoolMaxSize < 1 || this.checkThreadPoolMaxSize > 1024) throw new RangeError('checkThreadPoolMaxSize must be 1..1024');
    if (!Number.isInteger(this.checkRequestHolderMax) || this.checkRequestHolderMax < 0) throw new RangeError('checkRequestHolderMax must be a non-negative integer');
  }

  override async shutdown(): Promise<void> {
    this.closed = true;
    this.checkQueue.length = 0; // checks not started are dropped; the broker asks again
    await super.shutdown();
  }

  /**
   * Sends `msg` as a half message, runs executeLocalTransaction(msg, arg), and ends the transaction
   * at the broker that took the half. A delay level is ignored (transactions are not delayed). A
   * send that is stored with a caveat (flush or slave timeout) is rolled back without running the
   * local transaction, as the Java client does. Failing to send END_TRANSACTION is not an error: the
   * broker will ask (CHECK_TRANSACTION_STATE).
   */
  async sendMessageInTransaction(msg: Message, arg?: unknown): Promise<TransactionSendResult> {
    const properties: Record<string, string> = { ...msg.properties };
    delete properties[PropertyKey.DELAY];
    const uniqKey = properties[PropertyKey.UNIQ_KEY] ?? createUniqKey(this.config.clientIP);
    properties[PropertyKey.UNIQ_KEY] = uniqKey;
    properties[PropertyKey.TRAN_MSG] = 'true';
    properties[PropertyKey.PGROUP] = this.groupName;
    const half: Message = { ...msg, delayTimeLevel: undefined, properties };
    const sendResult = await this.send(half);
    this.introduceTo(sendResult.messageQueue.brokerName);

    let state: LocalTransactionState = 'UNKNOW';
    let localError: unknown;
    if (sendResult.sendStatus === 'SEND_OK') {
      if (sendResult.transactionId !== undefined) properties[PropertyKey.TRANSACTION_ID] = sendResult.transactionId;
      try {
        state = stateOf(await this.transactionListener.executeLocalTransaction({ ...half, properties: { ...properties }, transactionId: uniqKey }, arg));
      } catch (error) {
        localError = error;
        this.config.logger.info(`executeLocalTransaction of ${uniqKey} threw, the transaction is UNKNOW: ${errorText(error)}`);
      }
    } else {
      state = 'ROLLBACK_MESSAGE';
    }
    try {
      await this.endTransaction(sendResult, state, localError);
    } catch (error) {
      this.config.logger.warn(`local transaction ${uniqKey} ended ${state}, but END_TRANSACTION could not be sent: ${errorText(error)}`);
    }
    return { ...sendResult, transactionId: sendResult.transactionId ?? uniqKey, localTransactionState: state };
  }

  /** END_TRANSACTION, oneway, to the master of the broker that took the half (DefaultMQProducerImpl.endTransaction). */
  private async endTransaction(sendResult: SendResult, state: LocalTransactionState, localError: unknown): Promise<void> {
    const instance = this.instance!;
    const { physicalOffset } = decodeOffsetMessageId(sendResult.offsetMsgId || sendResult.msgId);
    const brokerName = sendResult.messageQueue.brokerName;
    const brokerAddr = instance.findBrokerAddressInPublish(brokerName);
    if (brokerAddr === undefined) throw new MQClientError(`The broker[${brokerName}] not exist`);
    const request = this.endTransactionRequest({
      producerGroup: this.groupName,
      tranStateTableOffset: sendResult.queueOffset,
      commitLogOffset: physicalOffset,
      commitOrRollback: END_CODES[state],
      fromTransactionCheck: false,
      msgId: sendResult.msgId,
      transactionId: sendResult.transactionId,
      bname: brokerName,
    });
    if (localError !== undefined) request.remark = `executeLocalTransactionBranch exception: ${errorText(localError)}`;
    await instance.remoting.invokeOneway(brokerAddr, request);
  }

  private endTransactionRequest(fields: Record<string, ExtFieldValue>): RemotingCommand {
    return this.instance!.api.onewayRequest(RequestCode.END_TRANSACTION, fields);
  }

  /** A heartbeat to the broker at once the first time it takes a half, rather than at the next period. */
  private introduceTo(brokerName: string): void {
    const instance = this.instance;
    const addr = instance?.findBrokerAddressInPublish(brokerName);
    if (instance === undefined || addr === undefined || this.introducedTo.has(addr)) return;
    this.introducedTo.add(addr);
    instance.sendHeartbeatToAllBrokers().catch((error: unknown) => this.config.logger.warn(`heartbeat after the first half to ${addr} failed: ${errorText(error)}`));
  }

  // --- broker checks (ProducerInner) -------------------------------------------------------------

  /** Queues a broker's CHECK_TRANSACTION_STATE; it is answered on `conn` when its turn comes. */
  checkTransactionState(request: RemotingCommand, conn: RemotingConnection, msg: MessageExt): void {
    if (this.closed) return;
    if (this.checkQueue.length >= this.checkRequestHolderMax) {
      this.config.logger.warn(`${this.checkQueue.length} transaction checks waiting; the check of ${msg.msgId} from ${conn.remoteAddress} is dropped (the broker asks again)`);
      return;
    }
    this.checkQueue.push(() => this.answerCheck(request, conn, msg));
    this.runChecks();
  }

  private runChecks(): void {
    while (!this.closed && this.checksRunning < this.checkThreadPoolMaxSize && this.checkQueue.length > 0) {
      const job = this.checkQueue.shift()!;
      this.checksRunning++;
      job()
        .catch((error: unknown) => this.config.logger.warn(`answering a transaction check failed: ${errorText(error)}`))
        .finally(() => {
          this.checksRunning--;
          this.runChecks();
        });
    }
  }

  /** checkTransactionState + processTransactionState: END_TRANSACTION with fromTransactionCheck=true on the asking connection. */
  private async answerCheck(request: RemotingCommand, conn: RemotingConnection, msg: MessageExt): Promise<void> {
    const tranStateTableOffset = optionalLong(request, 'tranStateTableOffset');
    const commitLogOffset = optionalLong(request, 'commitLogOffset');
    if (tranStateTableOffset === undefined || commitLogOffset === undefined) {
      this.config.logger.warn(`CHECK_TRANSACTION_STATE from ${conn.remoteAddress} without tranStateTableOffset/commitLogOffset; ignored`);
      return;
    }
    const uniqKey = msg.properties[PropertyKey.UNIQ_KEY] || msg.msgId;
    let state: LocalTransactionState = 'UNKNOW';
    let checkError: unknown;
    try {
      state = stateOf(await this.transactionListener.checkLocalTransaction({ ...msg, transactionId: uniqKey }));
    } catch (error) {
      checkError = error;
      this.config.logger.info(`checkLocalTransaction of ${uniqKey} threw, answering UNKNOW: ${errorText(error)}`);
    }
    if (this.closed || conn.closed) return;
    const answer = this.endTransactionRequest({
      producerGroup: this.groupName,
      tranStateTableOffset,
      commitLogOffset,
      commitOrRollback: END_CODES[state],
      fromTransactionCheck: true,
      msgId: uniqKey,
      transactionId: optionalString(request, 'transactionId'),
      bname: optionalString(request, 'bname'),
    });
    if (checkError !== undefined) answer.remark = `checkLocalTransactionState Exception: ${errorText(checkError)}`;
    await conn.invokeOneway(answer);
  }
}
