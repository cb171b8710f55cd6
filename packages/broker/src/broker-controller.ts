// One broker: opens the store (its writer and dispatcher actors on worker threads), loads the
// persisted managers, serves RocketMQ requests on listenPort (the main thread does sockets and
// routing only), and keeps the NameServers informed. shutdown() is the clean path; SIGKILL is the
// other one, and the store's recovery handles it.
import { parseSocketAddress, RequestCode, ResponseCode } from '@orbit/common';
import { createRequest, createResponse, RemotingClient, RemotingServer, type RemotingCommand, type RemotingConnection } from '@orbit/remoting';
import { MessageStore, parseDelayLevels, type MessageStoreConfig } from '@orbit/store';
import type { BrokerConfig } from './broker-config.js';
import type { BrokerContext, BrokerStats } from './broker-context.js';
import { ClientManager, type ClientChannel } from './client-manager.js';
import { ConsumerOffsetManager } from './consumer-offset-manager.js';
import { NamesrvRegistration } from './namesrv-registration.js';
import { AdminProcessor } from './processors/admin-processor.js';
import { BrokerConfigProcessor } from './processors/broker-config-processor.js';
import { ClientManageProcessor } from './processors/client-manage-processor.js';
import { ConsumerManageProcessor } from './processors/consumer-manage-processor.js';
import { ConsumerSendMsgBackProcessor } from './processors/consumer-send-msg-back-processor.js';
import { LockProcessor } from './processors/lock-processor.js';
import { PullMessageProcessor } from './processors/pull-message-processor.js';
import { ResetOffsetProcessor } from './processors/reset-offset-processor.js';
import { ConsumerQueryProcessor } from './processors/consumer-query-processor.js';
import { SendMessageProcessor } from './processors/send-message-processor.js';
import { PullRequestHoldService } from './pull-request-hold-service.js';
import { RebalanceLockManager } from './rebalance-lock-manager.js';
import { ScheduleMessageService } from './schedule/schedule-message-service.js';
import { MasterLink } from './slave/master-link.js';
import { SlaveSynchronize } from './slave/slave-synchronize.js';
import { SubscriptionGroupManager } from './subscription-group-manager.js';
import { TopicConfigManager } from './topic-config-manager.js';
import { EndTransactionProcessor } from './transaction/end-transaction-processor.js';
import { TransactionalMessageCheckService } from './transaction/transactional-message-check-service.js';
import { TransactionalMessageService } from './transaction/transactional-message-service.js';

const CLIENT_SCAN_INTERVAL_MS = 10_000;

export class BrokerController {
  private server: RemotingServer | undefined;
  private readonly outClient = new RemotingClient({ connectTimeoutMs: 3_000, requestTimeoutMs: 24_000 });
  private registration: NamesrvRegistration | undefined;
  private timers: NodeJS.Timeout[] = [];
  private context: BrokerContext | undefined;
  private schedule: ScheduleMessageService | undefined;
  /** Transactional messages (transaction/): the ended-halves index, and the check-back (master only). */
  transactions: TransactionalMessageService | undefined;
  transactionCheck: TransactionalMessageCheckService | undefined;
  private stopped = false;
  /** Queue locks of orderly consumers (LOCK_BATCH_MQ / UNLOCK_BATCH_MQ); in memory only. */
  readonly rebalanceLockManager = new RebalanceLockManager(() => this.config.rebalanceLockMaxLiveTimeMs);
  /** The address the broker listens on (after start). */
  listenAddress = '';

  constructor(
    readonly config: BrokerConfig,
    readonly storeConfig: MessageStoreConfig,
  ) {}

  get ctx(): BrokerContext {
    if (!this.context) throw new Error('broker not started');
    return this.context;
  }

  async start(): Promise<{ host: string; port: number; brokerAddr: string }> {
    const { config, storeConfig } = this;
    // listenPort 0 (tests): the HA port is any free one too; the store reports the one it bound.
    if (config.listenPort === 0) storeConfig.haListenPort = 0;
    const store = await MessageStore.open(storeConfig);
    if (config.brokerRole !== 'SLAVE') config.haListenPort = store.haStatus().haListenPort; // what slaves are told (REGISTER_BROKER's haServerAddr)
    const topics = new TopicConfigManager(storeConfig.storePathRootDir, config);
    topics.load();
    const groups = new SubscriptionGroupManager(storeConfig.storePathRootDir, config.autoCreateSubscriptionGroup);
    groups.load();
    const offsets = new ConsumerOffsetManager(storeConfig.storePathRootDir);
    offsets.load();
    const clients = new ClientManager((group, channels) => this.notifyConsumerIdsChanged(group, channels));

    this.server = new RemotingServer({ host: config.listenHost, port: config.listenPort, idleTimeoutMs: config.serverChannelMaxIdleTimeMs });
    const stats: BrokerStats = { putMessages: 0, putBytes: 0, getMessages: 0, getBytes: 0 };
    // The port is known only after listen (listenPort 0 in tests), and the address goes into every
    // message id, so listen first and register processors right after, before any await.
    const bound = await this.server.listen();
    const port = bound.port;
    if (config.listenPort === 0) config.listenPort = port;
    const brokerAddr = `${config.brokerIP1}:${port}`;
    this.listenAddress = brokerAddr;
    let holds: PullRequestHoldService | undefined;
    const ctx: BrokerContext = {
      config,
      storeConfig,
      store,
      topics,
      groups,
      offsets,
      clients,
      get holds() {
        return holds!;
      },
      brokerAddr,
      storeHost: parseSocketAddress(brokerAddr),
      bootTimestamp: Date.now(),
      registerBrokerSoon: () => this.registration?.registerSoon(),
      stats,
      rebalanceLocks: this.rebalanceLockManager,
      masterLink: undefined,
      slaveSync: undefined,
    };
    this.context = ctx;
    const pull = new PullMessageProcessor(ctx);
    holds = new PullRequestHoldService(config.maxHeldPulls, pull.replay, store);
    store.onArrival((topic, queueId, maxOffset) => holds!.onArrival(topic, queueId, maxOffset));
    // Delayed messages and retries are delivered by the master only (a slave's log is a copy).
    this.schedule = new ScheduleMessageService({
      store,
      storePathRootDir: storeConfig.storePathRootDir,
      delayLevelsMs: parseDelayLevels(storeConfig.messageDelayLevel),
      flushDelayOffsetIntervalMs: config.flushDelayOffsetInterval,
    });
    this.schedule.load();
    if (config.brokerRole === 'SLAVE') {
      // Topics, groups and offsets come from the master (slave/); it is found through the NameServers.
      ctx.slaveSync = new SlaveSynchronize(this.outClient, { topics, groups, offsets, schedule: this.schedule }, { intervalMs: config.slaveSyncIntervalMs });
      ctx.masterLink = new MasterLink(store, ctx.slaveSync, storeConfig.haMasterAddress);
    }
    this.transactions = new TransactionalMessageService(ctx);
    if (config.brokerRole !== 'SLAVE') this.transactions.load();
    this.registerProcessors(ctx, pull);
    if (config.brokerRole !== 'SLAVE') this.schedule.start();
    if (config.brokerRole !== 'SLAVE') {
      this.transactionCheck = new TransactionalMessageCheckService(ctx, this.transactions);
      this.transactionCheck.start();
    }
    this.server.on('disconnect', (conn: RemotingConnection) => clients.onConnectionClosed(conn));
    topics.persist();

    this.timers.push(setInterval(() => offsets.persist(), config.flushConsumerOffsetInterval));
    this.timers.push(setInterval(() => clients.scanExpired(Date.now(), config.channelExpiredTimeout), CLIENT_SCAN_INTERVAL_MS));
    const masterLink = ctx.masterLink;
    this.registration = new NamesrvRegistration(this.outClient, config, brokerAddr, topics, masterLink ? (results) => masterLink.onRegistered(results) : undefined);
    if (this.registration.namesrvAddrs().length > 0) await this.registration.start();
    ctx.slaveSync?.start();
    return { host: bound.host, port, brokerAddr };
  }

  private registerProcessors(ctx: BrokerContext, pull: PullMessageProcessor): void {
    const server = this.server!;
    const send = new SendMessageProcessor(ctx);
    const clientManage = new ClientManageProcessor(ctx);
    const consumerManage = new ConsumerManageProcessor(ctx);
    const admin = new AdminProcessor(ctx);
    const sendBack = new ConsumerSendMsgBackProcessor(ctx);
    const schedule = this.schedule!;
    const sendHandler = (req: RemotingCommand, conn: RemotingConnection) => send.process(req, conn);
    server.registerProcessor(RequestCode.SEND_MESSAGE, sendHandler);
    server.registerProcessor(RequestCode.SEND_MESSAGE_V2, sendHandler);
    server.registerProcessor(RequestCode.SEND_BATCH_MESSAGE, sendHandler);
    server.registerProcessor(RequestCode.CONSUMER_SEND_MSG_BACK, (req) => sendBack.process(req));
    const endTransaction = new EndTransactionProcessor(ctx, this.transactions!);
    server.registerProcessor(RequestCode.END_TRANSACTION, (req) => endTransaction.process(req));
    const lock = new LockProcessor(this.rebalanceLockManager);
    server.registerProcessor(RequestCode.LOCK_BATCH_MQ, (req) => lock.lockBatch(req));
    server.registerProcessor(RequestCode.UNLOCK_BATCH_MQ, (req) => lock.unlockBatch(req));
    server.registerProcessor(RequestCode.GET_ALL_DELAY_OFFSET, (req) => ({ ...createResponse(req, ResponseCode.SUCCESS, undefined, {}), body: Buffer.from(schedule.encode()) }));
    const brokerConfig = new BrokerConfigProcessor(ctx);
    server.registerProcessor(RequestCode.GET_BROKER_CONFIG, (req) => brokerConfig.get(req));
    server.registerProcessor(RequestCode.UPDATE_BROKER_CONFIG, (req) => brokerConfig.update(req));
    server.registerProcessor(RequestCode.GET_ALL_CONSUMER_OFFSET, (req) => admin.allConsumerOffsets(req));
    const consumerQuery = new ConsumerQueryProcessor(ctx);
    server.registerProcessor(RequestCode.QUERY_TOPIC_CONSUME_BY_WHO, (req) => consumerQuery.topicConsumedBy(req));
    server.registerProcessor(RequestCode.GET_CONSUMER_RUNNING_INFO, (req) => consumerQuery.consumerRunningInfo(req));
    const resetOffset = new ResetOffsetProcessor(ctx);
    server.registerProcessor(RequestCode.INVOKE_BROKER_TO_RESET_OFFSET, (req) => resetOffset.process(req));
    server.registerProcessor(RequestCode.PULL_MESSAGE, (req, conn) => pull.process(req, conn));
    server.registerProcessor(RequestCode.LITE_PULL_MESSAGE, (req, conn) => pull.process(req, conn));
    server.registerProcessor(RequestCode.HEART_BEAT, (req, conn) => clientManage.heartbeat(req, conn));
    server.registerProcessor(RequestCode.UNREGISTER_CLIENT, (req) => clientManage.unregister(req));
    server.registerProcessor(RequestCode.CHECK_CLIENT_CONFIG, (req) => clientManage.checkClientConfig(req));
    server.registerProcessor(RequestCode.QUERY_CONSUMER_OFFSET, (req) => consumerManage.queryOffset(req));
    server.registerProcessor(RequestCode.UPDATE_CONSUMER_OFFSET, (req) => consumerManage.updateOffset(req));
    server.registerProcessor(RequestCode.GET_CONSUMER_LIST_BY_GROUP, (req) => consumerManage.consumerList(req));
    server.registerProcessor(RequestCode.UPDATE_AND_CREATE_TOPIC, (req) => admin.createTopic(req));
    server.registerProcessor(RequestCode.DELETE_TOPIC_IN_BROKER, (req) => admin.deleteTopic(req));
    server.registerProcessor(RequestCode.GET_ALL_TOPIC_CONFIG, (req) => admin.allTopicConfig(req));
    server.registerProcessor(RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, (req) => admin.createSubscriptionGroup(req));
    server.registerProcessor(RequestCode.DELETE_SUBSCRIPTIONGROUP, (req) => admin.deleteSubscriptionGroup(req));
    server.registerProcessor(RequestCode.GET_ALL_SUBSCRIPTIONGROUP_CONFIG, (req) => admin.allSubscriptionGroups(req));
    server.registerProcessor(RequestCode.GET_MAX_OFFSET, (req) => admin.maxOffset(req));
    server.registerProcessor(RequestCode.GET_MIN_OFFSET, (req) => admin.minOffset(req));
    server.registerProcessor(RequestCode.SEARCH_OFFSET_BY_TIMESTAMP, (req) => admin.searchOffset(req));
    server.registerProcessor(RequestCode.GET_EARLIEST_MSG_STORETIME, (req) => admin.earliestMessageTime(req));
    server.registerProcessor(RequestCode.VIEW_MESSAGE_BY_ID, (req) => admin.viewMessageById(req));
    server.registerProcessor(RequestCode.QUERY_MESSAGE, (req) => admin.queryMessage(req));
    server.registerProcessor(RequestCode.GET_BROKER_RUNTIME_INFO, (req) => admin.runtimeInfo(req));
    server.registerProcessor(RequestCode.GET_TOPIC_STATS_INFO, (req) => admin.topicStats(req));
    server.registerProcessor(RequestCode.GET_CONSUME_STATS, (req) => admin.consumeStats(req));
    server.registerProcessor(RequestCode.GET_CONSUMER_CONNECTION_LIST, (req) => admin.consumerConnectionList(req));
  }

  private notifyConsumerIdsChanged(group: string, channels: ClientChannel[]): void {
    if (this.context && this.context.groups.get(group)?.notifyConsumerIdsChangedEnable === false) return;
    for (const ch of channels) {
      if (ch.conn.closed) continue;
      ch.conn.invokeOneway(createRequest(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED, { consumerGroup: group })).catch(() => {});
    }
  }

  /** Registers with the NameServers now (tests, admin). */
  async registerNow(): Promise<void> {
    await this.registration?.registerAll();
  }

  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    const ctx = this.context;
    const slaveSyncStopped = ctx?.slaveSync?.stop(); // no new run; one under way ends within its timeouts
    await this.registration?.unregisterAll();
    ctx?.holds.releaseAll();
    await this.server?.close();
    await this.outClient.close();
    await slaveSyncStopped;
    await this.schedule?.stop();
    await this.transactionCheck?.stop();
    await this.transactions?.stop();
    if (ctx) {
      ctx.offsets.persist(true);
      ctx.topics.persist();
      ctx.groups.persist();
      await ctx.store.close();
    }
  }
}
