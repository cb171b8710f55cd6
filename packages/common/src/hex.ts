// Upper-case hex for ids made per message (UNIQ_KEY, offset message ids): table lookups instead of a
// Buffer, toString('hex') and toUpperCase each time (~3x faster, benchmarks/README.md tuning log).

/** "00" … "FF". */
export const HEX_BYTES: readonly string[] = Array.from({ length: 256 }, (_, b) => b.toString(16).toUpperCase().padStart(2, '0'));

/** The 8 upper-case hex digits of the low 32 bits of `value`, big-endian. */
export function hexOfUint32(value: number): string {
  return HEX_BYTES[(value >>> 24) & 0xff]! + HEX_BYTES[(value >>> 16) & 0xff]! + HEX_BYTES[(value >>> 8) & 0xff]! + HEX_BYTES[value & 0xff]!;
}

/** The 16 upper-case hex digits of a non-negative integer below 2^53, as a big-endian 64-bit value. */
export function hexOfUint53(value: number): string {
  return hexOfUint32(Math.floor(value / 0x1_0000_0000)) + hexOfUint32(value >>> 0);
}
