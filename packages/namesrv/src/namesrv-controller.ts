// One running NameServer (RocketMQ's NamesrvController): loads the KV config, opens the remoting
// server with the NameServer's handlers, drops brokers whose connection closes, and every
// scanNotActiveBrokerInterval drops (and disconnects) brokers silent past their timeout.
import { RemotingServer, type RemotingConnection } from '@orbit/remoting';
import { KvConfigManager } from './kv-config-manager.js';
import { resolveNamesrvConfig, type NamesrvConfig } from './namesrv-config.js';
import { silentLogger, type NamesrvLogger } from './namesrv-logger.js';
import { NamesrvProcessor } from './namesrv-processor.js';
import { RouteInfoManager } from './route-info-manager.js';

export interface NamesrvControllerOptions {
  /** Overrides of the defaults (namesrv-config.ts); `listenPort: 0` picks a free port. */
  config?: Partial<NamesrvConfig>;
  logger?: NamesrvLogger;
  /** Clock of the route table and the expiry scan (tests). */
  clock?: () => number;
}

export class NamesrvController {
  readonly config: NamesrvConfig;
  readonly routeInfoManager: RouteInfoManager<RemotingConnection>;
  readonly kvConfigManager: KvConfigManager;
  private readonly log: NamesrvLogger;
  private readonly clock: () => number;
  private server: RemotingServer | undefined;
  private scanTimer: NodeJS.Timeout | undefined;
  private boundAddress: { host: string; port: number } | undefined;
  private state: 'new' | 'starting' | 'running' | 'stopped' = 'new';

  constructor(options: NamesrvControllerOptions = {}) {
    this.config = resolveNamesrvConfig(options.config);
    this.log = options.logger ?? silentLogger;
    this.clock = options.clock ?? Date.now;
    this.routeInfoManager = new RouteInfoManager<RemotingConnection>({
      brokerChannelExpiredTimeMs: this.config.brokerChannelExpiredTime,
      deleteTopicWithBrokerRegistration: this.config.deleteTopicWithBrokerRegistration,
      supportActingMaster: this.config.supportActingMaster,
      clock: this.clock,
      logger: this.log,
    });
    this.kvConfigManager = new KvConfigManager(this.config.kvConfigPath, this.log);
  }

  /** Where the server listens, once started. */
  get address(): { host: string; port: number } | undefined {
    return this.boundAddress;
  }

  async start(): Promise<{ host: string; port: number }> {
    if (this.state !== 'new') throw new Error(`NamesrvController.start() called when ${this.state}`);
    this.state = 'starting';
    try {
      await this.kvConfigManager.load();
      const server = new RemotingServer({
        host: this.config.bindAddress,
        port: this.config.listenPort,
        idleTimeoutMs: this.config.serverChannelMaxIdleTimeSeconds * 1000,
      });
      new NamesrvProcessor({
        config: this.config,
        routeInfoManager: this.routeInfoManager,
        kvConfigManager: this.kvConfigManager,
        startedAtMs: this.clock(),
        clock: this.clock,
      }).registerOn(server);
      server.on('disconnect', (conn: RemotingConnection) => this.routeInfoManager.onChannelClosed(conn));
      server.on('handlerError', (error: Error, request: { code: number }, conn: RemotingConnection) => {
        this.log.warn(`request code ${request.code} from ${conn.remoteAddress} failed: ${error.message}`);
      });
      server.on('serverError', (error: Error) => this.log.warn(`remoting server error: ${error.message}`));
      this.server = server;
      this.boundAddress = await server.listen();
      this.scanTimer = setInterval(() => this.scanNotActiveBroker(), this.config.scanNotActiveBrokerInterval);
      this.scanTimer.unref();
      this.state = 'running';
      return this.boundAddress;
    } catch (error) {
      await this.shutdown();
      throw error;
    }
  }

  /** Runs one expiry scan now (the timer calls this); returns how many brokers were dropped. */
  scanNotActiveBroker(nowMs: number = this.clock()): number {
    const expired = this.routeInfoManager.scanNotActiveBroker(nowMs);
    for (const broker of expired) broker.channel?.close(new Error(`broker ${broker.brokerAddr} expired`));
    return expired.length;
  }

  /** Stops the scan, closes the server and its connections, waits for KV writes in progress. */
  async shutdown(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    if (this.scanTimer !== undefined) clearInterval(this.scanTimer);
    this.scanTimer = undefined;
    const server = this.server;
    this.server = undefined;
    if (server !== undefined) await server.close();
    await this.kvConfigManager.flush().catch(() => undefined);
    this.log.info('NameServer shut down');
  }
}
