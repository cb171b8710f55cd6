// The SQL92 filter lexer: token kinds and spans, keywords in any case, string escapes, RocketMQ's
// number literal forms, comments, and errors naming the position.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SqlFilterError } from './sql-filter-error.js';
import { tokenize, type SqlToken } from './sql-lexer.js';

/** Each token as a short string: kind:value. */
function show(t: SqlToken): string {
  switch (t.kind) {
    case 'keyword':
      return `kw:${t.keyword}`;
    case 'identifier':
      return `id:${t.name}`;
    case 'string':
      return `str:${t.value}`;
    case 'long':
      return `long:${t.value}`;
    case 'double':
      return `double:${t.value}`;
    case 'symbol':
      return `sym:${t.symbol}`;
    case 'eof':
      return 'eof';
  }
}

const lex = (text: string) => tokenize(text).map(show);

function lexError(text: string): SqlFilterError {
  try {
    tokenize(text);
  } catch (err) {
    assert.instance(err, SqlFilterError);
    return err as SqlFilterError;
  }
  throw new Error(`expected ${JSON.stringify(text)} not to tokenize`);
}

test('keywords in any case; property names keep their case', () => {
  assert.equal(lex('a and B Or not between In true FALSE Null is'), ['id:a', 'kw:AND', 'id:B', 'kw:OR', 'kw:NOT', 'kw:BETWEEN', 'kw:IN', 'kw:TRUE', 'kw:FALSE', 'kw:NULL', 'kw:IS', 'eof']);
  assert.equal(lex('TAGS KEYS $x _y a1 Andy'), ['id:TAGS', 'id:KEYS', 'id:$x', 'id:_y', 'id:a1', 'id:Andy', 'eof']);
});

test('operators, longest first, and spans', () => {
  assert.equal(lex('a<>b!=c>=d<=e>f<g=h(,)+-'), [
    'id:a', 'sym:<>', 'id:b', 'sym:!=', 'id:c', 'sym:>=', 'id:d', 'sym:<=', 'id:e', 'sym:>', 'id:f', 'sym:<', 'id:g', 'sym:=', 'id:h', 'sym:(', 'sym:,', 'sym:)', 'sym:+', 'sym:-', 'eof',
  ]);
  const [a, ge, five, eof] = tokenize(' ab >= 5 ');
  assert.equal([a!.start, a!.end, ge!.start, ge!.end, five!.start, five!.end, eof!.start], [1, 3, 4, 6, 7, 8, 9]);
});

test("strings: single quotes, '' is one quote, anything else kept as is", () => {
  assert.equal(lex("'abc' '' 'it''s' 'a\"b' '日本' ''''"), ['str:abc', 'str:', "str:it's", 'str:a"b', 'str:日本', "str:'", 'eof']);
});

test('numbers: decimal (with an L suffix) as long, the floating forms as double', () => {
  assert.equal(lex('0 42 42L 9223372036854775807 99999999999999999999'), ['long:0', 'long:42', 'long:42', 'long:9223372036854775807', 'long:99999999999999999999', 'eof']);
  assert.equal(lex('5.5 5. .5 5E10 5.5e-3 1e+2'), ['double:5.5', 'double:5', 'double:0.5', 'double:50000000000', 'double:0.0055', 'double:100', 'eof']);
  // An exponent marker without digits is not part of the number.
  assert.equal(lex('5e'), ['long:5', 'id:e', 'eof']);
  // A sign is a separate token; the parser folds it into the constant.
  assert.equal(lex('-5 +1.5'), ['sym:-', 'long:5', 'sym:+', 'double:1.5', 'eof']);
});

test('comments are skipped', () => {
  assert.equal(lex("a /* x = 'y' */ = 1 -- trailing\n AND b"), ['id:a', 'sym:=', 'long:1', 'kw:AND', 'id:b', 'eof']);
  assert.equal(lex('a -- to the end'), ['id:a', 'eof']);
});

test('errors say where and what was expected', () => {
  const unterminated = lexError("a = 'abc");
  assert.is(unterminated.offset, 4);
  assert.is(unterminated.column, 5);
  assert.is(unterminated.message, `Encountered "'abc" at column 5, expected a closing quote (') of the string`);
  const bad = lexError('a # 1');
  assert.is(bad.message, 'Encountered "#" at column 3, expected a property name, a constant, an operator or a parenthesis');
  assert.is(lexError('a = 1 /* open').column, 7);
  assert.is(lexError('a ! b').column, 3, 'a lone ! is no operator');
  assert.is(lexError('a.b = 1').column, 2, 'no dots in property names (as RocketMQ)');
  const second = lexError("a = 1\n  AND b = 'x");
  assert.equal([second.line, second.column], [2, 11]);
  assert.match(second.message, /at line 2, column 11/);
});

test.run();
