// Hosts as stored in a message record: 4-byte IPv4 or 16-byte IPv6, then a 4-byte port.
import { isIPv4, isIPv6 } from 'node:net';

export interface SocketAddress {
  /** 4 bytes (IPv4) or 16 bytes (IPv6). */
  ip: Buffer;
  port: number;
}

export function isIPv6Address(address: SocketAddress): boolean {
  return address.ip.length === 16;
}

/** Parses "1.2.3.4:10911", "[::1]:10911" or "::ffff:1.2.3.4:10911"-free forms into bytes. */
export function parseSocketAddress(text: string): SocketAddress {
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':') throw new RangeError(`bad address "${text}"`);
    host = text.slice(1, close);
    portText = text.slice(close + 2);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) throw new RangeError(`bad address "${text}": no port`);
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
  }
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`bad port in "${text}"`);
  return { ip: ipToBytes(host), port };
}

export function ipToBytes(host: string): Buffer {
  if (host.startsWith('::ffff:') && isIPv4(host.slice(7))) host = host.slice(7);
  if (isIPv4(host)) return Buffer.from(host.split('.').map(Number));
  if (!isIPv6(host)) throw new RangeError(`bad IP address "${host}"`);
  const out = Buffer.alloc(16);
  let tail: number[] = [];
  let head: number[] = [];
  const [left, right] = host.includes('::') ? host.split('::') : [host, undefined];
  const toGroups = (part: string | undefined): number[] => {
    if (!part) return [];
    const groups: number[] = [];
    for (const piece of part.split(':')) {
      if (isIPv4(piece)) {
        const b = piece.split('.').map(Number);
        groups.push((b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!);
      } else groups.push(parseInt(piece, 16));
    }
    return groups;
  };
  head = toGroups(left);
  tail = toGroups(right);
  const groups = [...head, ...new Array(8 - head.length - tail.length).fill(0), ...tail];
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

export function bytesToIp(ip: Buffer): string {
  if (ip.length === 4) return `${ip[0]}.${ip[1]}.${ip[2]}.${ip[3]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(ip.readUInt16BE(i).toString(16));
  return groups.join(':');
}

export function formatSocketAddress(address: SocketAddress): string {
  const ip = bytesToIp(address.ip);
  return address.ip.length === 16 ? `[${ip}]:${address.port}` : `${ip}:${address.port}`;
}
