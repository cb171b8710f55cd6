// Starts a worker thread on a module that may be TypeScript source.
//
// Why this exists: the usual recipe, `new Worker(file, { execArgv: ['--import', 'tsx'] })`, is not
// honoured by Node 20.20 (seen here: an `--import` preload in a Worker's execArgv never runs, with or
// without `env`, so the worker fails with ERR_UNKNOWN_FILE_EXTENSION). We still pass it, for Node
// versions that honour it, and start the worker on a small bootstrap instead. The bootstrap first
// imports a probe, this very file (side-effect free) under a private query string: if Node cannot
// load it, it registers tsx's loader in that worker. Then it imports the entry module. The probe
// exists because Node caches a failed import per URL, so retrying the entry itself after
// registering would fail again; and registering unconditionally would stack a second tsx on a Node
// that honours execArgv.
// workerData, parentPort and transferList are untouched.
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';

const TS_EXTENSIONS = ['.ts', '.mts', '.cts'];
export const TSX_EXEC_ARGV: readonly string[] = ['--import', 'tsx'];

/** Accepts a file URL (string or URL) or an absolute path; returns a file: URL string. */
export function toModuleUrl(moduleUrlOrPath: string | URL): string {
  if (moduleUrlOrPath instanceof URL) return moduleUrlOrPath.href;
  if (/^[a-z][a-z0-9+.-]*:/i.test(moduleUrlOrPath) && !/^[a-z]:[\\/]/i.test(moduleUrlOrPath)) return moduleUrlOrPath;
  return pathToFileURL(moduleUrlOrPath).href;
}

export function isTypeScriptModule(moduleUrl: string): boolean {
  const path = new URL(moduleUrl).pathname;
  return TS_EXTENSIONS.some((ext) => path.endsWith(ext));
}

/** The URL of tsx's programmatic ESM API, resolved from this package (tsx is a workspace dev dependency). */
function tsxApiUrl(): string {
  return import.meta.resolve('tsx/esm/api');
}

/**
 * Source of an expression, a Promise of the module namespace at `moduleUrlExpression`, that makes
 * sure tsx is active first (see the file comment). The arguments are JavaScript expressions.
 */
export function importWithTsxSource(moduleUrlExpression: string, probeUrlExpression: string, tsxApiUrlExpression: string): string {
  return `import(${probeUrlExpression}).then(() => undefined, (error) => {
  if (!error || error.code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw error;
  return import(${tsxApiUrlExpression}).then((tsx) => { tsx.register(); });
}).then(() => import(${moduleUrlExpression}))`;
}

/**
 * URLs a bootstrap needs to load TypeScript: the probe, and tsx's API. The probe is this file
 * under a query no other import uses: Node caches the failed probe import for that URL only, so
 * modules of the worker that import ts-worker.ts itself later still load.
 */
export function tsxBootstrapUrls(): { probeUrl: string; tsxApiUrl: string } {
  const probeUrl = new URL(import.meta.url);
  probeUrl.search = '?orbit-tsx-probe';
  return { probeUrl: probeUrl.href, tsxApiUrl: tsxApiUrl() };
}

/** Starts `entry` in a new Worker; `.ts` entries get tsx (see the file comment). */
export function startWorker(entry: string | URL, options: WorkerOptions = {}): Worker {
  const entryUrl = toModuleUrl(entry);
  if (!isTypeScriptModule(entryUrl)) return new Worker(new URL(entryUrl), options);
  const { probeUrl, tsxApiUrl } = tsxBootstrapUrls();
  const bootstrap = importWithTsxSource(JSON.stringify(entryUrl), JSON.stringify(probeUrl), JSON.stringify(tsxApiUrl));
  // An eval worker runs a classic script; a rejected import surfaces as the worker's 'error' event.
  // Profiling flags of the process (--cpu-prof, --cpu-prof-dir, …) reach its workers too, so a
  // profile shows the writer and dispatchers, not only the main thread.
  const profiling = process.execArgv.filter((a) => a.startsWith('--cpu-prof') || a.startsWith('--heap-prof'));
  return new Worker(`${bootstrap};`, { ...options, eval: true, execArgv: options.execArgv ?? [...TSX_EXEC_ARGV, ...profiling] });
}
