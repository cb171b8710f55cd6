// Number formatting shared by tables, progress lines and charts, so one figure reads the same
// everywhere it is printed.

const integerFormat = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** 512345.6 → "512,346". */
export function formatCount(value: number): string {
  return Number.isFinite(value) ? integerFormat.format(Math.round(value)) : '—';
}

/** A figure with `digits` decimals and thousands separators: 1234.5 → "1,234.5". */
export function formatDecimal(value: number, digits = 1): string {
  if (!Number.isFinite(value)) return '—';
  return new Intl.NumberFormat('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(value);
}

/** Short form for chart labels: 512345 → "512k", 2_300_000 → "2.3M". */
export function formatCompact(value: number): string {
  if (!Number.isFinite(value)) return '—';
  const abs = Math.abs(value);
  if (abs >= 1e9) return `${trim(value / 1e9)}G`;
  if (abs >= 1e6) return `${trim(value / 1e6)}M`;
  if (abs >= 1e3) return `${trim(value / 1e3)}k`;
  return trim(value);
}

function trim(value: number): string {
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  return String(Number(value.toFixed(digits)));
}

/** A ratio to a baseline: 0.4567 → "0.46×". */
export function formatRatio(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '—';
  if (value === 0) return '0×';
  // Two significant digits below 0.1, so a ratio of 0.0009 does not print as 0.00.
  return `${value >= 10 ? value.toFixed(1) : value >= 0.1 ? value.toFixed(2) : Number(value.toPrecision(2)).toString()}×`;
}

/** Binary sizes for message and chunk sizes: 1024 → "1KiB", 128 → "128B". */
export function formatBinarySize(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)}MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024}KiB`;
  return `${bytes}B`;
}

/** Bytes per second as decimal megabytes per second (1 MB = 10^6 bytes). */
export function formatMegabytesPerSecond(bytesPerSecond: number): string {
  return formatDecimal(bytesPerSecond / 1e6, bytesPerSecond >= 1e8 ? 0 : 1);
}
