import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KvConfigFileError, KvConfigManager } from './kv-config-manager.js';

const root = mkdtempSync(join(tmpdir(), 'orbit-kv-'));
let n = 0;
const freshPath = () => join(root, `case-${++n}`, 'kvConfig.json');

async function loadError(path: string): Promise<Error> {
  try {
    await new KvConfigManager(path).load();
  } catch (error) {
    return error as Error;
  }
  throw new Error('load() did not fail');
}

test.after(() => rmSync(root, { recursive: true, force: true }));

test('put, get, delete, and the file holds RocketMQ shape', async () => {
  const path = freshPath();
  const kv = new KvConfigManager(path);
  await kv.load(); // no file yet: empty
  assert.is(kv.get('ns', 'k'), undefined);
  await kv.put('ns', 'k', 'v');
  await kv.put('ns', 'k2', 'v2');
  await kv.put('other', 'x', '');
  assert.is(kv.get('ns', 'k'), 'v');
  assert.ok(await kv.delete('ns', 'k'));
  assert.ok(!(await kv.delete('ns', 'k')));
  assert.ok(!(await kv.delete('nope', 'k')));
  assert.equal(JSON.parse(readFileSync(path, 'utf8')), { configTable: { ns: { k2: 'v2' }, other: { x: '' } } });
  assert.equal(readdirSync(join(path, '..')), ['kvConfig.json']); // no temp file left behind

  const again = new KvConfigManager(path);
  await again.load();
  assert.is(again.get('ns', 'k2'), 'v2');
  assert.is(again.get('other', 'x'), '');
  assert.equal([...again.getKvListByNamespace('ns')!], [['k2', 'v2']]);
  assert.is(again.getKvListByNamespace('none'), undefined);
});

test('writes in flight are serialized: the file ends with the last change', async () => {
  const path = freshPath();
  const kv = new KvConfigManager(path);
  const writes: Promise<void>[] = [];
  for (let i = 0; i < 50; i++) writes.push(kv.put('ns', `k${i % 5}`, `v${i}`));
  writes.push(kv.delete('ns', 'k0').then(() => undefined));
  await Promise.all(writes);
  await kv.flush();
  assert.equal(JSON.parse(readFileSync(path, 'utf8')).configTable.ns, { k1: 'v46', k2: 'v47', k3: 'v48', k4: 'v49' });
});

test('a file written by Java (compact, unknown fields) loads; a namespace named __proto__ is a namespace', async () => {
  const path = freshPath();
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, '{"configTable":{"ORDER_TOPIC_CONFIG":{"T":"broker-a:4"},"__proto__":{"a":"b"}},"extra":1}');
  const kv = new KvConfigManager(path);
  await kv.load();
  assert.is(kv.get('ORDER_TOPIC_CONFIG', 'T'), 'broker-a:4');
  assert.is(kv.get('__proto__', 'a'), 'b');
  assert.match(kv.toJson(), '"__proto__"');
});

test('a corrupt file is an error, not an empty table', async () => {
  for (const [text, message] of [
    ['{"configTable":', /not valid JSON/],
    ['[]', /expected a JSON object/],
    ['{"configTable":[]}', /configTable must be an object/],
    ['{"configTable":{"ns":"x"}}', /configTable\.ns must be an object of strings/],
    ['{"configTable":{"ns":{"k":null}}}', /configTable\.ns\.k must be a string/],
  ] as const) {
    const path = freshPath();
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, text);
    const error = await loadError(path);
    assert.instance(error, KvConfigFileError);
    assert.match(error.message, message);
  }
});

test('a write that cannot happen is reported', async () => {
  const blocker = join(root, 'not-a-dir');
  writeFileSync(blocker, 'file');
  const kv = new KvConfigManager(join(blocker, 'kvConfig.json'));
  try {
    await kv.put('ns', 'k', 'v');
    assert.unreachable('put should fail');
  } catch (error) {
    assert.instance(error, KvConfigFileError);
    assert.match((error as Error).message, /cannot write/);
  }
  // The next write is not stuck behind the failed one.
  const ok = new KvConfigManager(freshPath());
  await ok.put('a', 'b', 'c');
  assert.ok(existsSync(ok.path));
});

test.run();
