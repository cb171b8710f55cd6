// Test support: a scripted NameServer and scripted brokers built on @orbit/remoting's
// RemotingServer. They record every request the client sends and answer as a test tells them, so
// tests can check what the client puts on the wire and how it reacts to each response code. They
// implement no broker logic. Everything listens on 127.0.0.1 with an ephemeral port.
import { createOffsetMessageId } from '@orbit/common/message-id';
import { encodeStoredRecord, planRecord, type MessageToStore } from '@orbit/common/message-record';
import { encodeProperties } from '@orbit/common/properties';
import { RequestCode } from '@orbit/common/request-code';
import { ResponseCode } from '@orbit/common/response-code';
import { parseSocketAddress } from '@orbit/common/socket-address';
import { createRequest, createResponse, RemotingServer, type RemotingCommand, type RemotingConnection } from '@orbit/remoting';
import type { ClientLogger } from '../client-config.js';
import type { TopicRouteData } from '../topic-route.js';

export const HOST = '127.0.0.1';

/** Collects warnings instead of printing them; tests may assert on them. */
export function recordingLogger(): ClientLogger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    debug: () => undefined,
    info: () => undefined,
    warn: (m) => void lines.push(`WARN ${m}`),
    error: (m) => void lines.push(`ERROR ${m}`),
  };
}

/** Waits until `predicate` holds, checking every 5 ms, for at most `timeoutMs`. */
export async function waitFor(predicate: () => boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export type ScriptedHandler = (request: RemotingCommand, conn: RemotingConnection) => RemotingCommand | null | Promise<RemotingCommand | null>;

/** A RemotingServer that logs requests and answers with per-code handlers. */
export class ScriptedPeer {
  readonly server = new RemotingServer({ host: HOST, port: 0 });
  readonly requests: RemotingCommand[] = [];
  /** Arrival time (ms) of each entry of `requests`. */
  readonly arrivalsMs: number[] = [];
  readonly handlers = new Map<number, ScriptedHandler>();
  addr = '';

  constructor() {
    this.server.setDefaultProcessor((request, conn) => {
      this.requests.push({ ...request, body: request.body ? Buffer.from(request.body) : undefined } as RemotingCommand);
      this.arrivalsMs.push(Date.now());
      const handler = this.handlers.get(request.code);
      if (handler === undefined) return createResponse(request, ResponseCode.REQUEST_CODE_NOT_SUPPORTED, ` request type ${request.code} not supported`);
      return handler(request, conn);
    });
  }

  async listen(): Promise<this> {
    const { port } = await this.server.listen();
    this.addr = `${HOST}:${port}`;
    return this;
  }

  on(code: number, handler: ScriptedHandler): this {
    this.handlers.set(code, handler);
    return this;
  }

  requestsOf(code: number): RemotingCommand[] {
    return this.requests.filter((r) => r.code === code);
  }

  /** Requests of `code` with their arrival times. */
  timedRequestsOf(code: number): { request: RemotingCommand; atMs: number }[] {
    const out: { request: RemotingCommand; atMs: number }[] = [];
    this.requests.forEach((request, i) => {
      if (request.code === code) out.push({ request, atMs: this.arrivalsMs[i]! });
    });
    return out;
  }

  /** Sends a oneway request to every connected client (e.g. NOTIFY_CONSUMER_IDS_CHANGED). */
  async notifyClients(code: number, fields: Record<string, string>): Promise<number> {
    let sent = 0;
    for (const conn of this.server.connections) {
      await conn.invokeOneway(createRequest(code, fields));
      sent++;
    }
    return sent;
  }

  async close(): Promise<void> {
    await this.server.close();
  }
}

/** A NameServer that serves routes from a table; unknown topics get TOPIC_NOT_EXIST. */
export class ScriptedNameServer extends ScriptedPeer {
  readonly routes = new Map<string, TopicRouteData>();

  constructor() {
    super();
    this.on(RequestCode.GET_ROUTEINFO_BY_TOPIC, (request) => {
      const route = this.routes.get(request.extFields.topic ?? '');
      if (route === undefined) return createResponse(request, ResponseCode.TOPIC_NOT_EXIST, `No topic route info in name server for the topic: ${request.extFields.topic}`);
      const response = createResponse(request);
      response.body = Buffer.from(JSON.stringify(route));
      return response;
    });
  }
}

/** One broker of a route: name, address, queue counts and perm. */
export interface RouteBroker {
  brokerName: string;
  addr: string;
  queues: number;
  perm?: number;
  slaveAddr?: string;
}

export function buildRoute(brokers: readonly RouteBroker[]): TopicRouteData {
  return {
    queueDatas: brokers.map((b) => ({ brokerName: b.brokerName, readQueueNums: b.queues, writeQueueNums: b.queues, perm: b.perm ?? 6, topicSysFlag: 0 })),
    brokerDatas: brokers.map((b) => ({
      cluster: 'DefaultCluster',
      brokerName: b.brokerName,
      brokerAddrs: (b.slaveAddr ? { '0': b.addr, '1': b.slaveAddr } : { '0': b.addr }) as Record<string, string>,
    })),
    filterServerTable: {},
  };
}

/**
 * A broker with sensible default answers: heartbeats, unregister and offset updates succeed; send
 * answers SEND_OK with increasing offsets. Tests replace handlers as they need.
 */
export class ScriptedBroker extends ScriptedPeer {
  nextQueueOffset = 0;
  nextPhysicalOffset = 1000;

  constructor(readonly brokerName: string) {
    super();
    const ok = (request: RemotingCommand) => createResponse(request);
    this.on(RequestCode.HEART_BEAT, ok);
    this.on(RequestCode.UNREGISTER_CLIENT, ok);
    this.on(RequestCode.UPDATE_CONSUMER_OFFSET, ok);
    this.on(RequestCode.CONSUMER_SEND_MSG_BACK, ok);
    this.on(RequestCode.SEND_MESSAGE_V2, (request) => this.sendOk(request));
    this.on(RequestCode.SEND_BATCH_MESSAGE, (request) => this.sendOk(request));
  }

  sendOk(request: RemotingCommand, code: number = ResponseCode.SUCCESS): RemotingCommand {
    const queueOffset = this.nextQueueOffset++;
    const physical = this.nextPhysicalOffset;
    this.nextPhysicalOffset += 100;
    const msgId = createOffsetMessageId(parseSocketAddress(this.addr), physical);
    return createResponse(request, code, undefined, { msgId, queueId: request.extFields.e ?? '0', queueOffset });
  }

  /** Stored records as a pull body, with this broker as store host. */
  records(items: readonly { topic: string; queueId: number; queueOffset: number; body: string; properties?: Record<string, string>; reconsumeTimes?: number }[]): Buffer {
    const parts: Buffer[] = [];
    for (const item of items) {
      const msg: MessageToStore = {
        topic: item.topic,
        queueId: item.queueId,
        flag: 0,
        sysFlag: 0,
        bornTimestamp: 1_700_000_000_000,
        bornHost: parseSocketAddress('127.0.0.1:50000'),
        storeHost: parseSocketAddress(this.addr),
        reconsumeTimes: item.reconsumeTimes ?? 0,
        preparedTransactionOffset: 0,
        body: Buffer.from(item.body),
        properties: encodeProperties(item.properties ?? {}),
      };
      const plan = planRecord(msg);
      const buf = Buffer.alloc(plan.sizeBytes);
      encodeStoredRecord(buf, 0, msg, plan, { queueOffset: item.queueOffset, physicalOffset: 5000 + item.queueOffset * 200, storeTimestamp: 1_700_000_000_100, bodyCrc: 0 });
      parts.push(buf);
    }
    return Buffer.concat(parts);
  }
}

/** A pull answer: status code, next offset, min/max offsets and an optional body. */
export function pullResponse(request: RemotingCommand, code: number, nextBeginOffset: number, body?: Buffer, extra: { minOffset?: number; maxOffset?: number; suggestWhichBrokerId?: number } = {}): RemotingCommand {
  const response = createResponse(request, code, undefined, {
    nextBeginOffset,
    minOffset: extra.minOffset ?? 0,
    maxOffset: extra.maxOffset ?? nextBeginOffset,
    suggestWhichBrokerId: extra.suggestWhichBrokerId ?? 0,
  });
  if (body !== undefined) response.body = body;
  return response;
}

/**
 * Long polling as a script: each queue has a list of answers a test pushes; a pull with nothing
 * scripted is held until an answer is pushed or `holdMs` passes (then PULL_NOT_FOUND at the
 * requested offset), like the broker's PullRequestHoldService.
 */
export class ScriptedPullQueues {
  private readonly scripts = new Map<string, { answer: (request: RemotingCommand) => RemotingCommand; matches: (request: RemotingCommand) => boolean }[]>();
  private readonly held = new Map<string, { request: RemotingCommand; conn: RemotingConnection; timer: NodeJS.Timeout }[]>();

  constructor(
    broker: ScriptedPeer,
    private readonly holdMs = 200,
  ) {
    broker.on(RequestCode.PULL_MESSAGE, (request, conn) => {
      const key = `${request.extFields.topic}@${request.extFields.queueId}`;
      const scripts = this.scripts.get(key) ?? [];
      const i = scripts.findIndex((script) => script.matches(request));
      if (i >= 0) return scripts.splice(i, 1)[0]!.answer(request);
      const timer = setTimeout(() => this.release(key, request), this.holdMs);
      const held = this.held.get(key) ?? [];
      held.push({ request, conn, timer });
      this.held.set(key, held);
      return null;
    });
  }

  private release(key: string, request: RemotingCommand): void {
    const list = this.held.get(key) ?? [];
    const i = list.findIndex((h) => h.request === request);
    if (i < 0) return;
    const [h] = list.splice(i, 1);
    h!.conn.writeResponse(h!.request, pullResponse(h!.request, ResponseCode.PULL_NOT_FOUND, Number(h!.request.extFields.queueOffset)));
  }

  /**
   * Queues an answer for the next pull of topic/queueId (only a pull at `atOffset` when given); a
   * held pull gets it at once.
   */
  push(topic: string, queueId: number, answer: (request: RemotingCommand) => RemotingCommand, atOffset?: number): void {
    const key = `${topic}@${queueId}`;
    const matches = (request: RemotingCommand) => atOffset === undefined || request.extFields.queueOffset === String(atOffset);
    const heldList = this.held.get(key) ?? [];
    const i = heldList.findIndex((h) => matches(h.request));
    if (i >= 0) {
      const [waiting] = heldList.splice(i, 1);
      clearTimeout(waiting!.timer);
      waiting!.conn.writeResponse(waiting!.request, answer(waiting!.request));
      return;
    }
    const list = this.scripts.get(key) ?? [];
    list.push({ answer, matches });
    this.scripts.set(key, list);
  }

  /** Cancels hold timers (before closing the server). */
  clear(): void {
    for (const list of this.held.values()) for (const h of list) clearTimeout(h.timer);
    this.held.clear();
    this.scripts.clear();
  }
}
