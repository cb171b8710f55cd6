import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCommandLine } from './command-line.js';
import { defaultNamesrvConfig, formatNamesrvConfig, loadNamesrvConfigFile, resolveNamesrvConfig } from './namesrv-config.js';

const dir = mkdtempSync(join(tmpdir(), 'orbit-namesrv-config-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('defaults are RocketMQ defaults', () => {
  const c = defaultNamesrvConfig();
  assert.is(c.listenPort, 9876);
  assert.is(c.kvConfigPath, join(homedir(), 'namesrv', 'kvConfig.json'));
  assert.is(c.scanNotActiveBrokerInterval, 5000);
  assert.is(c.brokerChannelExpiredTime, 120_000);
  assert.is(c.enableAllTopicList, true);
  assert.is(c.enableTopicList, true);
  assert.is(c.orderMessageEnable, false);
  assert.is(c.returnOrderTopicConfigToBroker, true);
  assert.is(c.waitSecondsForService, 45);
});

test('a properties file overrides, with types, unknown keys reported and ~ expanded', () => {
  const file = join(dir, 'namesrv.properties');
  writeFileSync(
    file,
    ['# comment', 'listenPort=19876', 'kvConfigPath=~/x/kv.json', 'orderMessageEnable = true', 'scanNotActiveBrokerInterval: 1000', 'noSuchKey=1', ''].join('\n'),
  );
  const { config, unknownKeys } = loadNamesrvConfigFile(file);
  assert.is(config.listenPort, 19876);
  assert.is(config.kvConfigPath, join(homedir(), 'x', 'kv.json'));
  assert.is(config.orderMessageEnable, true);
  assert.is(config.scanNotActiveBrokerInterval, 1000);
  assert.is(config.configStorePath, file);
  assert.equal(unknownKeys, ['noSuchKey']);
});

test('bad values are refused with the key named', () => {
  const cases: Array<[string, RegExp]> = [
    ['listenPort=abc', /listenPort=abc: not a number/],
    ['listenPort=70000', /listenPort=70000: must be an integer from 0 to 65535/],
    ['orderMessageEnable=yes', /orderMessageEnable=yes: not true or false/],
    ['scanNotActiveBrokerInterval=0', /scanNotActiveBrokerInterval=0/],
    ['brokerChannelExpiredTime=1.5', /brokerChannelExpiredTime=1.5/],
  ];
  for (const [line, message] of cases) {
    const file = join(dir, 'bad.properties');
    writeFileSync(file, `${line}\n`);
    assert.throws(() => loadNamesrvConfigFile(file), message);
  }
  assert.throws(() => resolveNamesrvConfig({ kvConfigPath: ' ' }), /kvConfigPath/);
  assert.throws(() => resolveNamesrvConfig({ listenPort: '9876' as unknown as number }), /listenPort=9876: must be a number/);
  assert.throws(() => resolveNamesrvConfig({ nope: 1 } as never), /nope: unknown key/);
  assert.is(resolveNamesrvConfig({ listenPort: undefined }).listenPort, 9876);
});

test('-p format: key=value lines in declaration order', () => {
  const lines = formatNamesrvConfig(defaultNamesrvConfig()).split('\n');
  assert.is(lines[0], 'listenPort=9876');
  assert.ok(lines.includes('enableAllTopicList=true'));
  assert.ok(lines.every((l) => /^[A-Za-z]+=/.test(l)));
});

test('command line options', () => {
  assert.equal(parseCommandLine([]), { printConfig: false, help: false });
  assert.equal(parseCommandLine(['-c', 'f.properties', '-p']), { configFile: 'f.properties', printConfig: true, help: false });
  assert.equal(parseCommandLine(['--configFile=f', '--printConfigItem']), { configFile: 'f', printConfig: true, help: false });
  assert.is(parseCommandLine(['-h']).help, true);
  assert.throws(() => parseCommandLine(['-c']), /Missing argument for option: c/);
  assert.throws(() => parseCommandLine(['-n', '127.0.0.1:9876']), /Unrecognized option: -n/);
  assert.throws(() => parseCommandLine(['extra']), /Unrecognized option: extra/);
});

test.run();
