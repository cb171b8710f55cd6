// The SQL92 filter grammar of RocketMQ's MessageSelector.bySql (org.apache.rocketmq.filter, a subset
// of JMS message selectors) parsed into a small AST, with RocketMQ's compile-time checks (only
// numbers and properties around > >= < <= and BETWEEN, IN only after a property, no `= NULL`,
// BETWEEN bounds in order). Every error says where and what was expected.
//
//   selector  := or <end>
//   or        := and (OR and)*
//   and       := not (AND not)*
//   not       := NOT not | predicate
//   predicate := operand [ (= | <> | != | > | >= | < | <=) operand
//                        | [NOT] BETWEEN operand AND operand
//                        | [NOT] IN ( constant {, constant} )
//                        | IS [NOT] NULL ]
//   operand   := (+ | -) operand | constant | property | ( or )
//
// One deliberate difference: NOT binds looser than comparisons, as in SQL (`NOT a = 1` is
// `NOT (a = 1)`); RocketMQ's generated parser reads it as `(NOT a) = 1`, which is never useful.
// IN lists may hold numbers as well as strings (RocketMQ: strings only).
import { quoteSource, SqlFilterError } from './sql-filter-error.js';
import { describeToken, tokenize, type SqlKeyword, type SqlSymbol, type SqlToken } from './sql-lexer.js';

export type CompareOp = '=' | '<>' | '>' | '>=' | '<' | '<=';
/** A constant: string, integer (Java long, as bigint), floating point (double) or boolean. */
export type SqlConstant = string | bigint | number | boolean;
export type InListValue = string | bigint | number;

interface Span {
  /** 0-based offsets of the source text the node was parsed from. */
  start: number;
  end: number;
}

export type SqlExpr = Span &
  (
    /** `value` null is the NULL literal. */
    | { kind: 'constant'; value: SqlConstant | null }
    | { kind: 'property'; name: string }
    | { kind: 'negate'; operand: SqlExpr }
    | { kind: 'not'; operand: SqlExpr }
    | { kind: 'and'; operands: SqlExpr[] }
    | { kind: 'or'; operands: SqlExpr[] }
    | { kind: 'compare'; op: CompareOp; left: SqlExpr; right: SqlExpr }
    | { kind: 'between'; negated: boolean; value: SqlExpr; low: SqlExpr; high: SqlExpr }
    | { kind: 'in'; negated: boolean; property: string; values: InListValue[] }
    | { kind: 'isNull'; negated: boolean; operand: SqlExpr }
    /** A bare property used as a condition (RocketMQ's boolean cast): true when its value is "true". */
    | { kind: 'truth'; operand: SqlExpr }
  );

/** A parsed expression, ready for evaluateSql. */
export interface SqlSelector {
  readonly text: string;
  readonly root: SqlExpr;
  /** The property names the expression reads, each once. */
  readonly properties: readonly string[];
}

export interface SqlParseLimits {
  /** Longest expression accepted, in UTF-16 characters. */
  maxExpressionChars: number;
  /** Deepest nesting of parentheses, NOT and signs. */
  maxDepth: number;
  /** Most values in one IN list. */
  maxInListSize: number;
}

export const DEFAULT_SQL_PARSE_LIMITS: Readonly<SqlParseLimits> = Object.freeze({ maxExpressionChars: 4096, maxDepth: 64, maxInListSize: 1024 });

const LONG_MIN = -(2n ** 63n);
const LONG_MAX = 2n ** 63n - 1n;

/** Parses a SQL92 filter expression; throws SqlFilterError naming the position on any problem. */
export function parseSql(text: string, limits: Readonly<SqlParseLimits> = DEFAULT_SQL_PARSE_LIMITS): SqlSelector {
  if (text.length > limits.maxExpressionChars) {
    throw new SqlFilterError(limits.maxExpressionChars, `an expression of ${text.length} characters`, `at most ${limits.maxExpressionChars} characters`, text);
  }
  return new Parser(text, tokenize(text), limits).parseSelector();
}

type StaticKind = 'condition' | 'string' | 'number' | 'null' | 'property';

function staticKind(e: SqlExpr): StaticKind {
  switch (e.kind) {
    case 'constant':
      if (e.value === null) return 'null';
      if (typeof e.value === 'boolean') return 'condition';
      return typeof e.value === 'string' ? 'string' : 'number';
    case 'property':
      return 'property';
    case 'negate':
      return 'number';
    default:
      return 'condition';
  }
}

const COMPARE_SYMBOLS: ReadonlyMap<SqlSymbol, CompareOp> = new Map([
  ['=', '='],
  ['<>', '<>'],
  ['!=', '<>'],
  ['>', '>'],
  ['>=', '>='],
  ['<', '<'],
  ['<=', '<='],
]);

class Parser {
  private at = 0;
  private depth = 0;
  private readonly properties = new Set<string>();

  constructor(
    private readonly text: string,
    private readonly tokens: SqlToken[],
    private readonly limits: Readonly<SqlParseLimits>,
  ) {}

  parseSelector(): SqlSelector {
    const root = this.asCondition(this.parseOr());
    if (this.peek().kind !== 'eof') this.fail(this.peek(), 'AND, OR or end of expression');
    return { text: this.text, root, properties: [...this.properties] };
  }

  // --- tokens -----------------------------------------------------------------------------------

  private peek(ahead = 0): SqlToken {
    return this.tokens[Math.min(this.at + ahead, this.tokens.length - 1)]!;
  }

  private next(): SqlToken {
    const t = this.peek();
    if (t.kind !== 'eof') this.at++;
    return t;
  }

  private isKeyword(k: SqlKeyword, ahead = 0): boolean {
    const t = this.peek(ahead);
    return t.kind === 'keyword' && t.keyword === k;
  }

  private isSymbol(s: SqlSymbol): boolean {
    const t = this.peek();
    return t.kind === 'symbol' && t.symbol === s;
  }

  private fail(token: SqlToken, expected: string): never {
    throw new SqlFilterError(token.start, describeToken(token, this.text), expected, this.text);
  }

  private failAt(e: SqlExpr, expected: string): never {
    throw new SqlFilterError(e.start, quoteSource(this.text.slice(e.start, e.end)), expected, this.text);
  }

  private enter(token: SqlToken): void {
    if (++this.depth > this.limits.maxDepth) this.fail(token, `expressions nested at most ${this.limits.maxDepth} levels deep (parentheses, NOT and signs)`);
  }

  // --- grammar ----------------------------------------------------------------------------------

  private parseOr(): SqlExpr {
    const first = this.parseAnd();
    if (!this.isKeyword('OR')) return first;
    const operands = [this.asCondition(first)];
    while (this.isKeyword('OR')) {
      this.next();
      operands.push(this.asCondition(this.parseAnd()));
    }
    return { kind: 'or', operands, start: first.start, end: operands[operands.length - 1]!.end };
  }

  private parseAnd(): SqlExpr {
    const first = this.parseNot();
    if (!this.isKeyword('AND')) return first;
    const operands = [this.asCondition(first)];
    while (this.isKeyword('AND')) {
      this.next();
      operands.push(this.asCondition(this.parseNot()));
    }
    return { kind: 'and', operands, start: first.start, end: operands[operands.length - 1]!.end };
  }

  private parseNot(): SqlExpr {
    if (!this.isKeyword('NOT')) return this.parsePredicate();
    const not = this.next();
    this.enter(not);
    const operand = this.asCondition(this.parseNot());
    this.depth--;
    return { kind: 'not', operand, start: not.start, end: operand.end };
  }

  private parsePredicate(): SqlExpr {
    const left = this.parseOperand();
    const t = this.peek();
    if (t.kind === 'symbol') {
      const op = COMPARE_SYMBOLS.get(t.symbol);
      if (op === undefined) return left;
      this.next();
      const right = this.parseOperand();
      if (op === '=' || op === '<>') this.checkEqualityOperands(left, right);
      else {
        this.checkOrderedOperand(left, t.symbol);
        this.checkOrderedOperand(right, t.symbol);
      }
      return { kind: 'compare', op, left, right, start: left.start, end: right.end };
    }
    if (t.kind !== 'keyword') return left;
    let negated = false;
    if (t.keyword === 'NOT') {
      if (!this.isKeyword('BETWEEN', 1) && !this.isKeyword('IN', 1)) {
        this.next();
        this.fail(this.peek(), 'BETWEEN or IN after NOT');
      }
      this.next();
      negated = true;
    }
    if (this.isKeyword('BETWEEN')) return this.parseBetween(left, negated);
    if (this.isKeyword('IN')) return this.parseIn(left, negated);
    if (this.isKeyword('IS')) {
      this.next();
      const isNot = this.isKeyword('NOT');
      if (isNot) this.next();
      const nullToken = this.peek();
      if (!this.isKeyword('NULL')) this.fail(nullToken, isNot ? 'NULL after IS NOT' : 'NULL or NOT NULL after IS');
      this.next();
      return { kind: 'isNull', negated: isNot, operand: left, start: left.start, end: nullToken.end };
    }
    return left;
  }

  private parseBetween(value: SqlExpr, negated: boolean): SqlExpr {
    this.next(); // BETWEEN
    this.checkOrderedOperand(value, 'BETWEEN');
    const low = this.parseOperand();
    this.checkOrderedOperand(low, 'BETWEEN');
    if (!this.isKeyword('AND')) this.fail(this.peek(), 'AND between the bounds of BETWEEN');
    this.next();
    const high = this.parseOperand();
    this.checkOrderedOperand(high, 'BETWEEN');
    if (low.kind === 'constant' && high.kind === 'constant' && compareConstants(low.value, high.value) > 0) {
      this.failAt(low, `a lower bound not above the upper bound ${this.text.slice(high.start, high.end)}`);
    }
    return { kind: 'between', negated, value, low, high, start: value.start, end: high.end };
  }

  private parseIn(left: SqlExpr, negated: boolean): SqlExpr {
    this.next(); // IN
    if (left.kind !== 'property') this.failAt(left, 'a property name before IN');
    if (!this.isSymbol('(')) this.fail(this.peek(), '"(" after IN');
    this.next();
    const values: InListValue[] = [];
    for (;;) {
      const first = this.peek();
      if (values.length >= this.limits.maxInListSize) this.fail(first, `at most ${this.limits.maxInListSize} values in an IN list`);
      values.push(this.parseInValue());
      const sep = this.next();
      if (sep.kind === 'symbol' && sep.symbol === ')') return { kind: 'in', negated, property: left.name, values, start: left.start, end: sep.end };
      if (sep.kind !== 'symbol' || sep.symbol !== ',') this.fail(sep, '"," or ")" in the IN list');
    }
  }

  private parseInValue(): InListValue {
    const t = this.next();
    if (t.kind === 'string') return t.value;
    if (t.kind === 'double') return t.value;
    if (t.kind === 'long') return this.longConstant(t, false);
    if (t.kind === 'symbol' && (t.symbol === '-' || t.symbol === '+')) {
      const n = this.next();
      if (n.kind === 'double') return t.symbol === '-' ? -n.value : n.value;
      if (n.kind === 'long') return this.longConstant(n, t.symbol === '-');
      this.fail(n, `a number after "${t.symbol}"`);
    }
    this.fail(t, 'a string or number constant in the IN list');
  }

  private longConstant(t: SqlToken & { kind: 'long' }, negative: boolean): bigint {
    const value = negative ? -t.value : t.value;
    if (value < LONG_MIN || value > LONG_MAX) this.fail(t, `a number within the range of a long (${LONG_MIN}..${LONG_MAX})`);
    return value;
  }

  private parseOperand(): SqlExpr {
    const t = this.peek();
    if (t.kind === 'symbol' && (t.symbol === '-' || t.symbol === '+')) {
      this.next();
      const n = this.peek();
      // A sign before an integer is part of the constant (so -9223372036854775808 is a long).
      if (n.kind === 'long' || n.kind === 'double') {
        this.next();
        const negative = t.symbol === '-';
        const value = n.kind === 'long' ? this.longConstant(n, negative) : negative ? -n.value : n.value;
        return { kind: 'constant', value, start: t.start, end: n.end };
      }
      this.enter(t);
      const operand = this.parseOperand();
      this.depth--;
      const kind = staticKind(operand);
      if (kind !== 'number' && kind !== 'property') this.failAt(operand, `a number or a property name after "${t.symbol}"`);
      if (t.symbol === '+') return { ...operand, start: t.start };
      if (operand.kind === 'constant' && (typeof operand.value === 'bigint' || typeof operand.value === 'number')) {
        const value = operand.value;
        if (typeof value === 'bigint' && -value > LONG_MAX) this.failAt(operand, `a number within the range of a long (${LONG_MIN}..${LONG_MAX})`);
        return { kind: 'constant', value: -value, start: t.start, end: operand.end };
      }
      return { kind: 'negate', operand, start: t.start, end: operand.end };
    }
    return this.parsePrimary();
  }

  private parsePrimary(): SqlExpr {
    const t = this.next();
    switch (t.kind) {
      case 'string':
        return { kind: 'constant', value: t.value, start: t.start, end: t.end };
      case 'double':
        return { kind: 'constant', value: t.value, start: t.start, end: t.end };
      case 'long':
        return { kind: 'constant', value: this.longConstant(t, false), start: t.start, end: t.end };
      case 'identifier':
        this.properties.add(t.name);
        return { kind: 'property', name: t.name, start: t.start, end: t.end };
      case 'keyword':
        if (t.keyword === 'TRUE' || t.keyword === 'FALSE') return { kind: 'constant', value: t.keyword === 'TRUE', start: t.start, end: t.end };
        if (t.keyword === 'NULL') return { kind: 'constant', value: null, start: t.start, end: t.end };
        break;
      case 'symbol': {
        if (t.symbol !== '(') break;
        this.enter(t);
        const inner = this.parseOr();
        this.depth--;
        const close = this.next();
        if (close.kind !== 'symbol' || close.symbol !== ')') this.fail(close, 'AND, OR or ")"');
        return { ...inner, start: t.start, end: close.end };
      }
      default:
        break;
    }
    this.fail(t, 'an expression');
  }

  // --- RocketMQ's compile-time checks -------------------------------------------------------------

  /** Operands of AND, OR, NOT and the whole selector must be conditions; a bare property is cast. */
  private asCondition(e: SqlExpr): SqlExpr {
    const kind = staticKind(e);
    if (kind === 'condition') return e;
    if (kind === 'property') return { kind: 'truth', operand: e, start: e.start, end: e.end };
    return this.failAt(e, 'a condition (a comparison, BETWEEN, IN, IS NULL, TRUE, FALSE or a property)');
  }

  /** Only numbers and properties may be ordered (checkLessThanOperand). */
  private checkOrderedOperand(e: SqlExpr, op: string): void {
    const kind = staticKind(e);
    if (kind !== 'number' && kind !== 'property') this.failAt(e, `a number or a property name (${op} compares numbers)`);
  }

  /** No NULL literal around = or <> (checkEqualOperand), and TRUE/FALSE only against a boolean constant. */
  private checkEqualityOperands(left: SqlExpr, right: SqlExpr): void {
    for (const e of [left, right]) if (staticKind(e) === 'null') this.failAt(e, 'a value (test for a missing property with IS NULL)');
    if (left.kind === 'constant' && right.kind === 'constant' && (typeof left.value === 'boolean') !== (typeof right.value === 'boolean')) {
      this.failAt(right, typeof left.value === 'boolean' ? 'TRUE or FALSE' : 'a value that is not TRUE or FALSE');
    }
  }
}

/** Orders two numeric constants (BETWEEN's bound check); 0 for anything else. */
function compareConstants(a: SqlConstant | null, b: SqlConstant | null): number {
  if ((typeof a !== 'bigint' && typeof a !== 'number') || (typeof b !== 'bigint' && typeof b !== 'number')) return 0;
  return a < b ? -1 : a > b ? 1 : 0;
}
