// Java's String.hashCode(): h = 31*h + UTF-16 code unit, with int32 wrap-around. RocketMQ uses it for
// consume-queue tag codes and index-file key hashes, so ours must give the same numbers.
export function javaStringHash(text: string): number {
  let hash = 0;
  for (let i = 0; i < text.length; i++) {
    hash = (Math.imul(hash, 31) + text.charCodeAt(i)) | 0;
  }
  return hash;
}

/** Tag code stored in a consume-queue unit: the Java hash of the TAGS value, 0 without a tag. */
export function tagsCode(tags: string | undefined): number {
  return tags ? javaStringHash(tags) : 0;
}
