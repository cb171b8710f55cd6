// The NameServer's request handlers (RocketMQ's DefaultRequestProcessor and ClientRequestProcessor):
// each reads its custom header and body, calls the route or KV manager, and builds the response.
// A missing or unparsable header field throws HeaderFieldError, which the remoting server answers
// with SYSTEM_ERROR and the field's remark; everything else that is wrong with a request is
// answered here with a code and a remark saying what was wrong. Codes not registered here get
// REQUEST_CODE_NOT_SUPPORTED from the remoting server.
import { rocketmqCrc32 } from '@orbit/common/crc32';
import { RequestCode } from '@orbit/common/request-code';
import { ResponseCode } from '@orbit/common/response-code';
import {
  createResponse,
  HeaderFieldError,
  optionalBool,
  optionalInt,
  optionalLong,
  optionalString,
  parseLenientJson,
  requireLong,
  requireString,
  type RemotingCommand,
  type RemotingConnection,
  type RemotingServer,
  type RequestHandler,
} from '@orbit/remoting';
import { KvConfigFileError, NAMESPACE_ORDER_TOPIC_CONFIG, type KvConfigManager } from './kv-config-manager.js';
import { formatNamesrvConfig, type NamesrvConfig } from './namesrv-config.js';
import { decodeRegisterBrokerBody, parseDataVersion, RegisterBrokerBodyError } from './register-broker-body.js';
import { clusterInfoToJson, dataVersionJson, kvTableToJson, topicListToJson, topicRouteDataToJson } from './route-data.js';
import type { RouteInfoManager } from './route-info-manager.js';

/** FAQUrl.APPLY_TOPIC_URL, as RocketMQ appends it to TOPIC_NOT_EXIST remarks. */
const APPLY_TOPIC_URL = 'https://rocketmq.apache.org/docs/bestPractice/06FAQ';

export interface NamesrvProcessorDeps {
  config: NamesrvConfig;
  routeInfoManager: RouteInfoManager<RemotingConnection>;
  kvConfigManager: KvConfigManager;
  /** When the NameServer started (needWaitForService). */
  startedAtMs: number;
  clock?: () => number;
}

function failure(request: RemotingCommand, code: number, remark: string): RemotingCommand {
  return createResponse(request, code, remark);
}

/** A header string that must also not be empty (Java would accept "" and build a broken route). */
function requireName(request: RemotingCommand, field: string): string {
  const value = requireString(request, field);
  if (value.trim() === '') throw new HeaderFieldError(field, `the custom field <${field}> is empty`);
  return value;
}

export class NamesrvProcessor {
  private readonly clock: () => number;

  constructor(private readonly deps: NamesrvProcessorDeps) {
    this.clock = deps.clock ?? Date.now;
  }

  /** Registers every handler on the server. */
  registerOn(server: Pick<RemotingServer, 'registerProcessor'>): void {
    const table: Array<[number, RequestHandler]> = [
      [RequestCode.PUT_KV_CONFIG, (req) => this.putKvConfig(req)],
      [RequestCode.GET_KV_CONFIG, (req) => this.getKvConfig(req)],
      [RequestCode.DELETE_KV_CONFIG, (req) => this.deleteKvConfig(req)],
      [RequestCode.GET_KVLIST_BY_NAMESPACE, (req) => this.getKvListByNamespace(req)],
      [RequestCode.QUERY_DATA_VERSION, (req) => this.queryBrokerTopicConfig(req)],
      [RequestCode.REGISTER_BROKER, (req, conn) => this.registerBroker(req, conn)],
      [RequestCode.UNREGISTER_BROKER, (req) => this.unregisterBroker(req)],
      [RequestCode.BROKER_HEARTBEAT, (req) => this.brokerHeartbeat(req)],
      [RequestCode.GET_ROUTEINFO_BY_TOPIC, (req) => this.getRouteInfoByTopic(req)],
      [RequestCode.GET_BROKER_CLUSTER_INFO, (req) => this.getBrokerClusterInfo(req)],
      [RequestCode.WIPE_WRITE_PERM_OF_BROKER, (req) => this.wipeWritePermOfBroker(req)],
      [RequestCode.ADD_WRITE_PERM_OF_BROKER, (req) => this.addWritePermOfBroker(req)],
      [RequestCode.GET_ALL_TOPIC_LIST_FROM_NAMESERVER, (req) => this.getAllTopicListFromNameserver(req)],
      [RequestCode.DELETE_TOPIC_IN_NAMESRV, (req) => this.deleteTopicInNamesrv(req)],
      [RequestCode.GET_TOPICS_BY_CLUSTER, (req) => this.getTopicsByCluster(req)],
      [RequestCode.GET_NAMESRV_CONFIG, (req) => this.getNamesrvConfig(req)],
    ];
    for (const [code, handler] of table) server.registerProcessor(code, handler);
  }

  // -------------------------------------------------------------------------------------------
  // KV config

  async putKvConfig(request: RemotingCommand): Promise<RemotingCommand> {
    const namespace = requireString(request, 'namespace');
    const key = requireString(request, 'key');
    const value = requireString(request, 'value');
    try {
      await this.deps.kvConfigManager.put(namespace, key, value);
    } catch (error) {
      if (error instanceof KvConfigFileError) return failure(request, ResponseCode.SYSTEM_ERROR, error.message);
      throw error;
    }
    return createResponse(request);
  }

  getKvConfig(request: RemotingCommand): RemotingCommand {
    const namespace = requireString(request, 'namespace');
    const key = requireString(request, 'key');
    const value = this.deps.kvConfigManager.get(namespace, key);
    if (value === undefined) return failure(request, ResponseCode.QUERY_NOT_FOUND, `No config item, Namespace: ${namespace} Key: ${key}`);
    return createResponse(request, ResponseCode.SUCCESS, undefined, { value });
  }

  async deleteKvConfig(request: RemotingCommand): Promise<RemotingCommand> {
    const namespace = requireString(request, 'namespace');
    const key = requireString(request, 'key');
    try {
      await this.deps.kvConfigManager.delete(namespace, key);
    } catch (error) {
      if (error instanceof KvConfigFileError) return failure(request, ResponseCode.SYSTEM_ERROR, error.message);
      throw error;
    }
    return createResponse(request);
  }

  getKvListByNamespace(request: RemotingCommand): RemotingCommand {
    const namespace = requireString(request, 'namespace');
    const table = this.deps.kvConfigManager.getKvListByNamespace(namespace);
    if (table === undefined) return failure(request, ResponseCode.QUERY_NOT_FOUND, `No config item, Namespace: ${namespace}`);
    const response = createResponse(request);
    response.body = Buffer.from(kvTableToJson(table));
    return response;
  }

  // -------------------------------------------------------------------------------------------
  // Broker registration

  /** QUERY_DATA_VERSION: has the broker's topic table changed since it last registered? Also a heartbeat. */
  queryBrokerTopicConfig(request: RemotingCommand): RemotingCommand {
    const clusterName = requireString(request, 'clusterName');
    const brokerAddr = requireString(request, 'brokerAddr');
    if (request.body === undefined || request.body.length === 0) {
      return failure(request, ResponseCode.SYSTEM_ERROR, 'QUERY_DATA_VERSION needs a DataVersion JSON body');
    }
    let dataVersion;
    try {
      dataVersion = parseDataVersion(parseLenientJson(request.body.toString('utf8')), 'DataVersion', this.clock());
    } catch (error) {
      return failure(request, ResponseCode.SYSTEM_ERROR, `Failed to decode DataVersion: ${(error as Error).message}`);
    }
    const routes = this.deps.routeInfoManager;
    const changed = routes.isBrokerTopicConfigChanged(clusterName, brokerAddr, dataVersion);
    routes.updateBrokerInfoUpdateTimestamp(clusterName, brokerAddr, this.clock());
    const known = routes.queryBrokerTopicConfig(clusterName, brokerAddr);
    const response = createResponse(request, ResponseCode.SUCCESS, undefined, { changed });
    if (known !== undefined) response.body = Buffer.from(JSON.stringify(dataVersionJson(known)));
    return response;
  }

  registerBroker(request: RemotingCommand, conn: RemotingConnection): RemotingCommand {
    const brokerName = requireName(request, 'brokerName');
    const brokerAddr = requireName(request, 'brokerAddr');
    const clusterName = requireName(request, 'clusterName');
    const haServerAddr = requireString(request, 'haServerAddr');
    const brokerId = requireLong(request, 'brokerId');
    if (brokerId < 0) throw new HeaderFieldError('brokerId', `the custom field <brokerId> must not be negative: ${brokerId}`);
    const heartbeatTimeoutMillis = optionalLong(request, 'heartbeatTimeoutMillis');
    if (heartbeatTimeoutMillis !== undefined && heartbeatTimeoutMillis <= 0) {
      throw new HeaderFieldError('heartbeatTimeoutMillis', `the custom field <heartbeatTimeoutMillis> must be positive: ${heartbeatTimeoutMillis}`);
    }
    const enableActingMaster = optionalBool(request, 'enableActingMaster');
    const compressed = optionalBool(request, 'compressed', false);
    const bodyCrc32 = optionalInt(request, 'bodyCrc32', 0);
    const zoneName = optionalString(request, 'zoneName');

    if (bodyCrc32 !== 0) {
      const actual = rocketmqCrc32(request.body ?? Buffer.alloc(0));
      if (actual !== bodyCrc32) return failure(request, ResponseCode.SYSTEM_ERROR, `crc32 not match: header bodyCrc32 ${bodyCrc32}, body ${actual}`);
    }
    let body;
    try {
      body = decodeRegisterBrokerBody(request.body, compressed, this.clock());
    } catch (error) {
      if (error instanceof RegisterBrokerBodyError) return failure(request, ResponseCode.SYSTEM_ERROR, `Failed to decode RegisterBrokerBody: ${error.message}`);
      throw error;
    }

    const result = this.deps.routeInfoManager.registerBroker({
      clusterName,
      brokerAddr,
      brokerName,
      brokerId,
      haServerAddr,
      zoneName,
      heartbeatTimeoutMillis,
      enableActingMaster,
      topicConfigWrapper: body.topicConfigSerializeWrapper,
      filterServerList: body.filterServerList,
      channel: conn,
    });
    const response = createResponse(request, ResponseCode.SUCCESS, undefined, { haServerAddr: result.haServerAddr, masterAddr: result.masterAddr });
    if (this.deps.config.returnOrderTopicConfigToBroker) {
      const orderTopics = this.deps.kvConfigManager.getKvListByNamespace(NAMESPACE_ORDER_TOPIC_CONFIG);
      if (orderTopics !== undefined) response.body = Buffer.from(kvTableToJson(orderTopics));
    }
    return response;
  }

  unregisterBroker(request: RemotingCommand): RemotingCommand {
    const brokerName = requireString(request, 'brokerName');
    const brokerAddr = requireString(request, 'brokerAddr');
    const clusterName = requireString(request, 'clusterName');
    const brokerId = requireLong(request, 'brokerId');
    this.deps.routeInfoManager.unregisterBroker({ clusterName, brokerAddr, brokerName, brokerId });
    return createResponse(request);
  }

  /** BROKER_HEARTBEAT (slave-acting-master mode): a heartbeat without the topic table. */
  brokerHeartbeat(request: RemotingCommand): RemotingCommand {
    const clusterName = requireString(request, 'clusterName');
    const brokerAddr = requireString(request, 'brokerAddr');
    requireString(request, 'brokerName');
    this.deps.routeInfoManager.updateBrokerInfoUpdateTimestamp(clusterName, brokerAddr, this.clock());
    return createResponse(request);
  }

  // -------------------------------------------------------------------------------------------
  // Routes

  getRouteInfoByTopic(request: RemotingCommand): RemotingCommand {
    const topic = requireString(request, 'topic');
    const { config } = this.deps;
    if (config.needWaitForService && this.clock() - this.deps.startedAtMs < config.waitSecondsForService * 1000) {
      return failure(request, ResponseCode.SYSTEM_ERROR, 'name server not ready');
    }
    const route = this.deps.routeInfoManager.pickupTopicRouteData(topic);
    if (route === undefined) {
      return failure(request, ResponseCode.TOPIC_NOT_EXIST, `No topic route info in name server for the topic: ${topic}\nSee ${APPLY_TOPIC_URL} for further details.`);
    }
    if (config.orderMessageEnable) {
      const orderTopicConf = this.deps.kvConfigManager.get(NAMESPACE_ORDER_TOPIC_CONFIG, topic);
      if (orderTopicConf !== undefined) route.orderTopicConf = orderTopicConf;
    }
    // Always standard JSON (quoted keys), whatever the request's version or acceptStandardJsonOnly:
    // fastjson and ali-ons's JSON2 read it, and it is what RocketMQ sends to clients from V4_9_4 on.
    const response = createResponse(request);
    response.body = Buffer.from(topicRouteDataToJson(route));
    return response;
  }

  getBrokerClusterInfo(request: RemotingCommand): RemotingCommand {
    const response = createResponse(request);
    response.body = Buffer.from(clusterInfoToJson(this.deps.routeInfoManager.getClusterInfo()));
    return response;
  }

  getAllTopicListFromNameserver(request: RemotingCommand): RemotingCommand {
    if (!this.deps.config.enableAllTopicList) return failure(request, ResponseCode.SYSTEM_ERROR, 'disable');
    const response = createResponse(request);
    response.body = Buffer.from(topicListToJson(this.deps.routeInfoManager.getAllTopicList()));
    return response;
  }

  getTopicsByCluster(request: RemotingCommand): RemotingCommand {
    if (!this.deps.config.enableTopicList) return failure(request, ResponseCode.SYSTEM_ERROR, 'disable');
    const cluster = requireString(request, 'cluster');
    const response = createResponse(request);
    response.body = Buffer.from(topicListToJson(this.deps.routeInfoManager.getTopicsByCluster(cluster)));
    return response;
  }

  // -------------------------------------------------------------------------------------------
  // Admin

  deleteTopicInNamesrv(request: RemotingCommand): RemotingCommand {
    const topic = requireString(request, 'topic');
    const clusterName = optionalString(request, 'clusterName');
    this.deps.routeInfoManager.deleteTopic(topic, clusterName);
    return createResponse(request);
  }

  wipeWritePermOfBroker(request: RemotingCommand): RemotingCommand {
    const brokerName = requireString(request, 'brokerName');
    const wipeTopicCount = this.deps.routeInfoManager.wipeWritePermOfBroker(brokerName);
    return createResponse(request, ResponseCode.SUCCESS, undefined, { wipeTopicCount });
  }

  addWritePermOfBroker(request: RemotingCommand): RemotingCommand {
    const brokerName = requireString(request, 'brokerName');
    const addTopicCount = this.deps.routeInfoManager.addWritePermOfBroker(brokerName);
    return createResponse(request, ResponseCode.SUCCESS, undefined, { addTopicCount });
  }

  /** GET_NAMESRV_CONFIG: the effective config as `key=value` lines (mqadmin getNamesrvConfig). */
  getNamesrvConfig(request: RemotingCommand): RemotingCommand {
    const response = createResponse(request);
    response.body = Buffer.from(`${formatNamesrvConfig(this.deps.config)}\n`);
    return response;
  }
}
