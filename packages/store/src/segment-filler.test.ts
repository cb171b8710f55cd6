// The segment filler thread: files it prepares, its pacing, and that a failure or the end of its
// thread rejects a preparation instead of leaving the writer waiting for ever.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MappedFile } from './mapped-file.js';
import { MessageStore } from './message-store.js';
import { SegmentFiller } from './segment-filler.js';
import { makeMessage, SMALL_STORE, tempDir } from './test-support.js';

const MiB = 1024 * 1024;

/** A filler and a temporary folder for one test, both gone afterwards. */
function withFiller(body: (filler: SegmentFiller, dir: string) => Promise<void>, options: ConstructorParameters<typeof SegmentFiller>[0] = {}): () => Promise<void> {
  return async () => {
    const tmp = tempDir('filler');
    const filler = new SegmentFiller(options);
    try {
      await body(filler, tmp.dir);
    } finally {
      await filler.close();
      tmp.remove();
    }
  };
}

test('prepares a zero-filled segment of exactly the size asked, under its real name only when done', withFiller(async (filler, dir) => {
  const path = MappedFile.pathFor(dir, 4 * MiB);
  await filler.prepare(path, 4 * MiB, true);
  assert.is(statSync(path).size, 4 * MiB);
  // Zero-filled means written, not a hole: every block is allocated (st_blocks counts 512-byte units).
  assert.ok(statSync(path).blocks * 512 >= 4 * MiB, `only ${statSync(path).blocks * 512} bytes allocated`);
  assert.ok(readFileSync(path).every((b) => b === 0));
  assert.equal(readdirSync(dir), [path.split('/').pop()!], 'no temporary file left behind');
  const sparse = MappedFile.pathFor(dir, 8 * MiB);
  await filler.prepare(sparse, 4 * MiB, false);
  assert.is(statSync(sparse).size, 4 * MiB);
}));

test('a preparation that fails rejects with the reason, and the filler goes on serving', withFiller(async (filler, dir) => {
  const missingDir = join(dir, 'no-such-dir');
  const err = await filler.prepare(MappedFile.pathFor(missingDir, 0), MiB, true).then(
    () => undefined,
    (e: Error) => e,
  );
  assert.ok(err instanceof Error, 'expected a rejection');
  assert.match(err.message, /ENOENT/);
  const path = MappedFile.pathFor(dir, 0);
  await filler.prepare(path, MiB, true);
  assert.is(statSync(path).size, MiB);
}));

test('closing the filler mid-preparation rejects that preparation and every later one', withFiller(async (filler, dir) => {
  await filler.status(); // the thread is up
  const path = MappedFile.pathFor(dir, 0);
  const inFlight = filler.prepare(path, 256 * MiB, true).then(
    () => 'resolved',
    (e: Error) => e.message,
  );
  await new Promise((r) => setTimeout(r, 20));
  await filler.close();
  const outcome = await Promise.race([inFlight, new Promise((r) => setTimeout(() => r('still pending after 5 s'), 5000))]);
  // It may have finished before the close landed; it must never stay pending.
  assert.ok(outcome === 'resolved' || /segment filler thread|closed/.test(String(outcome)), String(outcome));
  if (outcome !== 'resolved') assert.not.ok(existsSync(path), 'a segment that was not finished has no real name');
  const later = await filler.prepare(MappedFile.pathFor(dir, 256 * MiB), MiB, true).then(
    () => 'resolved',
    (e: Error) => e.message,
  );
  assert.match(later, /closed|segment filler thread/);
}));

// idleShareToFill 1: fill a later segment only when nothing else ran for a whole sampling window.
test('a segment not needed yet waits while the machine is busy, and is filled at once when it is needed', withFiller(async (filler, dir) => {
  await filler.status(); // the thread is up
  filler.setNeeded(0);
  const later = MappedFile.pathFor(dir, 64 * MiB);
  let done = false;
  const preparing = filler.prepare(later, 8 * MiB, true).then(() => {
    done = true;
  });
  // Keep this thread busy for 600 ms (several 100 ms windows), yielding now and then so the call
  // goes out: the machine is never idle, so the filler must hold back.
  const busyUntil = performance.now() + 600;
  while (performance.now() < busyUntil) {
    const sliceEnd = performance.now() + 50;
    while (performance.now() < sliceEnd) Math.sqrt(Math.random());
    await new Promise((r) => setImmediate(r));
  }
  assert.not.ok(done, 'the later segment was filled while the machine was busy');
  assert.not.ok(existsSync(later));
  assert.ok((await filler.status()).pausedMs > 0, 'the filler paused');
  filler.setNeeded(64 * MiB);
  await Promise.race([preparing, new Promise((_, reject) => setTimeout(() => reject(new Error('not filled within 10 s of being needed')), 10_000))]);
  assert.is(statSync(later).size, 8 * MiB);
}, { idleShareToFill: 1 }));

test('a store keeps the next segment prepared at once, and the one after it as the CPU allows', async () => {
  const tmp = tempDir('filler-store');
  const store = await MessageStore.open({ ...SMALL_STORE, storePathRootDir: tmp.dir });
  try {
    const segmentFiles = () => readdirSync(join(tmp.dir, 'commitlog')).filter((n) => /^\d{20}$/.test(n)).sort();
    const name = (start: number) => String(start).padStart(20, '0');
    const seg = SMALL_STORE.mappedFileSizeCommitLog;
    await until('segment 1 to be prepared', () => segmentFiles().includes(name(seg)), 20_000);
    // Segment 2 waits for idle CPU, which a busy test machine may not have: never more than two ahead.
    assert.ok(segmentFiles().every((n) => n <= name(2 * seg)), segmentFiles().join(' '));
    // Roll into segment 1: segment 2 is now the next one and is filled at once, whatever the load.
    for (let i = 0; store.commitLogMaxOffset < seg; i++) await store.putMessage(makeMessage('Ahead', 0, Buffer.alloc(4000, i)));
    await until('segment 2 to be prepared', () => segmentFiles().includes(name(2 * seg)), 20_000);
    assert.ok(segmentFiles().every((n) => n <= name(3 * seg)), segmentFiles().join(' '));
    assert.is(store.getMessage('Ahead', 0, 0, 1).status, 'FOUND');
  } finally {
    await store.close();
    tmp.remove();
  }
});

async function until(what: string, condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.unreachable(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test.run();
