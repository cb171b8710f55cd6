// The command line without a cluster: option parsing, usage errors and their exit code 2, help
// text, and the pure formatting helpers (tables, versions, timestamps, fastjson queue-keyed maps).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseLenientJson } from '@orbit/remoting';
import { parseQueueKeyedTable } from './admin-api.js';
import { EXIT_OK, EXIT_USAGE, parseOptions, runCli, UsageError, type OptionSpec } from './cli.js';
import { COMMANDS } from './commands/index.js';
import { parseAttributes } from './commands/topic.js';
import { parseTimestamp, topicConfigText, versionDesc } from './format.js';
import { renderTable } from './table.js';

async function run(argv: string[], env: Record<string, string | undefined> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, COMMANDS, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env });
  return { code, stdout, stderr };
}

const specs: OptionSpec[] = [
  { short: 't', long: 'topic', arg: 'arg', desc: '' },
  { short: 'l', long: 'list', desc: '' },
  { short: 'o', long: 'offset', arg: 'arg', desc: '' },
];

test('options: -t T, -tT, --topic T, --topic=T and -topic T all give the value; flags take none', () => {
  for (const argv of [['-t', 'T'], ['-tT'], ['--topic', 'T'], ['--topic=T'], ['-topic', 'T']]) {
    const o = parseOptions('x', argv, specs);
    assert.is(o.str('topic'), 'T', argv.join(' '));
  }
  const o = parseOptions('x', ['-l', '-o', '-1'], specs);
  assert.ok(o.has('list'));
  assert.is(o.long('offset'), -1, 'a value that looks like an option is still a value');
  assert.is(o.int('topic'), undefined);
});

test('options: unknown, repeated, missing value, stray argument and bad numbers are usage errors', () => {
  const bad: string[][] = [['-x'], ['--nope'], ['-t', 'a', '-t', 'b'], ['-t'], ['stray'], ['-l=1'], ['--list=yes']];
  for (const argv of bad) assert.throws(() => parseOptions('x', argv, specs), (e: unknown) => e instanceof UsageError, argv.join(' '));
  const o = parseOptions('x', ['-o', '12x'], specs);
  assert.throws(() => o.long('offset'), (e: unknown) => e instanceof UsageError && /not an integer/.test(e.message));
  assert.throws(() => parseOptions('x', ['-o', '99999'], specs).int('offset', { max: 65535 }), (e: unknown) => e instanceof UsageError);
  assert.throws(() => parseOptions('x', ['-t', 'maybe'], specs).bool('topic'), /not true or false/);
  assert.is(parseOptions('x', ['-t', 'TRUE'], specs).bool('topic'), true);
});

test('mqadmin alone and mqadmin help list every command; help <cmd> shows its flags (exit 0)', async () => {
  for (const argv of [[], ['help'], ['--help']]) {
    const r = await run(argv);
    assert.is(r.code, EXIT_OK);
    for (const c of COMMANDS) assert.ok(r.stdout.includes(c.name), `${c.name} listed`);
  }
  const r = await run(['help', 'updateTopic']);
  assert.is(r.code, EXIT_OK);
  assert.match(r.stdout, /usage: mqadmin updateTopic \(-b <arg> \| -c <arg>\) -t <arg>/);
  for (const flag of ['-t,--topic', '-r,--readQueueNums', '-w,--writeQueueNums', '-p,--perm', '-o,--order', '-n,--namesrvAddr', '--json']) assert.ok(r.stdout.includes(flag), flag);
  const h = await run(['consumeMessage', '-h']);
  assert.is(h.code, EXIT_OK);
  assert.match(h.stdout, /-c,--MessageNumber <arg>/);
});

test('usage errors exit 2 with the usage on stderr and nothing on stdout', async () => {
  const env = { NAMESRV_ADDR: '127.0.0.1:1' };
  const cases: [string[], RegExp][] = [
    [['bogus'], /unknown command 'bogus'[\s\S]*most commonly used/],
    [['help', 'bogus'], /unknown command 'bogus'/],
    [['updateTopic', '-t', 'T'], /Missing required option: one of -b, -c[\s\S]*usage: mqadmin updateTopic/],
    [['updateTopic', '-b', 'x:1', '-c', 'C', '-t', 'T'], /cannot be used together/],
    [['updateTopic', '-b', 'x:1'], /Missing required option: -t \(--topic\)/],
    [['updateTopic', '-b', 'x:1', '-t', 'T', '-r', 'eight'], /bad value for -r/],
    [['updateTopic', '-b', 'x:1', '-t', 'T', '-o', 'yes'], /not true or false/],
    [['updateTopic', '-b', 'x:1', '-t', 'bad topic!'], /illegal characters/],
    [['updateTopic', '-b', 'x:1', '-t', 'T', '-a', 'a=b'], /bad attribute/],
    [['topicList', '--bogus'], /Unrecognized option: --bogus/],
    [['topicRoute'], /Missing required option: -t/],
    [['sendMessage', '-t', 'T', '-p', 'x', '-i', '1'], /Broker name must be set/],
    [['consumeMessage', '-t', 'T', '-o', '3'], /Please set queueId before offset/],
    [['consumeMessage', '-t', 'T', '-c', '0'], /positive messageNumber/],
    [['consumeMessage', '-t', 'T', '-s', '9999999999999'], /beginTimestamp before now/],
    [['resetOffsetByTime', '-g', 'G', '-t', 'T', '-s', 'yesterday'], /bad value for -s/],
    [['resetOffsetByTime', '-g', 'G', '-t', 'T', '-s', 'now', '-b', 'x:1'], /go together/],
    [['queryMsgById', '-t', 'T', '-i', 'ABC', '-f', 'klingon'], /unknown charset/],
    [['updateBrokerConfig', '-b', 'x:1', '-k', 'a b', '-v', '1'], /bad config key/],
    [['deleteSubGroup', '-g', 'G'], /one of -b, -c/],
    [['brokerStatus', '-b', 'x:1', '-c', 'C'], /cannot be used together/],
  ];
  for (const [argv, pattern] of cases) {
    const r = await run(argv, env);
    assert.is(r.code, EXIT_USAGE, `${argv.join(' ')} → ${r.stderr}`);
    assert.match(r.stderr, pattern, argv.join(' '));
    assert.is(r.stdout, '', argv.join(' '));
  }
  const noNamesrv = await run(['topicList'], {});
  assert.is(noNamesrv.code, EXIT_USAGE);
  assert.match(noNamesrv.stderr, /No NameServer address: give -n host:port or set NAMESRV_ADDR/);
  const badNamesrv = await run(['topicList', '-n', 'nonsense'], {});
  assert.is(badNamesrv.code, EXIT_USAGE);
  assert.match(badNamesrv.stderr, /bad NameServer address/);
});

test('tables: columns sized to their content, numbers right-aligned', () => {
  const t = renderTable(['#Broker Name', '#QID', '#Max Offset'], [['broker-a', 0, 12], ['a-much-longer-broker', 10, 3]]);
  assert.is(t, ['#Broker Name          #QID  #Max Offset', 'broker-a                 0           12', 'a-much-longer-broker    10            3'].join('\n'));
  assert.is(renderTable(['#A', '#B'], []), '#A  #B');
});

test('formats: MQVersion names, timestamps, attributes, TopicConfig text', () => {
  assert.is(versionDesc(479), 'V5_3_3');
  assert.is(versionDesc(401), 'V4_9_4');
  assert.is(versionDesc(413), 'V5_0_0');
  assert.is(versionDesc(0), 'V3_0_0_SNAPSHOT');
  assert.is(versionDesc(99_999), 'HIGHER_VERSION');
  assert.is(parseTimestamp('now', 42), 42);
  assert.is(parseTimestamp('1700000000000'), 1_700_000_000_000);
  assert.is(parseTimestamp('2024-02-03#04:05:06:007'), new Date(2024, 1, 3, 4, 5, 6, 7).getTime());
  assert.is(parseTimestamp('2024-02-30#04:05:06:007'), undefined);
  assert.is(parseTimestamp('tomorrow'), undefined);
  assert.equal(parseAttributes('+message.type=NORMAL,-old'), { '+message.type': 'NORMAL', '-old': '' });
  assert.is(
    topicConfigText({ topicName: 'T', readQueueNums: 4, writeQueueNums: 4, perm: 6, topicFilterType: 'SINGLE_TAG', topicSysFlag: 0, order: false, attributes: {} }),
    'TopicConfig [topicName=T, readQueueNums=4, writeQueueNums=4, perm=RW-, topicFilterType=SINGLE_TAG, topicSysFlag=0, order=false, attributes={}]',
  );
});

test('fastjson maps keyed by MessageQueue objects are read (GET_CONSUME_STATS, ResetOffsetBody)', () => {
  const body = `{"offsetTable":{{"brokerName":"broker-a","queueId":1,"topic":"T"}:{"brokerOffset":5,"consumerOffset":3},{"brokerName":"broker-b","queueId":0,"topic":"T"}:7}}`;
  const parsed = parseLenientJson(body) as { offsetTable: unknown };
  assert.equal(parseQueueKeyedTable(parsed.offsetTable), [
    { mq: { topic: 'T', brokerName: 'broker-a', queueId: 1 }, value: { brokerOffset: 5, consumerOffset: 3 } },
    { mq: { topic: 'T', brokerName: 'broker-b', queueId: 0 }, value: { value: 7 } },
  ]);
  assert.equal(parseQueueKeyedTable({ 'not json': 1, '[1]': 2 }), []);
});

test.run();
