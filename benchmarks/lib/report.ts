// The shape every benchmark's latest-results page shares: a title, how the run went, the machine,
// the tables, the notes and the chart; and the lines that tell a person where the files went.
import type { WrittenResults } from './results.js';

export interface ReportPage {
  title: string;
  /** "Run <date>, <seconds> s; …": how long, how many runs, quick or not. */
  runLine: string;
  machineLine: string;
  /** Sections in order; a section without a heading follows the previous one directly. */
  sections: { heading?: string; lines: string[] }[];
  notes: string[];
  /** File name of the chart beside the page, and its caption. */
  chart?: { file: string; caption: string };
}

export function renderReportPage(page: ReportPage): string {
  const out = [`# ${page.title}`, '', page.runLine, `Machine: ${page.machineLine}.`, ''];
  for (const s of page.sections) {
    if (s.heading) out.push(`## ${s.heading}`, '');
    out.push(...s.lines, '');
  }
  out.push('## Notes', '', ...page.notes.map((n) => `- ${n}`), '');
  if (page.chart) out.push(`![${page.chart.caption}](${page.chart.file})`, '');
  return out.join('\n');
}

export function printWrittenResults(written: WrittenResults, log: (line: string) => void = console.log): void {
  log(`\nresults: ${[written.jsonPath, written.latestMarkdownPath, written.latestSvgPath].filter(Boolean).join('\n         ')}`);
}
