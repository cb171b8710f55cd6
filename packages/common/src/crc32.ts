// RocketMQ stores and checks CRC32 (IEEE/zlib) ANDed with 0x7FFFFFFF (UtilAll.crc32), so the value
// always fits a positive Java int. zlib.crc32 is native (Node >= 20.15).
import { crc32 as zlibCrc32 } from 'node:zlib';

export function rocketmqCrc32(bytes: Uint8Array): number {
  return zlibCrc32(bytes) & 0x7fffffff;
}
