import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RequestCode, requestCodeName } from '@orbit/common/request-code';
import { ResponseCode, responseCodeName } from '@orbit/common/response-code';
import {
  CommandFlag,
  createOnewayRequest,
  createRequest,
  createResponse,
  isOneway,
  isResponse,
  languageByte,
  languageName,
  optionalBool,
  optionalDouble,
  optionalInt,
  optionalLong,
  optionalString,
  requireBool,
  requireInt,
  requireLong,
  requireString,
  toExtFields,
  type RemotingCommand,
} from './remoting-command.js';
import { HeaderFieldError } from './remoting-errors.js';

const withFields = (extFields: Record<string, string>): RemotingCommand => ({
  code: RequestCode.PULL_MESSAGE,
  language: 'JAVA',
  version: 479,
  opaque: 1,
  flag: 0,
  extFields,
});

function remarkOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.instance(error, HeaderFieldError);
    return (error as HeaderFieldError).remark;
  }
  assert.unreachable('expected a HeaderFieldError');
  return '';
}

test('request and response codes match RocketMQ', () => {
  assert.is(RequestCode.SEND_MESSAGE, 10);
  assert.is(RequestCode.SEND_MESSAGE_V2, 310);
  assert.is(RequestCode.GET_ROUTEINFO_BY_TOPIC, 105);
  assert.is(RequestCode.POP_MESSAGE, 200050);
  assert.is(RequestCode.CONTROLLER_APPLY_BROKER_ID, 1013);
  assert.is(ResponseCode.SYSTEM_BUSY, 2);
  assert.is(ResponseCode.PULL_OFFSET_MOVED, 21);
  assert.is(ResponseCode.GO_AWAY, 1500);
  assert.is(ResponseCode.CONTROLLER_BROKER_LIVE_INFO_NOT_EXISTS, 2016);
  assert.is(requestCodeName(34), 'HEART_BEAT');
  assert.is(requestCodeName(99999), 'UNKNOWN(99999)');
  assert.is(responseCodeName(17), 'TOPIC_NOT_EXIST');
  assert.is(responseCodeName(3), 'REQUEST_CODE_NOT_SUPPORTED');
});

test('every request code and response code value is unique', () => {
  const requestValues = Object.values(RequestCode);
  assert.is(new Set(requestValues).size, requestValues.length);
  const responseValues = Object.values(ResponseCode);
  assert.is(new Set(responseValues).size, responseValues.length);
});

test('createRequest and createResponse', () => {
  const req = createRequest(RequestCode.QUERY_CONSUMER_OFFSET, { topic: 'T', queueId: 3, unitMode: false, skip: null });
  assert.equal(req.extFields, { topic: 'T', queueId: '3', unitMode: 'false' });
  assert.is(req.flag, 0);
  assert.is(req.language, 'JAVA');
  assert.ok(!isResponse(req));
  const next = createRequest(RequestCode.HEART_BEAT);
  assert.is(next.opaque, (req.opaque + 1) & 0x7fffffff);
  const res = createResponse(req, ResponseCode.SUCCESS, undefined, { offset: 42n });
  assert.is(res.opaque, req.opaque);
  assert.is(res.flag, CommandFlag.RESPONSE);
  assert.ok(isResponse(res));
  assert.equal(res.extFields, { offset: '42' });
  assert.is(res.remark, undefined);
  const oneway = createOnewayRequest(RequestCode.UPDATE_CONSUMER_OFFSET);
  assert.ok(isOneway(oneway));
});

test('toExtFields keeps a "__proto__" key as data', () => {
  const fields = toExtFields(JSON.parse('{"__proto__":"x","a":1}'));
  assert.is(Object.getPrototypeOf(fields), Object.prototype);
  assert.is(Object.keys(fields).length, 2);
  assert.is(fields['__proto__' as 'a'], 'x');
});

test('language names and bytes', () => {
  assert.is(languageByte('JAVA'), 0);
  assert.is(languageByte('NODE_JS'), 13);
  assert.is(languageByte('SOMETHING'), 7);
  assert.is(languageName(9), 'GO');
  assert.is(languageName(99), 'OTHER');
});

test('requireString / optionalString', () => {
  const cmd = withFields({ topic: 'TopicTest', empty: '' });
  assert.is(requireString(cmd, 'topic'), 'TopicTest');
  assert.is(requireString(cmd, 'empty'), '');
  assert.is(remarkOf(() => requireString(cmd, 'consumerGroup')), 'the custom field <consumerGroup> is null');
  assert.is(optionalString(cmd, 'x'), undefined);
  assert.is(optionalString(cmd, 'x', 'd'), 'd');
  // Inherited properties are not fields.
  assert.is(remarkOf(() => requireString(cmd, 'toString')), 'the custom field <toString> is null');
});

test('requireInt parses like Integer.parseInt', () => {
  const cmd = withFields({ a: '7', b: '-2147483648', c: '2147483647', d: '+5', e: 'abc', f: '2147483648', g: '1.5', h: ' 1', i: '' });
  assert.is(requireInt(cmd, 'a'), 7);
  assert.is(requireInt(cmd, 'b'), -2147483648);
  assert.is(requireInt(cmd, 'c'), 2147483647);
  assert.is(requireInt(cmd, 'd'), 5);
  assert.is(remarkOf(() => requireInt(cmd, 'e')), 'the custom field <e> is not a valid integer: "abc"');
  assert.is(remarkOf(() => requireInt(cmd, 'f')), 'the custom field <f> is out of the integer range: "2147483648"');
  assert.ok(remarkOf(() => requireInt(cmd, 'g')).includes('not a valid integer'));
  assert.ok(remarkOf(() => requireInt(cmd, 'h')).includes('not a valid integer'));
  assert.ok(remarkOf(() => requireInt(cmd, 'i')).includes('not a valid integer'));
  assert.is(remarkOf(() => requireInt(cmd, 'queueId')), 'the custom field <queueId> is null');
  assert.is(optionalInt(cmd, 'zz'), undefined);
  assert.is(optionalInt(cmd, 'zz', 4), 4);
  assert.is(optionalInt(cmd, 'a', 4), 7);
  assert.is(Object.is(requireInt(withFields({ z: '-0' }), 'z'), 0), true);
});

test('requireLong gives a safe JS number or a HeaderFieldError', () => {
  const cmd = withFields({ a: '1700000000000', b: '9007199254740991', c: '9007199254740992', d: '-1', e: '12x' });
  assert.is(requireLong(cmd, 'a'), 1700000000000);
  assert.is(requireLong(cmd, 'b'), Number.MAX_SAFE_INTEGER);
  assert.is(requireLong(cmd, 'd'), -1);
  assert.is(remarkOf(() => requireLong(cmd, 'c')), 'the custom field <c> is out of the safe integer range: "9007199254740992"');
  assert.is(remarkOf(() => requireLong(cmd, 'e')), 'the custom field <e> is not a valid long: "12x"');
  assert.is(optionalLong(cmd, 'nope', -1), -1);
});

test('booleans follow Boolean.parseBoolean; doubles must parse', () => {
  const cmd = withFields({ t: 'true', T: 'TRUE', f: 'false', x: 'yes', n: '1.25', bad: 'x1' });
  assert.is(requireBool(cmd, 't'), true);
  assert.is(requireBool(cmd, 'T'), true);
  assert.is(requireBool(cmd, 'f'), false);
  assert.is(requireBool(cmd, 'x'), false);
  assert.is(optionalBool(cmd, 'none'), undefined);
  assert.is(optionalBool(cmd, 'none', true), true);
  assert.is(remarkOf(() => requireBool(cmd, 'none')), 'the custom field <none> is null');
  assert.is(optionalDouble(cmd, 'n'), 1.25);
  assert.ok(remarkOf(() => optionalDouble(cmd, 'bad')).includes('not a valid double'));
});

test.run();
