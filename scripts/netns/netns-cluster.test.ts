// 2m-2s-sync across network namespaces (netns-cluster.sh): a SYNC_MASTER whose only slave is cut off
// still stores every message and says so (FLUSH_SLAVE_TIMEOUT or SLAVE_NOT_AVAILABLE), the other
// group is unaffected, and once the link is back the slave's commit log becomes byte-identical to
// its master's. Needs root and `ip netns`; skipped (counted as passing) otherwise.
//
// The brokers' addresses exist only inside the namespaces, so client steps run there through
// netns-driver.ts; the commit logs are compared from here, since every namespace shares this filesystem.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareCommitLogs } from '../deployment/commit-log-files.js';
import { isProcessAlive, sleepMs } from '../deployment/processes.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = join(ROOT, 'scripts/netns/netns-cluster.sh');
const DRIVER = join(ROOT, 'scripts/netns/netns-driver.ts');
/** A prefix of its own, so the test never touches a cluster someone started with the default "orbit". */
const PREFIX = `otest${process.pid}`;
const NAMESRV = '10.211.0.10:9876';
const ADDR = { a: '10.211.0.11:10911', b: '10.211.0.21:10921' };
const TOPIC = 'NetnsTest';
const SYNC_FLUSH_TIMEOUT_MS = 1_000;
const CATCH_UP_TIMEOUT_MS = 45_000;
const ENV = {
  ...process.env,
  ORBIT_NETNS_PREFIX: PREFIX,
  // Small segments (less zero-filling); a short replication wait, so a send to a cut-off master answers in 1 s.
  ORBIT_NETNS_EXTRA_CONF: `mappedFileSizeCommitLog=${16 * 1024 * 1024} syncFlushTimeout=${SYNC_FLUSH_TIMEOUT_MS}`,
};

function netnsAvailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root';
  const probe = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: 5_000 });
  if (probe.error || probe.status !== 0) return `'ip netns' is unavailable (${probe.error?.message ?? probe.stderr.trim()})`;
  return undefined;
}

function cluster(args: string[], timeoutMs = 30_000): string {
  const r = spawnSync(SCRIPT, args, { env: ENV, encoding: 'utf8', timeout: timeoutMs });
  if (r.status !== 0) throw new Error(`netns-cluster.sh ${args.join(' ')} failed (${r.error?.message ?? r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Runs a driver command inside the NameServer's namespace; returns its JSON answer. */
function driver<T>(args: string[], timeoutMs = 30_000): T {
  const r = spawnSync('ip', ['netns', 'exec', `${PREFIX}-ns`, process.execPath, '--import', 'tsx', DRIVER, ...args], { cwd: ROOT, env: ENV, encoding: 'utf8', timeout: timeoutMs });
  if (r.status !== 0) throw new Error(`driver ${args.join(' ')} failed (${r.error?.message ?? r.status ?? r.signal}):\n${r.stderr}`);
  const last = r.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(last) as T;
}

interface SendAnswer {
  statuses: Record<string, number>;
  failed: number;
  errors: string[];
}

function send(prefix: string, count: number, concurrency: number, broker?: string): SendAnswer {
  const args = ['send', '--namesrv', NAMESRV, '--topic', TOPIC, '--prefix', prefix, '--count', String(count), '--concurrency', String(concurrency), '--timeout-ms', '10000'];
  if (broker) args.push('--broker', broker);
  return driver<SendAnswer>(args);
}

function maxOffset(addr: string): number {
  const r = driver<{ commitLogMaxOffset: number | null }>(['max-offset', '--addr', addr]);
  assert.ok(r.commitLogMaxOffset !== null, `no commit-log offset from ${addr}`);
  return r.commitLogMaxOffset!;
}

/**
 * Namespaces left by an earlier run of this test that was killed before its `down` (run-tests kills a
 * test that times out): their prefix names a pid that is gone. Removing them keeps runs from piling up.
 */
function removeStaleTestNamespaces(): void {
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: 5_000 }).stdout ?? '';
  const stale = new Set([...list.matchAll(/^(otest(\d+))-\w+/gm)].filter((m) => !isProcessAlive(Number(m[2]))).map((m) => m[1]!));
  for (const prefix of stale) spawnSync(SCRIPT, ['down'], { env: { ...ENV, ORBIT_NETNS_PREFIX: prefix }, timeout: 60_000 });
}

const unavailable = netnsAvailable();
if (unavailable) {
  test(`netns cluster: SKIPPED (${unavailable}; this test needs root and ip netns)`, () => {
    console.log(`SKIP scripts/netns/netns-cluster.test.ts: ${unavailable}`);
  });
} else {
  test('2m-2s-sync across namespaces: cut a slave, the master still stores (FLUSH_SLAVE_TIMEOUT/SLAVE_NOT_AVAILABLE); healed, the slave becomes byte-identical', async () => {
    const data = mkdtempSync(join(tmpdir(), 'orbit-netns-'));
    const t0 = Date.now();
    try {
      removeStaleTestNamespaces();
      cluster(['up', 'sync', data], 120_000);
      driver(['create-topic', '--namesrv', NAMESRV, '--topic', TOPIC, '--queues', '4']);
      // A SYNC_MASTER answers SEND_OK only once its slave acknowledged: so both slaves are connected.
      for (const broker of ['broker-a', 'broker-b']) {
        const probe = driver<{ ok: boolean; last?: string }>(['until-send-ok', '--namesrv', NAMESRV, '--topic', TOPIC, '--broker', broker, '--timeout-ms', '20000']);
        assert.ok(probe.ok, `${broker} never answered SEND_OK (last: ${probe.last})`);
      }

      const before = send('before', 40, 4);
      assert.equal(before, { statuses: { SEND_OK: 40 }, failed: 0, errors: [] }, 'with both slaves linked');

      cluster(['cut', 'as']);
      const offsetBeforeCut = maxOffset(ADDR.a);
      // All at once, so the 1 s replication waits overlap.
      const cut = send('cut', 20, 20, 'broker-a');
      const unaffected = send('other', 10, 10, 'broker-b');
      const stored = (cut.statuses.FLUSH_SLAVE_TIMEOUT ?? 0) + (cut.statuses.SLAVE_NOT_AVAILABLE ?? 0);
      console.log(`slave cut: broker-a answered ${JSON.stringify(cut.statuses)} (failed ${cut.failed}); broker-b ${JSON.stringify(unaffected.statuses)}`);
      assert.is(cut.failed, 0, `sends to broker-a failed: ${cut.errors.join('; ')}`);
      assert.is(stored, 20, `every send to broker-a is stored and says its slave did not confirm: ${JSON.stringify(cut.statuses)}`);
      assert.equal(unaffected.statuses, { SEND_OK: 10 }, 'broker-b, whose slave is linked, is unaffected');

      const endA = maxOffset(ADDR.a);
      const endB = maxOffset(ADDR.b);
      assert.ok(endA > offsetBeforeCut, 'the master stored the messages sent while its slave was cut off');
      const storeOf = (broker: string) => join(data, broker, 'store');
      const lagging = compareCommitLogs(storeOf('broker-a'), storeOf('broker-a-s'), endA);
      assert.not.ok(lagging.identical, 'the cut-off slave cannot have the new bytes yet');

      cluster(['heal', 'as']);
      const healedAt = Date.now();
      let a = lagging;
      let b = compareCommitLogs(storeOf('broker-b'), storeOf('broker-b-s'), endB);
      while (!(a.identical && b.identical) && Date.now() - healedAt < CATCH_UP_TIMEOUT_MS) {
        await sleepMs(250);
        a = compareCommitLogs(storeOf('broker-a'), storeOf('broker-a-s'), endA);
        b = compareCommitLogs(storeOf('broker-b'), storeOf('broker-b-s'), endB);
      }
      assert.ok(a.identical, `broker-a-s differs from broker-a at offset ${a.firstDifferenceAt} of ${endA}, ${CATCH_UP_TIMEOUT_MS} ms after the heal`);
      assert.ok(b.identical, `broker-b-s differs from broker-b at offset ${b.firstDifferenceAt} of ${endB}`);
      console.log(`healed: broker-a-s byte-identical to broker-a (${endA} B) ${Date.now() - healedAt} ms after the heal; whole test ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    } finally {
      try {
        cluster(['down'], 60_000);
      } finally {
        rmSync(data, { recursive: true, force: true });
      }
    }
  });
}

test.run();
