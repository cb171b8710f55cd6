// A grouped horizontal bar chart as a standalone SVG string, with no dependencies, so every
// benchmark can draw the figures people compare beside its table. Each group (say, a message size)
// is a block of bars, one per series (say, flush mode × appenders); every bar is labelled with its
// series on the left and its value at its end, and a legend repeats the series colours.
import { formatCompact } from './format.js';

export interface BarSeries {
  name: string;
  /** CSS colour; a default palette is used when absent. */
  color?: string;
}

export interface BarGroup {
  label: string;
  /** Value per series name; series without a value are left out of this group. */
  values: Record<string, number | undefined>;
}

export interface GroupedBarChartSpec {
  title: string;
  /** A second, smaller line under the title (machine, run options). */
  subtitle?: string;
  /** Label of the value axis (bottom), with its unit: "appends/s". */
  valueAxisLabel: string;
  /** Label of the group axis (left): "message size". */
  groupAxisLabel?: string;
  series: BarSeries[];
  groups: BarGroup[];
  /** 'log' when values span several orders of magnitude; the axis label says so. */
  scale?: 'linear' | 'log';
  formatValue?: (value: number) => string;
  widthPx?: number;
}

const DEFAULT_PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
const FONT_FAMILY = 'system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif';

const LAYOUT = {
  marginPx: 16,
  titleFontPx: 18,
  subtitleFontPx: 12,
  labelFontPx: 12,
  valueFontPx: 11,
  legendSwatchPx: 12,
  legendRowPx: 20,
  barHeightPx: 16,
  barGapPx: 4,
  groupHeaderPx: 22,
  groupGapPx: 14,
  axisTicksPx: 34,
  valueRoomPx: 70,
  /** Rough width of one character at labelFontPx; enough for layout without measuring text. */
  charWidthPx: 7,
} as const;

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

interface Scale {
  domainMin: number;
  domainMax: number;
  ticks: number[];
  /** Fraction 0..1 of the plot width for a value. */
  position(value: number): number;
}

function niceStep(range: number, targetTicks: number): number {
  const raw = range / targetTicks;
  const power = 10 ** Math.floor(Math.log10(raw));
  const unit = raw / power;
  const nice = unit <= 1 ? 1 : unit <= 2 ? 2 : unit <= 5 ? 5 : 10;
  return nice * power;
}

function linearScale(maxValue: number): Scale {
  const max = maxValue > 0 ? maxValue : 1;
  const step = niceStep(max, 5);
  const domainMax = Math.ceil(max / step) * step;
  const ticks: number[] = [];
  for (let t = 0; t <= domainMax + step / 2; t += step) ticks.push(t);
  return { domainMin: 0, domainMax, ticks, position: (v) => Math.max(0, Math.min(1, v / domainMax)) };
}

/** The largest 1, 2 or 5 × 10^k at most `value`. */
function niceFloor(value: number): number {
  const power = 10 ** Math.floor(Math.log10(value));
  const unit = value / power;
  return (unit >= 5 ? 5 : unit >= 2 ? 2 : 1) * power;
}

function logScale(minValue: number, maxValue: number): Scale {
  // The smallest bar keeps a visible length: the axis starts a good way below the smallest value.
  const lo = niceFloor(Math.max(minValue, Number.MIN_VALUE) / 1.5);
  const hi = 10 ** Math.ceil(Math.log10(Math.max(maxValue, lo * 10)));
  const span = Math.log10(hi) - Math.log10(lo);
  const ticks: number[] = [lo];
  for (let t = 10 ** Math.ceil(Math.log10(lo)); t <= hi * 1.0001; t *= 10) if (t > lo * 1.0001) ticks.push(t);
  return {
    domainMin: lo,
    domainMax: hi,
    ticks,
    position: (v) => (v <= lo ? 0 : Math.min(1, (Math.log10(v) - Math.log10(lo)) / span)),
  };
}

/** Picks white or near-black text for legibility on a fill colour given as #rrggbb. */
function textColorOn(fill: string): string {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(fill);
  if (!m) return '#ffffff';
  const [r, g, b] = [m[1]!, m[2]!, m[3]!].map((h) => parseInt(h, 16) / 255);
  const luminance = 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
  return luminance > 0.55 ? '#1a1a1a' : '#ffffff';
}

function textWidthPx(text: string, fontPx: number): number {
  return [...text].length * LAYOUT.charWidthPx * (fontPx / LAYOUT.labelFontPx);
}

/** Renders the chart; the result is a complete SVG document. */
export function groupedBarChartSvg(spec: GroupedBarChartSpec): string {
  const format = spec.formatValue ?? formatCompact;
  const colorOf = new Map(spec.series.map((s, i) => [s.name, s.color ?? DEFAULT_PALETTE[i % DEFAULT_PALETTE.length]!]));
  const finite = spec.groups.flatMap((g) => Object.values(g.values).filter((v): v is number => v !== undefined && Number.isFinite(v)));
  const positive = finite.filter((v) => v > 0);
  const useLog = spec.scale === 'log' && positive.length > 0;
  const scale = useLog ? logScale(Math.min(...positive), Math.max(...positive)) : linearScale(Math.max(0, ...finite));

  const width = spec.widthPx ?? 960;
  const m = LAYOUT.marginPx;
  const seriesLabelWidth = Math.max(60, ...spec.series.map((s) => textWidthPx(s.name, LAYOUT.labelFontPx))) + 10;
  const groupAxisRoom = spec.groupAxisLabel ? 22 : 0;
  const plotLeft = m + groupAxisRoom + seriesLabelWidth;
  const plotRight = width - m - LAYOUT.valueRoomPx;
  const plotWidth = plotRight - plotLeft;
  if (plotWidth < 100) throw new RangeError(`chart width ${width} px leaves no room for bars`);

  const parts: string[] = [];
  let y = m + LAYOUT.titleFontPx;
  parts.push(`<text x="${m}" y="${y}" font-size="${LAYOUT.titleFontPx}" font-weight="600">${escapeXml(spec.title)}</text>`);
  if (spec.subtitle) {
    y += LAYOUT.subtitleFontPx + 6;
    parts.push(`<text x="${m}" y="${y}" font-size="${LAYOUT.subtitleFontPx}" fill="#555">${escapeXml(spec.subtitle)}</text>`);
  }

  // Legend: swatches in rows that wrap at the chart width.
  y += 14;
  let legendX = m;
  let legendY = y;
  for (const s of spec.series) {
    const itemWidth = LAYOUT.legendSwatchPx + 6 + textWidthPx(s.name, LAYOUT.labelFontPx) + 18;
    if (legendX + itemWidth > width - m && legendX > m) {
      legendX = m;
      legendY += LAYOUT.legendRowPx;
    }
    parts.push(
      `<rect x="${legendX}" y="${legendY}" width="${LAYOUT.legendSwatchPx}" height="${LAYOUT.legendSwatchPx}" fill="${colorOf.get(s.name)}"/>`,
      `<text x="${legendX + LAYOUT.legendSwatchPx + 6}" y="${legendY + LAYOUT.legendSwatchPx - 2}" font-size="${LAYOUT.labelFontPx}">${escapeXml(s.name)}</text>`,
    );
    legendX += itemWidth;
  }
  y = legendY + LAYOUT.legendRowPx + 10;

  // Bars, group by group.
  const plotTop = y;
  const bars: string[] = [];
  for (const group of spec.groups) {
    const present = spec.series.filter((s) => group.values[s.name] !== undefined);
    bars.push(`<text x="${plotLeft - seriesLabelWidth}" y="${y + 15}" font-size="${LAYOUT.labelFontPx + 1}" font-weight="600">${escapeXml(group.label)}</text>`);
    y += LAYOUT.groupHeaderPx;
    for (const s of present) {
      const value = group.values[s.name]!;
      const barWidth = Number.isFinite(value) ? Math.max(1, scale.position(value) * plotWidth) : 0;
      const fill = colorOf.get(s.name)!;
      const midY = y + LAYOUT.barHeightPx / 2 + 4;
      bars.push(`<text x="${plotLeft - 8}" y="${midY}" font-size="${LAYOUT.labelFontPx}" text-anchor="end" fill="#333">${escapeXml(s.name)}</text>`);
      bars.push(`<rect x="${plotLeft}" y="${y}" width="${barWidth.toFixed(1)}" height="${LAYOUT.barHeightPx}" fill="${fill}"><title>${escapeXml(`${group.label} · ${s.name}: ${format(value)}`)}</title></rect>`);
      const label = format(value);
      const labelWidth = textWidthPx(label, LAYOUT.valueFontPx);
      if (barWidth > labelWidth + 10) {
        bars.push(`<text x="${(plotLeft + barWidth - 5).toFixed(1)}" y="${midY}" font-size="${LAYOUT.valueFontPx}" text-anchor="end" fill="${textColorOn(fill)}">${escapeXml(label)}</text>`);
      } else {
        bars.push(`<text x="${(plotLeft + barWidth + 4).toFixed(1)}" y="${midY}" font-size="${LAYOUT.valueFontPx}" fill="#1a1a1a">${escapeXml(label)}</text>`);
      }
      y += LAYOUT.barHeightPx + LAYOUT.barGapPx;
    }
    y += LAYOUT.groupGapPx;
  }
  const plotBottom = y - LAYOUT.groupGapPx;

  // Grid and value axis, drawn under the bars.
  const grid: string[] = [];
  for (const t of scale.ticks) {
    const x = (plotLeft + scale.position(t) * plotWidth).toFixed(1);
    grid.push(`<line x1="${x}" y1="${plotTop}" x2="${x}" y2="${plotBottom}" stroke="#e3e3e3"/>`);
    grid.push(`<text x="${x}" y="${plotBottom + 16}" font-size="${LAYOUT.valueFontPx}" text-anchor="middle" fill="#555">${escapeXml(format(t))}</text>`);
  }
  grid.push(`<line x1="${plotLeft}" y1="${plotTop}" x2="${plotLeft}" y2="${plotBottom}" stroke="#888"/>`);
  grid.push(`<line x1="${plotLeft}" y1="${plotBottom}" x2="${plotRight}" y2="${plotBottom}" stroke="#888"/>`);
  const axisLabel = useLog ? `${spec.valueAxisLabel} (log scale)` : spec.valueAxisLabel;
  grid.push(`<text x="${(plotLeft + plotWidth / 2).toFixed(1)}" y="${plotBottom + LAYOUT.axisTicksPx}" font-size="${LAYOUT.labelFontPx}" text-anchor="middle" font-weight="600">${escapeXml(axisLabel)}</text>`);
  if (spec.groupAxisLabel) {
    const cy = ((plotTop + plotBottom) / 2).toFixed(1);
    grid.push(`<text x="${m + 12}" y="${cy}" font-size="${LAYOUT.labelFontPx}" text-anchor="middle" font-weight="600" transform="rotate(-90 ${m + 12} ${cy})">${escapeXml(spec.groupAxisLabel)}</text>`);
  }

  const height = Math.ceil(plotBottom + LAYOUT.axisTicksPx + m);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family='${FONT_FAMILY}'>`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    ...parts,
    ...grid,
    ...bars,
    '</svg>',
    '',
  ].join('\n');
}
