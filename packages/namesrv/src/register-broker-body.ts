// RegisterBrokerBody, the body of REGISTER_BROKER (facts §3.2): the broker's topic table, the
// DataVersion it was taken at, filter servers, and static-topic mappings. Two encodings:
//   JSON       {"filterServerList":[],"topicConfigSerializeWrapper":{"dataVersion":{…},
//               "topicConfigTable":{name:TopicConfig},"topicQueueMappingInfoMap":{…},…}}
//              (brokers older than V3_0_11 send the wrapper itself, without the outer object)
//   compressed zlib(int len + DataVersion JSON, int topicCount, {int len + TopicConfig text}*,
//              int len + filterServerList JSON, [int mappingCount, {int len + mapping JSON}*])
//              (the header says `compressed=true`; the mapping part exists from V5_0_0 on)
// The decoder reads bytes from any peer: every length is checked before use, the inflated size is
// bounded, and every failure is a RegisterBrokerBodyError whose message says what was wrong.
import { deflateSync, inflateSync } from 'node:zlib';
import { OrbitError } from '@orbit/common/errors';
import { parseLenientJson, type JsonValue } from '@orbit/remoting';
import {
  dataVersionJson,
  PERM_READ,
  PERM_WRITE,
  topicConfigJson,
  type DataVersion,
  type JsonObject,
  type TopicConfig,
} from './route-data.js';

/** A compressed body may inflate to at most this much (a frame is at most 16 MiB compressed). */
export const MAX_INFLATED_REGISTER_BODY_BYTES = 64 * 1024 * 1024;

/** TopicConfig defaults (TopicConfig.java): 16 read / 16 write queues, perm RW. */
export const DEFAULT_TOPIC_QUEUE_NUMS = 16;
export const DEFAULT_TOPIC_PERM = PERM_READ | PERM_WRITE;
export const TOPIC_FILTER_TYPES = ['SINGLE_TAG', 'MULTI_TAG'] as const;

export interface TopicConfigSerializeWrapper {
  topicConfigTable: Map<string, TopicConfig>;
  dataVersion: DataVersion;
  /** topic → TopicQueueMappingInfo (static topics), kept as the broker sent it. */
  topicQueueMappingInfoMap: Map<string, JsonObject>;
}

export interface RegisterBrokerBody {
  topicConfigSerializeWrapper: TopicConfigSerializeWrapper;
  filterServerList: string[];
}

export class RegisterBrokerBodyError extends OrbitError {
  constructor(message: string) {
    super('REGISTER_BROKER_BODY', message);
    this.name = 'RegisterBrokerBodyError';
  }
}

function fail(message: string): never {
  throw new RegisterBrokerBodyError(message);
}

/** What a registration without a body carries (DefaultRequestProcessor: DataVersion all zero). */
export function emptyRegisterBrokerBody(): RegisterBrokerBody {
  return {
    topicConfigSerializeWrapper: {
      topicConfigTable: new Map(),
      dataVersion: { stateVersion: 0, timestamp: 0, counter: 0 },
      topicQueueMappingInfoMap: new Map(),
    },
    filterServerList: [],
  };
}

/**
 * Decodes a REGISTER_BROKER body. `nowMs` stands in for the timestamp of a DataVersion the body
 * leaves out, as Java's `new DataVersion()` does (so such a registration always counts as changed).
 */
export function decodeRegisterBrokerBody(body: Buffer | undefined, compressed: boolean, nowMs: number = Date.now()): RegisterBrokerBody {
  if (body === undefined || body.length === 0) return emptyRegisterBrokerBody();
  return compressed ? decodeCompressed(body, nowMs) : decodeJsonBody(body, nowMs);
}

// ---------------------------------------------------------------------------------------------
// JSON form

function isObject(value: unknown): value is { [key: string]: JsonValue } {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

function own(object: { [key: string]: JsonValue }, key: string): JsonValue | undefined {
  return Object.prototype.hasOwnProperty.call(object, key) ? object[key] : undefined;
}

/** fastjson reads numbers, and numeric strings, into int fields. */
function readInt(value: JsonValue | undefined, where: string, defaultValue: number): number {
  if (value === undefined || value === null) return defaultValue;
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^[+-]?[0-9]+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(n) || n < -2147483648 || n > 2147483647) fail(`${where}: expected an int, got ${describe(value)}`);
  return n;
}

function readLong(value: JsonValue | undefined, where: string, defaultValue: number): number {
  if (value === undefined || value === null) return defaultValue;
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^[+-]?[0-9]+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n)) fail(`${where}: expected a long, got ${describe(value)}`);
  return n;
}

function readBool(value: JsonValue | undefined, where: string, defaultValue: boolean): boolean {
  if (value === undefined || value === null) return defaultValue;
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 'false') return value === 'true';
  return fail(`${where}: expected a boolean, got ${describe(value)}`);
}

function readString(value: JsonValue | undefined, where: string, defaultValue: string): string {
  if (value === undefined || value === null) return defaultValue;
  if (typeof value !== 'string') fail(`${where}: expected a string, got ${describe(value)}`);
  return value;
}

export function parseDataVersion(value: JsonValue | undefined, where: string, nowMs: number): DataVersion {
  if (value === undefined || value === null) return { stateVersion: 0, timestamp: nowMs, counter: 0 };
  if (!isObject(value)) fail(`${where}: expected a DataVersion object, got ${describe(value)}`);
  return {
    stateVersion: readLong(own(value, 'stateVersion'), `${where}.stateVersion`, 0),
    timestamp: readLong(own(value, 'timestamp'), `${where}.timestamp`, nowMs),
    counter: readLong(own(value, 'counter'), `${where}.counter`, 0),
  };
}

function nonNegative(n: number, where: string): number {
  if (n < 0) fail(`${where}: must not be negative, got ${n}`);
  return n;
}

function parseTopicFilterType(text: string, where: string): string {
  if (!(TOPIC_FILTER_TYPES as readonly string[]).includes(text)) fail(`${where}: expected SINGLE_TAG or MULTI_TAG, got ${describe(text)}`);
  return text;
}

function parseAttributes(value: JsonValue | undefined, where: string): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  if (value === undefined || value === null) return out;
  if (!isObject(value)) fail(`${where}: expected an object of strings, got ${describe(value)}`);
  for (const key of Object.keys(value)) out[key] = readString(value[key], `${where}.${key}`, '');
  return out;
}

function parseTopicConfig(value: JsonValue, key: string, where: string): TopicConfig {
  if (!isObject(value)) fail(`${where}: expected a TopicConfig object, got ${describe(value)}`);
  const topicName = readString(own(value, 'topicName'), `${where}.topicName`, key);
  if (topicName === '') fail(`${where}.topicName: must not be empty`);
  return {
    topicName,
    readQueueNums: nonNegative(readInt(own(value, 'readQueueNums'), `${where}.readQueueNums`, DEFAULT_TOPIC_QUEUE_NUMS), `${where}.readQueueNums`),
    writeQueueNums: nonNegative(readInt(own(value, 'writeQueueNums'), `${where}.writeQueueNums`, DEFAULT_TOPIC_QUEUE_NUMS), `${where}.writeQueueNums`),
    perm: readInt(own(value, 'perm'), `${where}.perm`, DEFAULT_TOPIC_PERM),
    topicFilterType: parseTopicFilterType(readString(own(value, 'topicFilterType'), `${where}.topicFilterType`, 'SINGLE_TAG'), `${where}.topicFilterType`),
    topicSysFlag: readInt(own(value, 'topicSysFlag'), `${where}.topicSysFlag`, 0),
    order: readBool(own(value, 'order'), `${where}.order`, false),
    attributes: parseAttributes(own(value, 'attributes'), `${where}.attributes`),
  };
}

function parseMappingInfoMap(value: JsonValue | undefined, where: string): Map<string, JsonObject> {
  const out = new Map<string, JsonObject>();
  if (value === undefined || value === null) return out;
  if (!isObject(value)) fail(`${where}: expected an object, got ${describe(value)}`);
  for (const topic of Object.keys(value)) {
    const info = value[topic];
    if (!isObject(info)) fail(`${where}.${topic}: expected a TopicQueueMappingInfo object, got ${describe(info)}`);
    if (own(info, 'bname') !== undefined) readString(own(info, 'bname'), `${where}.${topic}.bname`, '');
    out.set(topic, info as JsonObject);
  }
  return out;
}

function parseFilterServerList(value: JsonValue | undefined, where: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) fail(`${where}: expected an array of strings, got ${describe(value)}`);
  return value.map((item, i) => {
    if (typeof item !== 'string') fail(`${where}[${i}]: expected a string, got ${describe(item)}`);
    return item;
  });
}

function parseWrapper(value: JsonValue, where: string, nowMs: number): TopicConfigSerializeWrapper {
  if (!isObject(value)) fail(`${where}: expected an object, got ${describe(value)}`);
  const table = own(value, 'topicConfigTable');
  const topicConfigTable = new Map<string, TopicConfig>();
  if (table !== undefined && table !== null) {
    if (!isObject(table)) fail(`${where}.topicConfigTable: expected an object, got ${describe(table)}`);
    for (const key of Object.keys(table)) {
      const config = parseTopicConfig(table[key]!, key, `${where}.topicConfigTable.${key}`);
      topicConfigTable.set(config.topicName, config);
    }
  }
  return {
    topicConfigTable,
    dataVersion: parseDataVersion(own(value, 'dataVersion'), `${where}.dataVersion`, nowMs),
    topicQueueMappingInfoMap: parseMappingInfoMap(own(value, 'topicQueueMappingInfoMap'), `${where}.topicQueueMappingInfoMap`),
  };
}

function parseJsonText(text: string, what: string): JsonValue {
  try {
    return parseLenientJson(text);
  } catch (error) {
    return fail(`${what} is not valid JSON: ${(error as Error).message}`);
  }
}

function decodeJsonBody(body: Buffer, nowMs: number): RegisterBrokerBody {
  const root = parseJsonText(body.toString('utf8'), 'RegisterBrokerBody');
  if (!isObject(root)) fail(`RegisterBrokerBody: expected a JSON object, got ${describe(root)}`);
  const wrapper = own(root, 'topicConfigSerializeWrapper');
  if (wrapper !== undefined) {
    return {
      topicConfigSerializeWrapper: parseWrapper(wrapper, 'topicConfigSerializeWrapper', nowMs),
      filterServerList: parseFilterServerList(own(root, 'filterServerList'), 'filterServerList'),
    };
  }
  // Brokers before V3_0_11 send the TopicConfigSerializeWrapper alone.
  if (own(root, 'topicConfigTable') !== undefined) return { topicConfigSerializeWrapper: parseWrapper(root, 'body', nowMs), filterServerList: [] };
  return fail('RegisterBrokerBody: has neither topicConfigSerializeWrapper nor topicConfigTable');
}

// ---------------------------------------------------------------------------------------------
// Compressed form

class ByteReader {
  private pos = 0;
  constructor(private readonly bytes: Buffer) {}

  get remaining(): number {
    return this.bytes.length - this.pos;
  }

  int(what: string): number {
    if (this.remaining < 4) fail(`compressed RegisterBrokerBody: ends before ${what} (offset ${this.pos}, ${this.remaining} bytes left)`);
    const value = this.bytes.readInt32BE(this.pos);
    this.pos += 4;
    return value;
  }

  /** An int length followed by that many bytes of UTF-8. */
  text(what: string): string {
    const length = this.int(`the length of ${what}`);
    if (length < 0 || length > this.remaining) {
      fail(`compressed RegisterBrokerBody: ${what} length ${length} at offset ${this.pos - 4} is outside the ${this.remaining} bytes left`);
    }
    const text = this.bytes.toString('utf8', this.pos, this.pos + length);
    this.pos += length;
    return text;
  }

  count(what: string, minBytesEach: number): number {
    const n = this.int(what);
    if (n < 0 || n * minBytesEach > this.remaining) fail(`compressed RegisterBrokerBody: ${what} ${n} does not fit the ${this.remaining} bytes left`);
    return n;
  }
}

const JAVA_INT_TEXT = /^[+-]?[0-9]+$/;

function textInt(text: string | undefined, where: string): number {
  const n = text !== undefined && JAVA_INT_TEXT.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(n) || n < -2147483648 || n > 2147483647) fail(`${where}: expected an int, got ${describe(text ?? null)}`);
  return n;
}

/** TopicConfig.decode: `topicName read write perm topicFilterType [attributes-json]`, space-separated. */
export function decodeTopicConfigText(text: string, where = 'TopicConfig'): TopicConfig {
  const parts = text.split(' ');
  if (parts.length < 5) fail(`${where}: expected "topicName readQueueNums writeQueueNums perm topicFilterType [attributes]", got ${describe(text)}`);
  if (parts[0] === '') fail(`${where}: empty topic name`);
  let attributes = Object.create(null) as Record<string, string>;
  if (parts.length >= 6) {
    // Java ignores attributes it cannot parse; a bad value is reported here instead.
    attributes = parseAttributes(parseJsonText(parts.slice(5).join(' '), `${where} attributes`), `${where} attributes`);
  }
  return {
    topicName: parts[0]!,
    readQueueNums: nonNegative(textInt(parts[1], `${where} readQueueNums`), `${where} readQueueNums`),
    writeQueueNums: nonNegative(textInt(parts[2], `${where} writeQueueNums`), `${where} writeQueueNums`),
    perm: textInt(parts[3], `${where} perm`),
    topicFilterType: parseTopicFilterType(parts[4]!, `${where} topicFilterType`),
    topicSysFlag: 0,
    order: false,
    attributes,
  };
}

export function encodeTopicConfigText(config: TopicConfig): string {
  return `${config.topicName} ${config.readQueueNums} ${config.writeQueueNums} ${config.perm} ${config.topicFilterType} ${JSON.stringify(config.attributes)}`;
}

function decodeCompressed(body: Buffer, nowMs: number): RegisterBrokerBody {
  let bytes: Buffer;
  try {
    bytes = inflateSync(body, { maxOutputLength: MAX_INFLATED_REGISTER_BODY_BYTES });
  } catch (error) {
    return fail(`compressed RegisterBrokerBody does not inflate: ${(error as Error).message}`);
  }
  const reader = new ByteReader(bytes);
  const dataVersion = parseDataVersion(parseJsonText(reader.text('DataVersion'), 'DataVersion'), 'dataVersion', nowMs);
  const topicConfigTable = new Map<string, TopicConfig>();
  const topicCount = reader.count('topic count', 4);
  for (let i = 0; i < topicCount; i++) {
    const config = decodeTopicConfigText(reader.text(`topic config ${i}`), `topic config ${i}`);
    topicConfigTable.set(config.topicName, config);
  }
  const filterServerList = parseFilterServerList(parseJsonText(reader.text('filterServerList'), 'filterServerList'), 'filterServerList');
  const topicQueueMappingInfoMap = new Map<string, JsonObject>();
  if (reader.remaining > 0) {
    const mappingCount = reader.count('mapping count', 4);
    for (let i = 0; i < mappingCount; i++) {
      const info = parseJsonText(reader.text(`mapping ${i}`), `mapping ${i}`);
      if (!isObject(info)) fail(`mapping ${i}: expected a TopicQueueMappingInfo object, got ${describe(info)}`);
      const topic = readString(own(info, 'topic'), `mapping ${i}.topic`, '');
      if (topic === '') fail(`mapping ${i}: has no topic`);
      if (own(info, 'bname') !== undefined) readString(own(info, 'bname'), `mapping ${i}.bname`, '');
      topicQueueMappingInfoMap.set(topic, info as JsonObject);
    }
    if (reader.remaining > 0) fail(`compressed RegisterBrokerBody: ${reader.remaining} bytes after the last mapping`);
  }
  return { topicConfigSerializeWrapper: { topicConfigTable, dataVersion, topicQueueMappingInfoMap }, filterServerList };
}

// ---------------------------------------------------------------------------------------------
// Encoding (what a broker sends; used by tests and fake brokers)

export function encodeRegisterBrokerBody(body: RegisterBrokerBody, compressed = false): Buffer {
  const wrapper = body.topicConfigSerializeWrapper;
  if (!compressed) {
    const table = Object.create(null) as Record<string, unknown>;
    for (const [name, config] of wrapper.topicConfigTable) table[name] = topicConfigJson(config);
    const mappings = Object.create(null) as Record<string, unknown>;
    for (const [topic, info] of wrapper.topicQueueMappingInfoMap) mappings[topic] = info;
    return Buffer.from(
      JSON.stringify({
        filterServerList: body.filterServerList,
        topicConfigSerializeWrapper: {
          dataVersion: dataVersionJson(wrapper.dataVersion),
          topicConfigTable: table,
          topicQueueMappingDetailMap: {},
          topicQueueMappingInfoMap: mappings,
        },
      }),
    );
  }
  const parts: Buffer[] = [];
  const int = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeInt32BE(n);
    parts.push(b);
  };
  const text = (s: string) => {
    const b = Buffer.from(s, 'utf8');
    int(b.length);
    parts.push(b);
  };
  text(JSON.stringify(dataVersionJson(wrapper.dataVersion)));
  int(wrapper.topicConfigTable.size);
  for (const config of wrapper.topicConfigTable.values()) text(encodeTopicConfigText(config));
  text(JSON.stringify(body.filterServerList));
  int(wrapper.topicQueueMappingInfoMap.size);
  for (const info of wrapper.topicQueueMappingInfoMap.values()) text(JSON.stringify(info));
  return deflateSync(Buffer.concat(parts));
}
