import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ProcessorTable } from './processor-table.js';

test('processor table: own handler, default, none', () => {
  const table = new ProcessorTable();
  const own = () => null;
  const fallback = () => null;
  assert.is(table.find(10), undefined);
  table.register(10, own);
  table.setDefault(fallback);
  assert.is(table.find(10), own);
  assert.is(table.find(11), fallback);
  assert.throws(() => table.register(1.5, own), (e: unknown) => e instanceof RangeError);
});

test.run();
