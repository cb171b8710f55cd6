// Fuzzing the SQL92 filter (text from any consumer reaches the parser): random token soups, random
// characters, and mutations of valid expressions may only ever fail with SqlFilterError (with an
// offset inside the text); expressions generated from the grammar always parse, and evaluate
// without throwing, obeying three-valued logic's laws. Seeded, so a failure replays; bounded.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { evaluateSql, type Tri } from './sql-evaluator.js';
import { SqlFilterError } from './sql-filter-error.js';
import { parseSql, type SqlSelector } from './sql-parser.js';
import { SeededRandom } from '@orbit/common/seeded-random';

const CASES = 20_000;
const BUDGET_MS = 20_000;


const TOKENS = ['a', 'b', 'TAGS', 'x1', '=', '<>', '!=', '>', '>=', '<', '<=', '(', ')', ',', '+', '-', 'AND', 'or', 'NOT', 'BETWEEN', 'in', 'IS', 'NULL', 'TRUE', 'false',
  "'x'", "''", "'it''s'", "'", '0', '5', '-3', '2.5', '.5', '5.', '1e3', '9223372036854775808', '--', '/*', '*/', '\n', ' ', '#', '日', '\u0000'];
const PROPS: Record<string, string> = { a: '4', b: 'x', c: 'abc', d: '9007199254740993', e: '2.5', f: 'true' };
const lookup = (n: string) => PROPS[n];

/** Parses; returns the selector, or undefined after checking the error is a well-formed SqlFilterError. */
function tryParse(text: string): SqlSelector | undefined {
  try {
    return parseSql(text);
  } catch (err) {
    if (!(err instanceof SqlFilterError)) throw new Error(`${JSON.stringify(text)} threw ${String(err)}`);
    assert.ok(err.offset >= 0 && err.offset <= Math.max(text.length, 4096), `offset ${err.offset} in ${JSON.stringify(text)}`);
    assert.ok(err.column >= 1 && err.line >= 1);
    assert.match(err.message, /^Encountered .+ at (line \d+, )?column \d+, expected .+/s);
    return undefined;
  }
}

function checkEvaluates(selector: SqlSelector): Tri {
  const t = evaluateSql(selector, lookup);
  assert.ok(t === true || t === false || t === null, `${selector.text} gave ${String(t)}`);
  return t;
}

/** A random well-formed condition of bounded depth. */
function genCondition(r: SeededRandom, depth: number): string {
  const operand = () => r.pick(['a', 'b', 'c', 'd', 'e', 'missing', '5', '-3', '2.5', '9007199254740992', '-a']);
  const str = () => r.pick(["'x'", "'abc'", "''", "'it''s'"]);
  const leaf = () => {
    switch (r.int(9)) {
      case 0:
        return `${operand()} ${r.pick(['>', '>=', '<', '<='])} ${operand()}`;
      case 1:
        return `${r.pick(['a', 'b', 'c'])} ${r.pick(['=', '<>', '!='])} ${r.next() < 0.5 ? str() : operand()}`;
      case 2:
        return `${r.pick(['a', 'e', 'missing'])} ${r.next() < 0.5 ? 'NOT ' : ''}BETWEEN -1 AND ${r.int(10)}`;
      case 3:
        return `${r.pick(['a', 'b', 'missing'])} ${r.next() < 0.5 ? 'NOT ' : ''}IN (${r.next() < 0.5 ? "'x', 'y'" : '4, 5.0'})`;
      case 4:
        return `${r.pick(['a', 'missing'])} IS ${r.next() < 0.5 ? 'NOT ' : ''}NULL`;
      case 5:
        return r.pick(['TRUE', 'FALSE', 'f', 'b']);
      case 6:
        return `f = ${r.pick(['TRUE', 'FALSE'])}`;
      default:
        return `${operand()} = ${operand()}`;
    }
  };
  if (depth <= 0 || r.next() < 0.3) return leaf();
  switch (r.int(4)) {
    case 0:
      return `${genCondition(r, depth - 1)} AND ${genCondition(r, depth - 1)}`;
    case 1:
      return `${genCondition(r, depth - 1)} OR ${genCondition(r, depth - 1)}`;
    case 2:
      return `NOT ${genCondition(r, depth - 1)}`;
    default:
      return `(${genCondition(r, depth - 1)})`;
  }
}

test('token soups, random characters and mutated expressions fail only with SqlFilterError', () => {
  const r = new SeededRandom(0x5eed_501);
  const started = Date.now();
  let parsedCount = 0;
  for (let i = 0; i < CASES && Date.now() - started < BUDGET_MS; i++) {
    let text: string;
    switch (i % 3) {
      case 0:
        text = Array.from({ length: 1 + r.int(12) }, () => r.pick(TOKENS)).join(r.next() < 0.8 ? ' ' : '');
        break;
      case 1:
        text = Array.from({ length: r.int(30) }, () => String.fromCharCode(r.next() < 0.8 ? 32 + r.int(95) : r.int(0x3000))).join('');
        break;
      default: {
        const base = genCondition(r, 3);
        const at = r.int(base.length + 1);
        const cut = r.int(4);
        text = base.slice(0, at) + (r.next() < 0.5 ? r.pick(TOKENS) : '') + base.slice(at + cut);
      }
    }
    const selector = tryParse(text);
    if (selector) {
      parsedCount++;
      checkEvaluates(selector);
    }
  }
  assert.ok(parsedCount > 100, `only ${parsedCount} inputs parsed; the generator is too weak`);
});

test('generated expressions parse and obey three-valued logic', () => {
  const r = new SeededRandom(0xf00d);
  const started = Date.now();
  const not = (t: Tri) => (t === null ? null : !t);
  for (let i = 0; i < CASES / 4 && Date.now() - started < BUDGET_MS; i++) {
    const text = genCondition(r, 4);
    const selector = parseSql(text);
    const t = checkEvaluates(selector);
    assert.is(checkEvaluates(parseSql(`NOT (${text})`)), not(t), `NOT of ${text}`);
    assert.ok(checkEvaluates(parseSql(`(${text}) OR NOT (${text})`)) !== false, `excluded middle: ${text}`);
    assert.ok(checkEvaluates(parseSql(`(${text}) AND NOT (${text})`)) !== true, `no contradiction: ${text}`);
  }
});

test('nesting at the limit and pathological inputs stay fast', () => {
  const started = Date.now();
  tryParse('('.repeat(4096));
  tryParse('NOT '.repeat(1024));
  tryParse(`a IN (${"'x',".repeat(1000)}'y')`);
  tryParse("'".repeat(4096));
  tryParse(`${'a = 1 OR '.repeat(409)}a = 1`);
  tryParse('/*'.repeat(2048));
  assert.ok(Date.now() - started < 2_000, `took ${Date.now() - started} ms`);
});

test.run();
