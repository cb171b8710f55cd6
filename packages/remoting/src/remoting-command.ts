// The RemotingCommand: one request or response of RocketMQ's remoting protocol (facts §1.2), plus
// the helpers processors use to build responses and read typed custom-header fields.
//
// Custom headers (`extFields`) are string→string on the wire. Java peers send strings; the ali-ons
// client sends JSON numbers and booleans (clients §1.3). The header decoder turns every value into
// a string, so processors only ever parse strings, with Java's rules (Integer.parseInt, …).
import { ResponseCode } from '@orbit/common/response-code';
import { HeaderFieldError } from './remoting-errors.js';

export { HeaderFieldError };

/** LanguageCode (facts §1.2). JSON headers carry the name, binary headers the byte. */
export const LanguageCode = {
  JAVA: 0,
  CPP: 1,
  DOTNET: 2,
  PYTHON: 3,
  DELPHI: 4,
  ERLANG: 5,
  RUBY: 6,
  OTHER: 7,
  HTTP: 8,
  GO: 9,
  PHP: 10,
  OMS: 11,
  RUST: 12,
  NODE_JS: 13,
} as const;
export type LanguageName = keyof typeof LanguageCode;

const languageNamesByByte = new Map<number, LanguageName>(
  (Object.keys(LanguageCode) as LanguageName[]).map((name) => [LanguageCode[name], name]),
);

/** The name of a language byte; an unknown byte reads as OTHER. */
export function languageName(code: number): LanguageName {
  return languageNamesByByte.get(code) ?? 'OTHER';
}

/** The byte of a language name; a name older Java peers do not know is sent as OTHER. */
export function languageByte(name: string): number {
  return (LanguageCode as Record<string, number>)[name] ?? LanguageCode.OTHER;
}

/** Bits of `flag`. */
export const CommandFlag = {
  RESPONSE: 1 << 0,
  ONEWAY: 1 << 1,
} as const;

/** MQVersion.Version ordinals that change behaviour somewhere (facts §1.2). */
export const MqVersion = {
  V3_4_9: 121,
  V4_0_0: 213,
  V4_9_4: 401,
  V5_0_0: 413,
  V5_3_1: 475,
  V5_3_3: 479,
} as const;

/** The version Orbit puts in what it sends: the RocketMQ release whose behaviour it follows. */
export const ORBIT_MQ_VERSION = MqVersion.V5_3_3;

/** Language Orbit sends. Older Java peers reject names they do not know, so it claims JAVA. */
export const ORBIT_LANGUAGE: LanguageName = 'JAVA';

export interface RemotingCommand {
  /** Request code in a request, response code in a response. */
  code: number;
  /** LanguageCode name as it came (an unknown name is kept as is). */
  language: string;
  version: number;
  /** Request id; a response carries its request's opaque. */
  opaque: number;
  /** CommandFlag bits. */
  flag: number;
  remark?: string;
  /** The custom header; every value is a string. */
  extFields: Record<string, string>;
  /** Decoded frames: a slice of the received bytes (no copy); absent when the body is empty. */
  body?: Buffer;
  /**
   * Outgoing only: a body made of several buffers (for example commit-log slices of a pull
   * response), written one after the other without joining them. At most one of body/bodyParts.
   */
  bodyParts?: readonly Buffer[];
}

/** Values a caller may put in a custom header; null and undefined are left out, as fastjson does. */
export type ExtFieldValue = string | number | boolean | bigint | null | undefined;

/** Builds an extFields object: numbers in decimal, booleans as "true"/"false", nulls dropped. */
export function toExtFields(values: Record<string, ExtFieldValue>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(values)) {
    const value = values[key];
    if (value === null || value === undefined) continue;
    setOwn(out, key, String(value));
  }
  return out;
}

/**
 * Assigns a property even when the key is "__proto__" (which would otherwise replace the object's
 * prototype). Keys come from peers, so this matters.
 */
export function setOwn(target: Record<string, string>, key: string, value: string): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

// One counter for the whole process, as each JVM has one (facts §1.2). It stays a non-negative
// int32 so it fits both header forms; it wraps after 2^31 requests.
let opaqueCounter = 0;

export function nextOpaque(): number {
  const opaque = opaqueCounter;
  opaqueCounter = (opaqueCounter + 1) & 0x7fffffff;
  return opaque;
}

export function createRequest(code: number, extFields: Record<string, ExtFieldValue> = {}, body?: Buffer): RemotingCommand {
  const cmd: RemotingCommand = {
    code,
    language: ORBIT_LANGUAGE,
    version: ORBIT_MQ_VERSION,
    opaque: nextOpaque(),
    flag: 0,
    extFields: toExtFields(extFields),
  };
  if (body !== undefined && body.length > 0) cmd.body = body;
  return cmd;
}

/** A oneway request: the receiver never answers it, even when it fails. */
export function createOnewayRequest(code: number, extFields: Record<string, ExtFieldValue> = {}, body?: Buffer): RemotingCommand {
  const cmd = createRequest(code, extFields, body);
  cmd.flag |= CommandFlag.ONEWAY;
  return cmd;
}

/** A response to `request`: same opaque, RESPONSE bit set. */
export function createResponse(
  request: Pick<RemotingCommand, 'opaque'>,
  code: number = ResponseCode.SUCCESS,
  remark?: string,
  extFields: Record<string, ExtFieldValue> = {},
): RemotingCommand {
  const cmd: RemotingCommand = {
    code,
    language: ORBIT_LANGUAGE,
    version: ORBIT_MQ_VERSION,
    opaque: request.opaque,
    flag: CommandFlag.RESPONSE,
    extFields: toExtFields(extFields),
  };
  if (remark !== undefined) cmd.remark = remark;
  return cmd;
}

export function isResponse(cmd: Pick<RemotingCommand, 'flag'>): boolean {
  return (cmd.flag & CommandFlag.RESPONSE) !== 0;
}

export function isOneway(cmd: Pick<RemotingCommand, 'flag'>): boolean {
  return (cmd.flag & CommandFlag.ONEWAY) !== 0;
}

/** Body length in bytes, whichever of body/bodyParts carries it. */
export function bodyLengthBytes(cmd: Pick<RemotingCommand, 'body' | 'bodyParts'>): number {
  if (cmd.bodyParts !== undefined) {
    let total = 0;
    for (const part of cmd.bodyParts) total += part.length;
    return total;
  }
  return cmd.body?.length ?? 0;
}

// ---------------------------------------------------------------------------------------------
// Typed custom-header accessors. Each throws HeaderFieldError, whose message is the remark the
// SYSTEM_ERROR response carries. Wording follows RemotingCommand.decodeCommandCustomHeader where
// RocketMQ has one ("the custom field <x> is null").

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
/** What Java's Integer.parseInt / Long.parseLong accept: an optional sign and ASCII digits. */
const JAVA_INTEGER_TEXT = /^[+-]?[0-9]+$/;

function fieldValue(cmd: Pick<RemotingCommand, 'extFields'>, name: string): string | undefined {
  return Object.prototype.hasOwnProperty.call(cmd.extFields, name) ? cmd.extFields[name] : undefined;
}

function missing(name: string): HeaderFieldError {
  return new HeaderFieldError(name, `the custom field <${name}> is null`);
}

function parseIntField(name: string, text: string): number {
  if (!JAVA_INTEGER_TEXT.test(text)) {
    throw new HeaderFieldError(name, `the custom field <${name}> is not a valid integer: ${JSON.stringify(text)}`);
  }
  const value = Number(text);
  if (value < INT32_MIN || value > INT32_MAX) {
    throw new HeaderFieldError(name, `the custom field <${name}> is out of the integer range: ${JSON.stringify(text)}`);
  }
  return value === 0 ? 0 : value; // no -0
}

function parseLongField(name: string, text: string): number {
  if (!JAVA_INTEGER_TEXT.test(text)) {
    throw new HeaderFieldError(name, `the custom field <${name}> is not a valid long: ${JSON.stringify(text)}`);
  }
  const value = Number(text);
  // Offsets and timestamps stay below 2^53; a larger value would silently lose digits as a number.
  if (!Number.isSafeInteger(value)) {
    throw new HeaderFieldError(name, `the custom field <${name}> is out of the safe integer range: ${JSON.stringify(text)}`);
  }
  return value === 0 ? 0 : value;
}

function parseDoubleField(name: string, text: string): number {
  const value = text.trim() === '' ? Number.NaN : Number(text);
  if (Number.isNaN(value) && text !== 'NaN') {
    throw new HeaderFieldError(name, `the custom field <${name}> is not a valid double: ${JSON.stringify(text)}`);
  }
  return value;
}

/** Java's Boolean.parseBoolean: "true" in any case is true, anything else is false, never an error. */
function parseBoolField(text: string): boolean {
  return text.toLowerCase() === 'true';
}

export function requireString(cmd: Pick<RemotingCommand, 'extFields'>, name: string): string {
  const text = fieldValue(cmd, name);
  if (text === undefined) throw missing(name);
  return text;
}

export function optionalString(cmd: Pick<RemotingCommand, 'extFields'>, name: string): string | undefined;
export function optionalString(cmd: Pick<RemotingCommand, 'extFields'>, name: string, defaultValue: string): string;
export function optionalString(cmd: Pick<RemotingCommand, 'extFields'>, name: string, defaultValue?: string): string | undefined {
  return fieldValue(cmd, name) ?? defaultValue;
}

/** An int32, parsed as Integer.parseInt does. */
export function requireInt(cmd: Pick<RemotingCommand, 'extFields'>, name: string): number {
  const text = fieldValue(cmd, name);
  if (text === undefined) throw missing(name);
  return parseIntField(name, text);
}

export function optionalInt(cmd: Pick<RemotingCommand, 'extFields'>, name: string): number | undefined;
export function optionalInt(cmd: Pick<RemotingCommand, 'extFields'>, name: string, defaultValue: number): number;
export function optionalInt(cmd: Pick<RemotingCommand, 'extFields'>, name: string, defaultValue?: number): number | undefined {
  const text = fieldValue(cmd, name);
  return text === undefined ? defaultValue : parseIntField(name, text);
}

/** A Java long as a JS number; values outside ±(2^53−1) are rejected rather than rounded. */
export function requireLong(cmd: Pick<RemotingCommand, 'extFields'>, name: string): number {
  const text = fieldValue(cmd, name);
  if (text === undefined) throw missing(name);
  return parseLongField(name, text);
}

export function optionalLong(cmd: Pick<RemotingCommand, 'extFields'>, name: string): number | undefined;
export function optionalLong(cmd: Pick<RemotingCommand, 'extFields'>, name: string, defaultValue: number): number;
export function optionalLong(cmd: Pick<RemotingCommand, 'extFields'>, name: string, defaultValue?: number): number | undefined {
  const text = fieldValue(cmd, name);
  return text === undefined ? defaultValue : parseLongField(name, text);
}

export function requireBool(cmd: Pick<RemotingCommand, 'extFields'>, name: string): boolean {
  const text = fieldValue(cmd, name);
  if (text === undefined) throw missing(name);
  return parseBoolField(text);
}

export function optionalBool(cmd: Pick<RemotingCommand, 'extFields'>, name: string): boolean | undefined;
export function optionalBool(cmd: Pick<RemotingCommand, 'extFields'>, name: string, defaultValue: boolean): boolean;
export function optionalBool(cmd: Pick<RemotingCommand, 'extFields'>, name: string, defaultValue?: boolean): boolean | undefined {
  const text = fieldValue(cmd, name);
  return text === undefined ? defaultValue : parseBoolField(text);
}

export function requireDouble(cmd: Pick<RemotingCommand, 'extFields'>, name: string): number {
  const text = fieldValue(cmd, name);
  if (text === undefined) throw missing(name);
  return parseDoubleField(name, text);
}

export function optionalDouble(cmd: Pick<RemotingCommand, 'extFields'>, name: string): number | undefined;
export function optionalDouble(cmd: Pick<RemotingCommand, 'extFields'>, name: string, defaultValue: number): number;
export function optionalDouble(cmd: Pick<RemotingCommand, 'extFields'>, name: string, defaultValue?: number): number | undefined {
  const text = fieldValue(cmd, name);
  return text === undefined ? defaultValue : parseDoubleField(name, text);
}
