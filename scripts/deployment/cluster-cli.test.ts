// `pnpm cluster` end to end: start leaves the processes running after the command returns (detached),
// status reports them, stop ends them and a second start over the same data is refused while the
// first runs. Whatever the outcome, every recorded process is killed at the end.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readClusterState } from './cluster-state.js';
import { isOurProcess, isProcessAlive } from './processes.js';
import { WORKSPACE_ROOT } from './workspace.js';

const CLI = join(WORKSPACE_ROOT, 'scripts/deployment/cluster-cli.ts');
const SMALL_SEGMENTS = `mappedFileSizeCommitLog=${16 * 1024 * 1024}`;

function cli(args: string[], timeoutMs = 90_000) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: WORKSPACE_ROOT, encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

function killRecorded(dataDir: string): void {
  const state = readClusterState(dataDir);
  if (!state) return;
  for (const p of [...state.brokers, state.namesrv]) {
    if (p.pid > 0 && isOurProcess(p.pid, p.confPath)) process.kill(p.pid, 'SIGKILL');
  }
}

test('pnpm cluster start 2m-noslave / status / stop', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'orbit-cluster-cli-'));
  try {
    const started = cli(['start', '2m-noslave', '--data', dataDir, '--port-offset', 'auto', '--flush', 'SYNC_FLUSH', '--set', SMALL_SEGMENTS]);
    assert.is(started.code, 0, started.out);
    assert.match(started.out, /2m-noslave is running/);
    assert.match(started.out, /broker-a +127\.0\.0\.1:\d+ +ASYNC_MASTER/);
    assert.match(started.out, /broker-b +127\.0\.0\.1:\d+ +ASYNC_MASTER/);

    const state = readClusterState(dataDir)!;
    assert.is(state.brokers.length, 2);
    for (const p of [state.namesrv, ...state.brokers]) assert.ok(isOurProcess(p.pid, p.confPath), `${p.name} runs after the CLI returned`);
    // The port shift applies to every port: broker-b stays 10 above broker-a, as in conf/.
    const [a, b] = state.brokers.map((x) => Number(x.addr.split(':')[1]));
    assert.is(b! - a!, 10);
    assert.is(Number(state.namesrvAddr.split(':')[1]) - a!, 9876 - 10911);
    const confA = readFileSync(state.brokers[0]!.confPath, 'utf8');
    assert.match(confA, /^flushDiskType=SYNC_FLUSH$/m, '--flush reaches the effective conf');
    assert.match(confA, new RegExp(`^${SMALL_SEGMENTS}$`, 'm'), '--set reaches the effective conf');

    const again = cli(['start', '2m-noslave', '--data', dataDir, '--port-offset', 'auto']);
    assert.is.not(again.code, 0, 'a second start over the same data is refused');
    assert.match(again.out, /already runs/);

    const status = cli(['status', '--data', dataDir]);
    assert.is(status.code, 0, status.out);
    assert.match(status.out, /broker-a .* up .*commitLogMaxOffset 0/);
    assert.match(status.out, /namesrv .* up /);

    const stopped = cli(['stop', '--data', dataDir]);
    assert.is(stopped.code, 0, stopped.out);
    assert.match(stopped.out, /broker-a +pid \d+ +stopped/);
    for (const p of [state.namesrv, ...state.brokers]) assert.not.ok(isProcessAlive(p.pid), `${p.name} is gone after stop`);
    assert.match(cli(['status', '--data', dataDir]).out, /broker-b .* down /);
  } finally {
    killRecorded(dataDir);
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('pnpm cluster: bad arguments are refused with exit code 2 or 1 and a message', () => {
  const noSet = cli(['start']);
  assert.is(noSet.code, 2);
  assert.match(noSet.out, /name a deployment/);
  const badFlush = cli(['start', 'single', '--flush', 'SOMETIMES']);
  assert.is(badFlush.code, 1);
  assert.match(badFlush.out, /--flush must be SYNC_FLUSH or ASYNC_FLUSH/);
});

test.run();
