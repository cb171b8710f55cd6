// The four deployments as real processes (mqnamesrv + each mqbroker, ports picked free): each one
// takes messages from Orbit's Producer and delivers them all to a PushConsumer; slaves hold a
// byte-identical copy of their master's commit log; after the whole deployment is stopped and
// started again over the same data, every message is still there (queue offsets, a new consumer
// group from the first offset, and the slaves' copies).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareCommitLogs } from './commit-log-files.js';
import { DEPLOYMENTS, type DeploymentName } from './deployment-sets.js';
import { startDeployment, type Deployment } from './deployment.js';
import { consumeAll, createTopicOnMasters, sendNumbered, topicMessageCount, waitForSlavesToCatchUp, type ReplicaPair } from './message-checks.js';
import { commitLogMaxOffset } from './runtime-info.js';

const TOPIC = 'DeploymentTest';
const QUEUES_PER_MASTER = 4;
const MESSAGES = 60;
const CONSUME_TIMEOUT_MS = 20_000;
const SLAVE_CATCH_UP_TIMEOUT_MS = 15_000;
/** Small segments: four brokers would otherwise zero-fill 2 GiB each (the current and the next 1 GiB segment). */
const TEST_OVERRIDES = { mappedFileSizeCommitLog: String(16 * 1024 * 1024) };
const STOP_GRACE_MS = 10_000;

function replicaPairs(d: Deployment): ReplicaPair[] {
  return d.brokers
    .filter((b) => b.role === 'SLAVE')
    .map((s) => ({ name: s.name, slaveAddr: s.addr, masterAddr: d.brokers.find((m) => m.brokerName === s.brokerName && m.role !== 'SLAVE')!.addr }));
}

/** Every slave at its master's commit-log offset, and the bytes of both logs identical up to there. */
async function assertSlavesHoldCopies(d: Deployment, when: string): Promise<void> {
  const pairs = replicaPairs(d);
  if (pairs.length === 0) return;
  const wait = await waitForSlavesToCatchUp(pairs, SLAVE_CATCH_UP_TIMEOUT_MS);
  assert.ok(wait.caughtUp, `${when}: slaves did not reach their masters' commit-log offsets within ${SLAVE_CATCH_UP_TIMEOUT_MS} ms: ${JSON.stringify(wait.offsets)}`);
  for (const slave of d.brokers.filter((b) => b.role === 'SLAVE')) {
    const master = d.brokers.find((m) => m.brokerName === slave.brokerName && m.role !== 'SLAVE')!;
    const end = await commitLogMaxOffset(master.addr);
    assert.ok(end !== undefined && end > 0, `${when}: ${master.name} reports no commit-log offset`);
    const cmp = compareCommitLogs(master.storeDir, slave.storeDir, end!);
    assert.ok(cmp.identical, `${when}: ${slave.name}'s commit log differs from ${master.name}'s at offset ${cmp.firstDifferenceAt} (compared ${cmp.comparedBytes} of ${end} bytes)`);
  }
}

function missingFrom(received: Map<string, number>, expected: Set<string>): string[] {
  return [...expected].filter((b) => !received.has(b));
}

async function produceConsumeRestart(deployment: DeploymentName): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), `orbit-deploy-${deployment}-`));
  let d: Deployment | undefined;
  const t0 = Date.now();
  try {
    d = await startDeployment({ deployment, dataDir, portOffset: 'auto', overrides: TEST_OVERRIDES, stopGraceMs: STOP_GRACE_MS });
    const masters = d.brokers.filter((b) => b.role !== 'SLAVE');
    assert.is(masters.length, deployment === 'single' ? 1 : 2);
    assert.is(d.brokers.length - masters.length, deployment.startsWith('2m-2s') ? 2 : 0);
    await createTopicOnMasters(d.namesrvAddr, masters.map((m) => m.addr), TOPIC, QUEUES_PER_MASTER);

    const results = await sendNumbered(d.namesrvAddr, TOPIC, deployment, MESSAGES);
    const expected = new Set(results.map((_, i) => `${deployment}-${i}`));
    const statuses = new Set(results.map((r) => r.sendStatus));
    assert.equal([...statuses], ['SEND_OK'], `send statuses: ${[...statuses]}`);
    assert.is(new Set(results.map((r) => r.messageQueue.brokerName)).size, masters.length, 'the producer spread over every master');

    const before = await consumeAll(d.namesrvAddr, TOPIC, `${deployment}-before`, expected, CONSUME_TIMEOUT_MS);
    assert.equal(missingFrom(before, expected), [], 'consumed before the restart');
    await assertSlavesHoldCopies(d, 'before the restart');

    // The whole deployment down and up again, over the same stores and ports.
    const portOffset = d.portOffset;
    await d.stop();
    d = await startDeployment({ deployment, dataDir, portOffset, overrides: TEST_OVERRIDES, stopGraceMs: STOP_GRACE_MS });
    assert.is(await topicMessageCount(d.namesrvAddr, TOPIC), MESSAGES, 'queue offsets after the restart');
    const after = await consumeAll(d.namesrvAddr, TOPIC, `${deployment}-after`, expected, CONSUME_TIMEOUT_MS);
    assert.equal(missingFrom(after, expected), [], 'consumed by a new group after the restart');
    await assertSlavesHoldCopies(d, 'after the restart');
    console.log(`${deployment}: ${MESSAGES} messages sent, consumed, kept across a restart (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } finally {
    await d?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

for (const deployment of DEPLOYMENTS) {
  test(`${deployment}: produce, consume, stop, start again: every message is still there`, () => produceConsumeRestart(deployment));
}

test.run();
