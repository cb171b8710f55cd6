// JSON as Java tools write it. fastjson 1.x writes maps with Integer/Long keys without quotes
// (`{0:"10.0.0.1:10911"}`, facts §1.5) in route bodies, consumerOffset.json and delayOffset.json,
// and maps keyed by objects (ResetOffsetBody's MessageQueue keys) with an object as the key.
// Standard JSON.parse rejects both, so this parser accepts them; everything else is strict JSON.
// Nesting is bounded so hostile input cannot exhaust the stack.

export const DEFAULT_MAX_JSON_DEPTH = 128;

export interface LenientJsonOptions {
  /** Deepest nesting of objects and arrays accepted. */
  maxDepth?: number;
}

export class LenientJsonError extends SyntaxError {
  constructor(
    message: string,
    /** Character index in the text where parsing stopped. */
    readonly position: number,
  ) {
    super(`${message} at position ${position}`);
    this.name = 'LenientJsonError';
  }
}

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * Parses standard JSON, plus bare numeric object keys (`{0:"a",-1:"b"}` → keys "0", "-1") and
 * object keys (`{{"topic":"t","queueId":0}:5}` → key `{"topic":"t","queueId":0}`).
 * Throws LenientJsonError on anything else, including nesting deeper than maxDepth.
 */
export function parseLenientJson(text: string, options: LenientJsonOptions = {}): JsonValue {
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_JSON_DEPTH;
  // Fast path: most input is standard JSON and the native parser is far faster.
  let value: JsonValue;
  try {
    value = JSON.parse(text) as JsonValue;
  } catch {
    return new LenientParser(text, maxDepth).parseDocument();
  }
  assertDepth(value, maxDepth, 0);
  return value;
}

function assertDepth(value: JsonValue, maxDepth: number, depth: number): void {
  if (value === null || typeof value !== 'object') return;
  if (depth + 1 > maxDepth) throw new LenientJsonError(`nesting deeper than ${maxDepth}`, 0);
  if (Array.isArray(value)) {
    for (const item of value) assertDepth(item, maxDepth, depth + 1);
  } else {
    for (const key of Object.keys(value)) assertDepth(value[key]!, maxDepth, depth + 1);
  }
}

const CH_TAB = 0x09;
const CH_LF = 0x0a;
const CH_CR = 0x0d;
const CH_SPACE = 0x20;
const CH_QUOTE = 0x22;
const CH_COMMA = 0x2c;
const CH_MINUS = 0x2d;
const CH_COLON = 0x3a;
const CH_0 = 0x30;
const CH_9 = 0x39;
const CH_LBRACKET = 0x5b;
const CH_BACKSLASH = 0x5c;
const CH_RBRACKET = 0x5d;
const CH_LBRACE = 0x7b;
const CH_RBRACE = 0x7d;

const NUMBER_TEXT = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

class LenientParser {
  private pos = 0;
  private depth = 0;

  constructor(
    private readonly text: string,
    private readonly maxDepth: number,
  ) {}

  parseDocument(): JsonValue {
    const value = this.parseValue();
    this.skipWhitespace();
    if (this.pos !== this.text.length) this.fail('unexpected text after the value');
    return value;
  }

  private fail(message: string): never {
    throw new LenientJsonError(message, this.pos);
  }

  private skipWhitespace(): void {
    const text = this.text;
    while (this.pos < text.length) {
      const c = text.charCodeAt(this.pos);
      if (c !== CH_SPACE && c !== CH_LF && c !== CH_CR && c !== CH_TAB) break;
      this.pos++;
    }
  }

  private parseValue(): JsonValue {
    this.skipWhitespace();
    if (this.pos >= this.text.length) this.fail('unexpected end of input');
    const c = this.text.charCodeAt(this.pos);
    if (c === CH_LBRACE) return this.parseObject();
    if (c === CH_LBRACKET) return this.parseArray();
    if (c === CH_QUOTE) return this.parseString();
    if (c === CH_MINUS || (c >= CH_0 && c <= CH_9)) return Number(this.parseNumberText());
    if (this.text.startsWith('true', this.pos)) return this.literal(4, true);
    if (this.text.startsWith('false', this.pos)) return this.literal(5, false);
    if (this.text.startsWith('null', this.pos)) return this.literal(4, null);
    return this.fail(`unexpected character ${JSON.stringify(this.text[this.pos])}`);
  }

  private literal<T>(length: number, value: T): T {
    this.pos += length;
    return value;
  }

  private enter(): void {
    if (++this.depth > this.maxDepth) this.fail(`nesting deeper than ${this.maxDepth}`);
  }

  private parseObject(): { [key: string]: JsonValue } {
    this.enter();
    this.pos++; // '{'
    const out: { [key: string]: JsonValue } = {};
    this.skipWhitespace();
    if (this.text.charCodeAt(this.pos) === CH_RBRACE) {
      this.pos++;
      this.depth--;
      return out;
    }
    for (;;) {
      const key = this.parseKey();
      this.skipWhitespace();
      if (this.text.charCodeAt(this.pos) !== CH_COLON) this.fail('expected ":"');
      this.pos++;
      const value = this.parseValue();
      if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
      else out[key] = value;
      this.skipWhitespace();
      const c = this.text.charCodeAt(this.pos);
      this.pos++;
      if (c === CH_COMMA) continue;
      if (c === CH_RBRACE) break;
      this.pos--;
      this.fail('expected "," or "}"');
    }
    this.depth--;
    return out;
  }

  private parseKey(): string {
    this.skipWhitespace();
    const c = this.text.charCodeAt(this.pos);
    if (c === CH_QUOTE) return this.parseString();
    // fastjson's unquoted Integer/Long keys.
    if (c === CH_MINUS || (c >= CH_0 && c <= CH_9)) return this.parseNumberText();
    // fastjson's object keys (a map keyed by MessageQueue): keep the key as canonical JSON text.
    if (c === CH_LBRACE) return JSON.stringify(this.parseObject());
    return this.fail('expected an object key');
  }

  private parseArray(): JsonValue[] {
    this.enter();
    this.pos++; // '['
    const out: JsonValue[] = [];
    this.skipWhitespace();
    if (this.text.charCodeAt(this.pos) === CH_RBRACKET) {
      this.pos++;
      this.depth--;
      return out;
    }
    for (;;) {
      out.push(this.parseValue());
      this.skipWhitespace();
      const c = this.text.charCodeAt(this.pos);
      this.pos++;
      if (c === CH_COMMA) continue;
      if (c === CH_RBRACKET) break;
      this.pos--;
      this.fail('expected "," or "]"');
    }
    this.depth--;
    return out;
  }

  private parseNumberText(): string {
    NUMBER_TEXT.lastIndex = this.pos;
    const match = NUMBER_TEXT.exec(this.text);
    if (match === null) this.fail('invalid number');
    this.pos += match[0].length;
    return match[0];
  }

  private parseString(): string {
    const text = this.text;
    this.pos++; // opening quote
    let out = '';
    let runStart = this.pos;
    while (this.pos < text.length) {
      const c = text.charCodeAt(this.pos);
      if (c === CH_QUOTE) {
        out += text.slice(runStart, this.pos);
        this.pos++;
        return out;
      }
      if (c !== CH_BACKSLASH) {
        this.pos++;
        continue;
      }
      out += text.slice(runStart, this.pos);
      const escape = text[this.pos + 1];
      this.pos += 2;
      switch (escape) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          const hex = text.slice(this.pos, this.pos + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('invalid \\u escape');
          out += String.fromCharCode(parseInt(hex, 16));
          this.pos += 4;
          break;
        }
        default:
          this.pos -= 2;
          this.fail('invalid escape');
      }
      runStart = this.pos;
    }
    return this.fail('unterminated string');
  }
}
