import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { once } from 'node:events';
import { isTypeScriptModule, startWorker, toModuleUrl } from './ts-worker.js';

test('toModuleUrl accepts URLs and absolute paths', () => {
  assert.is(toModuleUrl('/a/b c.ts'), 'file:///a/b%20c.ts');
  assert.is(toModuleUrl('file:///a/b.ts'), 'file:///a/b.ts');
  assert.is(toModuleUrl(new URL('file:///x/y.mjs')), 'file:///x/y.mjs');
  assert.ok(isTypeScriptModule('file:///a/b.ts'));
  assert.ok(isTypeScriptModule('file:///a/b.mts?x=1'));
  assert.not.ok(isTypeScriptModule('file:///a/b.js'));
});

test('a .ts entry runs in a worker, with workerData and parentPort intact', async () => {
  // The ring's fixture worker is a .ts module; its wait-data role answers at once when closed.
  const { SpscRing } = await import('./spsc-ring.js');
  const ring = SpscRing.create(4096);
  ring.close();
  const worker = startWorker(new URL('./spsc-ring.fixture-worker.ts', import.meta.url), {
    workerData: { role: 'wait-data', buffer: ring.buffer, timeoutMs: 1000 },
  });
  const [message] = (await once(worker, 'message')) as [{ result: boolean }];
  assert.is(message.result, false);
  const [exitCode] = (await once(worker, 'exit')) as [number];
  assert.is(exitCode, 0);
});

test('modules in the worker can import ts-worker.ts itself (the probe URL is private)', async () => {
  // actor-host.ts imports ts-worker.ts; an actor module importing @orbit/runtime loads both.
  const worker = startWorker(new URL('./ts-worker.fixture-entry.ts', import.meta.url));
  const [message] = (await once(worker, 'message')) as [string];
  assert.is(message, 'function');
  await once(worker, 'exit');
});

test('a missing .ts entry surfaces as the worker error event', async () => {
  const worker = startWorker(new URL('./no-such-module.ts', import.meta.url));
  const [error] = (await once(worker, 'error')) as [Error];
  assert.match(error.message, /no-such-module/);
});

test.run();
