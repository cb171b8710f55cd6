// 64-bit big-endian integers as JS numbers. Offsets and timestamps stay below 2^53, so two 32-bit
// halves avoid BigInt on hot paths.
const TWO_POW_32 = 0x1_0000_0000;

export function writeInt64BE(buf: Uint8Array & { writeInt32BE: Buffer['writeInt32BE']; writeUInt32BE: Buffer['writeUInt32BE'] }, offset: number, value: number): void {
  const high = Math.floor(value / TWO_POW_32);
  buf.writeInt32BE(high, offset);
  buf.writeUInt32BE(value - high * TWO_POW_32, offset + 4);
}

export function readInt64BE(buf: Buffer, offset: number): number {
  return buf.readInt32BE(offset) * TWO_POW_32 + buf.readUInt32BE(offset + 4);
}
