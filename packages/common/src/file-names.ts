// Segment and consume-queue files are named by their start offset, zero-padded to 20 digits
// (UtilAll.offset2FileName).
export const FILE_NAME_DIGITS = 20;

export function offsetToFileName(offset: number): string {
  if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`bad file offset ${offset}`);
  return String(offset).padStart(FILE_NAME_DIGITS, '0');
}

export function fileNameToOffset(name: string): number | undefined {
  if (name.length !== FILE_NAME_DIGITS || !/^\d+$/.test(name)) return undefined;
  const n = Number(name);
  return Number.isSafeInteger(n) ? n : undefined;
}
