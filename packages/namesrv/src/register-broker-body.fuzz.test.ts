// Fuzz entry for the REGISTER_BROKER body decoder, which reads bytes from any peer: seeded random
// mutations of valid JSON and compressed bodies must decode or fail with RegisterBrokerBodyError,
// never anything else.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deflateSync, inflateSync } from 'node:zlib';
import { topicConfig } from './fake-broker.test-support.js';
import { decodeRegisterBrokerBody, encodeRegisterBrokerBody, RegisterBrokerBodyError, type RegisterBrokerBody } from './register-broker-body.js';

const ROUNDS = 20_000;

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sample(): RegisterBrokerBody {
  return {
    topicConfigSerializeWrapper: {
      topicConfigTable: new Map([
        ['A', topicConfig('A')],
        ['B', topicConfig('B', { attributes: { x: 'y' } })],
      ]),
      dataVersion: { stateVersion: 1, timestamp: 1_700_000_000_000, counter: 7 },
      topicQueueMappingInfoMap: new Map([['S', { topic: 'S', bname: 'b' }]]),
    },
    filterServerList: [],
  };
}

function mutate(input: Buffer, random: () => number): Buffer {
  const out = Buffer.from(input);
  const edits = 1 + Math.floor(random() * 4);
  let bytes = out;
  for (let i = 0; i < edits; i++) {
    const kind = random();
    const at = Math.floor(random() * Math.max(1, bytes.length));
    if (kind < 0.5 && bytes.length > 0) bytes[at] = Math.floor(random() * 256);
    else if (kind < 0.7) bytes = bytes.subarray(0, at);
    else if (kind < 0.85) bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from([Math.floor(random() * 256)]), bytes.subarray(at)]);
    else bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(Math.min(bytes.length, at + 1 + Math.floor(random() * 8)))]);
  }
  return bytes;
}

function decodeOrBodyError(body: Buffer, compressed: boolean): void {
  try {
    decodeRegisterBrokerBody(body, compressed);
  } catch (error) {
    if (!(error instanceof RegisterBrokerBodyError)) {
      assert.unreachable(`unexpected ${(error as Error).name}: ${(error as Error).message} for ${body.toString('hex').slice(0, 200)}`);
    }
  }
}

test('mutated JSON bodies', () => {
  const random = rng(1);
  const json = encodeRegisterBrokerBody(sample());
  for (let i = 0; i < ROUNDS; i++) decodeOrBodyError(mutate(json, random), false);
});

test('mutated compressed bodies, before and after deflate', () => {
  const random = rng(2);
  const compressed = encodeRegisterBrokerBody(sample(), true);
  const raw = inflateSync(compressed);
  for (let i = 0; i < ROUNDS; i++) {
    decodeOrBodyError(mutate(compressed, random), true);
    decodeOrBodyError(deflateSync(mutate(raw, random)), true);
  }
});

test('random bytes', () => {
  const random = rng(3);
  for (let i = 0; i < ROUNDS; i++) {
    const bytes = Buffer.alloc(Math.floor(random() * 64));
    for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(random() * 256);
    decodeOrBodyError(bytes, false);
    decodeOrBodyError(bytes, true);
    decodeOrBodyError(deflateSync(bytes), true);
  }
});

test.run();
