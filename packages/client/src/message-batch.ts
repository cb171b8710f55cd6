// The body of SEND_BATCH_MESSAGE (facts §4.4, MessageDecoder.encodeMessage): one entry per message,
//   TOTALSIZE 4 | MAGIC 4 (=0) | BODYCRC 4 (=0) | FLAG 4 | BODYLEN 4 | BODY | PROPLEN 2 | PROPS
// where PROPS is that message's own properties string (its UNIQ_KEY, TAGS, KEYS, WAIT).
import { viewOf, writeText } from '@orbit/common';

/** Bytes of one entry besides its body and properties. */
export const BATCH_ENTRY_OVERHEAD_BYTES = 4 + 4 + 4 + 4 + 4 + 2;
/** The properties length is a Java short. */
export const MAX_BATCH_PROPERTIES_BYTES = 32767;

export interface BatchEntry {
  flag: number;
  body: Buffer;
  /** The properties string. */
  properties: string;
}

export function encodeBatchBody(entries: readonly BatchEntry[]): Buffer {
  // Sizes first, then one buffer written in place: no per-entry buffers for the properties (this
  // runs for every message a producer batches).
  let total = 0;
  const propertyBytes: number[] = new Array(entries.length);
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    const props = Buffer.byteLength(entry.properties, 'utf8');
    if (props > MAX_BATCH_PROPERTIES_BYTES) throw new RangeError(`batch entry properties are ${props} bytes, more than ${MAX_BATCH_PROPERTIES_BYTES}`);
    propertyBytes[i] = props;
    total += BATCH_ENTRY_OVERHEAD_BYTES + entry.body.length + props;
  }
  const out = Buffer.allocUnsafe(total);
  const view = viewOf(out);
  let at = 0;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    const props = propertyBytes[i]!;
    view.setInt32(at, BATCH_ENTRY_OVERHEAD_BYTES + entry.body.length + props);
    view.setInt32(at + 4, 0);
    view.setInt32(at + 8, 0);
    view.setInt32(at + 12, entry.flag | 0);
    view.setInt32(at + 16, entry.body.length);
    out.set(entry.body, at + 20);
    at += 20 + entry.body.length;
    view.setInt16(at, props);
    at += 2 + writeText(out, at + 2, entry.properties, props);
  }
  if (at !== total) throw new Error(`invariant violated: batch encoded ${at} bytes, planned ${total}`);
  return out;
}

/** Reads a batch body back (tests, and a broker-side check). Throws RangeError on a bad layout. */
export function decodeBatchBody(buf: Buffer): BatchEntry[] {
  const out: BatchEntry[] = [];
  let at = 0;
  while (at < buf.length) {
    if (buf.length - at < BATCH_ENTRY_OVERHEAD_BYTES) throw new RangeError(`batch entry at ${at} is truncated`);
    const size = buf.readInt32BE(at);
    if (size < BATCH_ENTRY_OVERHEAD_BYTES || at + size > buf.length) throw new RangeError(`batch entry at ${at} has size ${size}`);
    const flag = buf.readInt32BE(at + 12);
    const bodyLength = buf.readInt32BE(at + 16);
    if (bodyLength < 0 || 20 + bodyLength + 2 > size) throw new RangeError(`batch entry at ${at} has body length ${bodyLength}`);
    const body = buf.subarray(at + 20, at + 20 + bodyLength);
    const propsLength = buf.readInt16BE(at + 20 + bodyLength);
    if (propsLength < 0 || 22 + bodyLength + propsLength !== size) throw new RangeError(`batch entry at ${at}: lengths do not add up to ${size}`);
    const properties = buf.toString('utf8', at + 22 + bodyLength, at + 22 + bodyLength + propsLength);
    out.push({ flag, body, properties });
    at += size;
  }
  return out;
}
