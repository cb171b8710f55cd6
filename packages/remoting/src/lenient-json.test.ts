import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LenientJsonError, parseLenientJson } from './lenient-json.js';

test('standard JSON parses as JSON.parse does', () => {
  const samples = ['{}', '[]', '"x"', '1.5e3', 'true', 'null', '{"a":[1,{"b":"c\\u0001"}],"d":-0.5}', ' \n{"k" : "v" }\t'];
  for (const text of samples) assert.equal(parseLenientJson(text), JSON.parse(text), text);
});

test('fastjson bare numeric keys (brokerAddrs, offsetTable)', () => {
  const route = '{"brokerDatas":[{"brokerAddrs":{0:"10.0.0.1:10911",1:"10.0.0.2:10911"},"brokerName":"broker-a","cluster":"c"}]}';
  assert.equal(parseLenientJson(route), {
    brokerDatas: [{ brokerAddrs: { '0': '10.0.0.1:10911', '1': '10.0.0.2:10911' }, brokerName: 'broker-a', cluster: 'c' }],
  });
  const offsets = '{"offsetTable":{"TopicTest@group":{0:12,1:7,-1:3}}}';
  assert.equal(parseLenientJson(offsets), { offsetTable: { 'TopicTest@group': { '0': 12, '1': 7, '-1': 3 } } });
  assert.equal(parseLenientJson('{ 0 : "a" , 10:"b"}'), { '0': 'a', '10': 'b' });
});

test('object keys (maps keyed by MessageQueue) become their JSON text', () => {
  const body = '{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:100,{"brokerName":"b","queueId":1,"topic":"T"}:200}}';
  const parsed = parseLenientJson(body) as { offsetTable: Record<string, number> };
  assert.equal(parsed.offsetTable, {
    '{"brokerName":"b","queueId":0,"topic":"T"}': 100,
    '{"brokerName":"b","queueId":1,"topic":"T"}': 200,
  });
});

test('escapes and "__proto__" keys', () => {
  assert.equal(parseLenientJson('{1:"a\\"b\\\\c\\/\\n\\t\\u00e9"}'), { '1': 'a"b\\c/\n\té' });
  const value = parseLenientJson('{1:0,"__proto__":{"polluted":true}}') as Record<string, unknown>;
  assert.is(Object.getPrototypeOf(value), Object.prototype);
  assert.ok(Object.keys(value).includes('__proto__'));
  assert.is(({} as Record<string, unknown>).polluted, undefined);
});

test('malformed input throws LenientJsonError', () => {
  const bad = ['', '{', '{1:}', '{a:1}', '{1 "a"}', '[1,]', '{"a":1,}', '"abc', '"\\x"', '"\\u12"', '01', '1 2', 'tru', '{1:1}}', '-', '{{:1}'];
  for (const text of bad) {
    assert.throws(() => parseLenientJson(text), (e: unknown) => e instanceof LenientJsonError, text);
  }
});

test('nesting is bounded on both the fast and the lenient path', () => {
  const deep = (n: number, lenient: boolean) => '['.repeat(n) + (lenient ? '{1:2}' : '1') + ']'.repeat(n);
  assert.ok(parseLenientJson(deep(50, false)));
  assert.ok(parseLenientJson(deep(50, true)));
  assert.throws(() => parseLenientJson(deep(200, false)), (e: unknown) => e instanceof LenientJsonError);
  assert.throws(() => parseLenientJson(deep(200, true)), (e: unknown) => e instanceof LenientJsonError);
  assert.throws(() => parseLenientJson(deep(100_000, true)), (e: unknown) => e instanceof LenientJsonError);
  assert.throws(() => parseLenientJson(deep(100_000, false)), (e: unknown) => e instanceof LenientJsonError);
  assert.throws(() => parseLenientJson('{1:[[1]]}', { maxDepth: 2 }), (e: unknown) => e instanceof LenientJsonError);
  assert.ok(parseLenientJson('{1:[1]}', { maxDepth: 2 }));
});

// Fuzz entry: the parser reads files and bodies from outside, so random and mutated text must
// only ever give a value or a LenientJsonError.
test('fuzz: random and mutated text only ever throws LenientJsonError', () => {
  let seed = 0x2545f491;
  const rand = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 0x1_0000_0000;
  };
  const alphabet = '{}[]:,"\\ -0123456789.eEtruefalsn\u0001\u00e9ab';
  const seeds = ['{"a":{0:"x",1:[1,2,{"b":null}]},"c":true}', '{{"topic":"T","queueId":1}:5}', '[1,-2.5e3,"s\\u0041"]'];
  let parsed = 0;
  for (let i = 0; i < 20_000; i++) {
    let text: string;
    if (i % 2 === 0) {
      const length = Math.floor(rand() * 40);
      text = '';
      for (let j = 0; j < length; j++) text += alphabet[Math.floor(rand() * alphabet.length)];
    } else {
      const chars = [...seeds[i % seeds.length]!];
      const edits = 1 + Math.floor(rand() * 3);
      for (let j = 0; j < edits; j++) {
        const at = Math.floor(rand() * chars.length);
        const op = rand();
        if (op < 0.4) chars.splice(at, 1);
        else if (op < 0.7) chars.splice(at, 0, alphabet[Math.floor(rand() * alphabet.length)]!);
        else chars[at] = alphabet[Math.floor(rand() * alphabet.length)]!;
      }
      text = chars.join('');
    }
    try {
      parseLenientJson(text);
      parsed++;
    } catch (error) {
      if (!(error instanceof LenientJsonError)) throw new Error(`non-LenientJsonError for ${JSON.stringify(text)}: ${String(error)}`);
    }
  }
  assert.ok(parsed > 0);
});

test.run();
