import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  DEFAULT_MAX_FRAME_BYTES,
  decodeFrame,
  encodeFrame,
  encodeFrameBuffer,
  FrameDecoder,
  FrameTooLargeError,
  INLINE_BODY_MAX_BYTES,
} from './frame-codec.js';
import { SerializeType } from './header-codec.js';
import { createRequest, createResponse, type RemotingCommand } from './remoting-command.js';
import { FrameError } from './remoting-errors.js';
import { feedPiece } from './test-support.js';

function xorshift(seed: number): () => number {
  let s = seed | 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x1_0000_0000;
  };
}

/** A frame from raw parts: [length][type<<24|headerLength][header][body]. */
function rawFrame(header: Buffer | string, body: Buffer = Buffer.alloc(0), serializeType = 0): Buffer {
  const h = typeof header === 'string' ? Buffer.from(header) : header;
  const prefix = Buffer.alloc(8);
  prefix.writeInt32BE(4 + h.length + body.length, 0);
  prefix.writeInt32BE((serializeType << 24) | h.length, 4);
  return Buffer.concat([prefix, h, body]);
}

function sample(i: number): RemotingCommand {
  const body = i % 3 === 0 ? undefined : Buffer.alloc(i % 3 === 1 ? 10 + i : INLINE_BODY_MAX_BYTES + 100 + i, i & 0xff);
  return createRequest(310, { b: `Topic${i}`, e: i, k: i % 2 === 0 }, body);
}

function strip(cmd: RemotingCommand) {
  return { ...cmd, body: cmd.body === undefined ? undefined : Buffer.from(cmd.body) };
}

function errorOf(fn: () => unknown): FrameError {
  try {
    fn();
  } catch (error) {
    assert.instance(error, FrameError);
    return error as FrameError;
  }
  assert.unreachable('expected a FrameError');
  throw new Error('unreachable');
}

test('a hand-built frame (facts §1.1) decodes; body is what follows the header', () => {
  const frame = rawFrame('{"code":34,"opaque":5,"flag":0,"language":"JAVA","version":121}', Buffer.from('{"clientID":"x"}'));
  const cmd = decodeFrame(frame);
  assert.is(cmd.code, 34);
  assert.is(cmd.opaque, 5);
  assert.is(cmd.body!.toString(), '{"clientID":"x"}');
  assert.is(decodeFrame(rawFrame('{"code":1,"opaque":1,"flag":1}')).body, undefined, 'empty body is absent');
});

test('encodeFrame writes length, type and header length as facts §1.1 says', () => {
  const cmd = createResponse({ opaque: 3 }, 0, 'ok');
  cmd.body = Buffer.from('abc');
  const buf = encodeFrameBuffer(cmd);
  const headerLength = buf.readInt32BE(4);
  assert.is(headerLength >>> 24, 0, 'always JSON');
  assert.is(buf.readInt32BE(0), buf.length - 4);
  assert.is(buf.subarray(8 + headerLength).toString(), 'abc');
  assert.is(JSON.parse(buf.subarray(8, 8 + headerLength).toString()).remark, 'ok');

  const binary = encodeFrameBuffer(cmd, { serializeType: SerializeType.ROCKETMQ });
  assert.is(binary.readUInt8(4), 1);
  assert.equal(strip(decodeFrame(binary)), strip(cmd));
});

test('encodeFrame: small bodies inline, large bodies and bodyParts uncopied', () => {
  const small = createRequest(10, {}, Buffer.alloc(100, 1));
  assert.is(encodeFrame(small).length, 1);
  const bigBody = Buffer.alloc(INLINE_BODY_MAX_BYTES + 1, 2);
  const parts = encodeFrame(createRequest(10, {}, bigBody));
  assert.is(parts.length, 2);
  assert.is(parts[1], bigBody, 'the body buffer itself, not a copy');

  const a = Buffer.alloc(5000, 3);
  const b = Buffer.alloc(6000, 4);
  const pull = createResponse({ opaque: 1 });
  pull.bodyParts = [a, b];
  const pullParts = encodeFrame(pull);
  assert.is(pullParts.length, 3);
  assert.is(pullParts[1], a);
  assert.is(pullParts[2], b);
  const decoded = decodeFrame(Buffer.concat(pullParts));
  assert.equal(decoded.body, Buffer.concat([a, b]));

  const tinyParts = createResponse({ opaque: 1 });
  tinyParts.bodyParts = [Buffer.from('ab'), Buffer.from('cd')];
  assert.is(decodeFrame(encodeFrameBuffer(tinyParts)).body!.toString(), 'abcd');
});

test('encodeFrame refuses a frame past maxFrameBytes', () => {
  const cmd = createRequest(10, {}, Buffer.alloc(2000));
  assert.throws(() => encodeFrame(cmd, { maxFrameBytes: 1000 }), (e: unknown) => e instanceof FrameTooLargeError);
  const header = createRequest(10, { big: 'x'.repeat(0x1000000) });
  assert.throws(() => encodeFrame(header, { maxFrameBytes: 64 * 1024 * 1024 }), (e: unknown) => e instanceof FrameTooLargeError);
});

test('round trip of many commands, JSON and ROCKETMQ', () => {
  for (let i = 0; i < 50; i++) {
    const cmd = sample(i);
    for (const serializeType of [SerializeType.JSON, SerializeType.ROCKETMQ]) {
      assert.equal(strip(decodeFrame(encodeFrameBuffer(cmd, { serializeType }))), strip(cmd));
    }
  }
});

test('decoder fed byte by byte', () => {
  const cmds = Array.from({ length: 12 }, (_, i) => sample(i));
  const stream = Buffer.concat(cmds.map((c, i) => encodeFrameBuffer(c, { serializeType: i % 2 === 0 ? 0 : 1 })));
  const decoder = new FrameDecoder();
  const out: RemotingCommand[] = [];
  for (let i = 0; i < stream.length; i++) out.push(...decoder.feed(stream.subarray(i, i + 1)));
  assert.is(out.length, cmds.length);
  out.forEach((cmd, i) => assert.equal(strip(cmd), strip(cmds[i]!)));
  assert.is(decoder.bufferedBytes, 0);
});

test('decoder fed random chunk splits (seeded)', () => {
  const rand = xorshift(12345);
  const cmds = Array.from({ length: 40 }, (_, i) => sample(i));
  const stream = Buffer.concat(cmds.map((c) => encodeFrameBuffer(c)));
  for (let round = 0; round < 50; round++) {
    const decoder = new FrameDecoder();
    const out: RemotingCommand[] = [];
    let pos = 0;
    while (pos < stream.length) {
      const size = rand() < 0.1 ? 0 : 1 + Math.floor(rand() * (rand() < 0.5 ? 16 : 9000));
      out.push(...decoder.feed(stream.subarray(pos, pos + size)));
      pos += size;
    }
    assert.is(out.length, cmds.length);
    out.forEach((cmd, i) => assert.equal(strip(cmd), strip(cmds[i]!)));
  }
});

/** Feeds `stream` through pushCopy in pieces of the sizes `nextSize` gives, through one reused buffer. */
function feedCopied(decoder: FrameDecoder, stream: Buffer, nextSize: () => number): RemotingCommand[] {
  const scratch = Buffer.alloc(64 * 1024);
  const out: RemotingCommand[] = [];
  let pos = 0;
  while (pos < stream.length) {
    const piece = stream.subarray(pos, pos + Math.min(nextSize(), scratch.length));
    feedPiece(decoder, piece, scratch);
    for (let cmd = decoder.next(); cmd !== null; cmd = decoder.next()) out.push(cmd);
    pos += piece.length;
  }
  return out;
}

test('pushCopy: a reused read buffer, split anywhere (length fields too), gives the same commands', () => {
  const rand = xorshift(777);
  const cmds = Array.from({ length: 40 }, (_, i) => sample(i));
  const stream = Buffer.concat(cmds.map((c, i) => encodeFrameBuffer(c, { serializeType: i % 2 === 0 ? 0 : 1 })));
  for (let round = 0; round < 50; round++) {
    const decoder = new FrameDecoder();
    const out = feedCopied(decoder, stream, () => 1 + Math.floor(rand() * (rand() < 0.5 ? 6 : 9000)));
    assert.is(out.length, cmds.length);
    out.forEach((cmd, i) => assert.equal(strip(cmd), strip(cmds[i]!)));
    assert.is(decoder.bufferedBytes, 0);
  }
  const byteByByte = feedCopied(new FrameDecoder(), stream, () => 1);
  byteByByte.forEach((cmd, i) => assert.equal(strip(cmd), strip(cmds[i]!)));
});

test('pushCopy: each frame is one buffer of its own size, whatever the reads', () => {
  const cmd = createRequest(10, { a: '1' }, Buffer.alloc(300_000, 7));
  const frameBytes = encodeFrameBuffer(cmd).length;
  const decoder = new FrameDecoder();
  const out = feedCopied(decoder, Buffer.concat([encodeFrameBuffer(cmd), encodeFrameBuffer(cmd)]), () => 65_536);
  assert.is(out.length, 2);
  for (const c of out) {
    assert.is(c.body!.length, 300_000);
    assert.is(c.body!.buffer.byteLength, frameBytes, 'the body lies in the frame\'s own allocation');
    assert.ok(c.body!.every((b) => b === 7));
  }
  // Bytes of a frame being assembled count as buffered.
  const partial = new FrameDecoder();
  partial.pushCopy(encodeFrameBuffer(cmd).subarray(0, 1000));
  assert.is(partial.bufferedBytes, 1000);
  assert.is(partial.next(), null);
});

test('pushCopy: bad lengths are never allocated and fail as push() does, split or not', () => {
  const over = Buffer.alloc(8);
  over.writeInt32BE(DEFAULT_MAX_FRAME_BYTES - 3);
  const negative = Buffer.alloc(8);
  negative.writeInt32BE(-1);
  for (const bytes of [over, negative, Buffer.from('GET / HTTP/1.1\r\n\r\n')]) {
    for (const split of [1, 2, 3, 8]) {
      const decoder = new FrameDecoder();
      const error = errorOf(() => feedCopied(decoder, Buffer.concat([bytes, encodeFrameBuffer(sample(1))]), () => split));
      assert.is(error.fatal, true);
      assert.is(decoder.bufferedBytes, 0);
    }
  }
});

test('pushCopy: a bad serialize type or header length fails on its first 8 bytes, nothing allocated', () => {
  const head = Buffer.alloc(8);
  head.writeInt32BE(15 * 1024 * 1024, 0); // a length within bounds ...
  head.writeInt32BE((5 << 24) | 10, 4); // ... and serialize type 5
  for (const split of [1, 3, 5, 8]) {
    const decoder = new FrameDecoder();
    const error = errorOf(() => feedCopied(decoder, head, () => split));
    assert.ok(error.message.includes('unknown serialize type 5'), error.message);
  }
  const past = Buffer.alloc(8);
  past.writeInt32BE(100, 0);
  past.writeInt32BE(97, 4); // header of 97 bytes in a 100-byte frame that has 96 after the field
  assert.ok(errorOf(() => feedCopied(new FrameDecoder(), past, () => 8)).message.includes('past the end'));
});

/** A decoder's story of one stream fed in pieces of `sizes`: what it decoded and which errors, in order. */
function story(stream: Buffer, sizes: number[], maxFrameBytes: number, copied: boolean): string[] {
  const decoder = new FrameDecoder({ maxFrameBytes });
  const scratch = Buffer.alloc(4096);
  const told: string[] = [];
  let pos = 0;
  for (const size of sizes) {
    feedPiece(decoder, stream.subarray(pos, pos + size), copied ? scratch : undefined);
    pos += size;
    for (;;) {
      let cmd: RemotingCommand | null;
      try {
        cmd = decoder.next();
      } catch (error) {
        const e = error as FrameError;
        told.push(`${e.fatal ? 'fatal' : 'bad'}: ${e.message}`);
        if (e.fatal) return told;
        continue;
      }
      if (cmd === null) break;
      told.push(`cmd: ${JSON.stringify(strip(cmd))}`);
    }
  }
  return told;
}

test('pushCopy and push tell the same story for 3,000 mutated streams split alike', () => {
  const rand = xorshift(4242);
  let fatal = 0;
  for (let i = 0; i < 3000; i++) {
    const frames = Array.from({ length: 1 + Math.floor(rand() * 4) }, (_, k) => encodeFrameBuffer(sample(i + k), { serializeType: rand() < 0.5 ? 0 : 1 }));
    const stream = Buffer.concat(frames);
    // Flip bytes near the start, where lengths and header words are.
    for (let flips = Math.floor(rand() * 4); flips > 0; flips--) stream[Math.floor(rand() * Math.min(stream.length, 64))] = Math.floor(rand() * 256);
    const sizes: number[] = [];
    for (let total = 0; total < stream.length; ) {
      const size = 1 + Math.floor(rand() * (rand() < 0.5 ? 9 : 3000));
      sizes.push(size);
      total += size;
    }
    const maxFrameBytes = rand() < 0.3 ? 64 + Math.floor(rand() * 8192) : DEFAULT_MAX_FRAME_BYTES;
    const plain = story(stream, sizes, maxFrameBytes, false);
    assert.equal(story(stream, sizes, maxFrameBytes, true), plain, `stream ${i}`);
    if (plain.some((line) => line.startsWith('fatal'))) fatal++;
  }
  assert.ok(fatal > 300, `only ${fatal} streams broke: the mutations miss the prefixes`);
});

test('a frame that arrives in one chunk yields a body slice, not a copy', () => {
  const cmd = createRequest(10, { a: '1' }, Buffer.alloc(10_000, 7));
  const chunk = Buffer.concat([encodeFrameBuffer(cmd), encodeFrameBuffer(cmd)]);
  const decoder = new FrameDecoder();
  const out = [...decoder.feed(chunk)];
  assert.is(out.length, 2);
  for (const c of out) assert.is(c.body!.buffer, chunk.buffer);
});

test('a length over maxFrameBytes is rejected as soon as the length arrives', () => {
  const decoder = new FrameDecoder();
  const head = Buffer.alloc(4);
  head.writeInt32BE(DEFAULT_MAX_FRAME_BYTES - 3); // frame = 4 + length = max + 1
  decoder.push(head);
  const error = errorOf(() => decoder.next());
  assert.is(error.fatal, true);
  assert.ok(error.message.includes('larger than maxFrameBytes'));
  // Broken for good: later bytes are ignored and the same error comes back.
  decoder.push(encodeFrameBuffer(sample(1)));
  assert.is(errorOf(() => decoder.next()), error);
  assert.is(decoder.bufferedBytes, 0);

  const atLimit = new FrameDecoder({ maxFrameBytes: 100 });
  const fits = rawFrame('{"code":1,"opaque":1,"flag":0}', Buffer.alloc(100 - 8 - 30));
  assert.is(fits.length, 100);
  assert.ok(atLimit.feed(fits).next().value);
  const tooBig = rawFrame('{"code":1,"opaque":1,"flag":0}', Buffer.alloc(100 - 8 - 30 + 1));
  assert.is(errorOf(() => [...new FrameDecoder({ maxFrameBytes: 100 }).feed(tooBig)]).fatal, true);
});

test('fatal framing errors: negative or tiny length, header past frame, unknown type byte', () => {
  const cases: Array<[string, Buffer]> = [];
  const neg = Buffer.alloc(8);
  neg.writeInt32BE(-1);
  cases.push(['negative length', neg]);
  const tiny = Buffer.alloc(8);
  tiny.writeInt32BE(3);
  cases.push(['length below 4', tiny]);
  const past = rawFrame('{"code":1,"opaque":1,"flag":0}');
  past.writeInt32BE(31, 4); // header says 31 bytes, frame holds 30
  cases.push(['header length past frame', past]);
  const type2 = rawFrame('{"code":1,"opaque":1,"flag":0}', Buffer.alloc(0), 2);
  cases.push(['type byte 2', type2]);
  const typeFF = rawFrame('{"code":1,"opaque":1,"flag":0}');
  typeFF[4] = 0xff;
  cases.push(['type byte 0xff', typeFF]);
  const http = Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  cases.push(['HTTP request', http]);
  for (const [name, bytes] of cases) {
    const error = errorOf(() => [...new FrameDecoder().feed(bytes)]);
    assert.is(error.fatal, true, name);
  }
  // The header-length check does not wait for the whole frame.
  const early = new FrameDecoder();
  early.push(past.subarray(0, 8));
  assert.is(errorOf(() => early.next()).fatal, true);
});

test('bad headers inside intact frames are non-fatal and decoding continues', () => {
  const good = encodeFrameBuffer(sample(4));
  const badOnes: Array<[string, Buffer, number | undefined]> = [
    ['garbage JSON', rawFrame('{"code":10,"opaque":41,"flag":0,"ext'), 41],
    ['JSON array', rawFrame('[1,2]'), undefined],
    ['missing code', rawFrame('{"opaque":42,"flag":0}'), 42],
    ['binary header too short', rawFrame(Buffer.alloc(10), Buffer.alloc(0), 1), 0],
    ['empty JSON header', rawFrame(''), undefined],
  ];
  for (const [name, bad, opaque] of badOnes) {
    const decoder = new FrameDecoder();
    decoder.push(Buffer.concat([good, bad, good]));
    assert.ok(decoder.next(), name);
    const error = errorOf(() => decoder.next());
    assert.is(error.fatal, false, name);
    assert.is(error.opaque, opaque, name);
    assert.ok(decoder.next(), `${name}: the frame after the bad one still decodes`);
    assert.is(decoder.next(), null);
  }
});

test('decodeFrame rejects incomplete input and trailing bytes', () => {
  const frame = encodeFrameBuffer(sample(2));
  assert.is(errorOf(() => decodeFrame(frame.subarray(0, frame.length - 1))).fatal, true);
  assert.is(errorOf(() => decodeFrame(Buffer.concat([frame, Buffer.from([1])]))).fatal, true);
});

test('many chunks for one frame do not go quadratic', () => {
  const body = Buffer.alloc(300_000, 5);
  const frame = encodeFrameBuffer(createRequest(10, {}, body));
  const decoder = new FrameDecoder();
  const started = Date.now();
  let got: RemotingCommand | undefined;
  for (let i = 0; i < frame.length; i++) {
    decoder.push(frame.subarray(i, i + 1));
    got = decoder.next() ?? got;
  }
  assert.ok(got);
  assert.equal(got!.body, body);
  assert.ok(Date.now() - started < 5000, 'byte-by-byte decode of 300 KB took too long');
});

test.run();
