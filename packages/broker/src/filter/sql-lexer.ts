// Tokens of RocketMQ's SQL92 filter language (org.apache.rocketmq.filter SelectorParser.jj, the
// JMS selector grammar without LIKE, arithmetic, hex and octal). Keywords are case-insensitive;
// property names keep their case. `--` line comments and `/* */` block comments are skipped, as there.
import { quoteSource, SqlFilterError } from './sql-filter-error.js';

export const SQL_KEYWORDS = ['NOT', 'AND', 'OR', 'BETWEEN', 'IN', 'TRUE', 'FALSE', 'NULL', 'IS'] as const;
export type SqlKeyword = (typeof SQL_KEYWORDS)[number];
const KEYWORDS: ReadonlySet<string> = new Set(SQL_KEYWORDS);

export type SqlSymbol = '=' | '<>' | '!=' | '>' | '>=' | '<' | '<=' | '(' | ')' | ',' | '+' | '-';

interface Span {
  /** 0-based offset of the token's first character. */
  start: number;
  /** 0-based offset just past its last character. */
  end: number;
}

export type SqlToken = Span &
  (
    | { kind: 'keyword'; keyword: SqlKeyword }
    | { kind: 'identifier'; name: string }
    | { kind: 'string'; value: string }
    /** An integer constant without its sign (the parser range-checks it with the sign). */
    | { kind: 'long'; value: bigint }
    | { kind: 'double'; value: number }
    | { kind: 'symbol'; symbol: SqlSymbol }
    | { kind: 'eof' }
  );

const isDigit = (c: number) => c >= 48 && c <= 57;
const isIdStart = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 /* _ */ || c === 36; /* $ */
const isIdPart = (c: number) => isIdStart(c) || isDigit(c);
const isSpace = (c: number) => c === 32 || c === 9 || c === 10 || c === 13 || c === 12;

/** How a token is named in error messages. */
export function describeToken(token: SqlToken, text: string): string {
  return token.kind === 'eof' ? 'end of expression' : quoteSource(text.slice(token.start, token.end));
}

/** The whole expression as tokens, ending with one `eof`. Throws SqlFilterError on a character that starts no token. */
export function tokenize(text: string): SqlToken[] {
  const tokens: SqlToken[] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (isSpace(c)) {
      i++;
      continue;
    }
    const start = i;
    if (c === 45 /* - */ && text.charCodeAt(i + 1) === 45) {
      while (i < n && text.charCodeAt(i) !== 10 && text.charCodeAt(i) !== 13) i++;
      continue;
    }
    if (c === 47 /* / */ && text.charCodeAt(i + 1) === 42 /* * */) {
      const close = text.indexOf('*/', i + 2);
      if (close < 0) throw new SqlFilterError(start, quoteSource(text.slice(start)), 'the end of the comment (*/)', text);
      i = close + 2;
      continue;
    }
    if (isIdStart(c)) {
      while (i < n && isIdPart(text.charCodeAt(i))) i++;
      const image = text.slice(start, i);
      const upper = image.toUpperCase();
      if (KEYWORDS.has(upper)) tokens.push({ kind: 'keyword', keyword: upper as SqlKeyword, start, end: i });
      else tokens.push({ kind: 'identifier', name: image, start, end: i });
      continue;
    }
    if (isDigit(c) || (c === 46 /* . */ && isDigit(text.charCodeAt(i + 1)))) {
      tokens.push(lexNumber(text, start));
      i = tokens[tokens.length - 1]!.end;
      continue;
    }
    if (c === 39 /* ' */) {
      let value = '';
      i++;
      for (;;) {
        if (i >= n) throw new SqlFilterError(start, quoteSource(text.slice(start)), "a closing quote (') of the string", text);
        const q = text.indexOf("'", i);
        if (q < 0) {
          i = n;
          continue;
        }
        value += text.slice(i, q);
        if (text.charCodeAt(q + 1) === 39) {
          value += "'"; // '' inside a string is one quote
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      tokens.push({ kind: 'string', value, start, end: i });
      continue;
    }
    const two = text.slice(i, i + 2);
    if (two === '<>' || two === '!=' || two === '>=' || two === '<=') {
      tokens.push({ kind: 'symbol', symbol: two, start, end: i + 2 });
      i += 2;
      continue;
    }
    const one = text[i]!;
    if (one === '=' || one === '>' || one === '<' || one === '(' || one === ')' || one === ',' || one === '+' || one === '-') {
      tokens.push({ kind: 'symbol', symbol: one, start, end: i + 1 });
      i++;
      continue;
    }
    const cp = text.codePointAt(i)!;
    throw new SqlFilterError(start, quoteSource(String.fromCodePoint(cp)), 'a property name, a constant, an operator or a parenthesis', text);
  }
  tokens.push({ kind: 'eof', start: n, end: n });
  return tokens;
}

/**
 * DECIMAL_LITERAL `0 | [1-9][0-9]* [lL]?` or FLOATING_POINT_LITERAL `5.5 | 5. | .5 | 5E10 | 5.5E-3`.
 * An exponent marker not followed by digits is not part of the number.
 */
function lexNumber(text: string, start: number): SqlToken {
  const n = text.length;
  let i = start;
  while (i < n && isDigit(text.charCodeAt(i))) i++;
  let isFloat = false;
  if (text.charCodeAt(i) === 46 /* . */) {
    isFloat = true;
    i++;
    while (i < n && isDigit(text.charCodeAt(i))) i++;
  }
  const e = text.charCodeAt(i);
  if (e === 69 || e === 101 /* E e */) {
    let j = i + 1;
    const sign = text.charCodeAt(j);
    if (sign === 43 || sign === 45) j++;
    if (isDigit(text.charCodeAt(j))) {
      while (j < n && isDigit(text.charCodeAt(j))) j++;
      isFloat = true;
      i = j;
    }
  }
  if (isFloat) return { kind: 'double', value: Number(text.slice(start, i)), start, end: i };
  const digits = text.slice(start, i);
  const suffix = text.charCodeAt(i);
  if (suffix === 76 || suffix === 108 /* L l */) i++;
  return { kind: 'long', value: BigInt(digits), start, end: i };
}
