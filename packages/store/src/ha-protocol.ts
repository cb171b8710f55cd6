// RocketMQ's classic HA wire format (facts §6.2): no remoting framing on this port.
//   slave → master: an 8-byte big-endian offset, the slave's commit-log end ("I have everything below").
//   master → slave: [i64 physicalOffset][i32 bodySize] then bodySize raw commit-log bytes; a body of 0
//   bytes is a heartbeat.
export const HA_REPORT_BYTES = 8;
export const HA_HEADER_BYTES = 12;
/** A transfer body larger than this is a protocol error (our chunks are at most haTransferBatchSize). */
export const HA_MAX_BODY_BYTES = 64 * 1024 * 1024;
/** How long a disconnected slave waits before dialling the master again. */
export const HA_RECONNECT_DELAY_MS = 1_000;
export const HA_CONNECT_TIMEOUT_MS = 3_000;

export function encodeReport(offset: number): Buffer {
  const b = Buffer.allocUnsafe(HA_REPORT_BYTES);
  b.writeBigInt64BE(BigInt(offset), 0);
  return b;
}

export function writeTransferHeader(into: Buffer, physicalOffset: number, bodyBytes: number): void {
  into.writeBigInt64BE(BigInt(physicalOffset), 0);
  into.writeInt32BE(bodyBytes, 8);
}

export function encodeTransferHeader(physicalOffset: number, bodyBytes: number): Buffer {
  const b = Buffer.allocUnsafe(HA_HEADER_BYTES);
  writeTransferHeader(b, physicalOffset, bodyBytes);
  return b;
}

/** Parses "host:port" (IPv4, name, or [IPv6]:port); undefined when it is not one. */
export function parseHaAddress(address: string): { host: string; port: number } | undefined {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(address.trim());
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: m[1]!, port };
}
