// The SQL92 filter evaluator: three-valued logic (TRUE, FALSE, UNKNOWN; only TRUE matches), missing
// properties, numeric conversion of property strings (long exact, then double), string and boolean
// comparison, BETWEEN, IN, IS NULL.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { evaluateSql, matchesSql, toNumber, type Tri } from './sql-evaluator.js';
import { parseSql } from './sql-parser.js';

const props = (p: Record<string, string>) => (name: string) => (Object.hasOwn(p, name) ? p[name] : undefined);
const evalWith = (text: string, p: Record<string, string> = {}): Tri => evaluateSql(parseSql(text), props(p));

/** SQL for each truth value: UNKNOWN comes from comparing a missing property. */
const T = 'TRUE';
const F = 'FALSE';
const U = 'missing > 1';
const name = (t: string) => (t === T ? 'T' : t === F ? 'F' : 'U');
const value = (t: Tri) => (t === null ? 'U' : t ? 'T' : 'F');

test('three-valued AND, OR, NOT (Kleene), as JMS selectors', () => {
  const and: Record<string, string> = { TT: 'T', TF: 'F', TU: 'U', FT: 'F', FF: 'F', FU: 'F', UT: 'U', UF: 'F', UU: 'U' };
  const or: Record<string, string> = { TT: 'T', TF: 'T', TU: 'T', FT: 'T', FF: 'F', FU: 'U', UT: 'T', UF: 'U', UU: 'U' };
  for (const l of [T, F, U]) {
    for (const r of [T, F, U]) {
      const key = name(l) + name(r);
      assert.is(value(evalWith(`${l} AND ${r}`)), and[key], `${key} AND`);
      assert.is(value(evalWith(`${l} OR ${r}`)), or[key], `${key} OR`);
    }
  }
  assert.equal([T, F, U].map((t) => value(evalWith(`NOT (${t})`))), ['F', 'T', 'U']);
});

test('a missing property: comparisons are UNKNOWN, so neither a > 5 nor NOT a > 5 matches', () => {
  for (const text of ['a > 5', 'NOT a > 5', "a = 'x'", "a <> 'x'", 'a BETWEEN 1 AND 2', 'a NOT BETWEEN 1 AND 2', "a IN ('x')", "a NOT IN ('x')", 'a', 'NOT a']) {
    assert.is(evalWith(text, { b: '1' }), null, text);
    assert.is(matchesSql(parseSql(text), props({ b: '1' })), false, text);
  }
  assert.is(evalWith('a IS NULL', {}), true);
  assert.is(evalWith('a IS NOT NULL', {}), false);
  assert.is(evalWith('a IS NULL', { a: 'v' }), false);
  assert.is(evalWith('a IS NOT NULL', { a: 'v' }), true);
  assert.is(evalWith('a > 5 OR b IS NULL', {}), true, 'UNKNOWN OR TRUE');
});

test('numbers: the property string is converted; not a number makes the comparison UNKNOWN', () => {
  assert.is(evalWith('a > 5', { a: '6' }), true);
  assert.is(evalWith('a > 5', { a: '5' }), false);
  assert.is(evalWith('a >= 5', { a: '5' }), true);
  assert.is(evalWith('a < 5.5', { a: '5' }), true);
  assert.is(evalWith('a <= -1', { a: '-1' }), true);
  assert.is(evalWith('a > 5', { a: '5.5' }), true, 'a double property against a long constant');
  assert.is(evalWith('a = 3', { a: '3.0' }), true);
  assert.is(evalWith('a = 3', { a: ' 3 ' }), true, 'surrounding blanks are ignored');
  assert.is(evalWith('a = 3', { a: '1e0' }), false);
  assert.is(evalWith('a = 1', { a: '1e0' }), true);
  assert.is(evalWith('a > 5', { a: 'abc' }), null);
  assert.is(evalWith('NOT a > 5', { a: 'abc' }), null, 'not a number: NOT does not make it match');
  assert.is(evalWith('a = 5', { a: 'five' }), null);
  assert.is(evalWith('a <> 5', { a: 'five' }), null);
  assert.is(evalWith('a > b', { a: '10', b: '9' }), true, 'two properties compare as numbers');
  assert.is(evalWith('a > b', { a: '10', b: 'x' }), null);
  assert.is(evalWith('-a = 5', { a: '-5' }), true);
  assert.is(evalWith('-a = 5', { a: 'x' }), null);
  // Longs are exact beyond 2^53, as Java's long compare is.
  assert.is(evalWith('a > 9007199254740992', { a: '9007199254740993' }), true);
  assert.is(evalWith('a = 9007199254740993', { a: '9007199254740992' }), false);
  assert.is(evalWith('a = 9223372036854775807', { a: '9223372036854775807' }), true);
  assert.is(evalWith('a < 1.5', { a: '99999999999999999999' }), false, 'beyond a long: a double');
  assert.is(toNumber('12'), 12n);
  assert.is(toNumber('-0.5'), -0.5);
  assert.is(toNumber('2.5d'), 2.5);
  assert.is(toNumber('.5E1'), 5);
  for (const s of ['', ' ', 'NaN', 'Infinity', '0x10', '1,5', '1.2.3', '--1', 'true']) assert.is(toNumber(s), undefined, s);
});

test('strings compare by = and <> only, exactly (case and blanks count)', () => {
  assert.is(evalWith("b = 'x'", { b: 'x' }), true);
  assert.is(evalWith("b = 'x'", { b: 'X' }), false);
  assert.is(evalWith("b = 'x'", { b: 'x ' }), false);
  assert.is(evalWith("b <> 'x'", { b: 'y' }), true);
  assert.is(evalWith("b != 'x'", { b: 'x' }), false);
  assert.is(evalWith("b = 'it''s'", { b: "it's" }), true);
  assert.is(evalWith("'1' = a", { a: '1' }), true);
  assert.is(evalWith("a = '1.0'", { a: '1' }), false, 'string against string: no conversion');
  assert.is(evalWith('a = b', { a: 'v', b: 'v' }), true);
});

test('booleans: TRUE/FALSE against "true"/"false" in any case; a bare property holds when it is "true"', () => {
  assert.is(evalWith('flag = TRUE', { flag: 'true' }), true);
  assert.is(evalWith('flag = TRUE', { flag: 'TRUE' }), true);
  assert.is(evalWith('flag = FALSE', { flag: 'false' }), true);
  assert.is(evalWith('flag = TRUE', { flag: 'yes' }), false);
  assert.is(evalWith('flag', { flag: 'True' }), true);
  assert.is(evalWith('flag', { flag: '1' }), false);
  assert.is(evalWith('NOT flag', { flag: 'false' }), true);
  assert.is(evalWith('(a > 1) = TRUE', { a: '2' }), true);
  assert.is(evalWith('(a > 1) = TRUE', {}), null);
});

test('BETWEEN is >= low AND <= high; NOT BETWEEN is < low OR > high', () => {
  const between = (a: string) => evalWith('a BETWEEN 3 AND 5', { a });
  assert.equal(['2', '3', '4', '5', '6', '4.5', 'x'].map((a) => value(between(a))), ['F', 'T', 'T', 'T', 'F', 'T', 'U']);
  const notBetween = (a: string) => evalWith('a NOT BETWEEN 3 AND 5', { a });
  assert.equal(['2', '3', '5', '6', 'x'].map((a) => value(notBetween(a))), ['T', 'F', 'F', 'T', 'U']);
  assert.is(evalWith('a BETWEEN lo AND hi', { a: '5', lo: '1' }), null, 'a missing bound: UNKNOWN');
  assert.is(evalWith('a BETWEEN lo AND hi', { a: '0', lo: '1' }), false, 'below the known bound: FALSE whatever the other');
  assert.is(evalWith('a NOT BETWEEN lo AND hi', { a: '0', lo: '1' }), true);
});

test('IN and NOT IN: strings exactly, numbers numerically; a missing property is UNKNOWN either way', () => {
  assert.is(evalWith("b IN ('x', 'y')", { b: 'y' }), true);
  assert.is(evalWith("b IN ('x', 'y')", { b: 'z' }), false);
  assert.is(evalWith("b NOT IN ('x', 'y')", { b: 'z' }), true);
  assert.is(evalWith("b NOT IN ('x', 'y')", { b: 'x' }), false);
  assert.is(evalWith('a IN (1, 2)', { a: '2' }), true);
  assert.is(evalWith('a IN (1, 2)', { a: '2.0' }), true);
  assert.is(evalWith('a IN (1, 2)', { a: 'x' }), false, 'not a number equals no number');
  assert.is(evalWith("a IN ('2')", { a: '2.0' }), false, 'a string value is compared as a string');
  assert.is(evalWith("a IN ('1', 2)", { a: '2' }), true);
  assert.is(evalWith('a IN (1, 2)', {}), null);
  assert.is(evalWith('a NOT IN (1, 2)', {}), null);
});

test('system properties are plain names: TAGS, KEYS', () => {
  const msg = { TAGS: 'TagA', KEYS: 'k1 k2', a: '4' };
  assert.is(evalWith("TAGS IN ('TagA', 'TagB') AND a BETWEEN 0 AND 5", msg), true);
  assert.is(evalWith('(TAGS is not null and TAGS in (\'TagA\', \'TagB\')) and (a is not null and a between 0 and 3)', msg), false);
  assert.is(evalWith("KEYS = 'k1 k2'", msg), true);
});

test('evaluation reads each property through the lookup, and only the ones named', () => {
  const asked: string[] = [];
  const selector = parseSql("a > 1 AND b = 'x'");
  assert.is(evaluateSql(selector, (n) => (asked.push(n), n === 'a' ? '0' : 'x')), false);
  assert.equal(asked, ['a'], 'AND stops at the first FALSE');
});

test.run();
