// The producer (DefaultMQProducer): picks a queue of the topic's route and sends with
// SEND_MESSAGE_V2 (310, short header keys) or SEND_BATCH_MESSAGE (320). Sync sends try up to
// 1 + retryTimesWhenSendFailed times, each retry on another broker, for network errors and the
// retryable codes; async and oneway sends try once (facts §3.3). A topic unknown to the NameServer
// is sent through TBW102's brokers, and the broker creates it (auto-create).
import { deflateSync } from 'node:zlib';
import { PropertyKey, SysFlag } from '@orbit/common/message-const';
import { encodeProperties } from '@orbit/common/properties';
import { ResponseCode } from '@orbit/common/response-code';
import { errorText } from './async-util.js';
import { resolveClientConfig, type ClientConfig } from './client-config.js';
import { MQBrokerError, MQClientError } from './errors.js';
import { LatencyFaultTolerance } from './latency-fault-tolerance.js';
import { CompressionType, COMPRESSION_TYPE_SHIFT, messageBodyBytes, sendPropertiesText, type Message } from './message.js';
import { encodeBatchBody, type BatchEntry } from './message-batch.js';
import { formatMessageQueue, type MessageQueue } from './message-queue.js';
import { selectOneMessageQueue, SendQueueIndex, type MessageQueueSelector } from './message-queue-selector.js';
import { isRemotingError, type SendMessageRequestHeader } from './mq-client-api.js';
import { getOrCreateMQClientInstance, MAX_CACHED_ROUTES, type MQClientInstance, type ProducerInner } from './mq-client-instance.js';
import { AUTO_CREATE_TOPIC_KEY, DEFAULT_TOPIC_QUEUE_NUMS, isRetryTopic, topicProblem } from './names.js';
import { processSendResponse, type SendResult } from './send-result.js';
import { toTopicPublishInfo, type TopicPublishInfo, type TopicRouteData } from './topic-route.js';
import { createUniqKey } from './uniq-key.js';

export type { SendResult, SendStatus } from './send-result.js';

/** DefaultMQProducer.retryResponseCodes: a sync send tries another broker on these. */
export const RETRY_RESPONSE_CODES: ReadonlySet<number> = new Set([
  ResponseCode.TOPIC_NOT_EXIST,
  ResponseCode.SERVICE_NOT_AVAILABLE,
  ResponseCode.SYSTEM_ERROR,
  ResponseCode.SYSTEM_BUSY,
  ResponseCode.NO_PERMISSION,
  ResponseCode.NO_BUYER_ID,
  ResponseCode.NOT_IN_CURRENT_UNIT,
  ResponseCode.GO_AWAY,
]);

export interface ProducerOptions extends Partial<Omit<ClientConfig, 'namesrvAddr'>> {
  producerGroup: string;
  /** "host:port;host:port". */
  namesrvAddr: string;
  /** Total time a send may take, retries included. */
  sendMsgTimeoutMs?: number;
  /** Extra attempts of a sync send, each on another broker. */
  retryTimesWhenSendFailed?: number;
  /** Keep slow and failed brokers out of queue selection for a while. */
  sendLatencyFaultEnable?: boolean;
  /** Bodies larger than this are ZLIB-compressed (level compressLevel). */
  compressMsgBodyOverHowmuch?: number;
  compressLevel?: number;
  /** Largest body (or batch body) accepted. */
  maxMessageSizeBytes?: number;
  /** Queues asked for when a send auto-creates a topic. */
  defaultTopicQueueNums?: number;
  /** The auto-create template topic. */
  createTopicKey?: string;
  /** Retry a sync send on another broker when the status is not SEND_OK (flush/slave timeouts). */
  retryAnotherBrokerWhenNotStoreOK?: boolean;
}

export interface SendOptions {
  /** Chooses the queue (ordered messages); such sends are tried once. */
  selector?: MessageQueueSelector;
  /** Passed to the selector. */
  arg?: unknown;
  /** Send to exactly this queue (tried once). */
  messageQueue?: MessageQueue;
  /** Overrides sendMsgTimeoutMs. */
  timeoutMs?: number;
}

export const ProducerDefaults = {
  sendMsgTimeoutMs: 3_000,
  retryTimesWhenSendFailed: 2,
  sendLatencyFaultEnable: false,
  compressMsgBodyOverHowmuch: 4096,
  compressLevel: 5,
  maxMessageSizeBytes: 4 * 1024 * 1024,
  defaultTopicQueueNums: DEFAULT_TOPIC_QUEUE_NUMS,
  createTopicKey: AUTO_CREATE_TOPIC_KEY,
  retryAnotherBrokerWhenNotStoreOK: false,
} as const;

/** Most messages one sendBatch takes (the body limit applies as well). */
export const MAX_BATCH_MESSAGES = 65_536;
/** Most extra attempts a sync send may be configured with. */
export const MAX_RETRY_TIMES = 16;

type CommunicationMode = 'SYNC' | 'ASYNC' | 'ONEWAY';

/** A message ready for the wire: id, properties string, (compressed) body and sysFlag. */
interface PreparedSend {
  topic: string;
  uniqMsgId: string;
  flag: number;
  sysFlag: number;
  properties: string;
  body: Buffer;
  batch: boolean;
  reconsumeTimes: number;
  maxReconsumeTimes: number | undefined;
}

export class Producer implements ProducerInner {
  readonly groupName: string;
  readonly config: ClientConfig;
  readonly sendMsgTimeoutMs: number;
  readonly retryTimesWhenSendFailed: number;
  readonly compressMsgBodyOverHowmuch: number;
  readonly compressLevel: number;
  readonly maxMessageSizeBytes: number;
  readonly defaultTopicQueueNums: number;
  readonly createTopicKey: string;
  readonly retryAnotherBrokerWhenNotStoreOK: boolean;
  readonly faultTolerance: LatencyFaultTolerance;
  private readonly publishInfo = new Map<string, TopicPublishInfo | undefined>();
  private readonly sendIndex = new SendQueueIndex();
  protected instance: MQClientInstance | undefined;
  private state: 'created' | 'running' | 'shutdown' = 'created';

  constructor(options: ProducerOptions) {
    if (!options.producerGroup) throw new MQClientError('producerGroup is blank');
    this.groupName = options.producerGroup;
    this.config = resolveClientConfig(options);
    this.sendMsgTimeoutMs = options.sendMsgTimeoutMs ?? ProducerDefaults.sendMsgTimeoutMs;
    this.retryTimesWhenSendFailed = options.retryTimesWhenSendFailed ?? ProducerDefaults.retryTimesWhenSendFailed;
    this.compressMsgBodyOverHowmuch = options.compressMsgBodyOverHowmuch ?? ProducerDefaults.compressMsgBodyOverHowmuch;
    this.compressLevel = options.compressLevel ?? ProducerDefaults.compressLevel;
    this.maxMessageSizeBytes = options.maxMessageSizeBytes ?? ProducerDefaults.maxMessageSizeBytes;
    this.defaultTopicQueueNums = options.defaultTopicQueueNums ?? ProducerDefaults.defaultTopicQueueNums;
    this.createTopicKey = options.createTopicKey ?? ProducerDefaults.createTopicKey;
    this.retryAnotherBrokerWhenNotStoreOK = options.retryAnotherBrokerWhenNotStoreOK ?? ProducerDefaults.retryAnotherBrokerWhenNotStoreOK;
    this.faultTolerance = new LatencyFaultTolerance(options.sendLatencyFaultEnable ?? ProducerDefaults.sendLatencyFaultEnable);
    if (!Number.isInteger(this.retryTimesWhenSendFailed) || this.retryTimesWhenSendFailed < 0 || this.retryTimesWhenSendFailed > MAX_RETRY_TIMES) {
      throw new RangeError(`retryTimesWhenSendFailed must be 0..${MAX_RETRY_TIMES}`);
    }
    if (!(this.sendMsgTimeoutMs > 0)) throw new RangeError('sendMsgTimeoutMs must be positive');
    if (!Number.isInteger(this.compressLevel) || this.compressLevel < 0 || this.compressLevel > 9) throw new RangeError('compressLevel must be 0..9');
  }

  get sendLatencyFaultEnable(): boolean {
    return this.faultTolerance.enabled;
  }

  set sendLatencyFaultEnable(enabled: boolean) {
    this.faultTolerance.enabled = enabled;
  }

  /** The client id the brokers see (after start). */
  get clientId(): string | undefined {
    return this.instance?.clientId;
  }

  async start(): Promise<void> {
    if (this.state !== 'created') throw new MQClientError(`the producer is ${this.state === 'running' ? 'already running' : 'shut down'}`);
    const instance = getOrCreateMQClientInstance(this.config);
    instance.registerProducer(this);
    this.instance = instance;
    this.state = 'running';
    instance.start();
    await instance.sendHeartbeatToAllBrokers();
  }

  /** Leaves the brokers (UNREGISTER_CLIENT) and closes connections when nothing else uses them. */
  async shutdown(): Promise<void> {
    if (this.state !== 'running') {
      this.state = 'shutdown';
      return;
    }
    this.state = 'shutdown';
    await this.instance!.unregisterProducer(this.groupName);
  }

  // --- ProducerInner ---------------------------------------------------------------------------

  publishTopics(): string[] {
    return [...this.publishInfo.keys()];
  }

  updateTopicPublishInfo(topic: string, route: TopicRouteData): void {
    if (this.publishInfo.has(topic)) this.publishInfo.set(topic, toTopicPublishInfo(topic, route));
  }

  // --- sending ---------------------------------------------------------------------------------

  /** Sync send: up to 1 + retryTimesWhenSendFailed attempts, each after the first on another broker. */
  send(msg: Message, options: SendOptions = {}): Promise<SendResult> {
    return this.sendOne(msg, options, 'SYNC') as Promise<SendResult>;
  }

  /** Async send: one attempt; the promise settles with its outcome. */
  sendAsync(msg: Message, options: SendOptions = {}): Promise<SendResult> {
    return this.sendOne(msg, options, 'ASYNC') as Promise<SendResult>;
  }

  /** Oneway send: one attempt, no answer; resolves once the request is written. */
  async sendOneway(msg: Message, options: Omit<SendOptions, 'timeoutMs'> = {}): Promise<void> {
    await this.sendOne(msg, options, 'ONEWAY');
  }

  /**
   * Sends messages of one topic together (SEND_BATCH_MESSAGE, facts §4.4): they all go to one
   * queue and get consecutive offsets. Delay levels and %RETRY% topics are not allowed.
   */
  async sendBatch(msgs: readonly Message[], options: SendOptions = {}): Promise<SendResult> {
    this.checkRunning();
    if (msgs.length === 0) throw new MQClientError('batch is empty');
    if (msgs.length > MAX_BATCH_MESSAGES) throw new MQClientError(`batch has ${msgs.length} messages, more than ${MAX_BATCH_MESSAGES}`);
    const first = msgs[0]!;
    const entries: BatchEntry[] = [];
    const ids: string[] = [];
    for (const msg of msgs) {
      if (msg.topic !== first.topic) throw new MQClientError('the topic of the messages in one batch should be the same');
      if (msg.delayTimeLevel !== undefined && msg.delayTimeLevel > 0) throw new MQClientError('TimeDelayLevel is not supported for batching');
      if ((msg.waitStoreMsgOK ?? true) !== (first.waitStoreMsgOK ?? true)) throw new MQClientError('the waitStoreMsgOK of the messages in one batch should the same');
      this.checkMessage(msg, msg !== first);
      const uniq = msg.properties?.[PropertyKey.UNIQ_KEY] ?? createUniqKey(this.config.clientIP);
      ids.push(uniq);
      entries.push({ flag: msg.flag ?? 0, body: messageBodyBytes(msg.body), properties: sendPropertiesText(msg, uniq) });
    }
    if (isRetryTopic(first.topic)) throw new MQClientError('retry group topic is not supported for batching');
    const body = encodeBatchBody(entries);
    if (body.length > this.maxMessageSizeBytes) throw new MQClientError(`the message body size over max value, MAX: ${this.maxMessageSizeBytes}`, ResponseCode.MESSAGE_ILLEGAL);
    const batchProps = new Map([[PropertyKey.WAIT, first.waitStoreMsgOK === false ? 'false' : 'true']]);
    const prepared: PreparedSend = {
      topic: first.topic,
      uniqMsgId: ids.join(','),
      flag: 0,
      sysFlag: 0,
      properties: encodeProperties(batchProps),
      body,
      batch: true,
      reconsumeTimes: 0,
      maxReconsumeTimes: undefined,
    };
    return (await this.dispatch(prepared, options, 'SYNC', first)) as SendResult;
  }

  /** The queues a topic's messages can go to (fetching its route if needed). */
  async fetchPublishMessageQueues(topic: string): Promise<MessageQueue[]> {
    this.checkRunning();
    return [...(await this.tryToFindTopicPublishInfo(topic)).messageQueues];
  }

  private checkRunning(): void {
    if (this.state !== 'running') throw new MQClientError(`the producer service state not OK, ${this.state.toUpperCase()}`);
  }

  /** Validators.checkMessage. In a batch every topic equals the first, so it is checked once. */
  private checkMessage(msg: Message, topicChecked = false): void {
    if (msg === null || typeof msg !== 'object') throw new MQClientError('the message is null', ResponseCode.MESSAGE_ILLEGAL);
    const problem = topicChecked ? undefined : topicProblem(msg.topic);
    if (problem) throw new MQClientError(problem, ResponseCode.MESSAGE_ILLEGAL);
    if (msg.body === undefined || msg.body === null) throw new MQClientError('the message body is null', ResponseCode.MESSAGE_ILLEGAL);
    const length = typeof msg.body === 'string' ? Buffer.byteLength(msg.body) : msg.body.byteLength;
    if (length === 0) throw new MQClientError('the message body length is zero', ResponseCode.MESSAGE_ILLEGAL);
    if (length > this.maxMessageSizeBytes) throw new MQClientError(`the message body size over max value, MAX: ${this.maxMessageSizeBytes}`, ResponseCode.MESSAGE_ILLEGAL);
    if (msg.flag !== undefined && !Number.isInteger(msg.flag)) throw new MQClientError('the message flag must be an integer', ResponseCode.MESSAGE_ILLEGAL);
  }

  private prepare(msg: Message): PreparedSend {
    const uniq = msg.properties?.[PropertyKey.UNIQ_KEY] ?? createUniqKey(this.config.clientIP);
    let body = messageBodyBytes(msg.body);
    let sysFlag = 0;
    // A transaction's prepare (TransactionProducer) carries the PREPARED bit, as sendKernelImpl sets it.
    if (userProperty(msg, PropertyKey.TRAN_MSG)?.toLowerCase() === 'true') sysFlag |= SysFlag.TRANSACTION_PREPARED_TYPE;
    if (body.length > this.compressMsgBodyOverHowmuch) {
      body = deflateSync(body, { level: this.compressLevel });
      sysFlag |= SysFlag.COMPRESSED | (CompressionType.ZLIB << COMPRESSION_TYPE_SHIFT);
    }
    let reconsumeTimes = 0;
    let maxReconsumeTimes: number | undefined;
    if (isRetryTopic(msg.topic)) {
      reconsumeTimes = Number(userProperty(msg, PropertyKey.RECONSUME_TIME) ?? 0) | 0;
      const max = userProperty(msg, PropertyKey.MAX_RECONSUME_TIMES);
      if (max !== undefined) maxReconsumeTimes = Number(max) | 0;
    }
    return {
      topic: msg.topic,
      uniqMsgId: uniq,
      flag: msg.flag ?? 0,
      sysFlag,
      properties: sendPropertiesText(msg, uniq),
      body,
      batch: false,
      reconsumeTimes,
      maxReconsumeTimes,
    };
  }

  private async sendOne(msg: Message, options: SendOptions, mode: CommunicationMode): Promise<SendResult | undefined> {
    this.checkRunning();
    this.checkMessage(msg);
    return this.dispatch(this.prepare(msg), options, mode, msg);
  }

  private async dispatch(prepared: PreparedSend, options: SendOptions, mode: CommunicationMode, userMsg: Message): Promise<SendResult | undefined> {
    const timeoutMs = options.timeoutMs ?? this.sendMsgTimeoutMs;
    const beginMs = Date.now();
    const info = await this.tryToFindTopicPublishInfo(prepared.topic);
    if (options.messageQueue !== undefined || options.selector !== undefined) {
      let mq = options.messageQueue;
      if (mq === undefined) {
        mq = options.selector!(info.messageQueues, userMsg, options.arg);
        if (mq === undefined || mq === null) throw new MQClientError('select message queue return null.');
      }
      if (mq.topic !== prepared.topic) throw new MQClientError(`message's topic ${prepared.topic} not equal mq's topic ${mq.topic}`);
      const leftMs = timeoutMs - (Date.now() - beginMs);
      if (leftMs <= 0) throw new MQClientError('sendSelectImpl call timeout');
      return this.sendKernel(prepared, mq, mode, leftMs);
    }
    return this.sendDefault(prepared, info, mode, timeoutMs, beginMs);
  }

  /** DefaultMQProducerImpl.sendDefaultImpl: the retry loop. */
  private async sendDefault(prepared: PreparedSend, info: TopicPublishInfo, mode: CommunicationMode, timeoutMs: number, beginMs: number): Promise<SendResult | undefined> {
    const timesTotal = mode === 'SYNC' ? 1 + this.retryTimesWhenSendFailed : 1;
    const brokersSent: string[] = [];
    let lastBrokerName: string | undefined;
    let lastError: unknown;
    let times = 0;
    let callTimeout = false;
    for (; times < timesTotal; times++) {
      const mq = selectOneMessageQueue(info.messageQueues, this.sendIndex, lastBrokerName, this.faultTolerance, times > 0);
      if (mq === undefined) break;
      brokersSent.push(mq.brokerName);
      lastBrokerName = mq.brokerName;
      const attemptStartMs = Date.now();
      const leftMs = timeoutMs - (attemptStartMs - beginMs);
      if (leftMs <= 0) {
        callTimeout = true;
        break;
      }
      try {
        const result = await this.sendKernel(prepared, mq, mode, leftMs);
        this.faultTolerance.updateFaultItem(mq.brokerName, Date.now() - attemptStartMs, false, true);
        if (mode === 'SYNC' && result !== undefined && result.sendStatus !== 'SEND_OK' && this.retryAnotherBrokerWhenNotStoreOK && times + 1 < timesTotal) {
          lastError = new MQClientError(`send status ${result.sendStatus} from ${mq.brokerName}`);
          continue;
        }
        return result;
      } catch (error) {
        const elapsedMs = Date.now() - attemptStartMs;
        lastError = error;
        if (isRemotingError(error)) {
          this.faultTolerance.updateFaultItem(mq.brokerName, elapsedMs, true, error instanceof Error && error.name !== 'RemotingConnectError');
          this.config.logger.warn(`send to ${formatMessageQueue(mq)} failed, attempt ${times + 1}/${timesTotal}: ${errorText(error)}`);
          continue;
        }
        if (error instanceof MQBrokerError) {
          this.faultTolerance.updateFaultItem(mq.brokerName, elapsedMs, true, false);
          if (RETRY_RESPONSE_CODES.has(error.code)) {
            this.config.logger.warn(`send to ${formatMessageQueue(mq)} failed, attempt ${times + 1}/${timesTotal}: ${error.message}`);
            continue;
          }
          throw error;
        }
        this.faultTolerance.updateFaultItem(mq.brokerName, elapsedMs, false, true);
        if (error instanceof MQClientError) continue; // e.g. the broker address vanished from the route
        throw error;
      }
    }
    const costMs = Date.now() - beginMs;
    if (callTimeout) throw new MQClientError(`sendDefaultImpl call timeout, cost [${costMs}]ms, topic ${prepared.topic}`, undefined, { cause: lastError });
    if (lastError === undefined) throw new MQClientError(`No route info of this topic: ${prepared.topic}`);
    // Async and oneway sends make one attempt: their caller sees that attempt's own error.
    if (mode !== 'SYNC' && lastError instanceof Error) throw lastError;
    const responseCode = lastError instanceof MQBrokerError ? lastError.code : undefined;
    throw new MQClientError(
      `Send [${times}] times, still failed, cost [${costMs}]ms, Topic: ${prepared.topic}, BrokersSent: [${brokersSent.join(', ')}]: ${errorText(lastError)}`,
      responseCode,
      { cause: lastError },
    );
  }

  /** One attempt to one queue (sendKernelImpl). */
  private async sendKernel(prepared: PreparedSend, mq: MessageQueue, mode: CommunicationMode, timeoutMs: number): Promise<SendResult | undefined> {
    const instance = this.instance!;
    let brokerAddr = instance.findBrokerAddressInPublish(mq.brokerName);
    if (brokerAddr === undefined) {
      await this.tryToFindTopicPublishInfo(mq.topic);
      brokerAddr = instance.findBrokerAddressInPublish(mq.brokerName);
    }
    if (brokerAddr === undefined) throw new MQClientError(`The broker[${mq.brokerName}] not exist`);
    const header: SendMessageRequestHeader = {
      producerGroup: this.groupName,
      topic: prepared.topic,
      defaultTopic: this.createTopicKey,
      defaultTopicQueueNums: this.defaultTopicQueueNums,
      queueId: mq.queueId,
      sysFlag: prepared.sysFlag,
      bornTimestamp: Date.now(),
      flag: prepared.flag,
      properties: prepared.properties,
      reconsumeTimes: prepared.reconsumeTimes,
      unitMode: false,
      batch: prepared.batch,
      brokerName: mq.brokerName,
    };
    if (prepared.maxReconsumeTimes !== undefined) header.maxReconsumeTimes = prepared.maxReconsumeTimes;
    const request = instance.api.sendMessageRequest(header, prepared.body);
    if (mode === 'ONEWAY') {
      await instance.remoting.invokeOneway(brokerAddr, request);
      return undefined;
    }
    const response = await instance.remoting.invoke(brokerAddr, request, timeoutMs);
    return processSendResponse(response, mq, prepared.uniqMsgId, brokerAddr);
  }

  /**
   * The publish queues of a topic: the cached ones, else from the NameServer, else TBW102's
   * brokers (auto-create). Throws when there is no route at all.
   */
  private async tryToFindTopicPublishInfo(topic: string): Promise<TopicPublishInfo> {
    let info = this.publishInfo.get(topic);
    if (info !== undefined && info.messageQueues.length > 0) return info;
    if (!this.publishInfo.has(topic)) {
      if (this.publishInfo.size >= MAX_CACHED_ROUTES) this.publishInfo.delete(this.publishInfo.keys().next().value!);
      this.publishInfo.set(topic, undefined);
    }
    const instance = this.instance!;
    await instance.updateTopicRoute(topic);
    info = this.publishInfo.get(topic);
    if (info !== undefined && info.messageQueues.length > 0) return info;
    await instance.updateTopicRoute(topic, { templateTopic: this.createTopicKey, queueNums: this.defaultTopicQueueNums });
    info = this.publishInfo.get(topic);
    if (info !== undefined && info.messageQueues.length > 0) return info;
    throw new MQClientError(`No route info of this topic: ${topic}`, ResponseCode.TOPIC_NOT_EXIST);
  }
}

/**
 * A property the user set on the message, as text. TRAN_MSG, RECONSUME_TIME and MAX_RECONSUME_TIMES
 * come only from there (sendPropertiesText derives none of them from other fields), so a send reads
 * them from the message and builds no properties Map.
 */
function userProperty(msg: Message, key: string): string | undefined {
  const value: unknown = msg.properties?.[key];
  return value === undefined || value === null ? undefined : String(value);
}
