import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildClientId, resolveInstanceName } from './client-id.js';

test('client id: clientIP@instanceName[@unit]; DEFAULT becomes pid#nanoTime', () => {
  assert.is(buildClientId('10.0.0.5', 'inst'), '10.0.0.5@inst');
  assert.is(buildClientId('10.0.0.5', 'inst', 'unitA'), '10.0.0.5@inst@unitA');
  assert.is(resolveInstanceName('DEFAULT', 4242, 83475934857n), '4242#83475934857');
  assert.is(resolveInstanceName('mine', 4242, 1n), 'mine');
  assert.match(resolveInstanceName('DEFAULT'), new RegExp(`^${process.pid}#\\d+$`));
});

test.run();
