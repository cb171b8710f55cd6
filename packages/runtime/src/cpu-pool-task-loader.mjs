// The module piscina's workers load for a CpuPool (see cpu-pool.ts). It is plain JavaScript on
// purpose: it runs before TypeScript can be loaded. Node 20.20 ignores `--import tsx` in a worker's
// execArgv, so this file makes TypeScript loadable itself: it imports a probe .ts module and, only
// if that fails for want of a loader, registers tsx in this worker (a probe, not the task module,
// because Node caches a failed import per URL). Then it imports the task module and dispatches each
// task envelope `{ name, task }` to the export `name`.
import { workerData } from 'node:worker_threads';

const { taskModuleUrl, probeUrl, tsxApiUrl } = workerData.orbitCpuPool;

// probeUrl is null when the task module is JavaScript: no TypeScript, no tsx needed.
if (probeUrl !== null) {
  try {
    await import(probeUrl);
  } catch (error) {
    if (!error || error.code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw error;
    const tsx = await import(tsxApiUrl);
    tsx.register();
  }
}
const taskModule = await import(taskModuleUrl);

export default function runCpuTask(envelope) {
  const name = envelope.name ?? 'default';
  const handler = taskModule[name];
  if (typeof handler !== 'function') {
    throw new TypeError(`CpuPool task module ${taskModuleUrl} has no function export "${name}"`);
  }
  return handler(envelope.task);
}
