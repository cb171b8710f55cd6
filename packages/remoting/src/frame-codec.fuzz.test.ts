// Fuzz entry for the frame and header decoders (they read bytes from any peer): deterministic
// random and mutated frames, first straight through FrameDecoder, then against a live server.
// The decoder may only ever return commands or throw FrameError, and must never hang; the server
// must survive every batch and still answer a normal request afterwards.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connect } from 'node:net';
import { once } from 'node:events';
import { RequestCode } from '@orbit/common/request-code';
import { encodeFrameBuffer, FrameDecoder } from './frame-codec.js';
import { SerializeType } from './header-codec.js';
import { createRequest, createResponse, type RemotingCommand } from './remoting-command.js';
import { RemotingClient } from './remoting-client.js';
import { FrameError } from './remoting-errors.js';
import { feedPiece } from './test-support.js';
import { RemotingServer } from './remoting-server.js';
import { SeededRandom } from '@orbit/common/seeded-random';

const DECODER_CASES = 120_000;
const LIVE_BATCHES = 120;
const FRAMES_PER_BATCH = 40;
const BATCH_TIMEOUT_MS = 3_000;


const STRINGS = ['', 'TopicTest', 'a', '0', '-1', 'true', 'é中\u0001\u0002', '"quoted"', '\\', '{}', 'x'.repeat(300)];
const INTS = [0, 1, -1, 7, 310, 32767, -32768, 2147483647, -2147483648, 200050];

function randomCommand(rng: SeededRandom): RemotingCommand {
  const extFields: Record<string, string> = {};
  const fieldCount = rng.int(6);
  for (let i = 0; i < fieldCount; i++) extFields[rng.pick(STRINGS) + i] = rng.pick(STRINGS);
  const cmd: RemotingCommand = {
    code: rng.pick(INTS),
    language: rng.pick(['JAVA', 'GO', 'NODE_JS', 'OTHER']),
    version: rng.pick([0, 121, 401, 479]),
    opaque: rng.pick(INTS),
    flag: rng.int(4),
    extFields,
  };
  if (rng.chance(0.3)) cmd.remark = rng.pick(STRINGS);
  if (rng.chance(0.5)) cmd.body = rng.bytes(rng.chance(0.9) ? rng.int(64) : rng.int(6000));
  return cmd;
}

function validFrame(rng: SeededRandom): Buffer {
  const cmd = randomCommand(rng);
  const binary = rng.chance(0.3) && cmd.code >= -32768 && cmd.code <= 32767;
  return encodeFrameBuffer(cmd, { serializeType: binary ? SerializeType.ROCKETMQ : SerializeType.JSON });
}

/** Re-wraps a header (possibly mutated) in correct length fields, so it reaches the header decoders. */
function wrap(header: Buffer, body: Buffer, type: number): Buffer {
  const prefix = Buffer.alloc(8);
  prefix.writeInt32BE(4 + header.length + body.length, 0);
  prefix.writeInt32BE((type << 24) | header.length, 4);
  return Buffer.concat([prefix, header, body]);
}

const JSON_HEADERS = [
  '{"code":10,"opaque":1,"flag":0}',
  '{"code":34,"extFields":{"a":1,"b":true,"c":null,"d":[1,{"e":2}]},"flag":0,"language":"JAVA","opaque":2,"version":121}',
  '{"code":"11","opaque":"3","flag":"0","remark":"r"}',
  '[]',
  'null',
  '{"opaque":4}',
  '{"code":1e400,"opaque":1,"flag":0}',
];

/** Mutations 7 and 8 damage only the header and keep the framing intact. */
const FRAMING_SAFE_MUTATIONS = [7, 8];

function mutated(rng: SeededRandom, mutation: number = rng.int(11)): Buffer {
  const base = validFrame(rng);
  switch (mutation) {
    case 0: {
      // flip a few bytes anywhere
      const out = Buffer.from(base);
      for (let i = 0, n = 1 + rng.int(5); i < n; i++) out[rng.int(out.length)] = rng.int(256);
      return out;
    }
    case 1:
      return base.subarray(0, rng.int(base.length)); // truncated
    case 2: {
      const out = Buffer.from(base); // random length field
      out.writeInt32BE(rng.chance(0.5) ? (rng.int(0x1_0000_0000) | 0) : rng.int(base.length * 2 + 8), 0);
      return out;
    }
    case 3: {
      const out = Buffer.from(base); // random header word
      out.writeInt32BE(rng.chance(0.5) ? (rng.int(0x1_0000_0000) | 0) : rng.int(out.length), 4);
      return out;
    }
    case 4: {
      const out = Buffer.from(base); // random type byte
      out[4] = rng.int(256);
      return out;
    }
    case 5: {
      const other = validFrame(rng); // splice two frames
      return Buffer.concat([base.subarray(0, rng.int(base.length)), other.subarray(rng.int(other.length))]);
    }
    case 6: {
      const at = rng.int(base.length); // insert random bytes
      return Buffer.concat([base.subarray(0, at), rng.bytes(1 + rng.int(8)), base.subarray(at)]);
    }
    case 7: {
      // mutated JSON header text with correct framing: exercises the JSON decoder's checks
      const text = [...rng.pick(JSON_HEADERS)];
      for (let i = 0, n = rng.int(4); i < n; i++) {
        const at = rng.int(text.length + 1);
        if (rng.chance(0.5)) text.splice(at, 1);
        else text.splice(at, 0, rng.pick(['{', '}', '"', ':', ',', '1', '-', 'x', '[', ']', '\u00ff']));
      }
      return wrap(Buffer.from(text.join('')), rng.bytes(rng.int(8)), 0);
    }
    case 8: {
      // binary header with mutated bytes but correct framing: exercises the binary decoder's checks
      const cmd = randomCommand(rng);
      cmd.code &= 0x7fff;
      const header = encodeFrameBuffer({ ...cmd, body: undefined }, { serializeType: SerializeType.ROCKETMQ }).subarray(8);
      const out = Buffer.from(header);
      for (let i = 0, n = 1 + rng.int(4); i < n; i++) out[rng.int(out.length)] = rng.int(256);
      return wrap(out.subarray(0, rng.chance(0.2) ? rng.int(out.length) : out.length), Buffer.alloc(0), 1);
    }
    case 9:
      return Buffer.concat([base, validFrame(rng), base]); // several valid frames
    default:
      return rng.bytes(rng.int(rng.chance(0.9) ? 64 : 4096)); // pure noise
  }
}

type Outcome = 'decoded' | 'nonFatal' | 'fatal';

/** One reused read buffer for the pushCopy runs, scribbled over after every read. */
const scratch = Buffer.alloc(4096);

/**
 * Feeds bytes in random chunks (with pushCopy, through one reused buffer, as a socket read through
 * `onread` does); returns how it ended. Bounded: each loop turn consumes input.
 */
function runDecoder(rng: SeededRandom, bytes: Buffer, maxFrameBytes: number, decoded: RemotingCommand[], copy: boolean): Outcome[] {
  const decoder = new FrameDecoder({ maxFrameBytes });
  const outcomes: Outcome[] = [];
  let pos = 0;
  let turns = 0;
  const maxTurns = bytes.length + 16;
  while (pos < bytes.length) {
    const size = 1 + rng.int(rng.chance(0.5) ? 8 : 2048);
    feedPiece(decoder, bytes.subarray(pos, pos + size), copy ? scratch : undefined);
    pos += size;
    for (;;) {
      if (++turns > maxTurns * 2) throw new Error('decoder loop did not terminate');
      let cmd: RemotingCommand | null;
      try {
        cmd = decoder.next();
      } catch (error) {
        if (!(error instanceof FrameError)) throw new Error(`decoder threw ${String(error)} for ${bytes.toString('hex').slice(0, 200)}`);
        if (error.fatal) {
          outcomes.push('fatal');
          return outcomes;
        }
        outcomes.push('nonFatal');
        continue;
      }
      if (cmd === null) break;
      outcomes.push('decoded');
      decoded.push(cmd);
    }
  }
  return outcomes;
}

test(`fuzz: ${DECODER_CASES} random and mutated frames through FrameDecoder`, () => {
  const rng = new SeededRandom(0x5eed1234);
  const counts = { decoded: 0, nonFatal: 0, fatal: 0 };
  const started = Date.now();
  let roundTrips = 0;
  for (let i = 0; i < DECODER_CASES; i++) {
    const bytes = i % 10 === 0 ? validFrame(rng) : mutated(rng);
    const maxFrameBytes = rng.chance(0.2) ? 64 + rng.int(4096) : 16 * 1024 * 1024;
    const decoded: RemotingCommand[] = [];
    for (const outcome of runDecoder(rng, bytes, maxFrameBytes, decoded, i % 2 === 1)) counts[outcome]++;
    // Whatever decodes must survive our own encoder and decode to the same thing.
    if (decoded.length > 0 && i % 7 === 0) {
      const cmd = decoded[0]!;
      const again = new FrameDecoder().feed(encodeFrameBuffer(cmd, { maxFrameBytes: 64 * 1024 * 1024 })).next().value as RemotingCommand;
      assert.equal({ ...again, body: again.body && Buffer.from(again.body) }, { ...cmd, body: cmd.body && Buffer.from(cmd.body) });
      roundTrips++;
    }
  }
  console.log(`  decoder fuzz: ${JSON.stringify(counts)}, ${roundTrips} re-encoded, ${Date.now() - started} ms`);
  assert.ok(counts.decoded > 10_000 && counts.nonFatal > 1_000 && counts.fatal > 10_000, JSON.stringify(counts));
  assert.ok(roundTrips > 1000);
  assert.ok(Date.now() - started < 60_000);
});

test(`fuzz: ${LIVE_BATCHES} batches of mutated frames against a live server, one socket per batch`, async () => {
  const server = new RemotingServer({ host: '127.0.0.1', port: 0, maxFrameBytes: 256 * 1024, idleTimeoutMs: 5_000 });
  server.registerProcessor(RequestCode.HEART_BEAT, (req) => createResponse(req, 0, undefined, { n: Object.keys(req.extFields).length }));
  server.registerProcessor(RequestCode.SEND_MESSAGE_V2, async (req) => createResponse(req, 0, undefined, { size: req.body?.length ?? 0 }));
  server.setDefaultProcessor((req) => (req.code % 2 === 0 ? createResponse(req) : null));
  const { port } = await server.listen();
  const addr = `127.0.0.1:${port}`;
  const rng = new SeededRandom(0xfa11);
  let closedByServer = 0;
  let probesAnswered = 0;
  try {
    for (let batch = 0; batch < LIVE_BATCHES; batch++) {
      const socket = connect({ host: '127.0.0.1', port });
      socket.on('error', () => undefined);
      await once(socket, 'connect');
      const probe = createRequest(RequestCode.HEART_BEAT);
      const decoder = new FrameDecoder();
      let sawProbe = false;
      socket.on('data', (chunk: Buffer) => {
        try {
          for (const cmd of decoder.feed(chunk)) if (cmd.opaque === probe.opaque && cmd.flag === 1 && cmd.extFields.n !== undefined) sawProbe = true;
        } catch (error) {
          if (!(error instanceof FrameError)) throw error;
          socket.destroy(new Error('server sent a bad frame'));
        }
      });
      const closed = once(socket, 'close');
      // Batch kinds: all valid, headers damaged but framing intact (the connection must survive and
      // answer the probe), anything goes (mostly ends in a close by the server).
      const kind = batch % 3;
      const frames = Array.from({ length: FRAMES_PER_BATCH }, () => {
        if (kind === 0 || rng.chance(0.3)) return validFrame(rng);
        return kind === 1 ? mutated(rng, rng.pick(FRAMING_SAFE_MUTATIONS)) : mutated(rng);
      });
      socket.write(Buffer.concat([...frames, encodeFrameBuffer(probe)]));
      socket.end(); // the server closes its side once it has read everything
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        closed.then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), BATCH_TIMEOUT_MS);
        }),
      ]);
      clearTimeout(timer);
      assert.not.ok(timedOut, `batch ${batch} did not finish`);
      if (sawProbe) probesAnswered++;
      else closedByServer++;
      if (kind !== 2) assert.ok(sawProbe, `batch ${batch} (framing intact) lost its probe`);
    }
    // Some batches keep the stream in step (probe answered), others break it (closed early).
    console.log(`  live fuzz: ${probesAnswered} batches answered the probe, ${closedByServer} closed by the server`);
    assert.ok(probesAnswered > 0 && closedByServer > 0, `answered ${probesAnswered}, closed ${closedByServer}`);
    for (let i = 0; i < 50 && server.connections.size > 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.is(server.connections.size, 0);

    const client = new RemotingClient();
    try {
      const res = await client.invoke(addr, createRequest(RequestCode.HEART_BEAT, { a: 1 }), 2000);
      assert.is(res.code, 0);
      assert.is(res.extFields.n, '1');
    } finally {
      await client.close();
    }
  } finally {
    await server.close();
  }
});

test.run();
