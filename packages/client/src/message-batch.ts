// The body of SEND_BATCH_MESSAGE (facts §4.4, MessageDecoder.encodeMessage): one entry per message,
//   TOTALSIZE 4 | MAGIC 4 (=0) | BODYCRC 4 (=0) | FLAG 4 | BODYLEN 4 | BODY | PROPLEN 2 | PROPS
// where PROPS is that message's own properties string (its UNIQ_KEY, TAGS, KEYS, WAIT).

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
  let total = 0;
  const propertyBytes: Buffer[] = [];
  for (const entry of entries) {
    const props = Buffer.from(entry.properties, 'utf8');
    if (props.length > MAX_BATCH_PROPERTIES_BYTES) throw new RangeError(`batch entry properties are ${props.length} bytes, more than ${MAX_BATCH_PROPERTIES_BYTES}`);
    propertyBytes.push(props);
    total += BATCH_ENTRY_OVERHEAD_BYTES + entry.body.length + props.length;
  }
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  entries.forEach((entry, i) => {
    const props = propertyBytes[i]!;
    const size = BATCH_ENTRY_OVERHEAD_BYTES + entry.body.length + props.length;
    out.writeInt32BE(size, at);
    out.writeInt32BE(0, at + 4);
    out.writeInt32BE(0, at + 8);
    out.writeInt32BE(entry.flag | 0, at + 12);
    out.writeInt32BE(entry.body.length, at + 16);
    out.set(entry.body, at + 20);
    at += 20 + entry.body.length;
    out.writeInt16BE(props.length, at);
    out.set(props, at + 2);
    at += 2 + props.length;
  });
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
