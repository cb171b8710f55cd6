// GET_BROKER_CONFIG (26) and UPDATE_BROKER_CONFIG (25), as mqadmin getBrokerConfig/updateBrokerConfig
// use them. The answer to 26 is one properties text with every broker and store key (RocketMQ's
// Configuration.getAllConfigsFormatString) and a dataVersion. An update is all-or-nothing: every key
// must be known, writable and of the right type, or nothing changes and the remark says which key
// was wrong. Accepted values go into the running configuration (keys read per request, such as
// autoCreateTopicEnable or slaveReadEnable, apply at once; the store's threads keep the values they
// started with) and into <storePathRootDir>/config/broker.properties, RocketMQ's brokerConfigPath.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { applySettings, parsePropertiesFile, ResponseCode } from '@orbit/common';
import { createResponse, type RemotingCommand } from '@orbit/remoting';
import { StorePaths, validateStoreConfig } from '@orbit/store';
import type { BrokerContext } from '../broker-context.js';

/** Keys that only a restart with another configuration file may change (RocketMQ's configBlackList and more). */
const READ_ONLY_KEYS = new Set([
  'brokerConfigPath',
  'storePathRootDir',
  'storePathCommitLog',
  'listenPort',
  'listenHost',
  'haListenPort',
  'haListenHost',
  'brokerRole',
  'brokerId',
  'brokerName',
  'brokerClusterName',
  'mappedFileSizeCommitLog',
  'mappedFileSizeConsumeQueue',
  'dispatchThreadCount',
  'appendRingBytes',
]);
/** An update body larger than this is refused (the whole configuration is a few KiB). */
const MAX_UPDATE_BODY_BYTES = 64 * 1024;

export class BrokerConfigProcessor {
  private counter = 0;
  private readonly versionTimestamp = Date.now();

  constructor(private readonly ctx: BrokerContext) {}

  private dataVersion(): string {
    return JSON.stringify({ stateVersion: 0, timestamp: this.versionTimestamp, counter: this.counter });
  }

  private allConfigs(): [string, unknown][] {
    return [...Object.entries(this.ctx.config), ...Object.entries(this.ctx.storeConfig)];
  }

  /** The configuration as properties text, keys sorted (what getBrokerConfig prints). */
  formatAll(): string {
    const seen = new Map<string, unknown>();
    for (const [k, v] of this.allConfigs()) if (!seen.has(k)) seen.set(k, v);
    return [...seen.keys()].sort().map((k) => `${k}=${String(seen.get(k))}`).join('\n') + '\n';
  }

  get(req: RemotingCommand): RemotingCommand {
    const res = createResponse(req, ResponseCode.SUCCESS, undefined, { version: this.dataVersion() });
    res.body = Buffer.from(this.formatAll());
    return res;
  }

  update(req: RemotingCommand): RemotingCommand {
    const fail = (code: number, remark: string) => createResponse(req, code, remark, {});
    const body = req.body;
    if (!body || body.length === 0) return fail(ResponseCode.INVALID_PARAMETER, 'updateBrokerConfig needs a body of key=value lines');
    if (body.length > MAX_UPDATE_BODY_BYTES) return fail(ResponseCode.INVALID_PARAMETER, `the body is ${body.length} bytes, more than ${MAX_UPDATE_BODY_BYTES}`);
    let settings: Map<string, string>;
    try {
      settings = parsePropertiesFile(body.toString('utf8'));
    } catch (err) {
      return fail(ResponseCode.INVALID_PARAMETER, `the body is not properties text: ${(err as Error).message}`);
    }
    if (settings.size === 0) return fail(ResponseCode.INVALID_PARAMETER, 'the body holds no key=value line');
    const brokerKeys = new Map<string, string>();
    const storeKeys = new Map<string, string>();
    for (const [k, v] of settings) {
      if (READ_ONLY_KEYS.has(k)) return fail(ResponseCode.NO_PERMISSION, `Can not update config in black list: ${k} changes only with a restart`);
      if (k in this.ctx.config) brokerKeys.set(k, v);
      else if (k in this.ctx.storeConfig) storeKeys.set(k, v);
      else return fail(ResponseCode.INVALID_PARAMETER, `unknown config key ${k}`);
    }
    let broker: BrokerContext['config'];
    let store: BrokerContext['storeConfig'];
    try {
      broker = applySettings(this.ctx.config, brokerKeys).config;
      store = applySettings(this.ctx.storeConfig, storeKeys).config;
      validateStoreConfig(store);
    } catch (err) {
      return fail(ResponseCode.INVALID_PARAMETER, (err as Error).message);
    }
    // The objects are shared with every processor: change them in place.
    Object.assign(this.ctx.config, broker);
    Object.assign(this.ctx.storeConfig, store);
    this.counter++;
    try {
      this.persist();
    } catch (err) {
      return fail(ResponseCode.SYSTEM_ERROR, `applied, but writing broker.properties failed: ${(err as Error).message}`);
    }
    return createResponse(req, ResponseCode.SUCCESS, undefined, {});
  }

  private persist(): void {
    const dir = StorePaths.config(this.ctx.storeConfig);
    mkdirSync(dir, { recursive: true });
    const path = join(dir, 'broker.properties');
    writeFileSync(`${path}.tmp`, `#${new Date().toString()}\n${this.formatAll()}`);
    renameSync(`${path}.tmp`, path);
  }
}
