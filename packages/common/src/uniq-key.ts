// UNIQ_KEY, the id the producer gives each message (MessageClientIDSetter, facts §4.5). The SDK's
// msgId is this value; brokers index it so a message can be found by it.
//
// Layout (IPv4): 16 bytes as 32 upper-case hex characters
//   ip(4) | pid(short 2) | classLoaderHash(int 4)      fixed per process ("FIX_STRING")
//   | millis since the start of this month(int 4) | counter(short 2)
// IPv6 clients have a 16-byte ip, so 28 bytes / 56 characters.
import { randomInt } from 'node:crypto';
import { HEX_BYTES, hexOfUint32 } from './hex.js';
import { ipToBytes } from './socket-address.js';

export interface UniqKeyOptions {
  /** IPv4 or IPv6 text; default: the client IP of the process. */
  ip: string;
  /** Only the low 16 bits are used, as Java's (short) cast does. */
  pid?: number;
  /** Stands in for Java's class-loader identity hash; default random. */
  classLoaderHash?: number;
  /** Clock, for tests. */
  nowMs?: () => number;
}

/** Start of the month containing `ms`, in local time (Java's Calendar default). */
export function startOfMonthMs(ms: number): number {
  const d = new Date(ms);
  return new Date(d.getFullYear(), d.getMonth(), 1, 0, 0, 0, 0).getTime();
}

function startOfNextMonthMs(ms: number): number {
  const d = new Date(ms);
  return new Date(d.getFullYear(), d.getMonth() + 1, 1, 0, 0, 0, 0).getTime();
}

export class UniqKeyGenerator {
  private readonly fixHex: string;
  private readonly nowMs: () => number;
  private startTimeMs = 0;
  private nextStartTimeMs = 0;
  private counter = 0;
  /** fixHex and the time part, remade when the clock moves (a producer makes many ids per ms). */
  private prefix = '';
  private prefixMs = Number.NaN;

  constructor(options: UniqKeyOptions) {
    const ip = ipToBytes(options.ip);
    const fixed = Buffer.alloc(ip.length + 6);
    fixed.set(ip, 0);
    fixed.writeInt16BE(((options.pid ?? process.pid) << 16) >> 16, ip.length);
    fixed.writeInt32BE((options.classLoaderHash ?? randomInt(-0x80000000, 0x7fffffff)) | 0, ip.length + 2);
    this.fixHex = fixed.toString('hex').toUpperCase();
    this.nowMs = options.nowMs ?? Date.now;
  }

  /** One new id. */
  next(): string {
    const now = this.nowMs();
    if (now !== this.prefixMs) {
      if (now >= this.nextStartTimeMs) {
        this.startTimeMs = startOfMonthMs(now);
        this.nextStartTimeMs = startOfNextMonthMs(now);
      }
      let diff = (now - this.startTimeMs) | 0;
      if (diff < 0 && diff > -1_000_000) diff = 0; // Java: a clock that stepped back a little
      this.prefix = this.fixHex + hexOfUint32(diff);
      this.prefixMs = now;
    }
    const counter = this.counter;
    this.counter = (counter + 1) | 0;
    return this.prefix + HEX_BYTES[(counter >>> 8) & 0xff] + HEX_BYTES[counter & 0xff];
  }
}

export interface ParsedUniqKey {
  ip: Buffer;
  pid: number;
  classLoaderHash: number;
  /** Millis since the start of the month the id was made in. */
  monthOffsetMs: number;
  counter: number;
}

/** Splits an id back into its fields (MessageClientIDSetter.getIPFromID and friends). */
export function parseUniqKey(id: string): ParsedUniqKey {
  if ((id.length !== 32 && id.length !== 56) || !/^[0-9A-Fa-f]+$/.test(id)) throw new RangeError(`"${id}" is not a UNIQ_KEY (32 or 56 hex characters)`);
  const buf = Buffer.from(id, 'hex');
  const ipBytes = buf.length - 12;
  return {
    ip: buf.subarray(0, ipBytes),
    pid: buf.readUInt16BE(ipBytes),
    classLoaderHash: buf.readInt32BE(ipBytes + 2),
    monthOffsetMs: buf.readInt32BE(ipBytes + 6),
    counter: buf.readUInt16BE(ipBytes + 10),
  };
}

let processGenerator: UniqKeyGenerator | undefined;

/** The process-wide generator (Java keeps one per class loader), made on first use with `ip`. */
export function createUniqKey(ip: string): string {
  processGenerator ??= new UniqKeyGenerator({ ip: isUsableIp(ip) ? ip : '127.0.0.1' });
  return processGenerator.next();
}

function isUsableIp(ip: string): boolean {
  try {
    ipToBytes(ip);
    return true;
  } catch {
    return false;
  }
}
