// Test fixture: a deterministic record pattern, so a consumer on another thread can check the order
// and every byte of what a producer wrote without being told the records.

/** Payload length of record `seq`: pseudo-random in [0, maxBytes], hitting 0 and maxBytes often. */
export function recordLength(seq: number, maxBytes: number): number {
  const h = Math.imul(seq ^ 0x5bd1e995, 0x9e3779b1) >>> 0;
  const pick = h % 16;
  if (pick === 0) return 0;
  if (pick === 1) return maxBytes;
  return (h >>> 4) % (maxBytes + 1);
}

function patternByte(seq: number, j: number): number {
  return (seq * 31 + j * 7) & 0xff;
}

export function fillRecord(bytes: Buffer, offset: number, length: number, seq: number): void {
  let j = 0;
  if (length >= 4) {
    bytes.writeUInt32LE(seq >>> 0, offset);
    j = 4;
  }
  for (; j < length; j++) bytes[offset + j] = patternByte(seq, j);
}

/** Returns null when record `seq` is intact, else what is wrong with it. */
export function checkRecord(bytes: Buffer, offset: number, length: number, seq: number, maxBytes: number): string | null {
  const expectedLength = recordLength(seq, maxBytes);
  if (length !== expectedLength) return `record ${seq}: length ${length}, expected ${expectedLength}`;
  return checkPattern(bytes, offset, length, seq);
}

/** Checks the bytes written by fillRecord, whatever the length. */
export function checkPattern(bytes: Buffer, offset: number, length: number, seq: number): string | null {
  let j = 0;
  if (length >= 4) {
    const got = bytes.readUInt32LE(offset);
    if (got !== seq >>> 0) return `record ${seq}: sequence field ${got}`;
    j = 4;
  }
  for (; j < length; j++) {
    if (bytes[offset + j] !== patternByte(seq, j)) return `record ${seq}: byte ${j} is ${bytes[offset + j]}`;
  }
  return null;
}
