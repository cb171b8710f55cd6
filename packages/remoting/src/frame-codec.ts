// Remoting frames (facts §1.1): [int length][int serializeType<<24 | headerLength][header][body],
// where length counts everything after itself. encodeFrame builds what Orbit sends; FrameDecoder
// cuts frames out of socket chunks and decodes them.
//
// The decoder never allocates from a length it has not checked against maxFrameBytes, rejects a
// bad length as soon as its 4 bytes arrive (before buffering the frame), and hands out bodies as
// slices of the received chunk when the frame arrived in one piece.
import { assert } from '@orbit/common/errors';
import {
  decodeJsonHeader,
  decodeRocketMqHeader,
  encodeJsonHeader,
  encodeRocketMqHeader,
  SerializeType,
  type DecodedHeader,
  type SerializeTypeValue,
} from './header-codec.js';
import { bodyLengthBytes, type RemotingCommand } from './remoting-command.js';
import { FrameError } from './remoting-errors.js';

export { FrameError };

/**
 * Largest frame, counting the 4-byte length field itself, as Netty's LengthFieldBasedFrameDecoder
 * counts it (`com.rocketmq.remoting.frameMaxLength`, default 16 MiB).
 */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;
export const LENGTH_FIELD_BYTES = 4;
export const HEADER_LENGTH_FIELD_BYTES = 4;
/** The header length lives in the low 24 bits of its field. */
export const MAX_HEADER_BYTES = 0xff_ffff;
/** Bodies up to this size are copied next to the header so a small frame is one buffer. */
export const INLINE_BODY_MAX_BYTES = 4096;
/** The length field and the serialize-type/header-length field: checked before a frame is allocated. */
const FRAME_PREFIX_BYTES = LENGTH_FIELD_BYTES + HEADER_LENGTH_FIELD_BYTES;
/** The decoder forgets consumed chunk slots in batches of this many. */
const COMPACT_AFTER_CHUNKS = 1024;
const EMPTY_BUFFER = Buffer.alloc(0);

export interface EncodeFrameOptions {
  /** Header form; Orbit always answers JSON (see header-codec.ts). */
  serializeType?: SerializeTypeValue;
  maxFrameBytes?: number;
}

/** Encoding refused: the command would make a frame a RocketMQ peer rejects. */
export class FrameTooLargeError extends RangeError {
  constructor(
    readonly frameBytes: number,
    readonly maxFrameBytes: number,
  ) {
    super(`frame of ${frameBytes} bytes is larger than maxFrameBytes ${maxFrameBytes}`);
    this.name = 'FrameTooLargeError';
  }
}

/**
 * Encodes a command as the buffers to write, in order: the length fields and header (with a small
 * body copied in), then the body buffers themselves, uncopied. Write them with cork/uncork or
 * writev so they leave in one go.
 */
export function encodeFrame(cmd: RemotingCommand, options: EncodeFrameOptions = {}): Buffer[] {
  const serializeType = options.serializeType ?? SerializeType.JSON;
  const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  assert(cmd.body === undefined || cmd.bodyParts === undefined, 'a command carries body or bodyParts, not both');

  let headerText: string | undefined;
  let headerBinary: Buffer | undefined;
  let headerBytes: number;
  if (serializeType === SerializeType.JSON) {
    headerText = encodeJsonHeader(cmd);
    headerBytes = Buffer.byteLength(headerText, 'utf8');
  } else {
    headerBinary = encodeRocketMqHeader(cmd);
    headerBytes = headerBinary.length;
  }
  if (headerBytes > MAX_HEADER_BYTES) throw new FrameTooLargeError(headerBytes, MAX_HEADER_BYTES);
  const bodyBytes = bodyLengthBytes(cmd);
  const length = HEADER_LENGTH_FIELD_BYTES + headerBytes + bodyBytes;
  if (LENGTH_FIELD_BYTES + length > maxFrameBytes) throw new FrameTooLargeError(LENGTH_FIELD_BYTES + length, maxFrameBytes);

  const inlineBody = bodyBytes > 0 && bodyBytes <= INLINE_BODY_MAX_BYTES;
  const prefixBytes = LENGTH_FIELD_BYTES + HEADER_LENGTH_FIELD_BYTES + headerBytes;
  const prefix = Buffer.allocUnsafe(prefixBytes + (inlineBody ? bodyBytes : 0));
  prefix.writeInt32BE(length, 0);
  prefix.writeInt32BE((serializeType << 24) | headerBytes, 4);
  if (headerText !== undefined) prefix.write(headerText, 8, headerBytes, 'utf8');
  else headerBinary!.copy(prefix, 8);

  const bodies = cmd.bodyParts ?? (cmd.body !== undefined ? [cmd.body] : []);
  if (inlineBody) {
    let pos = prefixBytes;
    for (const part of bodies) pos += part.copy(prefix, pos);
    return [prefix];
  }
  const out: Buffer[] = [prefix];
  for (const part of bodies) if (part.length > 0) out.push(part);
  return out;
}

/** encodeFrame joined into one buffer (tests, tools; the network path writes the parts). */
export function encodeFrameBuffer(cmd: RemotingCommand, options: EncodeFrameOptions = {}): Buffer {
  const parts = encodeFrame(cmd, options);
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

export interface FrameDecoderOptions {
  maxFrameBytes?: number;
}

/**
 * Incremental decoder: push() socket chunks, then call next() until it returns null.
 *
 * next() throws FrameError. A non-fatal one means one frame was consumed and its header was bad;
 * keep calling next(). A fatal one means the stream cannot be resynchronised: the decoder stays
 * broken (every later call throws the same error) and the connection should be closed.
 */
export class FrameDecoder {
  readonly maxFrameBytes: number;
  /** Received chunks; the unread ones start at chunks[first]. */
  private chunks: Buffer[] = [];
  private first = 0;
  /** Read position inside chunks[first]. */
  private headOffset = 0;
  private buffered = 0;
  /** Length field of the frame being collected, once validated; -1 before that. */
  private frameLength = -1;
  private headerWordChecked = false;
  private failure: FrameError | null = null;
  /** pushCopy: the frame being copied together, allocated at its declared size; null between frames. */
  private assembly: Buffer | null = null;
  private assembled = 0;
  /** pushCopy: the first bytes of a frame whose length and header-length fields have not arrived whole. */
  private carry: Buffer | null = null;
  /** pushCopy: a frame's first 8 bytes failed the checks; everything from them on goes to next() as it is. */
  private copyRaw = false;

  constructor(options: FrameDecoderOptions = {}) {
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    assert(
      Number.isInteger(this.maxFrameBytes) && this.maxFrameBytes >= LENGTH_FIELD_BYTES + HEADER_LENGTH_FIELD_BYTES,
      `maxFrameBytes must be an integer of at least 8, got ${this.maxFrameBytes}`,
    );
  }

  /** Bytes received but not yet returned as frames. */
  get bufferedBytes(): number {
    return this.buffered + this.assembled + (this.carry?.length ?? 0);
  }

  /** The fatal error that stopped this decoder, if any. */
  get brokenBy(): FrameError | null {
    return this.failure;
  }

  push(chunk: Buffer): void {
    if (this.failure !== null || chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /**
   * As push(), for bytes in a buffer the caller reuses at once (a socket read through net's
   * `onread`). Copies each frame once, into a buffer of the frame's own size, instead of keeping
   * socket-sized chunks and copying frames out of them again: a consumer reading ~300 KB pull
   * responses allocated both (Node's net reads 64 KiB at a time), and the churn of external memory
   * was what started most of its garbage collections. A frame is allocated only once its first 8
   * bytes pass next()'s checks; bytes that fail them go to next() as they are, to be rejected there.
   */
  pushCopy(view: Buffer): void {
    if (this.copyRaw) {
      this.push(Buffer.from(view));
      return;
    }
    let at = 0;
    while (at < view.length && this.failure === null) {
      if (this.assembly !== null) {
        const n = Math.min(this.assembly.length - this.assembled, view.length - at);
        view.copy(this.assembly, this.assembled, at, at + n);
        this.assembled += n;
        at += n;
        if (this.assembled === this.assembly.length) {
          const frame = this.assembly;
          this.assembly = null;
          this.assembled = 0;
          this.push(frame);
        }
        continue;
      }
      // At a frame boundary: its length and header-length fields, possibly split across reads, are
      // checked as next() checks them before anything is allocated from them.
      const carried = this.carry?.length ?? 0;
      const need = FRAME_PREFIX_BYTES - carried;
      if (view.length - at < need) {
        this.carry = carried > 0 ? Buffer.concat([this.carry!, view.subarray(at)]) : Buffer.from(view.subarray(at));
        return;
      }
      let prefix: Buffer;
      if (carried > 0) {
        prefix = Buffer.concat([this.carry!, view.subarray(at, at + need)]);
        this.carry = null;
        at += need;
      } else {
        prefix = view.subarray(at, at + FRAME_PREFIX_BYTES); // read here, never kept
      }
      const length = prefix.readInt32BE(0);
      if (this.lengthProblem(length) !== null || this.headerWordProblem(prefix.readInt32BE(LENGTH_FIELD_BYTES), length) !== null) {
        // next() rejects these bytes with its own message; everything after them goes as it is.
        this.copyRaw = true;
        if (carried > 0) this.push(prefix);
        this.push(Buffer.from(view.subarray(at)));
        return;
      }
      this.assembly = Buffer.allocUnsafe(LENGTH_FIELD_BYTES + length);
      if (carried > 0) {
        prefix.copy(this.assembly, 0);
        this.assembled = FRAME_PREFIX_BYTES;
      }
    }
  }

  /** The next complete command, or null when more bytes are needed. */
  next(): RemotingCommand | null {
    if (this.failure !== null) throw this.failure;
    if (this.frameLength < 0) {
      if (this.buffered < LENGTH_FIELD_BYTES) return null;
      const length = this.peekInt32(0);
      const problem = this.lengthProblem(length);
      if (problem !== null) return this.fail(problem);
      this.frameLength = length;
      this.headerWordChecked = false;
    }
    if (!this.headerWordChecked) {
      if (this.buffered < LENGTH_FIELD_BYTES + HEADER_LENGTH_FIELD_BYTES) return null;
      const problem = this.headerWordProblem(this.peekInt32(LENGTH_FIELD_BYTES), this.frameLength);
      if (problem !== null) return this.fail(problem);
      this.headerWordChecked = true;
    }
    const frameBytes = LENGTH_FIELD_BYTES + this.frameLength;
    if (this.buffered < frameBytes) return null;

    const frame = this.take(frameBytes);
    this.frameLength = -1;
    this.headerWordChecked = false;
    return decodeFrameBytes(frame);
  }

  /** Pushes a chunk and yields every command it completes. Throws the first FrameError. */
  *feed(chunk: Buffer): Generator<RemotingCommand, void, undefined> {
    this.push(chunk);
    for (let cmd = this.next(); cmd !== null; cmd = this.next()) yield cmd;
  }

  private lengthProblem(length: number): string | null {
    if (length < HEADER_LENGTH_FIELD_BYTES) return `frame length ${length} is below the ${HEADER_LENGTH_FIELD_BYTES}-byte minimum`;
    if (length > this.maxFrameBytes - LENGTH_FIELD_BYTES) return `frame of ${LENGTH_FIELD_BYTES + length} bytes is larger than maxFrameBytes ${this.maxFrameBytes}`;
    return null;
  }

  private headerWordProblem(word: number, length: number): string | null {
    const serializeType = word >>> 24;
    const headerBytes = word & MAX_HEADER_BYTES;
    if (serializeType !== SerializeType.JSON && serializeType !== SerializeType.ROCKETMQ) return `unknown serialize type ${serializeType}`;
    if (headerBytes > length - HEADER_LENGTH_FIELD_BYTES) return `header length ${headerBytes} is past the end of a ${length}-byte frame`;
    return null;
  }

  private fail(message: string): never {
    this.failure = new FrameError(message, true);
    // Drop what is buffered: nothing after a broken boundary can be used.
    this.assembly = null;
    this.assembled = 0;
    this.carry = null;
    this.chunks = [];
    this.first = 0;
    this.headOffset = 0;
    this.buffered = 0;
    throw this.failure;
  }

  /** Big-endian int32 at `offset` bytes past the read position, possibly spanning chunks. */
  private peekInt32(offset: number): number {
    const head = this.chunks[this.first]!;
    const at = this.headOffset + offset;
    if (at + 4 <= head.length) return head.readInt32BE(at);
    let value = 0;
    let chunkIndex = this.first;
    let pos = at;
    for (let i = 0; i < 4; i++) {
      while (pos >= this.chunks[chunkIndex]!.length) {
        pos -= this.chunks[chunkIndex]!.length;
        chunkIndex++;
      }
      value = (value << 8) | this.chunks[chunkIndex]![pos]!;
      pos++;
    }
    return value | 0;
  }

  /** Removes `count` buffered bytes: a slice when they lie in one chunk, else one copy. */
  private take(count: number): Buffer {
    assert(count <= this.buffered, 'take() past the buffered bytes');
    this.buffered -= count;
    const head = this.chunks[this.first]!;
    if (head.length - this.headOffset >= count) {
      const out = head.subarray(this.headOffset, this.headOffset + count);
      this.headOffset += count;
      if (this.headOffset === head.length) this.dropFirstChunk();
      return out;
    }
    const out = Buffer.allocUnsafe(count); // count was checked against maxFrameBytes
    let written = 0;
    while (written < count) {
      const chunk = this.chunks[this.first]!;
      const n = Math.min(chunk.length - this.headOffset, count - written);
      chunk.copy(out, written, this.headOffset, this.headOffset + n);
      written += n;
      this.headOffset += n;
      if (this.headOffset === chunk.length) this.dropFirstChunk();
    }
    return out;
  }

  // An index instead of Array.shift(): a frame fed byte by byte is many chunks, and shifting a
  // long array on every byte would be quadratic.
  private dropFirstChunk(): void {
    this.chunks[this.first] = EMPTY_BUFFER; // let the consumed chunk be collected
    this.first++;
    this.headOffset = 0;
    if (this.first === this.chunks.length) {
      this.chunks = [];
      this.first = 0;
    } else if (this.first >= COMPACT_AFTER_CHUNKS) {
      this.chunks = this.chunks.slice(this.first);
      this.first = 0;
    }
  }
}

/**
 * Decodes one whole frame whose length fields were already validated. Any failure is a
 * non-fatal FrameError: the frame boundary is intact.
 */
function decodeFrameBytes(frame: Buffer): RemotingCommand {
  const word = frame.readInt32BE(LENGTH_FIELD_BYTES);
  const serializeType = word >>> 24;
  const headerBytes = word & MAX_HEADER_BYTES;
  const headerStart = LENGTH_FIELD_BYTES + HEADER_LENGTH_FIELD_BYTES;
  const headerEnd = headerStart + headerBytes;
  let header: DecodedHeader;
  try {
    header =
      serializeType === SerializeType.JSON
        ? decodeJsonHeader(frame, headerStart, headerEnd)
        : decodeRocketMqHeader(frame, headerStart, headerEnd);
  } catch (error) {
    if (error instanceof FrameError) throw error;
    // Decoders should only throw FrameError; anything else (an engine limit) is still the peer's bytes.
    throw new FrameError(`header decode failed: ${(error as Error)?.message ?? String(error)}`, false);
  }
  const cmd = header as RemotingCommand;
  if (headerEnd < frame.length) cmd.body = frame.subarray(headerEnd);
  return cmd;
}

/** Decodes exactly one frame held in `bytes` (tests, tools). Throws FrameError. */
export function decodeFrame(bytes: Buffer, options: FrameDecoderOptions = {}): RemotingCommand {
  const decoder = new FrameDecoder(options);
  decoder.push(bytes);
  const cmd = decoder.next();
  if (cmd === null) throw new FrameError(`incomplete frame: ${bytes.length} bytes`, true);
  if (decoder.bufferedBytes !== 0) throw new FrameError(`${decoder.bufferedBytes} bytes after the frame`, true);
  return cmd;
}
