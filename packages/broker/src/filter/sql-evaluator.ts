// Evaluates a parsed SQL92 filter against one message's properties, in SQL/JMS three-valued logic:
// every condition is TRUE, FALSE or UNKNOWN (null here), and a message matches only on TRUE.
//
// Property values are strings. Where a number is wanted (> >= < <= BETWEEN, or = against a numeric
// constant) the string is converted as Java's Long.valueOf, else Double.valueOf would; a missing
// property, or one that is not a number, makes the comparison UNKNOWN, so `a > 5` and `NOT (a > 5)`
// both fail for a message without `a` (RocketMQ gives up on the message in both cases too).
// Strings compare with strings by = and <> only; `b = TRUE` holds when b is "true" in any case.
import type { CompareOp, InListValue, SqlExpr, SqlSelector } from './sql-parser.js';

/** TRUE, FALSE or UNKNOWN (null). */
export type Tri = boolean | null;
/** A property's value, or undefined when the message does not have it. */
export type PropertyLookup = (name: string) => string | undefined;

type Value = string | bigint | number | boolean | null;
type Numeric = bigint | number;

const LONG_MIN = -(2n ** 63n);
const LONG_MAX = 2n ** 63n - 1n;
const INTEGER = /^[+-]?\d+$/;
/** Java's decimal Double.valueOf syntax (no hex, NaN or Infinity), with its optional d/f suffix. */
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[dDfF]?$/;

/** True when the expression holds for the message whose properties `lookup` reads. */
export function matchesSql(selector: SqlSelector, lookup: PropertyLookup): boolean {
  return evaluateCondition(selector.root, lookup) === true;
}

/** The three-valued result of a whole selector. */
export function evaluateSql(selector: SqlSelector, lookup: PropertyLookup): Tri {
  return evaluateCondition(selector.root, lookup);
}

/** A property string as a number: a long when it is an integer in range, else a double; undefined when it is neither. */
export function toNumber(v: Value): Numeric | undefined {
  if (typeof v === 'bigint' || typeof v === 'number') return v;
  if (typeof v !== 'string') return undefined;
  const s = v.trim();
  if (INTEGER.test(s)) {
    const n = BigInt(s);
    return n >= LONG_MIN && n <= LONG_MAX ? n : Number(s);
  }
  return DECIMAL.test(s) ? Number(s.replace(/[dDfF]$/, '')) : undefined;
}

/** -1, 0 or 1; exact across longs and doubles (JavaScript compares bigint with number exactly). */
function compareNumbers(a: Numeric, b: Numeric): number | undefined {
  if (a < b) return -1;
  if (a > b) return 1;
  return a == b ? 0 : undefined; // undefined: NaN
}

function not(t: Tri): Tri {
  return t === null ? null : !t;
}

function evaluateCondition(e: SqlExpr, lookup: PropertyLookup): Tri {
  switch (e.kind) {
    case 'constant':
      return typeof e.value === 'boolean' ? e.value : null;
    case 'truth': {
      const v = evaluateValue(e.operand, lookup);
      if (v === null) return null;
      if (typeof v === 'boolean') return v;
      return typeof v === 'string' ? v.toLowerCase() === 'true' : false; // Boolean.valueOf
    }
    case 'not':
      return not(evaluateCondition(e.operand, lookup));
    case 'and': {
      let result: Tri = true;
      for (const operand of e.operands) {
        const t = evaluateCondition(operand, lookup);
        if (t === false) return false;
        if (t === null) result = null;
      }
      return result;
    }
    case 'or': {
      let result: Tri = false;
      for (const operand of e.operands) {
        const t = evaluateCondition(operand, lookup);
        if (t === true) return true;
        if (t === null) result = null;
      }
      return result;
    }
    case 'compare':
      return compare(e.op, evaluateValue(e.left, lookup), evaluateValue(e.right, lookup));
    case 'between': {
      const v = evaluateValue(e.value, lookup);
      const low = evaluateValue(e.low, lookup);
      const high = evaluateValue(e.high, lookup);
      if (e.negated) {
        const below = compare('<', v, low);
        if (below === true) return true;
        const above = compare('>', v, high);
        if (above === true) return true;
        return below === null || above === null ? null : false;
      }
      const fromLow = compare('>=', v, low);
      if (fromLow === false) return false;
      const toHigh = compare('<=', v, high);
      if (toHigh === false) return false;
      return fromLow === null || toHigh === null ? null : true;
    }
    case 'in': {
      const v = lookup(e.property);
      if (v === undefined) return null;
      const found = inList(v, e.values);
      return e.negated ? !found : found;
    }
    case 'isNull':
      return (evaluateValue(e.operand, lookup) === null) !== e.negated;
    case 'property':
    case 'negate':
      // The parser wraps properties in 'truth' and refuses numbers as conditions.
      return null;
  }
}

function evaluateValue(e: SqlExpr, lookup: PropertyLookup): Value {
  switch (e.kind) {
    case 'constant':
      return e.value;
    case 'property':
      return lookup(e.name) ?? null;
    case 'negate': {
      const n = toNumber(evaluateValue(e.operand, lookup));
      return n === undefined ? null : -n;
    }
    default:
      return evaluateCondition(e, lookup);
  }
}

function inList(v: string, values: readonly InListValue[]): boolean {
  let asNumber: Numeric | undefined | null = null; // null: not converted yet
  for (const candidate of values) {
    if (typeof candidate === 'string') {
      if (candidate === v) return true;
      continue;
    }
    if (asNumber === null) asNumber = toNumber(v);
    if (asNumber !== undefined && compareNumbers(asNumber, candidate) === 0) return true;
  }
  return false;
}

function compare(op: CompareOp, l: Value, r: Value): Tri {
  if (l === null || r === null) return null;
  if (op === '=') return equal(l, r);
  if (op === '<>') return not(equal(l, r));
  const a = toNumber(l);
  const b = toNumber(r);
  if (a === undefined || b === undefined) return null;
  const c = compareNumbers(a, b);
  if (c === undefined) return false;
  switch (op) {
    case '>':
      return c > 0;
    case '>=':
      return c >= 0;
    case '<':
      return c < 0;
    case '<=':
      return c <= 0;
  }
}

/** = on two present values: same kinds compare directly; a string meets a number or boolean converted. */
function equal(l: Exclude<Value, null>, r: Exclude<Value, null>): Tri {
  if (typeof l === 'string' && typeof r === 'string') return l === r;
  if (typeof l === 'boolean' || typeof r === 'boolean') {
    if (typeof l === 'boolean' && typeof r === 'boolean') return l === r;
    const other = typeof l === 'boolean' ? r : l;
    const bool = typeof l === 'boolean' ? l : (r as boolean);
    return typeof other === 'string' ? (other.toLowerCase() === 'true') === bool : false;
  }
  const a = toNumber(l);
  const b = toNumber(r);
  if (a === undefined || b === undefined) return null; // a string that is not a number against a number
  return compareNumbers(a, b) === 0;
}
