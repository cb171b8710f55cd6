// DataView access for the per-message hot paths (encoding a stored record, stamping it). In Node 20
// Buffer's writeInt32BE and friends are plain JS with their own argument checks, a few times slower
// than an optimized DataView store, which is still bounds-checked (RangeError past the end).
// Measured: a 1 KiB record encoded in ~170 ns instead of ~450 ns (benchmarks/README.md tuning log).

const TWO_POW_32 = 0x1_0000_0000;

// One cached view: callers encode many records into the same buffer (the append ring, a batch
// body) in a row, so a single entry hits nearly always and costs no map lookup.
let cachedBytes: Uint8Array | undefined;
let cachedView: DataView | undefined;

/** A DataView over exactly the bytes of `bytes` (its byteOffset and length). */
export function viewOf(bytes: Uint8Array): DataView {
  if (bytes !== cachedBytes) {
    cachedView = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    cachedBytes = bytes;
  }
  return cachedView!;
}

/** A 64-bit big-endian integer from a JS number below 2^53 (offsets, timestamps), as two halves. */
export function setInt64(view: DataView, offset: number, value: number): void {
  const high = Math.floor(value / TWO_POW_32);
  view.setInt32(offset, high);
  view.setUint32(offset + 4, value - high * TWO_POW_32);
}

/**
 * Writes `text` (whose UTF-8 length is `byteLength`) at `offset`; returns the bytes written. ASCII
 * text (UTF-8 length = string length, true of every topic and nearly every property string) takes
 * the latin1 path, which copies without transcoding and writes the same bytes.
 */
export function writeText(buf: Buffer, offset: number, text: string, byteLength: number): number {
  return buf.write(text, offset, byteLength, byteLength === text.length ? 'latin1' : 'utf8');
}
