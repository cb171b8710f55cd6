// Which thread owns an actor. Every package that must agree on an owner (the broker routing a pull
// to a queue actor, the host spawning it) calls this one function, so the answer is the same in
// every thread and every run: it depends only on the name and the thread count.
//
// FNV-1a (32-bit) over the name's UTF-16 code units, then murmur3's fmix32 finalizer. FNV-1a alone
// mixes poorly into the low bits, and `hash % n` with a small n reads exactly those: names that
// differ only in a character's high bits ("queue-a" vs "queue-q") would land on the same thread.
import { assert } from '@orbit/common/errors';

const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** A stable 32-bit unsigned hash of `name`. */
export function actorNameHash(name: string): number {
  let hash = FNV_OFFSET_BASIS;
  for (let i = 0; i < name.length; i++) {
    hash ^= name.charCodeAt(i);
    hash = Math.imul(hash, FNV_PRIME);
  }
  // fmix32: every input bit affects every output bit.
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/** The index in [0, threadCount) of the shared thread that owns actor `name`. */
export function placeActor(name: string, threadCount: number): number {
  assert(Number.isInteger(threadCount) && threadCount >= 1, `threadCount must be a positive integer, got ${threadCount}`);
  return actorNameHash(name) % threadCount;
}
