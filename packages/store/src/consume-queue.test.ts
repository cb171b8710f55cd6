// Consume-queue files: created sparse, disk blocks reserved in chunks ahead of the units, never a
// zero written over a live unit (the full-disk side is in disk-full.test.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { CQ_UNIT_BYTES, ConsumeQueueReader, ConsumeQueueWriter, RESERVE_CHUNK_BYTES, consumeQueueDir, type CqUnit } from './consume-queue.js';
import { MappedFile } from './mapped-file.js';
import { tempDir } from './test-support.js';

const DEFAULT_FILE_BYTES = 300_000 * CQ_UNIT_BYTES; // mappedFileSizeConsumeQueue's default, 6 MB

function withQueue(fileSizeBytes: number, body: (dir: string, open: () => ConsumeQueueWriter) => Promise<void> | void): () => Promise<void> {
  return async () => {
    const tmp = tempDir('cq');
    const dir = consumeQueueDir(tmp.dir, 'T', 0);
    const writers: ConsumeQueueWriter[] = [];
    const open = (): ConsumeQueueWriter => {
      const w = new ConsumeQueueWriter('T', 0, dir, fileSizeBytes);
      w.load();
      writers.push(w);
      return w;
    };
    try {
      await body(dir, open);
    } finally {
      for (const w of writers) w.close();
      tmp.remove();
    }
  };
}

/** Unit n of these tests: physical offset n*100 + 7, size 50 + n%13, tags code n*3. */
async function putUnits(w: ConsumeQueueWriter, from: number, to: number): Promise<void> {
  for (let n = from; n < to; n++) {
    if (!w.hasFileFor(n)) await w.createFileFor(n);
    w.putUnit(n, n * 100 + 7, 50 + (n % 13), n * 3);
  }
}

function assertUnits(dir: string, fileSizeBytes: number, from: number, to: number): void {
  const reader = new ConsumeQueueReader(dir, fileSizeBytes);
  const unit: CqUnit = { physicalOffset: 0, sizeBytes: 0, tagsCode: 0 };
  for (let n = from; n < to; n++) {
    assert.ok(reader.readUnit(n, unit), `unit ${n} missing`);
    if (unit.physicalOffset !== n * 100 + 7 || unit.sizeBytes !== 50 + (n % 13) || unit.tagsCode !== n * 3) {
      assert.unreachable(`unit ${n} is ${JSON.stringify(unit)}`);
    }
  }
  assert.not.ok(reader.readUnit(to, unit), `unit ${to} should be empty`);
  assert.is(reader.maxOffset(), to);
}

function allocatedBytes(dir: string, start: number): number {
  return statSync(MappedFile.pathFor(dir, start)).blocks * 512;
}

test(
  'a new file is sparse: only the first chunks have disk blocks',
  withQueue(DEFAULT_FILE_BYTES, async (dir, open) => {
    const w = open();
    await w.createFileFor(0);
    assert.is(statSync(MappedFile.pathFor(dir, 0)).size, DEFAULT_FILE_BYTES);
    assert.is(w.reservedBytesOf(0), 2 * RESERVE_CHUNK_BYTES); // the unit's chunk and one ahead
    const allocated = allocatedBytes(dir, 0);
    assert.ok(allocated >= 2 * RESERVE_CHUNK_BYTES, `${allocated} bytes allocated, the reservation is missing`);
    assert.ok(allocated < DEFAULT_FILE_BYTES / 10, `${allocated} of ${DEFAULT_FILE_BYTES} bytes allocated: not sparse`);
    assert.equal(readdirSync(dir), ['00000000000000000000']); // no temporary left behind
  }),
);

test(
  'units written across several chunk boundaries read back; blocks follow the units',
  withQueue(DEFAULT_FILE_BYTES, async (dir, open) => {
    const w = open();
    const count = Math.ceil((5.5 * RESERVE_CHUNK_BYTES) / CQ_UNIT_BYTES);
    await putUnits(w, 0, count);
    assertUnits(dir, DEFAULT_FILE_BYTES, 0, count);
    const reserved = w.reservedBytesOf(0)!;
    assert.ok(reserved >= count * CQ_UNIT_BYTES + RESERVE_CHUNK_BYTES, 'the reservation is not a chunk ahead of the units');
    assert.ok(reserved <= count * CQ_UNIT_BYTES + 2 * RESERVE_CHUNK_BYTES, 'reserved more than two chunks ahead');
    assert.is(reserved % RESERVE_CHUNK_BYTES, 0);
    const allocated = allocatedBytes(dir, 0);
    assert.ok(allocated >= reserved && allocated < DEFAULT_FILE_BYTES / 4, `${allocated} bytes allocated for ${reserved} reserved`);
  }),
);

test(
  'files not a multiple of the chunk: reservations stop at the file end, units roll into new files',
  withQueue(8_000 * CQ_UNIT_BYTES, async (dir, open) => {
    const fileBytes = 8_000 * CQ_UNIT_BYTES; // 2.44 chunks
    const w = open();
    await putUnits(w, 0, 17_000);
    assert.is(w.reservedBytesOf(0), fileBytes);
    assert.is(w.reservedBytesOf(8_000), fileBytes);
    assert.is(w.reservedBytesOf(16_000), 2 * RESERVE_CHUNK_BYTES); // 1 000 units in
    assertUnits(dir, fileBytes, 0, 17_000);
    w.close();
    const again = open();
    assert.is(again.maxOffset, 17_000);
    await putUnits(again, 17_000, 24_100);
    assert.is(again.reservedBytesOf(16_000), fileBytes);
    assertUnits(dir, fileBytes, 0, 24_100);
  }),
);

test(
  'reopening a file with units: the watermark starts at their end and writing continues',
  withQueue(DEFAULT_FILE_BYTES, async (dir, open) => {
    const first = open();
    const count = Math.ceil((1.5 * RESERVE_CHUNK_BYTES) / CQ_UNIT_BYTES) + 3; // ends mid-chunk
    await putUnits(first, 0, count);
    first.close();
    const w = open();
    assert.is(w.maxOffset, count);
    assert.is(w.reservedBytesOf(0), count * CQ_UNIT_BYTES); // nothing assumed past the units
    await putUnits(w, count, 3 * count);
    assertUnits(dir, DEFAULT_FILE_BYTES, 0, 3 * count);
  }),
);

test(
  'reserving after a reopen never writes zeros over a live unit',
  withQueue(DEFAULT_FILE_BYTES, async (dir, open) => {
    const first = open();
    await putUnits(first, 0, 100);
    first.close();
    // Every slot up to the unit's end, and chunks ahead, get reserved: units 0..99 stay as written.
    for (const at of [99, 100, 3_000, 3_276, 9_000]) {
      const w = open();
      assert.is(w.reservedBytesOf(0), 100 * CQ_UNIT_BYTES);
      w.ensureReserved(at);
      assert.ok(w.reservedBytesOf(0)! >= (at + 1) * CQ_UNIT_BYTES + RESERVE_CHUNK_BYTES);
      assertUnits(dir, DEFAULT_FILE_BYTES, 0, 100);
      w.close();
    }
    // A writer that reserved far ahead, then wrote the next unit and reserved again: still intact.
    const w = open();
    w.ensureReserved(10_000);
    await putUnits(w, 100, 101);
    w.ensureReserved(20_000);
    assertUnits(dir, DEFAULT_FILE_BYTES, 0, 101);
  }),
);

test(
  'a queue starting mid-file gets placeholders below its first unit, all reserved',
  withQueue(DEFAULT_FILE_BYTES, async (dir, open) => {
    const w = open();
    await w.createFileFor(5_000);
    w.putUnit(5_000, 5_000 * 100 + 7, 50 + (5_000 % 13), 5_000 * 3);
    assert.ok(w.reservedBytesOf(5_000)! >= 5_001 * CQ_UNIT_BYTES + RESERVE_CHUNK_BYTES);
    const reader = new ConsumeQueueReader(dir, DEFAULT_FILE_BYTES);
    const unit: CqUnit = { physicalOffset: 0, sizeBytes: 0, tagsCode: 0 };
    assert.ok(reader.readUnit(4_999, unit));
    assert.is(unit.physicalOffset, 0);
    assert.is(unit.sizeBytes, 0x7fffffff);
    assert.is(reader.maxOffset(), 5_001);
    assert.ok(allocatedBytes(dir, 0) < DEFAULT_FILE_BYTES / 10);
  }),
);

test(
  'crash recovery cuts units past the log end, and the watermark with them',
  withQueue(DEFAULT_FILE_BYTES, async (dir, open) => {
    const first = open();
    await putUnits(first, 0, 4_000); // unit n ends at n*100 + 57 + n%13
    first.close();
    const w = open();
    w.truncatePhysical(2_500 * 100); // units 0..2499 end below it
    assert.is(w.maxOffset, 2_500);
    assert.is(w.reservedBytesOf(0), 2_500 * CQ_UNIT_BYTES);
    assertUnits(dir, DEFAULT_FILE_BYTES, 0, 2_500);
    await putUnits(w, 2_500, 5_000);
    assertUnits(dir, DEFAULT_FILE_BYTES, 0, 5_000);
  }),
);

test(
  'a failed creation leaves nothing half-made, and a retry completes it',
  withQueue(DEFAULT_FILE_BYTES, async (dir, open) => {
    const w = open();
    // A file that was renamed into place but never reserved in (as if the process died there).
    mkdirSync(dir, { recursive: true });
    await MappedFile.prepareSparse(MappedFile.pathFor(dir, 0), DEFAULT_FILE_BYTES, 0);
    assert.ok(existsSync(MappedFile.pathFor(dir, 0)));
    await w.createFileFor(0);
    assert.is(w.reservedBytesOf(0), 2 * RESERVE_CHUNK_BYTES);
    await putUnits(w, 0, 10);
    assertUnits(dir, DEFAULT_FILE_BYTES, 0, 10);
  }),
);

test('MappedFile.writeZerosSync refuses ranges outside the file and read-only files', async () => {
  const tmp = tempDir('cq-zeros');
  try {
    const path = MappedFile.pathFor(tmp.dir, 0);
    await MappedFile.prepareSparse(path, 4096, 0);
    const rw = MappedFile.openReadWrite(path, 4096);
    assert.throws(() => rw.writeZerosSync(0, 4097), /invariant/);
    assert.throws(() => rw.writeZerosSync(10, 5), /invariant/);
    rw.writeZerosSync(0, 4096);
    rw.close();
    const ro = MappedFile.openReadOnly(path);
    assert.throws(() => ro.writeZerosSync(0, 1), /invariant/);
  } finally {
    tmp.remove();
  }
});

test.run();
