// END_TRANSACTION (37): a producer's verdict on a half message (facts §2.7, §7.8; RocketMQ's
// EndTransactionProcessor). Producers send it oneway, after their local transaction and in answer
// to CHECK_TRANSACTION_STATE (fromTransactionCheck=true); a raw caller may send it as a request and
// then reads the outcome.
//   commit (8):   the half is loaded by commitLogOffset and checked (PGROUP, queue offset, offset);
//                 the message is put on its real topic and queue with sysFlag COMMIT; then an op.
//   rollback (12): the same checks, then only the op.
//   unknown (0):  nothing (no answer, as RocketMQ).
// A half already ended (by an op, or any put-back copy of it) is not ended again: a second commit
// delivers nothing. A slave answers SLAVE_NOT_AVAILABLE.
import { decodeStoredRecord, findProperty, PropertyKey, ResponseCode, SysFlag, SystemTopic, type DecodedRecord } from '@orbit/common';
import { createResponse, optionalBool, optionalString, requireInt, requireLong, requireString, type RemotingCommand } from '@orbit/remoting';
import { parseDelayLevels, StoreError, type PutResult } from '@orbit/store';
import type { BrokerContext } from '../broker-context.js';
import { isStoredStatus, putStatusToCode } from '../put-status.js';
import { toScheduleMessage } from '../schedule/schedule-message.js';
import { toCommittedMessage } from './half-message.js';
import type { TransactionalMessageService } from './transactional-message-service.js';

export interface EndTransactionRequestHeader {
  topic: string | undefined;
  producerGroup: string;
  /** Queue offset of the half message. */
  tranStateTableOffset: number;
  /** Physical offset of the half message. */
  commitLogOffset: number;
  /** 0 unknown, 8 commit, 12 rollback (the sysFlag transaction values). */
  commitOrRollback: number;
  fromTransactionCheck: boolean;
  /** UNIQ_KEY. */
  msgId: string;
  transactionId: string | undefined;
}

export function parseEndTransactionHeader(req: RemotingCommand): EndTransactionRequestHeader {
  return {
    topic: optionalString(req, 'topic'),
    producerGroup: requireString(req, 'producerGroup'),
    tranStateTableOffset: requireLong(req, 'tranStateTableOffset'),
    commitLogOffset: requireLong(req, 'commitLogOffset'),
    commitOrRollback: requireInt(req, 'commitOrRollback'),
    fromTransactionCheck: optionalBool(req, 'fromTransactionCheck', false),
    msgId: requireString(req, 'msgId'),
    transactionId: optionalString(req, 'transactionId'),
  };
}

const fail = (req: RemotingCommand, code: number, remark: string) => createResponse(req, code, remark, {});
const ok = (req: RemotingCommand, remark?: string) => createResponse(req, ResponseCode.SUCCESS, remark, {});

export class EndTransactionProcessor {
  private readonly delayLevelCount: number;

  constructor(
    private readonly ctx: BrokerContext,
    private readonly transactions: TransactionalMessageService,
  ) {
    this.delayLevelCount = parseDelayLevels(ctx.storeConfig.messageDelayLevel).length;
  }

  async process(req: RemotingCommand): Promise<RemotingCommand | null> {
    const { ctx } = this;
    if (ctx.config.brokerRole === 'SLAVE') return fail(req, ResponseCode.SLAVE_NOT_AVAILABLE, `the broker[${ctx.config.brokerName}] is a slave; end transaction is forbidden`);
    const header = parseEndTransactionHeader(req);
    const commit = header.commitOrRollback === SysFlag.TRANSACTION_COMMIT_TYPE;
    if (header.commitOrRollback === SysFlag.TRANSACTION_NOT_TYPE) return null; // unknown: the check-back will ask again
    if (!commit && header.commitOrRollback !== SysFlag.TRANSACTION_ROLLBACK_TYPE) {
      return fail(req, ResponseCode.INVALID_PARAMETER, `commitOrRollback ${header.commitOrRollback} is not 0 (unknown), 8 (commit) or 12 (rollback)`);
    }
    const found = this.findHalf(header);
    if ('problem' in found) return fail(req, ResponseCode.SYSTEM_ERROR, found.problem);
    const half = found.half;
    const ends = this.transactions.endOffsetsOf(half);
    if (this.transactions.isEnded(half)) return ok(req, `the half message at queue offset ${half.queueOffset} is already committed, rolled back or discarded (or being so); nothing done`);
    this.transactions.claim(ends);
    if (commit) {
      const stored = await this.putCommitted(half);
      if (stored !== undefined) {
        this.transactions.release(ends);
        return fail(req, stored.code, stored.remark);
      }
    }
    this.transactions.settle(ends);
    await this.transactions.writeOp(ends);
    return ok(req);
  }

  /**
   * The half message the header names, checked as RocketMQ's checkPrepareMessage does; or a remark
   * saying which field does not match.
   */
  private findHalf(header: EndTransactionRequestHeader): { half: DecodedRecord } | { problem: string } {
    const raw = this.ctx.store.getMessageByPhysicalOffset(header.commitLogOffset);
    if (!raw) return { problem: `Find prepared transaction message failed: no message at commit log offset ${header.commitLogOffset}` };
    let half: DecodedRecord;
    try {
      half = decodeStoredRecord(raw, 0);
    } catch (err) {
      return { problem: `Find prepared transaction message failed: ${(err as Error).message}` };
    }
    if (half.topic !== SystemTopic.TRANS_HALF_TOPIC) {
      return { problem: `Find prepared transaction message failed: the message at commit log offset ${header.commitLogOffset} is on ${half.topic}, not ${SystemTopic.TRANS_HALF_TOPIC}` };
    }
    const group = findProperty(half.properties, PropertyKey.PGROUP);
    if (group !== header.producerGroup) return { problem: `The producer group wrong: the half message's PGROUP is ${group ?? '(none)'}, the request's producerGroup is ${header.producerGroup}` };
    if (half.queueOffset !== header.tranStateTableOffset) {
      return { problem: `The transaction state table offset wrong: the half message's queue offset is ${half.queueOffset}, the request's tranStateTableOffset is ${header.tranStateTableOffset}` };
    }
    if (half.physicalOffset !== header.commitLogOffset) {
      return { problem: `The commit log offset wrong: the half message's is ${half.physicalOffset}, the request's commitLogOffset is ${header.commitLogOffset}` };
    }
    return { half };
  }

  /** sendFinalMessage: undefined when stored (the four "sent" statuses), else the error to answer. */
  private async putCommitted(half: DecodedRecord): Promise<{ code: number; remark: string } | undefined> {
    let result: PutResult;
    try {
      // A DELAY kept on the half delays the committed message, as RocketMQ's store does for COMMIT records.
      result = await this.ctx.store.putMessage(toScheduleMessage(toCommittedMessage(half), this.delayLevelCount), { waitStoreOk: false });
    } catch (err) {
      const code = err instanceof StoreError && (err.code === 'MESSAGE_ILLEGAL' || err.code === 'PROPERTIES_SIZE_EXCEEDED') ? ResponseCode.MESSAGE_ILLEGAL : ResponseCode.SYSTEM_ERROR;
      return { code, remark: `storing the committed message failed: ${(err as Error).message}` };
    }
    if (!isStoredStatus(result.status)) return { code: putStatusToCode(result.status), remark: `storing the committed message failed: ${result.status}` };
    this.ctx.stats.putMessages++;
    this.ctx.stats.putBytes += result.wroteBytes;
    return undefined;
  }
}
