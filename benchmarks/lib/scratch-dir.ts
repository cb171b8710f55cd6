// Fresh, throw-away directories under os.tmpdir() for one benchmark case each. Benchmarks write
// gigabytes, so every directory is removed right after its case, and any still present when the
// process is interrupted (Ctrl-C) or exits are removed then.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ScratchDir {
  path: string;
  remove(): void;
}

const live = new Set<string>();
let hooksInstalled = false;

function removeAll(): void {
  for (const path of live) rmSync(path, { recursive: true, force: true });
  live.clear();
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', removeAll);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      removeAll();
      process.exit(130);
    });
  }
}

/** A new empty directory named orbit-bench-<prefix>-XXXXXX in the system's temporary directory. */
export function freshScratchDir(prefix: string): ScratchDir {
  installHooks();
  const path = mkdtempSync(join(tmpdir(), `orbit-bench-${prefix}-`));
  live.add(path);
  return {
    path,
    remove() {
      rmSync(path, { recursive: true, force: true });
      live.delete(path);
    },
  };
}
