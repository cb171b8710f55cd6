// Errors are values with a code a caller can act on. Store errors carry a PutMessageStatus-like
// code; the broker maps them to RocketMQ response codes.

export class OrbitError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'OrbitError';
  }
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`invariant violated: ${message}`);
}
