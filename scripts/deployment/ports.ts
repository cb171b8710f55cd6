// Port plans: every port a deployment listens on, shifted by one offset, and the search for an
// offset whose ports are all free on 127.0.0.1 (so tests and benchmarks can run beside a cluster
// started on the default ports, or beside each other).
import { createServer } from 'node:net';
import { DEFAULT_NAMESRV_PORT, fileListenPort, type BrokerSpec } from './deployment-sets.js';

/** Offsets 'auto' tries, chosen so every port stays below Linux's ephemeral range (32768+), where outgoing connections would take them. */
const AUTO_OFFSET_MIN = 2_000;
const AUTO_OFFSET_MAX = 20_000;
const AUTO_OFFSET_ATTEMPTS = 50;

/** The ports a set uses with an offset: the NameServer's, then each broker's listenPort and listenPort + 1 (HA). */
export function portsOf(specs: BrokerSpec[], offset: number): number[] {
  const ports = [DEFAULT_NAMESRV_PORT + offset];
  for (const spec of specs) ports.push(fileListenPort(spec) + offset, fileListenPort(spec) + offset + 1);
  for (const p of ports) if (!(p > 0 && p < 65_536)) throw new RangeError(`port offset ${offset} gives port ${p}, outside 1..65535`);
  return ports;
}

/** True when a listener can bind the port on 127.0.0.1 right now. */
export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

export async function arePortsFree(ports: number[]): Promise<boolean> {
  for (const port of ports) if (!(await isPortFree(port))) return false;
  return true;
}

/** A random offset whose ports are all free; throws after AUTO_OFFSET_ATTEMPTS tries. */
export async function findFreePortOffset(specs: BrokerSpec[]): Promise<number> {
  for (let attempt = 0; attempt < AUTO_OFFSET_ATTEMPTS; attempt++) {
    const offset = AUTO_OFFSET_MIN + Math.floor(Math.random() * (AUTO_OFFSET_MAX - AUTO_OFFSET_MIN));
    if (await arePortsFree(portsOf(specs, offset))) return offset;
  }
  throw new Error(`no free block of ports found in ${AUTO_OFFSET_ATTEMPTS} tries`);
}
