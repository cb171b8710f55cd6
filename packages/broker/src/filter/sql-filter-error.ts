// Why a SQL92 filter expression was refused (RocketMQ's MQFilterException / ParseException): where
// it failed (0-based offset, 1-based line and column) and what was expected there. The broker puts
// the message into the remark of SUBSCRIPTION_PARSE_FAILED, so a consumer sees the position.

export class SqlFilterError extends Error {
  /** 1-based line of `offset` (expressions may span lines). */
  readonly line: number;
  /** 1-based column of `offset` within its line. */
  readonly column: number;

  constructor(
    /** 0-based character offset in the expression. */
    readonly offset: number,
    /** What stood there, as the message names it (e.g. `"AND"`, `end of expression`). */
    readonly encountered: string,
    /** What the parser wanted instead (e.g. `an expression`). */
    readonly expected: string,
    text: string,
  ) {
    const { line, column } = lineAndColumn(text, offset);
    super(`Encountered ${encountered} at ${line > 1 ? `line ${line}, ` : ''}column ${column}, expected ${expected}`);
    this.name = 'SqlFilterError';
    this.line = line;
    this.column = column;
  }
}

export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(offset, text.length);
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/** How a piece of source text is quoted in messages: `"AND"`, cut short when long. */
export function quoteSource(image: string, maxChars = 40): string {
  const shown = image.length > maxChars ? `${image.slice(0, maxChars)}…` : image;
  return JSON.stringify(shown);
}
