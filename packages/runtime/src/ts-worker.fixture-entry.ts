// Test fixture: a worker entry that imports ts-worker.ts, as any module using @orbit/runtime does.
import { parentPort } from 'node:worker_threads';
import { startWorker } from './ts-worker.js';

parentPort!.postMessage(typeof startWorker);
