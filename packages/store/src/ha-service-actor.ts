// The master's side of replication: an actor on a thread of its own. It listens on the HA port,
// reads each slave's offset reports, and streams commit-log bytes to it straight from the mapped
// segments as the writer publishes them (it sleeps on the writer's sequence word, so new bytes go
// out as soon as they are in the map). The highest acknowledged offset and the number of connected
// slaves go to shared memory, where SYNC_MASTER appends wait on them.
import { createServer, type Server, type Socket } from 'node:net';
import { existsSync } from 'node:fs';
import type { ActorContext } from '@orbit/runtime';
import { encodeTransferHeader, HA_HEADER_BYTES, HA_REPORT_BYTES, writeTransferHeader } from './ha-protocol.js';
import { MappedFile } from './mapped-file.js';
import { SharedStoreState } from './shared-state.js';
import { StorePaths, type MessageStoreConfig } from './store-config.js';

export interface HaServiceInit {
  config: MessageStoreConfig;
  sharedState: SharedArrayBuffer;
}

export interface HaSlaveStats {
  remoteAddress: string;
  /** The first offset the slave reported (where the transfer started). */
  requestOffset: number;
  ackOffset: number;
  transferredOffset: number;
  bytesSent: number;
  connectedAtMs: number;
}

export interface HaServiceStats {
  listenPort: number;
  slaves: HaSlaveStats[];
  connectionsAccepted: number;
  connectionsDropped: number;
  lastError?: string;
}

/** Slaves accepted at once; RocketMQ has no limit, but every connection is a reader of the log. */
const MAX_SLAVES = 16;
/** Wake at least this often to send heartbeats and check for silent slaves. */
const IDLE_WAIT_MS = 1_000;
const HEARTBEAT_INTERVAL_MS = 5_000;

class SlaveConnection {
  requestOffset = -1;
  ackOffset = -1;
  /** The next byte to send; -1 until the slave's first report says where to start. */
  transferOffset = -1;
  bytesSent = 0;
  lastReadMs = Date.now();
  lastWriteMs = Date.now();
  readonly connectedAtMs = Date.now();
  private pending: Buffer = Buffer.alloc(0);
  private segment: MappedFile | undefined;
  private retentionEpoch = -1;
  closed = false;

  constructor(
    readonly socket: Socket,
    private readonly service: HaService,
  ) {}

  onData(chunk: Buffer): void {
    this.lastReadMs = Date.now();
    const data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    const whole = data.length - (data.length % HA_REPORT_BYTES);
    if (whole === 0) {
      this.pending = data;
      return;
    }
    // Only the newest complete report matters (RocketMQ reads the last 8-byte value).
    const offset = Number(data.readBigInt64BE(whole - HA_REPORT_BYTES));
    this.pending = Buffer.from(data.subarray(whole));
    if (!Number.isSafeInteger(offset) || offset < 0) {
      this.service.drop(this, `reported offset ${offset} is not a valid commit-log offset`);
      return;
    }
    if (this.requestOffset < 0) {
      this.requestOffset = offset;
      // An empty slave starts at the oldest byte the master still has, so it ends up with the same
      // log (RocketMQ starts it at the newest segment; Orbit copies everything retained).
      this.transferOffset = offset === 0 ? this.service.minPhysicalOffset() : offset;
      if (offset > 0 && offset < this.service.minPhysicalOffset()) {
        this.service.drop(this, `slave asks for offset ${offset}, below the oldest retained byte ${this.service.minPhysicalOffset()}`);
        return;
      }
    }
    if (offset > this.ackOffset) {
      this.ackOffset = offset;
      this.service.publishAcks();
    }
    this.service.wake();
  }

  /** Sends what the slave lacks, up to `written`; returns false when the socket is full. */
  pump(written: number, batchBytes: number, segmentSize: number): boolean {
    while (!this.closed && this.transferOffset >= 0 && this.transferOffset < written) {
      const segmentStart = this.transferOffset - (this.transferOffset % segmentSize);
      const length = Math.min(batchBytes, written - this.transferOffset, segmentStart + segmentSize - this.transferOffset);
      const frame = this.frame(segmentStart, length);
      if (!frame) return true; // the segment is gone (retention): the drop already happened
      this.transferOffset += length;
      this.bytesSent += length;
      this.lastWriteMs = Date.now();
      if (!this.socket.write(frame)) return false;
    }
    return true;
  }

  heartbeat(): void {
    if (this.transferOffset < 0) return;
    this.lastWriteMs = Date.now();
    this.socket.write(encodeTransferHeader(this.transferOffset, 0));
  }

  /** Header and body in one buffer: the body's one copy out of the map (the socket writes later,
   *  and the mapping may be dropped before it does). */
  private frame(segmentStart: number, length: number): Buffer | undefined {
    const epoch = this.service.retentionEpoch();
    if (!this.segment || this.segment.startOffset !== segmentStart || epoch !== this.retentionEpoch) {
      this.retentionEpoch = epoch;
      const path = MappedFile.pathFor(this.service.commitLogDir, segmentStart);
      if (!existsSync(path)) {
        this.service.drop(this, `segment ${segmentStart} no longer exists`);
        return undefined;
      }
      this.segment = MappedFile.openReadOnly(path);
    }
    const at = this.transferOffset - segmentStart;
    const frame = Buffer.allocUnsafe(HA_HEADER_BYTES + length);
    writeTransferHeader(frame, this.transferOffset, length);
    this.segment.map.copy(frame, HA_HEADER_BYTES, at, at + length);
    return frame;
  }

  stats(): HaSlaveStats {
    return {
      remoteAddress: `${this.socket.remoteAddress}:${this.socket.remotePort}`,
      requestOffset: this.requestOffset,
      ackOffset: this.ackOffset,
      transferredOffset: this.transferOffset,
      bytesSent: this.bytesSent,
      connectedAtMs: this.connectedAtMs,
    };
  }
}

export class HaService {
  private server: Server | undefined;
  private readonly shared: SharedStoreState;
  private readonly connections = new Set<SlaveConnection>();
  private running = false;
  private loopDone: Promise<void> | undefined;
  private wakeRequested = false;
  private listenPort = 0;
  private connectionsAccepted = 0;
  private connectionsDropped = 0;
  private lastError: string | undefined;
  readonly commitLogDir: string;

  constructor(private readonly init: HaServiceInit) {
    this.shared = new SharedStoreState(init.sharedState);
    this.commitLogDir = StorePaths.commitLog(init.config);
  }

  async start(): Promise<number> {
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.init.config.haListenPort, this.init.config.haListenHost, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => {
      this.lastError = `HA server: ${err.message}`;
    });
    const address = server.address();
    this.listenPort = typeof address === 'object' && address ? address.port : 0;
    this.running = true;
    this.shared.publishHaAck(0, 0);
    this.loopDone = this.loop();
    return this.listenPort;
  }

  private accept(socket: Socket): void {
    if (!this.running || this.connections.size >= MAX_SLAVES) {
      socket.destroy();
      return;
    }
    this.connectionsAccepted++;
    socket.setNoDelay(true);
    const conn = new SlaveConnection(socket, this);
    this.connections.add(conn);
    this.publishAcks();
    this.wake(); // the loop may be asleep with no slave to serve
    socket.on('data', (chunk: Buffer) => conn.onData(chunk));
    socket.on('drain', () => this.wake());
    socket.on('error', (err) => this.drop(conn, err.message));
    socket.on('close', () => this.drop(conn, 'closed'));
  }

  drop(conn: SlaveConnection, why: string): void {
    if (conn.closed) return;
    conn.closed = true;
    if (why !== 'closed') this.lastError = `slave ${conn.stats().remoteAddress}: ${why}`;
    this.connections.delete(conn);
    this.connectionsDropped++;
    conn.socket.destroy();
    this.publishAcks();
  }

  /** The highest acknowledged offset among connected slaves, and how many are connected. */
  publishAcks(): void {
    let ack = 0;
    let connected = 0;
    for (const c of this.connections) {
      if (c.ackOffset < 0) continue;
      connected++;
      if (c.ackOffset > ack) ack = c.ackOffset;
    }
    this.shared.publishHaAck(ack, connected);
  }

  minPhysicalOffset(): number {
    return this.shared.minPhysicalOffset;
  }
  retentionEpoch(): number {
    return this.shared.retentionEpoch;
  }

  /** Makes the loop look again now (a report arrived, a socket drained). */
  wake(): void {
    this.wakeRequested = true;
    // The loop sleeps on the writer's sequence word; bumping that would wake the dispatchers too,
    // so a wake from this thread resolves the loop's own promise instead.
    this.wakeResolve?.();
  }
  private wakeResolve: (() => void) | undefined;

  private async loop(): Promise<void> {
    const { haTransferBatchSize, mappedFileSizeCommitLog, haHousekeepingInterval } = this.init.config;
    while (this.running) {
      const seq = this.shared.writeSeq;
      const written = this.shared.writtenOffset;
      this.wakeRequested = false;
      const now = Date.now();
      for (const c of [...this.connections]) {
        if (now - c.lastReadMs > haHousekeepingInterval) {
          this.drop(c, `silent for ${now - c.lastReadMs} ms`);
          continue;
        }
        if (c.socket.writableNeedDrain) continue;
        c.pump(written, haTransferBatchSize, mappedFileSizeCommitLog);
        if (!c.closed && now - c.lastWriteMs >= HEARTBEAT_INTERVAL_MS) c.heartbeat();
      }
      if (this.wakeRequested) continue;
      const woken = new Promise<void>((resolve) => (this.wakeResolve = resolve));
      if (this.connections.size === 0) {
        // No slave, nothing to send: sleep until one connects (or the idle tick), not on every
        // append. Waking this thread per append cost the latency of every send on 2 vCPUs.
        const idle = setTimeout(() => this.wakeResolve?.(), IDLE_WAIT_MS);
        await woken;
        clearTimeout(idle);
      } else {
        // Sleep until the writer publishes, a slave speaks, or the idle tick.
        const wait = this.shared.waitWriteSeqAsync(seq, IDLE_WAIT_MS);
        if (wait) await Promise.race([wait, woken]);
      }
      this.wakeResolve = undefined;
    }
  }

  stats(): HaServiceStats {
    return {
      listenPort: this.listenPort,
      slaves: [...this.connections].map((c) => c.stats()),
      connectionsAccepted: this.connectionsAccepted,
      connectionsDropped: this.connectionsDropped,
      lastError: this.lastError,
    };
  }

  /**
   * Stops serving. Before closing, slaves get a bounded moment to receive what was written, so a
   * clean master shutdown leaves them complete.
   */
  async stop(catchUpTimeoutMs = 3_000): Promise<void> {
    const deadline = Date.now() + catchUpTimeoutMs;
    const written = this.shared.writtenOffset;
    while (Date.now() < deadline && [...this.connections].some((c) => c.ackOffset >= 0 && c.ackOffset < written)) {
      this.wake();
      await new Promise((r) => setTimeout(r, 20));
    }
    this.running = false;
    this.wakeResolve?.();
    await this.loopDone;
    for (const c of [...this.connections]) this.drop(c, 'closed');
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.shared.publishHaAck(0, 0);
  }
}

/** Actor factory: the runtime loads this module on the HA thread. */
export function createHaService(init: HaServiceInit, _ctx: ActorContext) {
  const service = new HaService(init);
  return {
    start: () => service.start(),
    stats: () => service.stats(),
    stop: () => service.stop(),
  };
}
export type HaServiceApi = ReturnType<typeof createHaService>;
