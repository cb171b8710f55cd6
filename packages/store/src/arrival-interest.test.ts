// Arrival notices on demand: with interest off, dispatch announces only SCHEDULE_TOPIC_XXXX (the
// delay service's queues); with it on, every queue. Driven through a real store: appends go through
// the writer thread, notices come back from the dispatcher thread.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SystemTopic } from '@orbit/common';
import { MessageStore } from './message-store.js';
import { makeMessage, SMALL_STORE, tempDir } from './test-support.js';

type Notice = [topic: string | undefined, queueId: number, maxOffset: number];

/** Time for a notice that would come to arrive (dispatch takes well under a millisecond here). */
const QUIET_MS = 300;
const NOTICE_WAIT_MS = 5_000;

async function withStore(fn: (store: MessageStore, notices: Notice[]) => Promise<void>): Promise<void> {
  const tmp = tempDir('arrival-interest');
  const store = await MessageStore.open({ ...SMALL_STORE, storePathRootDir: tmp.dir });
  const notices: Notice[] = [];
  store.onArrival((topic, queueId, maxOffset) => notices.push([topic, queueId, maxOffset]));
  try {
    await fn(store, notices);
  } finally {
    await store.close();
    tmp.remove();
  }
}

async function noticeFor(notices: Notice[], topic: string, maxOffset: number): Promise<Notice> {
  const deadline = Date.now() + NOTICE_WAIT_MS;
  for (;;) {
    const found = notices.find(([t, , max]) => t === topic && max >= maxOffset);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no notice for ${topic} up to ${maxOffset} within ${NOTICE_WAIT_MS} ms; got ${JSON.stringify(notices)}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('a new store announces every queue', async () => {
  await withStore(async (store, notices) => {
    await store.putMessage(makeMessage('Plain', 2, 'a'));
    const [, queueId, max] = await noticeFor(notices, 'Plain', 1);
    assert.is(queueId, 2);
    assert.is(max, 1);
  });
});

test('interest off: ordinary queues are dispatched but not announced; SCHEDULE_TOPIC_XXXX still is; on again: announced', async () => {
  await withStore(async (store, notices) => {
    store.setArrivalInterest(false);
    for (let i = 0; i < 3; i++) await store.putMessage(makeMessage('Plain', 0, `quiet ${i}`));
    await store.waitDispatched();
    await new Promise((r) => setTimeout(r, QUIET_MS));
    assert.equal(notices, [], 'nothing announced while off');
    assert.is(store.getMaxOffsetInQueue('Plain', 0), 3, 'yet every record is in its queue');

    await store.putMessage(makeMessage(SystemTopic.SCHEDULE_TOPIC, 1, 'later', { DELAY: '2', REAL_TOPIC: 'Plain', REAL_QID: '0' }));
    const [, queueId] = await noticeFor(notices, SystemTopic.SCHEDULE_TOPIC, 1);
    assert.is(queueId, 1);
    assert.ok(!notices.some(([t]) => t === 'Plain'), 'ordinary queues still quiet');

    store.setArrivalInterest(true);
    await store.putMessage(makeMessage('Plain', 0, 'loud'));
    const [, , max] = await noticeFor(notices, 'Plain', 4);
    assert.is(max, 4, 'the notice names the queue end, the records dispatched while off included');
  });
});

test.run();
