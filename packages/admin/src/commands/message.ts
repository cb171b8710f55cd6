// Message commands: queryMsgById, queryMsgByKey, queryMsgByOffset, sendMessage, consumeMessage
// (RocketMQ's QueryMsgByIdSubCommand, QueryMsgByKeySubCommand, QueryMsgByOffsetSubCommand,
// SendMessageCommand, ConsumeMessageCommand).
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  compareMessageQueues,
  formatMessageQueue,
  MQClientError,
  Producer,
  silentLogger,
  toTopicSubscribeInfo,
  type MessageExt,
  type MessageQueue,
  type PullStatus,
  type SendResult,
  type TopicRouteData,
} from '@orbit/client';
import { decodeOffsetMessageId, formatSocketAddress } from '@orbit/common';
import { AdminApi, TOOLS_CONSUMER_GROUP } from '../admin-api.js';
import { UsageError, type CommandContext, type CommandSpec } from '../cli.js';
import { humanTime, javaMapText, messageJson, messageLine, parseTimestamp } from '../format.js';
import { renderTable } from '../table.js';
import { topicOption } from './topic.js';

const BODY_ENCODINGS: Record<string, BufferEncoding> = {
  'utf-8': 'utf8',
  utf8: 'utf8',
  'us-ascii': 'ascii',
  ascii: 'ascii',
  'iso-8859-1': 'latin1',
  latin1: 'latin1',
  'utf-16le': 'utf16le',
  utf16le: 'utf16le',
  hex: 'hex',
  base64: 'base64',
};

/** -f bodyFormat: a charset name (UTF-8, ISO-8859-1, …) or hex/base64. */
function bodyEncoding(ctx: CommandContext): BufferEncoding | undefined {
  const name = ctx.opts.str('bodyFormat');
  if (name === undefined) return undefined;
  const enc = BODY_ENCODINGS[name.toLowerCase()];
  if (!enc) throw new UsageError(`bad value for -f (--bodyFormat): unknown charset "${name}" (use UTF-8, US-ASCII, ISO-8859-1, UTF-16LE, hex or base64)`);
  return enc;
}

/** RocketMQ writes each printed message's body to /tmp/rocketmq/msgbodys/<msgId>; so do we (under $TMPDIR). */
function writeBodyFile(ctx: CommandContext, msg: MessageExt): string {
  const dir = join(ctx.env.TMPDIR || tmpdir(), 'rocketmq', 'msgbodys');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, msg.msgId.replace(/[^A-Za-z0-9_-]/g, '_'));
  writeFileSync(path, msg.body);
  return path;
}

interface PrintedMessage {
  message: Record<string, unknown>;
  bodyPath: string;
  /** The body in the -f encoding, when -f was given. */
  bodyText?: string;
}

function printable(ctx: CommandContext, msg: MessageExt, encoding: BufferEncoding | undefined): PrintedMessage {
  const out: PrintedMessage = { message: messageJson(msg), bodyPath: writeBodyFile(ctx, msg) };
  if (encoding !== undefined) out.bodyText = msg.body.toString(encoding);
  return out;
}

/** QueryMsgByIdSubCommand.printMsg. */
function messageDetail(p: PrintedMessage): string {
  const m = p.message as ReturnType<typeof messageJson>;
  const rows: [string, unknown][] = [
    ['OffsetID:', m.offsetMsgId],
    ['Topic:', m.topic],
    ['Tags:', `[${m.tags ?? 'null'}]`],
    ['Keys:', `[${m.keys ?? 'null'}]`],
    ['Queue ID:', m.queueId],
    ['Queue Offset:', m.queueOffset],
    ['CommitLog Offset:', m.commitLogOffset],
    ['Reconsume Times:', m.reconsumeTimes],
    ['Born Timestamp:', humanTime(m.bornTimestamp as number)],
    ['Store Timestamp:', humanTime(m.storeTimestamp as number)],
    ['Born Host:', m.bornHost],
    ['Store Host:', m.storeHost],
    ['System Flag:', m.sysFlag],
    ['Properties:', javaMapText(m.properties as Record<string, string>)],
    ['Message Body Path:', p.bodyPath],
  ];
  if (p.bodyText !== undefined) rows.push(['Message Body:', p.bodyText]);
  return rows.map(([k, v]) => `${k.padEnd(20)} ${String(v)}`).join('\n');
}

function brokerAddrOf(route: TopicRouteData, brokerName: string): string {
  const addr = AdminApi.addrOf(route, brokerName);
  if (addr === undefined) throw new MQClientError(`The broker[${brokerName}] not exist in the route of ${route.queueDatas.length > 0 ? 'the topic' : 'an empty topic'}`);
  return addr;
}

// --- queryMsgById -------------------------------------------------------------------------------

interface QueryByIdResult {
  messages: PrintedMessage[];
  notFound: string[];
}

/**
 * MQAdminExt.queryMessage(topic, msgId): an id whose store host is one of the topic's brokers is
 * read there by commit-log offset (VIEW_MESSAGE_BY_ID); otherwise, or when that fails, it is taken
 * as a UNIQ_KEY (QUERY_MESSAGE with _UNIQUE_KEY_QUERY). Both kinds are 32 hex characters.
 */
async function findById(api: AdminApi, route: TopicRouteData, topic: string, id: string): Promise<MessageExt | undefined> {
  let decoded: { addr: string } | undefined;
  try {
    decoded = { addr: formatSocketAddress(decodeOffsetMessageId(id).storeHost) };
  } catch {
    decoded = undefined;
  }
  const brokerOfAddr = (addr: string) => route.brokerDatas.find((b) => Object.values(b.brokerAddrs).includes(addr))?.brokerName;
  const view = async () => {
    try {
      return await api.viewMessageById(id, brokerOfAddr(decoded!.addr) ?? '');
    } catch {
      return undefined;
    }
  };
  if (decoded && brokerOfAddr(decoded.addr) !== undefined) {
    const msg = await view();
    if (msg && msg.topic === topic) return msg;
  }
  const found = await api.queryMessageByKey(topic, id, { uniqKey: true });
  if (found.length > 0) return [...found].sort((a, b) => a.storeTimestamp - b.storeTimestamp)[0];
  if (decoded && brokerOfAddr(decoded.addr) === undefined) return view();
  return undefined;
}

export const queryMsgById: CommandSpec<QueryByIdResult> = {
  name: 'queryMsgById',
  desc: 'Query Message by Id.',
  options: [
    { short: 't', long: 'topic', arg: 'arg', desc: 'topic name', required: true },
    { short: 'i', long: 'msgId', arg: 'arg', desc: 'Message Id (offsetMsgId or UNIQ_KEY; several separated by commas)', required: true },
    { short: 'f', long: 'bodyFormat', arg: 'arg', desc: 'print message body by the specified format (UTF-8, ISO-8859-1, hex, base64, …)' },
    { short: 'c', long: 'cluster', arg: 'arg', desc: 'Cluster name (accepted for compatibility; routes come from the NameServer)' },
  ],
  async run(ctx) {
    const topic = topicOption(ctx);
    const ids = ctx.opts.need('msgId').split(',').map((s) => s.trim()).filter((s) => s !== '');
    if (ids.length === 0) throw new UsageError('Missing required option: -i (--msgId)');
    const encoding = bodyEncoding(ctx);
    const api = ctx.api();
    const route = await api.route(topic);
    const result: QueryByIdResult = { messages: [], notFound: [] };
    for (const id of ids) {
      const msg = await findById(api, route, topic, id);
      if (msg) result.messages.push(printable(ctx, msg, encoding));
      else {
        result.notFound.push(id);
        ctx.fail(`Message not found: topic ${topic}, msgId ${id}`);
      }
    }
    return result;
  },
  text: (r) => r.messages.map(messageDetail).join('\n\n'),
};

// --- queryMsgByKey ------------------------------------------------------------------------------

export const queryMsgByKey: CommandSpec<{ messages: MessageExt[] }> = {
  name: 'queryMsgByKey',
  desc: 'Query Message by Key.',
  options: [
    { short: 't', long: 'topic', arg: 'arg', desc: 'Topic name', required: true },
    { short: 'k', long: 'msgKey', arg: 'arg', desc: 'Message Key', required: true },
    { short: 'b', long: 'beginTimestamp', arg: 'arg', desc: 'Begin timestamp(ms). default:0, eg:1676730526212' },
    { short: 'e', long: 'endTimestamp', arg: 'arg', desc: 'End timestamp(ms). default:Long.MAX_VALUE, eg:1676730526212' },
    { short: 'm', long: 'maxNum', arg: 'arg', desc: 'The maximum number of messages returned by the query, default:64' },
    { short: 'c', long: 'cluster', arg: 'arg', desc: 'Cluster name (accepted for compatibility; routes come from the NameServer)' },
  ],
  async run(ctx) {
    const topic = topicOption(ctx);
    const key = ctx.opts.need('msgKey');
    const beginTimestampMs = ctx.opts.long('beginTimestamp', { min: 0 }) ?? 0;
    const endTimestampMs = ctx.opts.long('endTimestamp', { min: 0 }) ?? Number.MAX_SAFE_INTEGER;
    const maxNum = ctx.opts.int('maxNum', { min: 1, max: 65536 }) ?? 64;
    const messages = await ctx.api().queryMessageByKey(topic, key, { maxNum, beginTimestampMs, endTimestampMs });
    if (messages.length === 0) throw new MQClientError('query message by key finished, but no message.', 208);
    messages.sort((a, b) => compareMessageQueues(a, b) || a.queueOffset - b.queueOffset);
    return { messages };
  },
  text: (r) => renderTable(['#Message ID', '#QID', '#Offset'], r.messages.map((m) => [m.msgId, m.queueId, m.queueOffset])),
  json: (r) => ({ messages: r.messages.map(messageJson) }),
};

// --- queryMsgByOffset ---------------------------------------------------------------------------

export const queryMsgByOffset: CommandSpec<PrintedMessage> = {
  name: 'queryMsgByOffset',
  desc: 'Query Message by offset.',
  options: [
    { short: 't', long: 'topic', arg: 'arg', desc: 'topic name', required: true },
    { short: 'b', long: 'brokerName', arg: 'arg', desc: 'Broker Name', required: true },
    { short: 'i', long: 'queueId', arg: 'arg', desc: 'Queue Id', required: true },
    { short: 'o', long: 'offset', arg: 'arg', desc: 'Queue Offset', required: true },
    { short: 'f', long: 'bodyFormat', arg: 'arg', desc: 'print message body by the specified format (UTF-8, ISO-8859-1, hex, base64, …)' },
  ],
  async run(ctx) {
    const topic = topicOption(ctx);
    const mq: MessageQueue = { topic, brokerName: ctx.opts.need('brokerName'), queueId: ctx.opts.int('queueId', { min: 0, max: 65535 })! };
    const offset = ctx.opts.long('offset', { min: 0 })!;
    const encoding = bodyEncoding(ctx);
    const api = ctx.api();
    const addr = brokerAddrOf(await api.route(topic), mq.brokerName);
    const pulled = await api.pull(addr, mq, offset, 1);
    const msg = pulled.msgFoundList[0];
    if (pulled.pullStatus !== 'FOUND' || !msg) throw new MQClientError(`no message at offset ${offset} of ${formatMessageQueue(mq)}: ${pulled.pullStatus}, min offset ${pulled.minOffset}, max offset ${pulled.maxOffset}`);
    return printable(ctx, msg, encoding);
  },
  text: messageDetail,
};

// --- sendMessage --------------------------------------------------------------------------------

export const sendMessage: CommandSpec<SendResult> = {
  name: 'sendMessage',
  desc: 'Send a message.',
  options: [
    { short: 't', long: 'topic', arg: 'arg', desc: 'Topic name', required: true },
    { short: 'p', long: 'body', arg: 'arg', desc: 'UTF-8 string format of the message body', required: true },
    { short: 'k', long: 'key', arg: 'arg', desc: 'Message keys' },
    { short: 'c', long: 'tags', arg: 'arg', desc: 'Message tags' },
    { short: 'b', long: 'broker', arg: 'arg', desc: 'Send message to target broker (name)' },
    { short: 'i', long: 'qid', arg: 'arg', desc: 'Send message to target queue (needs -b)' },
  ],
  async run(ctx) {
    const topic = topicOption(ctx);
    const body = ctx.opts.str('body') ?? '';
    const keys = ctx.opts.str('key') || undefined;
    const tags = ctx.opts.str('tags') || undefined;
    const brokerName = ctx.opts.str('broker') || undefined;
    const queueId = ctx.opts.int('qid', { min: 0, max: 65535 });
    if (queueId !== undefined && brokerName === undefined) throw new UsageError('Broker name must be set if the queue is chosen!');
    const producer = new Producer({
      producerGroup: `mqadmin-${Date.now()}`,
      namesrvAddr: ctx.namesrvAddr(),
      instanceName: `mqadmin-${process.pid}-${Date.now()}`,
      logger: silentLogger,
    });
    await producer.start();
    try {
      const msg = { topic, body, ...(tags ? { tags } : {}), ...(keys ? { keys } : {}) };
      if (brokerName !== undefined && queueId !== undefined) return await producer.send(msg, { messageQueue: { topic, brokerName, queueId } });
      if (brokerName !== undefined) {
        return await producer.send(msg, {
          selector: (mqs) => {
            const own = mqs.filter((q) => q.brokerName === brokerName);
            if (own.length === 0) throw new MQClientError(`broker ${brokerName} has no writable queue of topic ${topic}`);
            return own[Math.floor(Math.random() * own.length)]!;
          },
        });
      }
      return await producer.send(msg);
    } finally {
      await producer.shutdown().catch(() => undefined);
    }
  },
  text: (r) => renderTable(['#Broker Name', '#QID', '#Send Result', '#MsgId'], [[r.messageQueue.brokerName, r.messageQueue.queueId, r.sendStatus, r.msgId]], { rightAlign: [] }),
};

// --- consumeMessage -----------------------------------------------------------------------------

interface QueueProgress {
  brokerName: string;
  queueId: number;
  beginOffset: number;
  endOffset: number;
  status: PullStatus;
  nextOffset: number;
}

interface ConsumeResult {
  topic: string;
  messages: MessageExt[];
  queues: QueueProgress[];
  /** What a person reads, in order (messages and per-queue lines interleaved). */
  lines: string[];
}

/** Largest batch one pull asks for. */
const PULL_BATCH = 32;

export const consumeMessage: CommandSpec<ConsumeResult> = {
  name: 'consumeMessage',
  desc: 'Consume message.',
  options: [
    { short: 't', long: 'topic', arg: 'arg', desc: 'Topic name', required: true },
    { short: 'b', long: 'brokerName', arg: 'arg', desc: 'Broker name' },
    { short: 'i', long: 'queueId', arg: 'arg', desc: 'Queue Id (needs -b)' },
    { short: 'o', long: 'offset', arg: 'arg', desc: 'Queue offset (needs -i)' },
    { short: 'g', long: 'consumerGroup', arg: 'arg', desc: `Consumer group name (default ${TOOLS_CONSUMER_GROUP})` },
    { short: 's', long: 'beginTimestamp', arg: 'arg', desc: 'Begin timestamp[currentTimeMillis|yyyy-MM-dd#HH:mm:ss:SSS]' },
    { short: 'e', long: 'endTimestamp', arg: 'arg', desc: 'End timestamp[currentTimeMillis|yyyy-MM-dd#HH:mm:ss:SSS]' },
    { short: 'c', long: 'MessageNumber', arg: 'arg', desc: 'Number of message to be consumed (default 128)' },
  ],
  async run(ctx) {
    const o = ctx.opts;
    const topic = topicOption(ctx);
    const group = o.str('consumerGroup') || TOOLS_CONSUMER_GROUP;
    const count = o.long('MessageNumber') ?? 128;
    if (count <= 0) throw new UsageError('Please input a positive messageNumber!');
    const brokerName = o.str('brokerName') || undefined;
    const queueId = o.int('queueId', { min: 0, max: 65535 });
    if (queueId !== undefined && brokerName === undefined) throw new UsageError('Please set the brokerName before queueId!');
    const startOffset = o.long('offset', { min: 0 });
    if (startOffset !== undefined && queueId === undefined) throw new UsageError('Please set queueId before offset!');
    const now = Date.now();
    const time = (long: string) => {
      const text = o.str(long);
      if (text === undefined) return undefined;
      const t = parseTimestamp(text, now);
      if (t === undefined || text === 'now') throw new UsageError(`bad value for --${long}: "${text}" is not milliseconds or yyyy-MM-dd#HH:mm:ss:SSS`);
      return t;
    };
    const begin = time('beginTimestamp');
    const end = time('endTimestamp');
    if (begin !== undefined && begin > now) throw new UsageError('Please set the beginTimestamp before now!');
    if (end !== undefined && end > now) throw new UsageError('Please set the endTimestamp before now!');
    if (begin !== undefined && end !== undefined && begin > end) throw new UsageError('Please make sure that the beginTimestamp is less than or equal to the endTimestamp');

    const api = ctx.api();
    const route = await api.route(topic);
    let queues: MessageQueue[];
    if (queueId !== undefined) queues = [{ topic, brokerName: brokerName!, queueId }];
    else {
      queues = toTopicSubscribeInfo(topic, route).sort(compareMessageQueues);
      if (brokerName !== undefined) queues = queues.filter((q) => q.brokerName === brokerName);
      if (queues.length === 0) throw new MQClientError(`no readable queue of topic ${topic}${brokerName ? ` on broker ${brokerName}` : ''}`);
    }
    const result: ConsumeResult = { topic, messages: [], queues: [], lines: [] };
    let left = count;
    for (const mq of queues) {
      if (left <= 0) break;
      const addr = brokerAddrOf(route, mq.brokerName);
      let from = begin !== undefined ? await api.searchOffset(addr, mq, begin) : await api.minOffset(addr, mq);
      let to = end !== undefined ? await api.searchOffset(addr, mq, end) : await api.maxOffset(addr, mq);
      if (startOffset !== undefined) {
        if (startOffset > to) {
          result.lines.push(`${formatMessageQueue(mq)} no matched msg, offset=${startOffset}`);
          result.queues.push({ brokerName: mq.brokerName, queueId: mq.queueId, beginOffset: startOffset, endOffset: to, status: 'NO_MATCHED_MSG', nextOffset: startOffset });
          continue;
        }
        from = Math.max(from, startOffset);
      }
      if (to - from > left) {
        result.lines.push(`The older ${left} message of the ${mq.queueId} queue will be provided`);
        to = from + left;
      }
      let offset = from;
      let status: PullStatus = 'NO_NEW_MSG';
      while (offset < to) {
        const pulled = await api.pull(addr, mq, offset, Math.min(PULL_BATCH, to - offset), group);
        status = pulled.pullStatus;
        if (status === 'FOUND') {
          const msgs = pulled.msgFoundList.filter((m) => m.queueOffset < to);
          result.lines.push('Consume ok');
          for (const m of msgs) {
            result.messages.push(m);
            result.lines.push(messageLine(m));
          }
          left -= msgs.length;
        } else if (status === 'NO_MATCHED_MSG') {
          result.lines.push(`${formatMessageQueue(mq)} no matched msg. status=${status}, offset=${pulled.nextBeginOffset}`);
        }
        if (pulled.nextBeginOffset <= offset) break; // no progress: stop rather than loop
        offset = pulled.nextBeginOffset;
        if (status === 'NO_NEW_MSG' || status === 'OFFSET_ILLEGAL') break;
      }
      result.lines.push(`${formatMessageQueue(mq)} print msg finished. status=${status}, offset=${offset}`);
      result.queues.push({ brokerName: mq.brokerName, queueId: mq.queueId, beginOffset: from, endOffset: to, status, nextOffset: offset });
    }
    return result;
  },
  text: (r) => r.lines.join('\n'),
  json: (r) => ({ topic: r.topic, messages: r.messages.map(messageJson), queues: r.queues }),
};
