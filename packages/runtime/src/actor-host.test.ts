import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { threadId } from 'node:worker_threads';
import { ActorCrashedError, ActorHost, ActorStoppedError, type ActorCrashedEvent, type ActorRef } from './actor-host.js';
import { placeActor } from './placement.js';
import type { probeActor } from './actor-host.fixture-actors.js';

const FIXTURE_URL = new URL('./actor-host.fixture-actors.ts', import.meta.url).href;
type Probe = ReturnType<typeof probeActor>;

function probeSpec(name: string, counters: SharedArrayBuffer, dedicatedThread = false) {
  return { name, moduleUrl: FIXTURE_URL, exportName: 'probeActor', init: { counters }, dedicatedThread };
}

function nextEvent<T>(emitter: ActorHost, event: string, timeoutMs = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${event}' within ${timeoutMs} ms`)), timeoutMs);
    emitter.once(event, (value: T) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

/** A call we expect to fail later: mark it handled now, check it when we await it. */
function inFlight<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

async function rejectsWith(promise: Promise<unknown>, check: (error: Error) => void): Promise<void> {
  try {
    await promise;
  } catch (error) {
    check(error as Error);
    return;
  }
  assert.unreachable('expected a rejection');
}

test('20 actors on 2 shared threads: placement, context, calls and errors', async () => {
  const host = new ActorHost({ threadCount: 2, hostName: 'test-host' });
  await host.start();
  try {
    const counters = new SharedArrayBuffer(64);
    const names = Array.from({ length: 20 }, (_, i) => `queue-actor-${i}`);
    const refs = await Promise.all(names.map((name) => host.spawn<Probe>(probeSpec(name, counters))));
    assert.is(Atomics.load(new Int32Array(counters), 1), 0, 'the host never calls start() itself');
    await Promise.all(refs.map((ref) => ref.call('start')));
    assert.is(Atomics.load(new Int32Array(counters), 1), 20);
    assert.equal(host.actorNames().sort(), [...names].sort());
    assert.is(host.threadCount, 2);

    const threadIdByIndex = new Map<number, number>();
    for (const ref of refs) {
      const expectedIndex = placeActor(ref.name, 2);
      assert.is(ref.threadIndex, expectedIndex);
      assert.is(host.threadOf(ref.name), expectedIndex);
      const me = await ref.call('whoAmI');
      assert.equal({ name: me.name, threadIndex: me.threadIndex, hostName: me.hostName }, { name: ref.name, threadIndex: expectedIndex, hostName: 'test-host' });
      assert.is.not(me.threadId, threadId);
      if (threadIdByIndex.has(expectedIndex)) assert.is(me.threadId, threadIdByIndex.get(expectedIndex), 'one thread per index');
      threadIdByIndex.set(expectedIndex, me.threadId);
    }
    assert.is(threadIdByIndex.size, 2, 'both threads got actors');

    // Each actor keeps its own state, on whichever thread.
    await Promise.all(refs.map((ref, i) => ref.call('add', i)));
    assert.equal(await Promise.all(refs.map((ref) => ref.call('add', 0))), names.map((_, i) => i));

    // A thrown error rejects that call only.
    const ref = refs[0];
    await rejectsWith(ref.call('fail', 'no such topic'), (error) => {
      assert.not.instance(error, ActorCrashedError);
      assert.is(error.message, 'no such topic');
    });
    await rejectsWith(ref.call('failAsync', 'offset out of range'), (error) => assert.is(error.message, 'offset out of range'));
    await rejectsWith(ref.call('noSuchMethod' as never), (error) => assert.not.instance(error, ActorCrashedError));
    assert.ok(ref.alive);
    assert.is(await ref.call('add', 100), 100);

    // Actors import @orbit/runtime themselves and agree with the host on placement.
    assert.is(await ref.call('placement', 'TopicTest@3', 4), placeActor('TopicTest@3', 4));

    // Shared memory in init is shared, not copied.
    await refs[5].call('poke', 4, 1234);
    assert.is(Atomics.load(new Int32Array(counters), 4), 1234);
  } finally {
    await host.shutdown();
  }
});

test('a dedicated actor gets a thread of its own; stopping it ends that thread', async () => {
  const host = new ActorHost({ threadCount: 2 });
  await host.start();
  try {
    const counters = new SharedArrayBuffer(64);
    const shared = await host.spawn<Probe>(probeSpec('shared-one', counters));
    const writer = await host.spawn<Probe>(probeSpec('commit-log-writer', counters, true));
    const other = await host.spawn<Probe>(probeSpec('replication', counters, true));
    assert.is(writer.threadIndex, 2);
    assert.is(other.threadIndex, 3);
    const ids = await Promise.all([shared, writer, other].map(async (ref) => (await ref.call('whoAmI')).threadId));
    assert.is(new Set(ids).size, 3);
    assert.is((await writer.call('whoAmI')).threadIndex, 2);

    const pending = inFlight(writer.call('hang'));
    await host.stopActor('commit-log-writer');
    assert.is(Atomics.load(new Int32Array(counters), 0), 1, 'stop() ran');
    assert.not.ok(writer.alive);
    await rejectsWith(pending, (error) => assert.instance(error, ActorStoppedError));
    await rejectsWith(writer.call('add', 1), (error) => assert.instance(error, ActorStoppedError));
    assert.is(host.threadOf('commit-log-writer'), undefined);
    // The name is free again.
    const again = await host.spawn<Probe>(probeSpec('commit-log-writer', counters, true));
    assert.is(await again.call('add', 2), 2);
  } finally {
    await host.shutdown();
  }
});

test('threadIndex pins an actor to a shared thread', async () => {
  const host = new ActorHost({ threadCount: 2 });
  await host.start();
  try {
    const counters = new SharedArrayBuffer(64);
    for (let i = 0; i < 4; i++) {
      const ref = await host.spawn<Probe>({ ...probeSpec(`dispatcher-${i}`, counters), threadIndex: i % 2 });
      assert.is(ref.threadIndex, i % 2);
      assert.is((await ref.call('whoAmI')).threadIndex, i % 2);
    }
    await rejectsWith(host.spawn({ ...probeSpec('out-of-range', counters), threadIndex: 2 }), (error) => assert.match(error.message, /not a shared thread/));
    await rejectsWith(host.spawn({ ...probeSpec('both', counters, true), threadIndex: 0 }), (error) => assert.match(error.message, /exclude/));
  } finally {
    await host.shutdown();
  }
});

test('spawn rejects duplicates, missing exports and failing factories', async () => {
  const host = new ActorHost({ threadCount: 1 });
  await assert.not.throws(() => host.threadCount);
  await rejectsWith(host.spawn(probeSpec('early', new SharedArrayBuffer(8))), (error) => assert.match(error.message, /start\(\)/));
  await host.start();
  try {
    const counters = new SharedArrayBuffer(64);
    const [first, second] = await Promise.allSettled([host.spawn(probeSpec('dup', counters)), host.spawn(probeSpec('dup', counters))]);
    assert.is(first.status, 'fulfilled');
    assert.is(second.status, 'rejected');
    assert.match((second as PromiseRejectedResult).reason.message, /already exists/);
    await rejectsWith(host.spawn({ name: 'x', moduleUrl: FIXTURE_URL, exportName: 'notAFunction' }), (error) => assert.match(error.message, /notAFunction/));
    await rejectsWith(host.spawn({ name: 'y', moduleUrl: FIXTURE_URL, exportName: 'failingFactory' }), (error) => assert.is(error.message, 'factory refused'));
    await rejectsWith(host.spawn({ name: 'z', moduleUrl: FIXTURE_URL, exportName: 'failingFactory', dedicatedThread: true }), (error) => assert.is(error.message, 'factory refused'));
    assert.equal(host.actorNames(), ['dup']);
    // A failed spawn leaves the thread healthy and the name free.
    const y = await host.spawn({ name: 'y', moduleUrl: FIXTURE_URL, exportName: 'failingStopActor' });
    assert.is(await y.call('ping'), 'pong');
    await rejectsWith(host.stopActor('y'), (error) => assert.is(error.message, 'stop refused'));
    assert.equal(host.actorNames(), ['dup'], 'forgotten even though stop() threw');
    await rejectsWith(host.stopActor('nobody'), (error) => assert.match(error.message, /no actor/));
  } finally {
    await host.shutdown();
  }
});

async function crashScenario(trigger: 'exitSoon' | 'throwSoon'): Promise<void> {
  const host = new ActorHost({ threadCount: 2 });
  await host.start();
  try {
    const counters = new SharedArrayBuffer(64);
    const refs: ActorRef<Probe>[] = [];
    for (let i = 0; i < 12; i++) refs.push(await host.spawn<Probe>(probeSpec(`a-${i}`, counters)));
    const victim = refs[0];
    const doomed = refs.filter((ref) => ref.threadIndex === victim.threadIndex);
    const survivors = refs.filter((ref) => ref.threadIndex !== victim.threadIndex);
    assert.ok(doomed.length >= 2 && survivors.length >= 1, 'actors on both threads');

    const pending = doomed.map((ref) => inFlight(ref.call('hang')));
    const crashed = nextEvent<ActorCrashedEvent>(host, 'actor-crashed');
    await victim.call(trigger, trigger === 'exitSoon' ? 3 : 'boom from a timer');
    const event = await crashed;
    assert.is(event.threadIndex, victim.threadIndex);
    assert.equal([...event.actorNames].sort(), doomed.map((ref) => ref.name).sort());
    assert.match(event.error.message, trigger === 'exitSoon' ? /code 3/ : /boom from a timer/);

    for (const [i, promise] of pending.entries()) {
      await rejectsWith(promise, (error) => {
        assert.instance(error, ActorCrashedError);
        const crash = error as ActorCrashedError;
        assert.is(crash.actorName, doomed[i].name);
        assert.is(crash.threadIndex, victim.threadIndex);
        assert.match(crash.message, doomed[i].name);
        assert.match(crash.message, `thread ${victim.threadIndex}`);
        assert.match(crash.message, trigger === 'exitSoon' ? 'code 3' : 'boom from a timer');
      });
    }
    // Later calls reject at once; the thread is not restarted.
    for (const ref of doomed) {
      assert.not.ok(ref.alive);
      await rejectsWith(ref.call('add', 1), (error) => assert.instance(error, ActorCrashedError));
    }
    await rejectsWith(host.spawn(probeSpec(doomed[0].name, counters)), (error) => assert.instance(error, ActorCrashedError));
    assert.equal(host.actorNames().sort(), survivors.map((ref) => ref.name).sort());
    // The other thread is untouched.
    for (const ref of survivors) assert.is(await ref.call('add', 1), 1);
  } finally {
    await host.shutdown();
  }
}

test('process.exit(3) in an actor crashes its thread: every actor on it fails fast', () => crashScenario('exitSoon'));

test('an error thrown from a timer crashes its thread: every actor on it fails fast', () => crashScenario('throwSoon'));

test('a crash on a dedicated thread touches only that actor', async () => {
  const host = new ActorHost({ threadCount: 1 });
  await host.start();
  try {
    const counters = new SharedArrayBuffer(64);
    const shared = await host.spawn<Probe>(probeSpec('s', counters));
    const lonely = await host.spawn<Probe>(probeSpec('lonely', counters, true));
    const crashed = nextEvent<ActorCrashedEvent>(host, 'actor-crashed');
    const pending = inFlight(lonely.call('hang'));
    await lonely.call('throwSoon', 'dedicated boom');
    assert.equal((await crashed).actorNames, ['lonely']);
    await rejectsWith(pending, (error) => assert.instance(error, ActorCrashedError));
    assert.is(await shared.call('add', 5), 5);
  } finally {
    await host.shutdown();
  }
});

test('shutdown stops every actor and ends every thread', async () => {
  const host = new ActorHost({ threadCount: 2 });
  await host.start();
  const counters = new SharedArrayBuffer(64);
  const refs = await Promise.all(Array.from({ length: 6 }, (_, i) => host.spawn<Probe>(probeSpec(`s-${i}`, counters, i === 5))));
  const pending = inFlight(refs[0].call('hang'));
  await host.shutdown(5000);
  assert.is(Atomics.load(new Int32Array(counters), 0), 6, 'stop() ran for every actor');
  await rejectsWith(pending, (error) => assert.instance(error, ActorStoppedError));
  for (const ref of refs) assert.not.ok(ref.alive);
  assert.equal(host.actorNames(), []);
  await rejectsWith(host.spawn(probeSpec('late', counters)), (error) => assert.match(error.message, /shut down/));
  await host.shutdown(); // idempotent
});

test('shutdown reports stop() failures after tearing everything down', async () => {
  const host = new ActorHost({ threadCount: 1 });
  await host.start();
  await host.spawn({ name: 'grumpy', moduleUrl: FIXTURE_URL, exportName: 'failingStopActor' });
  await rejectsWith(host.shutdown(), (error) => {
    assert.instance(error, AggregateError);
    assert.match((error as AggregateError).errors[0].message, /grumpy.*stop refused/);
  });
});

test('shutdown does not wait past its timeout for a stop() that hangs', async () => {
  const host = new ActorHost({ threadCount: 1 });
  await host.start();
  await host.spawn({ name: 'stuck', moduleUrl: FIXTURE_URL, exportName: 'hangingStopActor' });
  const startedMs = performance.now();
  await host.shutdown(200);
  const elapsedMs = performance.now() - startedMs;
  assert.ok(elapsedMs >= 190 && elapsedMs < 3000, `shutdown took ${elapsedMs} ms`);
  assert.equal(host.actorNames(), []);
});

test.run();
