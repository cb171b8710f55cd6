import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { deflateSync } from 'node:zlib';
import { topicConfig } from './fake-broker.test-support.js';
import {
  decodeRegisterBrokerBody,
  decodeTopicConfigText,
  encodeRegisterBrokerBody,
  encodeTopicConfigText,
  RegisterBrokerBodyError,
  type RegisterBrokerBody,
} from './register-broker-body.js';

function sample(): RegisterBrokerBody {
  return {
    topicConfigSerializeWrapper: {
      topicConfigTable: new Map([
        ['TopicTest', topicConfig('TopicTest', { attributes: { '+message.type': 'NORMAL' } })],
        ['TBW102', topicConfig('TBW102', { readQueueNums: 8, writeQueueNums: 8, perm: 7 })],
      ]),
      dataVersion: { stateVersion: 2, timestamp: 1_700_000_000_123, counter: 42 },
      topicQueueMappingInfoMap: new Map(),
    },
    filterServerList: ['10.0.0.1:30000'],
  };
}

function throwsBodyError(fn: () => unknown, message: RegExp): void {
  try {
    fn();
  } catch (error) {
    assert.instance(error, RegisterBrokerBodyError);
    assert.match((error as Error).message, message);
    return;
  }
  assert.unreachable('expected RegisterBrokerBodyError');
}

test('a broker JSON body as RocketMQ 5 writes it decodes', () => {
  const text =
    '{"filterServerList":[],"topicConfigSerializeWrapper":{"dataVersion":{"counter":3,"stateVersion":0,"timestamp":1700000000000},' +
    '"mappingDataVersion":{"counter":0,"stateVersion":0,"timestamp":1700000000000},' +
    '"topicConfigTable":{"TopicTest":{"attributes":{},"order":false,"perm":6,"readQueueNums":4,"topicFilterType":"SINGLE_TAG","topicName":"TopicTest","topicSysFlag":0,"writeQueueNums":4},' +
    '"%RETRY%g":{"order":false,"perm":6,"readQueueNums":1,"topicFilterType":"SINGLE_TAG","topicName":"%RETRY%g","topicSysFlag":0,"writeQueueNums":1}},' +
    '"topicQueueMappingDetailMap":{},"topicQueueMappingInfoMap":{}}}';
  const body = decodeRegisterBrokerBody(Buffer.from(text), false);
  const w = body.topicConfigSerializeWrapper;
  assert.equal(w.dataVersion, { stateVersion: 0, timestamp: 1700000000000, counter: 3 });
  assert.equal([...w.topicConfigTable.keys()], ['TopicTest', '%RETRY%g']);
  assert.is(w.topicConfigTable.get('%RETRY%g')!.readQueueNums, 1);
  assert.equal(body.filterServerList, []);
});

test('JSON round trip; numeric strings are read as numbers (fastjson does too)', () => {
  const decoded = decodeRegisterBrokerBody(encodeRegisterBrokerBody(sample()), false);
  assert.equal(decoded.topicConfigSerializeWrapper.dataVersion, sample().topicConfigSerializeWrapper.dataVersion);
  assert.equal({ ...decoded.topicConfigSerializeWrapper.topicConfigTable.get('TopicTest')!.attributes }, { '+message.type': 'NORMAL' });
  assert.is(decoded.topicConfigSerializeWrapper.topicConfigTable.get('TBW102')!.perm, 7);
  assert.equal(decoded.filterServerList, ['10.0.0.1:30000']);
  const loose = decodeRegisterBrokerBody(Buffer.from('{"topicConfigSerializeWrapper":{"topicConfigTable":{"T":{"readQueueNums":"3"}}}}'), false, 77);
  const t = loose.topicConfigSerializeWrapper.topicConfigTable.get('T')!;
  assert.is(t.topicName, 'T');
  assert.is(t.readQueueNums, 3);
  assert.is(t.writeQueueNums, 16);
  assert.is(t.perm, 6);
  // No DataVersion: a fresh one, as Java's `new DataVersion()` (so it always counts as changed).
  assert.equal(loose.topicConfigSerializeWrapper.dataVersion, { stateVersion: 0, timestamp: 77, counter: 0 });
});

test('the old (pre V3_0_11) body, a bare TopicConfigSerializeWrapper, and an empty body', () => {
  const old = decodeRegisterBrokerBody(Buffer.from('{"dataVersion":{"counter":1,"timestamp":5},"topicConfigTable":{"T":{"topicName":"T"}}}'), false);
  assert.equal([...old.topicConfigSerializeWrapper.topicConfigTable.keys()], ['T']);
  const empty = decodeRegisterBrokerBody(undefined, false);
  assert.equal(empty.topicConfigSerializeWrapper.dataVersion, { stateVersion: 0, timestamp: 0, counter: 0 });
  assert.is(empty.topicConfigSerializeWrapper.topicConfigTable.size, 0);
});

test('compressed round trip, with and without the V5 mapping section', () => {
  const decoded = decodeRegisterBrokerBody(encodeRegisterBrokerBody(sample(), true), true);
  assert.equal(decoded.topicConfigSerializeWrapper.dataVersion, sample().topicConfigSerializeWrapper.dataVersion);
  const t = decoded.topicConfigSerializeWrapper.topicConfigTable.get('TopicTest')!;
  assert.equal({ ...t, attributes: { ...t.attributes } }, topicConfig('TopicTest', { attributes: { '+message.type': 'NORMAL' } }));
  assert.equal(decoded.filterServerList, ['10.0.0.1:30000']);

  // A 4.x broker stops after the filter server list.
  const parts: Buffer[] = [];
  const text = (s: string) => {
    const b = Buffer.from(s);
    const len = Buffer.alloc(4);
    len.writeInt32BE(b.length);
    parts.push(len, b);
  };
  text('{"counter":1,"stateVersion":0,"timestamp":9}');
  parts.push(Buffer.from([0, 0, 0, 1]));
  text('T 2 3 6 SINGLE_TAG');
  text('[]');
  const v4 = decodeRegisterBrokerBody(deflateSync(Buffer.concat(parts)), true);
  const cfg = v4.topicConfigSerializeWrapper.topicConfigTable.get('T')!;
  assert.equal([cfg.readQueueNums, cfg.writeQueueNums, cfg.perm], [2, 3, 6]);

  // Static-topic mappings ride along.
  const withMapping = sample();
  withMapping.topicConfigSerializeWrapper.topicQueueMappingInfoMap.set('S', { topic: 'S', bname: 'broker-a', totalQueues: 4 });
  const m = decodeRegisterBrokerBody(encodeRegisterBrokerBody(withMapping, true), true);
  assert.equal(m.topicConfigSerializeWrapper.topicQueueMappingInfoMap.get('S'), { topic: 'S', bname: 'broker-a', totalQueues: 4 });
});

test('TopicConfig text form', () => {
  const c = topicConfig('A', { readQueueNums: 1, writeQueueNums: 2, perm: 4, topicFilterType: 'MULTI_TAG', attributes: { k: 'v' } });
  assert.is(encodeTopicConfigText(c), 'A 1 2 4 MULTI_TAG {"k":"v"}');
  const back = decodeTopicConfigText('A 1 2 4 MULTI_TAG {"k":"v"}');
  assert.equal([back.topicName, back.readQueueNums, back.writeQueueNums, back.perm, back.topicFilterType, back.attributes.k], ['A', 1, 2, 4, 'MULTI_TAG', 'v']);
  throwsBodyError(() => decodeTopicConfigText('A 1 2 4'), /expected "topicName readQueueNums/);
  throwsBodyError(() => decodeTopicConfigText('A one 2 4 SINGLE_TAG'), /readQueueNums: expected an int/);
  throwsBodyError(() => decodeTopicConfigText('A 1 2 4 NO_TAG'), /expected SINGLE_TAG or MULTI_TAG/);
});

test('bad bodies are RegisterBrokerBodyErrors that say what is wrong', () => {
  const json = (s: string) => () => decodeRegisterBrokerBody(Buffer.from(s), false);
  throwsBodyError(json('{oops'), /RegisterBrokerBody is not valid JSON/);
  throwsBodyError(json('"text"'), /expected a JSON object, got the string "text"/);
  throwsBodyError(json('{"something":1}'), /neither topicConfigSerializeWrapper nor topicConfigTable/);
  throwsBodyError(json('{"topicConfigSerializeWrapper":[]}'), /topicConfigSerializeWrapper: expected an object, got an array/);
  throwsBodyError(json('{"topicConfigSerializeWrapper":{"topicConfigTable":{"T":5}}}'), /topicConfigTable\.T: expected a TopicConfig object, got number 5/);
  throwsBodyError(json('{"topicConfigSerializeWrapper":{"topicConfigTable":{"T":{"perm":1.5}}}}'), /T\.perm: expected an int, got number 1.5/);
  throwsBodyError(json('{"topicConfigSerializeWrapper":{"topicConfigTable":{"T":{"writeQueueNums":-1}}}}'), /writeQueueNums: must not be negative/);
  throwsBodyError(json('{"topicConfigSerializeWrapper":{"topicConfigTable":{"T":{"order":"maybe"}}}}'), /T\.order: expected a boolean/);
  throwsBodyError(json('{"topicConfigSerializeWrapper":{"topicConfigTable":{"T":{"topicName":""}}}}'), /topicName: must not be empty/);
  throwsBodyError(json('{"topicConfigSerializeWrapper":{"topicConfigTable":{"T":{"attributes":{"a":1}}}}}'), /attributes\.a: expected a string/);
  throwsBodyError(json('{"topicConfigSerializeWrapper":{},"filterServerList":[1]}'), /filterServerList\[0\]: expected a string/);
  throwsBodyError(json('{"topicConfigSerializeWrapper":{"dataVersion":{"counter":1e300}}}'), /dataVersion\.counter: expected a long/);

  const zipped = (b: Buffer) => () => decodeRegisterBrokerBody(deflateSync(b), true);
  throwsBodyError(() => decodeRegisterBrokerBody(Buffer.from('plain'), true), /does not inflate/);
  throwsBodyError(zipped(Buffer.from([0, 0])), /ends before the length of DataVersion/);
  throwsBodyError(zipped(Buffer.from([0x7f, 0, 0, 0, 1])), /DataVersion length 2130706432 .* outside/);
  const dv = Buffer.from('{}');
  const head = Buffer.concat([Buffer.from([0, 0, 0, dv.length]), dv]);
  throwsBodyError(zipped(Buffer.concat([head, Buffer.from([0x7f, 0xff, 0xff, 0xff])])), /topic count 2147483647 does not fit/);
  throwsBodyError(zipped(Buffer.concat([head, Buffer.from([0, 0, 0, 0, 0, 0, 0, 2]), Buffer.from('[]'), Buffer.from([9])])), /1 bytes left/);
});

test('a compressed body that inflates past the limit is refused', async () => {
  const { MAX_INFLATED_REGISTER_BODY_BYTES } = await import('./register-broker-body.js');
  const bomb = deflateSync(Buffer.alloc(MAX_INFLATED_REGISTER_BODY_BYTES + 1));
  assert.ok(bomb.length < 1_000_000);
  throwsBodyError(() => decodeRegisterBrokerBody(bomb, true), /does not inflate/);
});

test.run();
