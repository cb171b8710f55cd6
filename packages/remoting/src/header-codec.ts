// The two header forms of a remoting frame (facts §1.2, §1.3).
// JSON (serialize type 0) is what Orbit always sends: ali-ons reads the header-length word without
// masking the type byte, so a binary header would break it (clients §1.3). ROCKETMQ binary
// (serialize type 1) is decoded because Java clients may choose it; it is encoded only for tests
// and tools.
//
// Decoders read bytes from peers: every read is bounds-checked and anything malformed becomes a
// non-fatal FrameError (the frame around the header was already cut out cleanly), carrying the
// opaque and flag when they could still be read so the receiver can answer SYSTEM_ERROR.
import {
  languageByte,
  languageName,
  ORBIT_LANGUAGE,
  setOwn,
  type RemotingCommand,
} from './remoting-command.js';
import { FrameError } from './remoting-errors.js';

export { FrameError };

export { parseLenientJson, LenientJsonError, type JsonValue } from './lenient-json.js';

export const SerializeType = {
  JSON: 0,
  ROCKETMQ: 1,
} as const;
export type SerializeTypeValue = (typeof SerializeType)[keyof typeof SerializeType];

/** A decoded header: a command without its body. */
export type DecodedHeader = Omit<RemotingCommand, 'body' | 'bodyParts'>;

const INT16_MIN = -32768;
const INT16_MAX = 32767;
const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

/** Fixed part of the binary header: code 2, language 1, version 2, opaque 4, flag 4, two length ints. */
export const ROCKETMQ_HEADER_FIXED_BYTES = 21;
const OPAQUE_OFFSET = 5;
const FLAG_OFFSET = 9;

// ---------------------------------------------------------------------------------------------
// JSON

/**
 * The JSON header text. Keys in fastjson's order (alphabetical), null fields left out, every
 * extFields value a string; `extFields` is always present because clients read response fields
 * from it without checking (facts §10.2).
 */
export function encodeJsonHeader(cmd: DecodedHeader): string {
  return JSON.stringify({
    code: cmd.code,
    extFields: cmd.extFields,
    flag: cmd.flag,
    language: cmd.language,
    opaque: cmd.opaque,
    remark: cmd.remark ?? undefined,
    serializeTypeCurrentRPC: 'JSON',
    version: cmd.version,
  });
}

/** Decodes the JSON header in buf[start, end). Invalid UTF-8 is replaced, not rejected. */
export function decodeJsonHeader(buf: Buffer, start: number, end: number): DecodedHeader {
  if (start < 0 || end > buf.length || start > end) throw new RangeError(`bad header range [${start}, ${end}) of ${buf.length}`);
  const text = buf.toString('utf8', start, end);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    const found = sniffJsonOpaqueAndFlag(text);
    throw new FrameError(`invalid JSON header: ${(error as Error).message}`, false, found.opaque, found.flag);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new FrameError(`JSON header is not an object but ${Array.isArray(parsed) ? 'an array' : typeof parsed}`, false);
  }
  const obj = parsed as Record<string, unknown>;
  const opaque = jsonInt32(obj.opaque);
  const flag = jsonInt32(obj.flag);
  const code = jsonInt32(obj.code);
  if (typeof opaque !== 'number') throw headerProblem(fieldProblem('opaque', obj.opaque), opaque, flag);
  if (typeof flag !== 'number') throw headerProblem(fieldProblem('flag', obj.flag), opaque, flag);
  if (typeof code !== 'number') throw headerProblem(fieldProblem('code', obj.code), opaque, flag);

  const cmd: DecodedHeader = {
    code,
    language: jsonLanguage(obj.language),
    version: jsonVersion(obj.version),
    opaque,
    flag,
    extFields: {},
  };
  const remark = obj.remark;
  if (remark !== undefined && remark !== null) {
    if (typeof remark === 'object') throw headerProblem('JSON header field "remark" is not a string', opaque, flag);
    cmd.remark = String(remark);
  }
  const extFields = obj.extFields;
  if (extFields !== undefined && extFields !== null) {
    if (typeof extFields !== 'object' || Array.isArray(extFields)) throw headerProblem('JSON header field "extFields" is not an object', opaque, flag);
    const source = extFields as Record<string, unknown>;
    if (allStringValues(source)) {
      // The usual case (Java clients and Orbit send only strings): JSON.parse's own object is already
      // what the copy below would build (own data properties, "__proto__" included), so keep it.
      cmd.extFields = source as Record<string, string>;
    } else {
      for (const key of Object.keys(source)) {
        const value = extFieldText(source[key]);
        if (value === undefined) continue; // null: fastjson would not have written it
        if (value === null) throw headerProblem(`extFields value of "${key}" cannot be turned into text`, opaque, flag);
        setOwn(cmd.extFields, key, value);
      }
    }
  }
  return cmd;
}

function allStringValues(record: Record<string, unknown>): boolean {
  for (const key in record) if (typeof record[key] !== 'string') return false;
  return true;
}

/** A header error that still names the frame's opaque and flag when they were read. */
function headerProblem(message: string, opaque: number | string, flag: number | string): FrameError {
  return new FrameError(message, false, typeof opaque === 'number' ? opaque : undefined, typeof flag === 'number' ? flag : undefined);
}

/** An int32 from a JSON value; fastjson also accepts a decimal string, so this does too. */
function jsonInt32(value: unknown): number | 'missing' | 'bad' {
  if (value === undefined || value === null) return 'missing';
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && /^-?[0-9]{1,10}$/.test(value)) n = Number(value);
  else return 'bad';
  if (!Number.isInteger(n) || n < INT32_MIN || n > INT32_MAX) return 'bad';
  return n === 0 ? 0 : n;
}

function fieldProblem(name: string, value: unknown): string {
  if (value === undefined || value === null) return `JSON header has no "${name}"`;
  return `JSON header field "${name}" is not a 32-bit integer: ${describe(value)}`;
}

function describe(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : String(value);
  return text.length > 64 ? `${text.slice(0, 64)}…` : text;
}

/** Unknown or odd language values are tolerated: nothing in Orbit depends on them. */
function jsonLanguage(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isInteger(value)) return languageName(value);
  return ORBIT_LANGUAGE; // Java's RemotingCommand defaults to JAVA when the field is absent
}

function jsonVersion(value: unknown): number {
  const n = jsonInt32(value);
  return typeof n === 'number' ? n : 0;
}

/**
 * extFields values as text: Java peers send strings, ali-ons sends numbers and booleans as JSON
 * numbers and booleans. undefined = leave the field out (null); null = cannot be represented.
 */
function extFieldText(value: unknown): string | undefined | null {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'boolean':
      return String(value);
    case 'object':
      if (value === null) return undefined;
      try {
        // A nested value: fastjson, reading into Map<String,String>, keeps it as its JSON text.
        return JSON.stringify(value);
      } catch {
        return null; // nesting too deep for JSON.stringify's stack
      }
    default:
      return null;
  }
}

/** Best effort for a header that is not JSON at all: find the opaque and flag to answer with. */
function sniffJsonOpaqueAndFlag(text: string): { opaque?: number; flag?: number } {
  const intAfter = (key: string): number | undefined => {
    const match = new RegExp(`"${key}"\\s*:\\s*"?(-?[0-9]{1,10})\\b`).exec(text);
    if (match === null) return undefined;
    const n = Number(match[1]);
    return n >= INT32_MIN && n <= INT32_MAX ? n : undefined;
  };
  return { opaque: intAfter('opaque'), flag: intAfter('flag') };
}

// ---------------------------------------------------------------------------------------------
// ROCKETMQ binary (facts §1.3): code short | language byte | version short | opaque int | flag int |
// remark (int length + UTF-8, 0 = null) | extFields (int total length, then [short keyLen][key]
// [int valLen][val] entries).

/** Decodes the binary header in buf[start, end). Bytes after the extFields block are ignored, as Java does. */
export function decodeRocketMqHeader(buf: Buffer, start: number, end: number): DecodedHeader {
  if (start < 0 || end > buf.length || start > end) throw new RangeError(`bad header range [${start}, ${end}) of ${buf.length}`);
  const headerBytes = end - start;
  const opaque = headerBytes >= OPAQUE_OFFSET + 4 ? buf.readInt32BE(start + OPAQUE_OFFSET) : undefined;
  const flag = headerBytes >= FLAG_OFFSET + 4 ? buf.readInt32BE(start + FLAG_OFFSET) : undefined;
  const bad = (message: string) => new FrameError(message, false, opaque, flag);
  if (headerBytes < ROCKETMQ_HEADER_FIXED_BYTES) {
    throw bad(`ROCKETMQ header of ${headerBytes} bytes is shorter than the ${ROCKETMQ_HEADER_FIXED_BYTES}-byte minimum`);
  }
  let pos = start;
  const code = buf.readInt16BE(pos);
  const language = languageName(buf.readInt8(pos + 2));
  const version = buf.readInt16BE(pos + 3);
  pos += 13; // past code, language, version, opaque, flag

  const remarkBytes = buf.readInt32BE(pos);
  pos += 4;
  if (remarkBytes < 0 || remarkBytes > end - pos) throw bad(`ROCKETMQ header remark length ${remarkBytes} is outside the header`);
  const cmd: DecodedHeader = { code, language, version, opaque: opaque!, flag: flag!, extFields: {} };
  if (remarkBytes > 0) cmd.remark = buf.toString('utf8', pos, pos + remarkBytes);
  pos += remarkBytes;

  if (end - pos < 4) throw bad('ROCKETMQ header ends before the extFields length');
  const extBytes = buf.readInt32BE(pos);
  pos += 4;
  if (extBytes < 0 || extBytes > end - pos) throw bad(`ROCKETMQ header extFields length ${extBytes} is outside the header`);
  const extEnd = pos + extBytes;
  while (pos < extEnd) {
    if (extEnd - pos < 2) throw bad('ROCKETMQ header extFields entry cut inside its key length');
    const keyBytes = buf.readInt16BE(pos);
    pos += 2;
    if (keyBytes < 0 || keyBytes > extEnd - pos) throw bad(`ROCKETMQ header extFields key length ${keyBytes} is outside the block`);
    const key = buf.toString('utf8', pos, pos + keyBytes);
    pos += keyBytes;
    if (extEnd - pos < 4) throw bad('ROCKETMQ header extFields entry cut inside its value length');
    const valueBytes = buf.readInt32BE(pos);
    pos += 4;
    if (valueBytes < 0 || valueBytes > extEnd - pos) throw bad(`ROCKETMQ header extFields value length ${valueBytes} is outside the block`);
    setOwn(cmd.extFields, key, buf.toString('utf8', pos, pos + valueBytes));
    pos += valueBytes;
  }
  return cmd;
}

/** Encodes a binary header. Throws RangeError when code or version does not fit in a short. */
export function encodeRocketMqHeader(cmd: DecodedHeader): Buffer {
  if (!Number.isInteger(cmd.code) || cmd.code < INT16_MIN || cmd.code > INT16_MAX) {
    throw new RangeError(`code ${cmd.code} does not fit the ROCKETMQ header's short; use JSON`);
  }
  if (!Number.isInteger(cmd.version) || cmd.version < INT16_MIN || cmd.version > INT16_MAX) {
    throw new RangeError(`version ${cmd.version} does not fit the ROCKETMQ header's short`);
  }
  const remark = cmd.remark !== undefined && cmd.remark.length > 0 ? Buffer.from(cmd.remark, 'utf8') : undefined;
  const entries: Array<[Buffer, Buffer]> = [];
  let extBytes = 0;
  for (const key of Object.keys(cmd.extFields)) {
    const keyBuf = Buffer.from(key, 'utf8');
    if (keyBuf.length > INT16_MAX) throw new RangeError(`extFields key of ${keyBuf.length} bytes does not fit a short length`);
    const valueBuf = Buffer.from(String(cmd.extFields[key]), 'utf8');
    entries.push([keyBuf, valueBuf]);
    extBytes += 2 + keyBuf.length + 4 + valueBuf.length;
  }
  const out = Buffer.allocUnsafe(ROCKETMQ_HEADER_FIXED_BYTES + (remark?.length ?? 0) + extBytes);
  let pos = 0;
  pos = out.writeInt16BE(cmd.code, pos);
  pos = out.writeInt8(languageByte(cmd.language), pos);
  pos = out.writeInt16BE(cmd.version, pos);
  pos = out.writeInt32BE(cmd.opaque | 0, pos);
  pos = out.writeInt32BE(cmd.flag | 0, pos);
  pos = out.writeInt32BE(remark?.length ?? 0, pos);
  if (remark !== undefined) pos += remark.copy(out, pos);
  pos = out.writeInt32BE(extBytes, pos);
  for (const [keyBuf, valueBuf] of entries) {
    pos = out.writeInt16BE(keyBuf.length, pos);
    pos += keyBuf.copy(out, pos);
    pos = out.writeInt32BE(valueBuf.length, pos);
    pos += valueBuf.copy(out, pos);
  }
  if (pos !== out.length) throw new Error(`invariant violated: ROCKETMQ header wrote ${pos} of ${out.length} bytes`);
  return out;
}
