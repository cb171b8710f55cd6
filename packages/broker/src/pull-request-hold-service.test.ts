// Long polling against a real store: arrival notices are on exactly while a pull is held, and a pull
// held after its records were dispatched unannounced (notices off) is still answered at once.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EventEmitter } from 'node:events';
import type { RemotingCommand, RemotingConnection } from '@orbit/remoting';
import { MessageStore } from '@orbit/store';
import { makeMessage, SMALL_STORE, tempDir } from '@orbit/store/test-support';
import { PullRequestHoldService, type HeldPull } from './pull-request-hold-service.js';

const HOLD_MS = 10_000;
const ANSWER_WAIT_MS = 5_000;
/** Time for a notice that would come to arrive (dispatch takes well under a millisecond here). */
const QUIET_MS = 300;

/** Only what the hold service touches of a connection: `closed` and its 'close' event. */
function connection(): RemotingConnection {
  return Object.assign(new EventEmitter(), { closed: false }) as unknown as RemotingConnection;
}

async function withHolds(fn: (h: { store: MessageStore; holds: PullRequestHoldService; replayed: HeldPull[]; notices: string[] }) => Promise<void>): Promise<void> {
  const tmp = tempDir('holds');
  const store = await MessageStore.open({ ...SMALL_STORE, storePathRootDir: tmp.dir });
  const replayed: HeldPull[] = [];
  const holds = new PullRequestHoldService(100, async (held) => void replayed.push(held), store);
  store.onArrival((topic, queueId, maxOffset) => holds.onArrival(topic, queueId, maxOffset));
  const notices: string[] = [];
  store.onArrival((topic, queueId) => notices.push(`${topic}:${queueId}`));
  try {
    await fn({ store, holds, replayed, notices });
  } finally {
    holds.releaseAll();
    await store.close();
    tmp.remove();
  }
}

async function until(what: string, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + ANSWER_WAIT_MS;
  while (!condition()) {
    if (Date.now() > deadline) assert.unreachable(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const request = {} as RemotingCommand;

test('a pull held after its record was dispatched unannounced is answered at once', async () => {
  await withHolds(async ({ store, holds, replayed, notices }) => {
    await store.putMessage(makeMessage('Held', 0, 'before the hold'));
    await store.waitDispatched();
    await new Promise((r) => setTimeout(r, QUIET_MS));
    assert.equal(notices, [], 'nobody held a pull, so nothing was announced');
    // As if the pull had read the queue before that record was dispatched, then been held.
    assert.ok(holds.hold(request, connection(), 'Held', 0, 0, HOLD_MS));
    await until('the held pull to be answered', () => replayed.length === 1);
    assert.is(replayed[0]!.offset, 0);
    assert.is(holds.heldCount, 0);
  });
});

test('a pull held below the end it saw (an unreadable entry, a slave keeping an old offset) waits for growth, not a loop', async () => {
  await withHolds(async ({ store, holds, replayed }) => {
    for (let i = 0; i < 3; i++) await store.putMessage(makeMessage('Held', 5, `old ${i}`));
    await store.waitDispatched();
    assert.ok(holds.hold(request, connection(), 'Held', 5, 1, HOLD_MS, 3));
    await new Promise((r) => setTimeout(r, QUIET_MS));
    assert.is(replayed.length, 0, 'answered again at once, though nothing arrived since its read');
    await store.putMessage(makeMessage('Held', 5, 'new'));
    await until('the held pull to be answered on growth', () => replayed.length === 1);
  });
});

test('notices are on while a pull is held and off again once none is', async () => {
  await withHolds(async ({ store, holds, replayed, notices }) => {
    const conn = connection();
    assert.ok(holds.hold(request, conn, 'Held', 1, 0, HOLD_MS));
    assert.ok(holds.hold(request, conn, 'Held', 2, 0, HOLD_MS));
    await new Promise((r) => setTimeout(r, 20));
    assert.is(replayed.length, 0, 'empty queues: both stay held');

    await store.putMessage(makeMessage('Held', 1, 'wakes the first'));
    await until('the first pull to be answered', () => replayed.length === 1);
    assert.is(replayed[0]!.queueId, 1);
    assert.ok(notices.includes('Held:1'));
    assert.is(holds.heldCount, 1, 'the other pull is still held, so notices stay on');

    await store.putMessage(makeMessage('Held', 2, 'wakes the second'));
    await until('the second pull to be answered', () => replayed.length === 2);
    assert.is(holds.heldCount, 0);

    const before = notices.length;
    await store.putMessage(makeMessage('Held', 3, 'nobody waits'));
    await store.waitDispatched();
    await new Promise((r) => setTimeout(r, QUIET_MS));
    assert.is(notices.length, before, 'no pull held: no notice');
  });
});

test('a held pull whose connection closes stops counting', async () => {
  await withHolds(async ({ store, holds, notices }) => {
    const conn = connection();
    assert.ok(holds.hold(request, conn, 'Held', 4, 0, HOLD_MS));
    conn.emit('close');
    assert.is(holds.heldCount, 0);
    await store.putMessage(makeMessage('Held', 4, 'after the close'));
    await store.waitDispatched();
    await new Promise((r) => setTimeout(r, QUIET_MS));
    assert.equal(notices, [], 'the last held pull left with its connection: notices are off');
  });
});

test.run();
