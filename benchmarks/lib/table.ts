// One table, two renderings: aligned plain text for the terminal and GitHub markdown for results
// files and READMEs. Cells are strings already formatted by the caller (see format.ts).

export type Alignment = 'left' | 'right';

export interface Column {
  header: string;
  /** Numbers read best right-aligned; the default is left. */
  align?: Alignment;
}

export interface Table {
  columns: Column[];
  rows: string[][];
}

function checkShape(table: Table): void {
  for (const [i, row] of table.rows.entries()) {
    if (row.length !== table.columns.length) {
      throw new RangeError(`table row ${i} has ${row.length} cells, expected ${table.columns.length}`);
    }
  }
}

// Display width in terminal cells; counts code points so "×" and "—" are one cell each.
function displayWidth(text: string): number {
  return [...text].length;
}

function pad(text: string, width: number, align: Alignment): string {
  const fill = ' '.repeat(Math.max(0, width - displayWidth(text)));
  return align === 'right' ? fill + text : text + fill;
}

/** Aligned columns separated by two spaces, a dashed rule under the header. */
export function renderTextTable(table: Table): string {
  checkShape(table);
  const widths = table.columns.map((c, i) => Math.max(displayWidth(c.header), ...table.rows.map((r) => displayWidth(r[i]!))));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => pad(cell, widths[i]!, table.columns[i]!.align ?? 'left'))
      .join('  ')
      .trimEnd();
  const out = [line(table.columns.map((c) => c.header)), widths.map((w) => '-'.repeat(w)).join('  ')];
  for (const row of table.rows) out.push(line(row));
  return out.join('\n');
}

function escapeMarkdown(text: string): string {
  return text.replace(/\|/g, '\\|');
}

/** A GitHub-flavoured markdown table; columns padded so the source is readable too. */
export function renderMarkdownTable(table: Table): string {
  checkShape(table);
  const header = table.columns.map((c) => escapeMarkdown(c.header));
  const body = table.rows.map((r) => r.map(escapeMarkdown));
  const widths = header.map((h, i) => Math.max(3, displayWidth(h), ...body.map((r) => displayWidth(r[i]!))));
  const line = (cells: string[]) => `| ${cells.map((cell, i) => pad(cell, widths[i]!, table.columns[i]!.align ?? 'left')).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (table.columns[i]!.align === 'right' ? `${'-'.repeat(w + 1)}:` : `:${'-'.repeat(w + 1)}`)).join('|')}|`;
  return [line(header), rule, ...body.map(line)].join('\n');
}
