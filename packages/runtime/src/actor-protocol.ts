// The messages between an ActorHost (main thread) and an actor thread, over the worker's own port.
// This channel carries lifecycle only (spawn, stop); each actor's control calls go over its own
// MessageChannel with comlink.
import type { MessagePort } from 'node:worker_threads';

/** What a thread receives as workerData. */
export interface ActorThreadData {
  threadIndex: number;
  hostName: string;
}

export type HostToThread =
  | {
      kind: 'spawn';
      requestId: number;
      name: string;
      moduleUrl: string;
      exportName: string;
      init: unknown;
      /** The thread's end of the actor's comlink channel. */
      port: MessagePort;
    }
  | { kind: 'stop'; requestId: number; name: string }
  /** Stops every actor of the thread (shutdown); replies once all stop() calls settled. */
  | { kind: 'stop-all'; requestId: number };

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
}

export type ThreadToHost =
  | { kind: 'ready' }
  | { kind: 'reply'; requestId: number; error?: SerializedError; stopErrors?: Array<{ actorName: string; error: SerializedError }> };

export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) return { name: error.name, message: error.message, stack: error.stack };
  return { name: 'Error', message: String(error) };
}

export function deserializeError(serialized: SerializedError): Error {
  const error = new Error(serialized.message);
  error.name = serialized.name;
  if (serialized.stack !== undefined) error.stack = serialized.stack;
  return error;
}
