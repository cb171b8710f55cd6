// offsetMsgId (facts §4.5): upper-case hex of store IP (4|16) + store port (int) + physical offset
// (long). VIEW_MESSAGE_BY_ID decodes it back into a host and an offset.
import { hexOfUint32, hexOfUint53 } from './hex.js';
import { readInt64BE, writeInt64BE } from './int64.js';
import type { SocketAddress } from './socket-address.js';

// The host part, made once per store host: a broker makes every id with the same one.
let cachedHost: SocketAddress | undefined;
let cachedHostHex = '';

export function createOffsetMessageId(storeHost: SocketAddress, physicalOffset: number): string {
  if (Number.isSafeInteger(physicalOffset) && physicalOffset >= 0) {
    if (storeHost !== cachedHost) {
      cachedHostHex = Buffer.from(storeHost.ip).toString('hex').toUpperCase() + hexOfUint32(storeHost.port);
      cachedHost = storeHost;
    }
    return cachedHostHex + hexOfUint53(physicalOffset);
  }
  const buf = Buffer.alloc(storeHost.ip.length + 12);
  buf.set(storeHost.ip, 0);
  buf.writeInt32BE(storeHost.port, storeHost.ip.length);
  writeInt64BE(buf, storeHost.ip.length + 4, physicalOffset);
  return buf.toString('hex').toUpperCase();
}

export function decodeOffsetMessageId(id: string): { storeHost: SocketAddress; physicalOffset: number } {
  if ((id.length !== 32 && id.length !== 56) || !/^[0-9a-fA-F]+$/.test(id)) {
    throw new RangeError(`"${id}" is not an offset message id (32 or 56 hex characters)`);
  }
  const buf = Buffer.from(id, 'hex');
  const ipBytes = buf.length - 12;
  return {
    storeHost: { ip: buf.subarray(0, ipBytes), port: buf.readInt32BE(ipBytes) },
    physicalOffset: readInt64BE(buf, ipBytes + 4),
  };
}
