// The entry module of an actor thread: one of the few worker threads an ActorHost runs. It loads
// actor modules, builds actors with their factories, exposes each on its own comlink channel, and
// stops them on request. An uncaught error here or in any actor ends the whole thread: the host
// reports every actor of the thread as crashed (actors on one thread share its fate by design).
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import * as Comlink from 'comlink';
import nodeAdapterModule from 'comlink/dist/umd/node-adapter.js';
import { assert } from '@orbit/common/errors';
import type { ActorContext, ActorFactory } from './actor-host.js';
import {
  serializeError,
  type ActorThreadData,
  type HostToThread,
  type SerializedError,
  type ThreadToHost,
} from './actor-protocol.js';

// The adapter is CommonJS; under NodeNext its default import is typed as the module object.
const nodeEndpoint = nodeAdapterModule as unknown as typeof nodeAdapterModule.default;

interface LiveActor {
  name: string;
  instance: { stop?: () => unknown };
  port: MessagePort;
}

assert(parentPort !== null, 'actor-thread.ts must run in a worker thread');
const hostPort = parentPort;
const { threadIndex, hostName } = workerData as ActorThreadData;
/** Insertion-ordered, so stop-all can stop actors in reverse spawn order. */
const actors = new Map<string, LiveActor>();

function reply(message: ThreadToHost): void {
  hostPort.postMessage(message);
}

function toImportUrl(moduleUrl: string): string {
  return moduleUrl.startsWith('/') ? pathToFileURL(moduleUrl).href : moduleUrl;
}

async function spawn(message: Extract<HostToThread, { kind: 'spawn' }>): Promise<void> {
  const { name, moduleUrl, exportName, init, port } = message;
  try {
    assert(!actors.has(name), `actor "${name}" already lives on thread ${threadIndex}`);
    const module = (await import(toImportUrl(moduleUrl))) as Record<string, unknown>;
    const factory = module[exportName];
    if (typeof factory !== 'function') {
      throw new TypeError(`${moduleUrl} has no actor factory export "${exportName}" (found ${typeof factory})`);
    }
    const context: ActorContext = { name, threadIndex, hostName };
    const instance = (await (factory as ActorFactory)(init, context)) as LiveActor['instance'];
    if (instance === null || typeof instance !== 'object') {
      throw new TypeError(`actor factory "${exportName}" of ${moduleUrl} returned ${instance === null ? 'null' : typeof instance}, not an object`);
    }
    // start() is not called here: it is part of the actor's API, called by its owner when ready.
    Comlink.expose(instance, nodeEndpoint(port));
    actors.set(name, { name, instance, port });
    reply({ kind: 'reply', requestId: message.requestId });
  } catch (error) {
    port.close();
    reply({ kind: 'reply', requestId: message.requestId, error: serializeError(error) });
  }
}

async function stopOne(actor: LiveActor): Promise<void> {
  actors.delete(actor.name);
  try {
    if (typeof actor.instance.stop === 'function') await actor.instance.stop();
  } finally {
    actor.port.close();
  }
}

async function stop(message: Extract<HostToThread, { kind: 'stop' }>): Promise<void> {
  const actor = actors.get(message.name);
  if (actor === undefined) {
    reply({ kind: 'reply', requestId: message.requestId, error: serializeError(new Error(`no actor "${message.name}" on thread ${threadIndex}`)) });
    return;
  }
  try {
    await stopOne(actor);
    reply({ kind: 'reply', requestId: message.requestId });
  } catch (error) {
    reply({ kind: 'reply', requestId: message.requestId, error: serializeError(error) });
  }
}

async function stopAll(message: Extract<HostToThread, { kind: 'stop-all' }>): Promise<void> {
  const stopErrors: Array<{ actorName: string; error: SerializedError }> = [];
  for (const actor of [...actors.values()].reverse()) {
    try {
      await stopOne(actor);
    } catch (error) {
      stopErrors.push({ actorName: actor.name, error: serializeError(error) });
    }
  }
  reply({ kind: 'reply', requestId: message.requestId, stopErrors });
}

hostPort.on('message', (message: HostToThread) => {
  switch (message.kind) {
    case 'spawn':
      void spawn(message);
      break;
    case 'stop':
      void stop(message);
      break;
    case 'stop-all':
      void stopAll(message);
      break;
  }
});
reply({ kind: 'ready' });
