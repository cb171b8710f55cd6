// Helpers for the remoting tests (not part of the package's API).
import type { FrameDecoder } from './frame-codec.js';

/**
 * Hands `piece` to `decoder` as one socket read: as it is (push), or, given `scratch`, through that
 * buffer as a read with net's `onread` does (pushCopy), scribbling over it afterwards as the next
 * read would, so a decoder that kept pointing into it is caught.
 */
export function feedPiece(decoder: FrameDecoder, piece: Buffer, scratch?: Buffer): void {
  if (scratch === undefined) {
    decoder.push(piece);
    return;
  }
  const n = piece.copy(scratch, 0);
  if (n !== piece.length) throw new RangeError(`a piece of ${piece.length} bytes does not fit the ${scratch.length}-byte read buffer`);
  decoder.pushCopy(scratch.subarray(0, n));
  scratch.fill(0xee);
}
