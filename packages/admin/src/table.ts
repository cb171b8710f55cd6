// Text tables for people: RocketMQ's column headers ("#Broker Name", "#QID", …), each column as wide
// as its widest cell, two spaces between columns, numbers right-aligned. mqadmin's Java version pads
// with fixed printf widths; sizing columns to their content keeps long names aligned instead of
// cutting them.

export type Cell = string | number | boolean | null | undefined;

export interface TableOptions {
  /** Column indexes to right-align; by default every column whose cells are all numbers. */
  rightAlign?: readonly number[];
  /** Text between columns. */
  separator?: string;
}

function cellText(cell: Cell): string {
  if (cell === null || cell === undefined) return '';
  return String(cell);
}

/** Renders a header row and body rows; returns the lines joined by "\n" (no trailing newline). */
export function renderTable(headers: readonly string[], rows: readonly (readonly Cell[])[], options: TableOptions = {}): string {
  const separator = options.separator ?? '  ';
  const columns = headers.length;
  const text = rows.map((row) => Array.from({ length: columns }, (_, i) => cellText(row[i])));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((row) => row[i]!.length)));
  const right = new Set(
    options.rightAlign ??
      headers.map((_, i) => i).filter((i) => rows.length > 0 && rows.every((row) => typeof row[i] === 'number')),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (right.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join(separator)
      .trimEnd();
  return [line(headers), ...text.map((row) => line(row))].join('\n');
}

/** `key : value` lines with the keys padded to one width (brokerStatus, message details). */
export function renderKeyValues(entries: readonly (readonly [string, Cell])[], separator = ' '): string {
  const width = Math.max(0, ...entries.map(([k]) => k.length));
  return entries.map(([k, v]) => `${k.padEnd(width)}${separator}${cellText(v)}`.trimEnd()).join('\n');
}
