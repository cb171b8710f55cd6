// The SQL92 filter parser: precedence and shape (printed as S-expressions), RocketMQ's compile-time
// checks, errors with positions, and the limits (length, nesting, IN-list size).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SqlFilterError } from './sql-filter-error.js';
import { DEFAULT_SQL_PARSE_LIMITS, parseSql, type SqlExpr } from './sql-parser.js';

function show(e: SqlExpr): string {
  switch (e.kind) {
    case 'constant':
      return e.value === null ? 'NULL' : typeof e.value === 'string' ? `'${e.value}'` : typeof e.value === 'bigint' ? `${e.value}L` : String(e.value);
    case 'property':
      return e.name;
    case 'negate':
      return `(- ${show(e.operand)})`;
    case 'not':
      return `(NOT ${show(e.operand)})`;
    case 'truth':
      return `(truth ${show(e.operand)})`;
    case 'and':
    case 'or':
      return `(${e.kind.toUpperCase()} ${e.operands.map(show).join(' ')})`;
    case 'compare':
      return `(${e.op} ${show(e.left)} ${show(e.right)})`;
    case 'between':
      return `(${e.negated ? 'NOT-BETWEEN' : 'BETWEEN'} ${show(e.value)} ${show(e.low)} ${show(e.high)})`;
    case 'in':
      return `(${e.negated ? 'NOT-IN' : 'IN'} ${e.property} [${e.values.map((v) => (typeof v === 'string' ? `'${v}'` : typeof v === 'bigint' ? `${v}L` : String(v))).join(' ')}])`;
    case 'isNull':
      return `(${e.negated ? 'IS-NOT-NULL' : 'IS-NULL'} ${show(e.operand)})`;
  }
}

const parsed = (text: string) => show(parseSql(text).root);

function parseError(text: string, limits = DEFAULT_SQL_PARSE_LIMITS): SqlFilterError {
  try {
    parseSql(text, limits);
  } catch (err) {
    assert.instance(err, SqlFilterError);
    return err as SqlFilterError;
  }
  throw new Error(`expected ${JSON.stringify(text)} not to parse`);
}

test('precedence: OR < AND < NOT < comparisons < signs; parentheses group', () => {
  assert.is(parsed('a = 1 OR b = 2 AND c = 3'), '(OR (= a 1L) (AND (= b 2L) (= c 3L)))');
  assert.is(parsed('(a = 1 OR b = 2) AND c = 3'), '(AND (OR (= a 1L) (= b 2L)) (= c 3L))');
  assert.is(parsed('NOT a = 1 AND b = 2'), '(AND (NOT (= a 1L)) (= b 2L))');
  assert.is(parsed('NOT NOT a > 1 OR b < 2'), '(OR (NOT (NOT (> a 1L))) (< b 2L))');
  assert.is(parsed('a = 1 AND b = 2 AND c = 3 OR d = 4 OR e = 5'), '(OR (AND (= a 1L) (= b 2L) (= c 3L)) (= d 4L) (= e 5L))', 'chains are flat');
  assert.is(parsed('a > -5 AND b <= +2.5 AND c < - d'), '(AND (> a -5L) (<= b 2.5) (< c (- d)))');
  assert.is(parsed('-(-(3)) = a'), '(= 3L a)', 'signs of constants fold');
});

test('the predicates', () => {
  assert.is(parsed("a <> 'x' AND b != 'y'"), "(AND (<> a 'x') (<> b 'y'))");
  assert.is(parsed('a >= 1 and a <= 2 and a > 0 and a < 3'), '(AND (>= a 1L) (<= a 2L) (> a 0L) (< a 3L))');
  assert.is(parsed('a BETWEEN 3 AND 5 AND b = 1'), '(AND (BETWEEN a 3L 5L) (= b 1L))', 'the AND inside BETWEEN belongs to it');
  assert.is(parsed('a NOT BETWEEN -1 AND 1.5'), '(NOT-BETWEEN a -1L 1.5)');
  assert.is(parsed("b IN ('x', 'y''z') OR a not in (1, -2, 3.5)"), "(OR (IN b ['x' 'y'z']) (NOT-IN a [1L -2L 3.5]))");
  assert.is(parsed('a IS NULL OR b IS NOT NULL'), '(OR (IS-NULL a) (IS-NOT-NULL b))');
  assert.is(parsed('TRUE'), 'true');
  assert.is(parsed('flag AND NOT other'), '(AND (truth flag) (NOT (truth other)))', 'a bare property is cast to a condition');
  assert.is(parsed('(a > 1) = FALSE'), '(= (> a 1L) false)');
  assert.is(parsed('TAGS = \'TagA\' AND KEYS IS NOT NULL'), "(AND (= TAGS 'TagA') (IS-NOT-NULL KEYS))");
});

test('the properties an expression reads, each once', () => {
  assert.equal(parseSql("a > 1 AND (b = 'x' OR a < 5) AND c IN ('1') AND d IS NULL").properties, ['a', 'b', 'c', 'd']);
  assert.equal(parseSql('TRUE').properties, []);
});

test('long constants are exact and range-checked with their sign', () => {
  const root = parseSql('a = 9007199254740993').root;
  assert.is(root.kind === 'compare' && root.right.kind === 'constant' ? root.right.value : undefined, 9007199254740993n);
  assert.is(parsed('a > -9223372036854775808'), '(> a -9223372036854775808L)');
  assert.is(parseError('a > 9223372036854775808').message, 'Encountered "9223372036854775808" at column 5, expected a number within the range of a long (-9223372036854775808..9223372036854775807)');
  assert.is(parseError('a IN (-9223372036854775809)').column, 8);
});

test('syntax errors: what was found, where, and what was expected', () => {
  const cases: [string, string][] = [
    ["a > 3 AND AND b = 'x'", 'Encountered "AND" at column 11, expected an expression'],
    ['', 'Encountered end of expression at column 1, expected an expression'],
    ['a >', 'Encountered end of expression at column 4, expected an expression'],
    ['a = 1 b = 2', 'Encountered "b" at column 7, expected AND, OR or end of expression'],
    ['(a = 1', 'Encountered end of expression at column 7, expected AND, OR or ")"'],
    ['a = 1)', 'Encountered ")" at column 6, expected AND, OR or end of expression'],
    ['a BETWEEN 1 OR 2', 'Encountered "OR" at column 13, expected AND between the bounds of BETWEEN'],
    ['a NOT LIKE 1', 'Encountered "LIKE" at column 7, expected BETWEEN or IN after NOT'],
    ['a IS 5', 'Encountered "5" at column 6, expected NULL or NOT NULL after IS'],
    ['a IS NOT TRUE', 'Encountered "TRUE" at column 10, expected NULL after IS NOT'],
    ["a IN 'x'", `Encountered "'x'" at column 6, expected "(" after IN`],
    ["a IN ('x' 'y')", `Encountered "'y'" at column 11, expected "," or ")" in the IN list`],
    ['a IN (b)', 'Encountered "b" at column 7, expected a string or number constant in the IN list'],
    ['a IN (-x)', 'Encountered "x" at column 8, expected a number after "-"'],
    ['a = = 1', 'Encountered "=" at column 5, expected an expression'],
    ['a = 1 = 2', 'Encountered "=" at column 7, expected AND, OR or end of expression'],
  ];
  for (const [text, message] of cases) assert.is(parseError(text).message, message, text);
});

test("RocketMQ's compile-time checks", () => {
  const cases: [string, string][] = [
    ["a > 'x'", `Encountered "'x'" at column 5, expected a number or a property name (> compares numbers)`],
    ['TRUE <= a', 'Encountered "TRUE" at column 1, expected a number or a property name (<= compares numbers)'],
    ['(a = 1) > 0', 'Encountered "(a = 1)" at column 1, expected a number or a property name (> compares numbers)'],
    ["a BETWEEN 'a' AND 'z'", `Encountered "'a'" at column 11, expected a number or a property name (BETWEEN compares numbers)`],
    ['a BETWEEN 5 AND 3', 'Encountered "5" at column 11, expected a lower bound not above the upper bound 3'],
    ['a = NULL', 'Encountered "NULL" at column 5, expected a value (test for a missing property with IS NULL)'],
    ["TRUE = 'x'", `Encountered "'x'" at column 8, expected TRUE or FALSE`],
    ["'x' IN ('x')", `Encountered "'x'" at column 1, expected a property name before IN`],
    ["-'x' = a", `Encountered "'x'" at column 2, expected a number or a property name after "-"`],
    ['5', 'Encountered "5" at column 1, expected a condition (a comparison, BETWEEN, IN, IS NULL, TRUE, FALSE or a property)'],
    ["a = 1 AND 'x'", `Encountered "'x'" at column 11, expected a condition (a comparison, BETWEEN, IN, IS NULL, TRUE, FALSE or a property)`],
    ['NOT 5', 'Encountered "5" at column 5, expected a condition (a comparison, BETWEEN, IN, IS NULL, TRUE, FALSE or a property)'],
  ];
  for (const [text, message] of cases) assert.is(parseError(text).message, message, text);
});

test('multi-line expressions report the line too', () => {
  const err = parseError("a = 1\nAND\nb = = 'x'");
  assert.equal([err.offset, err.line, err.column], [14, 3, 5]);
  assert.is(err.message, 'Encountered "=" at line 3, column 5, expected an expression');
});

test('limits: 4096 characters, 64 nested levels, 1024 IN values (all adjustable)', () => {
  const clause = "a = 'x' OR ";
  const long = clause.repeat(Math.floor((4096 - 5) / clause.length)) + 'b = 1';
  assert.ok(long.length <= 4096);
  parseSql(long);
  const tooLong = long + ' OR c = 123456789';
  const err = parseError(tooLong);
  assert.is(err.offset, 4096);
  assert.is(err.message, `Encountered an expression of ${tooLong.length} characters at column 4097, expected at most 4096 characters`);

  parseSql(`${'('.repeat(64)}a = 1${')'.repeat(64)}`);
  const deep = parseError(`${'('.repeat(65)}a = 1${')'.repeat(65)}`);
  assert.is(deep.message, 'Encountered "(" at column 65, expected expressions nested at most 64 levels deep (parentheses, NOT and signs)');
  assert.is(parseError(`${'NOT '.repeat(65)}a`).column, 257);
  assert.is(parseError(`${'-'.repeat(130).split('').join(' ')} a = 1`).column, 129, 'signs count as levels too');
  assert.is(parseError('('.repeat(3000)).column, 65, 'no stack overflow before the limit');

  const values = (n: number) => Array.from({ length: n }, (_, i) => String(i % 10)).join(',');
  parseSql(`a IN (${values(1024)})`);
  const many = parseError(`a IN (${values(1025)})`);
  assert.is(many.offset, 6 + 1024 * 2, 'at the 1025th value');
  assert.match(many.message, /expected at most 1024 values in an IN list$/);

  const small = { maxExpressionChars: 10, maxDepth: 1, maxInListSize: 1 };
  assert.is(parseError('a = 12345678', small).offset, 10);
  assert.is(parseError('((a))', small).column, 2);
  assert.is(parseError("a IN ('x','y')", small).column, 11);
});

test.run();
