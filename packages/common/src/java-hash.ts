// Java's String.hashCode(): h = 31*h + UTF-16 code unit, with int32 wrap-around. RocketMQ uses it for
// consume-queue tag codes and index-file key hashes, so ours must give the same numbers.
export function javaStringHash(text: string): number {
  return continueJavaStringHash(0, text);
}

/**
 * The Java hash of (the string that gave `hash`) + `text`. Lets a caller hash "topic#key" from its
 * parts: hashing a freshly concatenated string costs about twice as much (measured per record in the
 * dispatcher, which indexes every message's UNIQ_KEY).
 */
export function continueJavaStringHash(hash: number, text: string): number {
  let h = hash | 0;
  for (let i = 0; i < text.length; i++) {
    h = (Math.imul(h, 31) + text.charCodeAt(i)) | 0;
  }
  return h;
}

/** Tag code stored in a consume-queue unit: the Java hash of the TAGS value, 0 without a tag. */
export function tagsCode(tags: string | undefined): number {
  return tags ? javaStringHash(tags) : 0;
}
