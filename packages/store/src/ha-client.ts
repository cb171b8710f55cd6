// The slave's side of replication. It runs on the writer's thread (the only thread that may write
// the commit log): it dials the master's HA port, reports the local end of the log, and hands each
// transfer body to the writer, which copies it into the map at the same physical offset. Reports go
// out after every applied chunk and at least every haSendHeartbeatInterval; a master silent for
// haHousekeepingInterval is dropped and dialled again.
import { connect, type Socket } from 'node:net';
import {
  encodeReport,
  HA_CONNECT_TIMEOUT_MS,
  HA_HEADER_BYTES,
  HA_MAX_BODY_BYTES,
  HA_RECONNECT_DELAY_MS,
  parseHaAddress,
} from './ha-protocol.js';

export interface ReplicaLog {
  /** The end of the local log: every byte below it is here. */
  receivedOffset(): number;
  /**
   * Writes `body` at `physicalOffset` (which must equal receivedOffset(), or start an empty log at a
   * segment boundary). Returns an error text when it cannot, and the connection is dropped.
   */
  applyTransfer(physicalOffset: number, body: Buffer): Promise<string | undefined>;
  setMasterConnected(connected: boolean): void;
}

export interface HaClientStats {
  masterAddress: string;
  connected: boolean;
  receivedOffset: number;
  bytesReceived: number;
  transfers: number;
  connects: number;
  lastError?: string;
}

export class HaClient {
  private address = '';
  private socket: Socket | undefined;
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private applying = false;
  private stopped = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private lastReadMs = 0;
  private lastReportMs = 0;
  private lastReportedOffset = -1;
  private readonly stats: HaClientStats = { masterAddress: '', connected: false, receivedOffset: 0, bytesReceived: 0, transfers: 0, connects: 0 };

  constructor(
    private readonly log: ReplicaLog,
    private readonly heartbeatIntervalMs: number,
    private readonly housekeepingIntervalMs: number,
  ) {}

  /** Points the client at a master (host:port); an empty address disconnects. */
  setMasterAddress(address: string): void {
    if (address === this.address) return;
    this.address = address;
    this.stats.masterAddress = address;
    this.disconnect(undefined);
    if (address) this.connectSoon(0);
  }

  private connectSoon(delayMs: number): void {
    if (this.stopped || this.reconnectTimer || !this.address) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect();
    }, delayMs);
  }

  private connect(): void {
    const target = parseHaAddress(this.address);
    if (!target) {
      this.stats.lastError = `master HA address "${this.address}" is not host:port`;
      return;
    }
    const socket = connect({ host: target.host, port: target.port });
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setTimeout(HA_CONNECT_TIMEOUT_MS);
    socket.once('connect', () => {
      socket.setTimeout(0);
      this.stats.connects++;
      this.stats.connected = true;
      this.lastReadMs = Date.now();
      this.log.setMasterConnected(true);
      this.lastReportedOffset = -1;
      this.report(true);
      this.heartbeatTimer = setInterval(() => this.onHeartbeatTick(), Math.min(1_000, this.heartbeatIntervalMs));
    });
    socket.on('timeout', () => this.disconnect(`connecting to ${this.address} timed out`));
    socket.on('data', (chunk: Buffer) => this.onData(socket, chunk));
    socket.on('error', (err) => this.disconnect(err.message));
    socket.on('close', () => this.disconnect(undefined));
  }

  private disconnect(why: string | undefined): void {
    if (why) this.stats.lastError = why;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
    const socket = this.socket;
    this.socket = undefined;
    this.buffered = [];
    this.bufferedBytes = 0;
    if (this.stats.connected) {
      this.stats.connected = false;
      this.log.setMasterConnected(false);
    }
    if (socket) {
      socket.destroy();
      this.connectSoon(HA_RECONNECT_DELAY_MS);
    }
  }

  private onHeartbeatTick(): void {
    const now = Date.now();
    if (now - this.lastReadMs > this.housekeepingIntervalMs) {
      this.disconnect(`master silent for ${now - this.lastReadMs} ms`);
      return;
    }
    if (now - this.lastReportMs >= this.heartbeatIntervalMs) this.report(true);
  }

  /** Tells the master how far the local log reaches (only when it moved, unless forced). */
  private report(force: boolean): void {
    const offset = this.log.receivedOffset();
    if (!this.socket || (!force && offset === this.lastReportedOffset)) return;
    this.lastReportedOffset = offset;
    this.lastReportMs = Date.now();
    this.socket.write(encodeReport(offset));
  }

  private onData(socket: Socket, chunk: Buffer): void {
    if (socket !== this.socket) return;
    this.lastReadMs = Date.now();
    this.buffered.push(chunk);
    this.bufferedBytes += chunk.length;
    // Back-pressure: while the writer applies, stop reading rather than buffer without bound.
    if (this.bufferedBytes > HA_MAX_BODY_BYTES) socket.pause();
    if (!this.applying) void this.applyBuffered(socket);
  }

  private async applyBuffered(socket: Socket): Promise<void> {
    this.applying = true;
    try {
      while (socket === this.socket && this.bufferedBytes >= HA_HEADER_BYTES) {
        // Take what is buffered; chunks arriving while the writer applies queue up behind it.
        const data = this.buffered.length === 1 ? this.buffered[0]! : Buffer.concat(this.buffered, this.bufferedBytes);
        this.buffered = [];
        this.bufferedBytes = 0;
        let at = 0;
        let failure: string | undefined;
        while (data.length - at >= HA_HEADER_BYTES) {
          const physicalOffset = Number(data.readBigInt64BE(at));
          const bodyBytes = data.readInt32BE(at + 8);
          if (!Number.isSafeInteger(physicalOffset) || physicalOffset < 0 || bodyBytes < 0 || bodyBytes > HA_MAX_BODY_BYTES) {
            failure = `bad transfer header: offset ${physicalOffset}, size ${bodyBytes}`;
            break;
          }
          if (data.length - at - HA_HEADER_BYTES < bodyBytes) break; // the rest has not arrived
          const body = data.subarray(at + HA_HEADER_BYTES, at + HA_HEADER_BYTES + bodyBytes);
          at += HA_HEADER_BYTES + bodyBytes;
          if (bodyBytes === 0) continue; // heartbeat
          failure = await this.log.applyTransfer(physicalOffset, body);
          if (failure || socket !== this.socket) break;
          this.stats.transfers++;
          this.stats.bytesReceived += bodyBytes;
          this.stats.receivedOffset = this.log.receivedOffset();
        }
        if (failure) {
          this.disconnect(failure);
          return;
        }
        if (socket !== this.socket) return;
        const rest = data.subarray(at);
        if (rest.length > 0) {
          this.buffered.unshift(rest);
          this.bufferedBytes += rest.length;
        }
        this.report(false);
        if (socket.isPaused() && this.bufferedBytes <= HA_MAX_BODY_BYTES) socket.resume();
        if (this.bufferedBytes === rest.length && at === 0) break; // waiting for the rest of a transfer
      }
    } finally {
      this.applying = false;
    }
  }

  getStats(): HaClientStats {
    return { ...this.stats, receivedOffset: this.log.receivedOffset() };
  }

  stop(): void {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.disconnect(undefined);
  }
}
