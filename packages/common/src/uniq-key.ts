// UNIQ_KEY (MessageClientIDSetter, facts §4.5): hex of ip (4|16) + pid (2) + classLoader hash (4) +
// ms since the start of the current month (4) + counter (2). Upper-case, 32 chars for IPv4. Brokers
// make one for messages that arrive without it (ali-ons sends none).
import { ipToBytes } from './socket-address.js';

export class UniqKeyGenerator {
  private readonly prefix: string;
  private counter = 0;
  private monthStartMs = 0;
  private nextMonthStartMs = 0;

  constructor(ip: string, instanceHash = Math.floor(Math.random() * 0x7fffffff)) {
    const head = Buffer.alloc(ipToBytes(ip).length + 6);
    ipToBytes(ip).copy(head, 0);
    head.writeUInt16BE(process.pid & 0xffff, head.length - 6);
    head.writeInt32BE(instanceHash | 0, head.length - 4);
    this.prefix = head.toString('hex').toUpperCase();
  }

  next(nowMs = Date.now()): string {
    if (nowMs >= this.nextMonthStartMs || nowMs < this.monthStartMs) {
      const d = new Date(nowMs);
      this.monthStartMs = new Date(d.getFullYear(), d.getMonth(), 1).getTime();
      this.nextMonthStartMs = new Date(d.getFullYear(), d.getMonth() + 1, 1).getTime();
    }
    const tail = Buffer.alloc(6);
    tail.writeUInt32BE((nowMs - this.monthStartMs) >>> 0, 0);
    tail.writeUInt16BE(this.counter, 4);
    this.counter = (this.counter + 1) & 0xffff;
    return this.prefix + tail.toString('hex').toUpperCase();
  }
}
