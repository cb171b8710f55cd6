import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_INDEX_CONFIG, IndexFile, indexFileSizeBytes, indexKeyHash, topicKeyHash, type IndexConfig } from './index-file.js';

// An implementation of Java's String.hashCode independent of @orbit/common's: BigInt arithmetic
// modulo 2^32, then reinterpreted as a signed int.
function javaHashReference(text: string): number {
  let h = 0n;
  for (let i = 0; i < text.length; i++) h = (h * 31n + BigInt(text.charCodeAt(i))) % 4294967296n;
  return Number(BigInt.asIntN(32, h));
}
function keyHashReference(text: string): number {
  const h = javaHashReference(text);
  return h === -2147483648 ? 0 : Math.abs(h);
}

function withTempDir(body: (dir: string) => void): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'orbit-index-file-'));
  try {
    body(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const T0 = 1_700_000_000_123; // ms

test('sizes follow 40 + slots*4 + entries*20', () => {
  assert.is(indexFileSizeBytes(DEFAULT_INDEX_CONFIG), 420_000_040);
  assert.is(indexFileSizeBytes({ maxHashSlotNum: 7, maxIndexNum: 5 }), 40 + 28 + 100);
  assert.throws(() => indexFileSizeBytes({ maxHashSlotNum: 0, maxIndexNum: 5 }));
  assert.throws(() => indexFileSizeBytes({ maxHashSlotNum: 5, maxIndexNum: 1 }));
  assert.throws(() => indexFileSizeBytes({ maxHashSlotNum: 5, maxIndexNum: 200_000_000 }));
});

test('indexKeyHash is abs(Java hash), Integer.MIN_VALUE mapping to 0', () => {
  for (const key of ['', 'a', 'TopicTest#KEY1', 'héllo wörld', 'TopicA#0A0B0C0D0E0F', 'x'.repeat(100)]) {
    assert.is(indexKeyHash(key), keyHashReference(key), key);
  }
  assert.is(javaHashReference('polygenelubricants'), -2147483648);
  assert.is(indexKeyHash('polygenelubricants'), 0);
  assert.is(javaHashReference('Aa'), javaHashReference('BB'));
});

test('topicKeyHash(topic, key) is indexKeyHash of "topic#key"', () => {
  for (const [topic, key] of [['TopicTest', 'KEY1'], ['T', ''], ['', 'k'], ['主题', 'héllo'], ['TopicA', '0A0B0C0D0E0F'.repeat(5)], ['a'.repeat(127), 'x'.repeat(100)]] as const) {
    assert.is(topicKeyHash(topic, key), keyHashReference(`${topic}#${key}`), `${topic}#${key}`);
  }
});

test('header, slot and entry bytes of a tiny file', () => {
  withTempDir((dir) => {
    const config: IndexConfig = { maxHashSlotNum: 7, maxIndexNum: 5 };
    const file = path.join(dir, 'tiny');
    const index = IndexFile.create(file, config, 0, 0);
    const key1 = 'TopicA#order-1';
    const hash1 = keyHashReference(key1);
    const slot1 = hash1 % 7;
    // A second key landing in the same slot, found with the reference hash.
    let key2 = '';
    for (let i = 0; ; i++) {
      const candidate = `TopicA#order-x${i}`;
      if (keyHashReference(candidate) % 7 === slot1 && keyHashReference(candidate) !== hash1) {
        key2 = candidate;
        break;
      }
    }
    const hash2 = keyHashReference(key2);
    assert.ok(index.putKey(key1, 1234, T0));
    assert.ok(index.putKey(key2, 5678, T0 + 2_500));
    index.flush();
    index.close();

    const bytes = fs.readFileSync(file);
    assert.is(bytes.length, 168);
    // header
    assert.is(Number(bytes.readBigInt64BE(0)), T0, 'beginTimestamp');
    assert.is(Number(bytes.readBigInt64BE(8)), T0 + 2_500, 'endTimestamp');
    assert.is(Number(bytes.readBigInt64BE(16)), 1234, 'beginPhyOffset');
    assert.is(Number(bytes.readBigInt64BE(24)), 5678, 'endPhyOffset');
    assert.is(bytes.readInt32BE(32), 1, 'hashSlotCount: one slot used');
    assert.is(bytes.readInt32BE(36), 3, 'indexCount: starts at 1, two keys');
    // slots: only slot1 used, holding the newest entry number
    for (let s = 0; s < 7; s++) assert.is(bytes.readInt32BE(40 + s * 4), s === slot1 ? 2 : 0, `slot ${s}`);
    // entry 0 unused
    assert.equal([...bytes.subarray(68, 88)], new Array(20).fill(0));
    // entry 1 at 40 + 7*4 + 1*20 = 88
    assert.is(bytes.readInt32BE(88), hash1);
    assert.is(Number(bytes.readBigInt64BE(92)), 1234);
    assert.is(bytes.readInt32BE(100), 0, 'timeDiff 0');
    assert.is(bytes.readInt32BE(104), 0, 'end of chain');
    // entry 2 at 108
    assert.is(bytes.readInt32BE(108), hash2);
    assert.is(Number(bytes.readBigInt64BE(112)), 5678);
    assert.is(bytes.readInt32BE(120), 2, 'timeDiff in whole seconds: 2.5 s -> 2');
    assert.is(bytes.readInt32BE(124), 1, 'chain to entry 1');
    // entries 3 and 4 untouched
    assert.equal([...bytes.subarray(128, 168)], new Array(40).fill(0));

    const reader = IndexFile.open(file, config, 'read');
    const out: number[] = [];
    reader.selectPhyOffsets(key1, 10, 0, Number.MAX_SAFE_INTEGER, out);
    assert.equal(out, [1234]);
    out.length = 0;
    reader.selectPhyOffsets(key2, 10, 0, Number.MAX_SAFE_INTEGER, out);
    assert.equal(out, [5678]);
    reader.close();
  });
});

test('a fresh file carries the given begin marks until its first key', () => {
  withTempDir((dir) => {
    const config: IndexConfig = { maxHashSlotNum: 3, maxIndexNum: 4 };
    const index = IndexFile.create(path.join(dir, 'f'), config, 777, T0);
    assert.is(index.beginPhyOffset, 777);
    assert.is(index.endPhyOffset, 777);
    assert.is(index.beginTimestamp, T0);
    assert.is(index.endTimestamp, T0);
    assert.is(index.indexCount, 1);
    assert.not.ok(index.isFull);
    assert.ok(index.putKey('t#k', 800, T0 + 5_000));
    assert.is(index.beginPhyOffset, 800);
    assert.is(index.beginTimestamp, T0 + 5_000);
    const out: number[] = [];
    index.selectPhyOffsets('t#k', 5, T0 + 5_000, T0 + 5_000, out);
    assert.equal(out, [800]);
    index.close();
    assert.throws(() => index.indexCount, /closed/);
  });
});

test('many keys colliding in a tiny slot table are all found, newest first', () => {
  withTempDir((dir) => {
    const config: IndexConfig = { maxHashSlotNum: 3, maxIndexNum: 1001 };
    const index = IndexFile.create(path.join(dir, 'f'), config, 0, 0);
    for (let i = 0; i < 1000; i++) assert.ok(index.putKey(`T#key-${i % 400}`, i * 100, T0 + i));
    assert.ok(index.isFull);
    assert.not.ok(index.putKey('T#more', 1, T0));
    assert.is(index.indexCount, 1001);
    assert.is(index.hashSlotCount, 3);
    for (let k = 0; k < 400; k++) {
      const out: number[] = [];
      index.selectPhyOffsets(`T#key-${k}`, 100, 0, Number.MAX_SAFE_INTEGER, out);
      const expected = [k, k + 400, k + 800].filter((i) => i < 1000).reverse().map((i) => i * 100);
      assert.equal(out, expected, `key-${k}`);
    }
    // maxNum caps the result
    const capped: number[] = [];
    index.selectPhyOffsets('T#key-5', 2, 0, Number.MAX_SAFE_INTEGER, capped);
    assert.equal(capped, [80_500, 40_500]);
    // a missing key
    const none: number[] = [];
    index.selectPhyOffsets('T#absent', 10, 0, Number.MAX_SAFE_INTEGER, none);
    assert.equal(none, []);
    index.close();
  });
});

test('same-hash keys both match (callers verify the records)', () => {
  withTempDir((dir) => {
    const index = IndexFile.create(path.join(dir, 'f'), { maxHashSlotNum: 11, maxIndexNum: 10 }, 0, 0);
    index.putKey('T#Aa', 10, T0);
    index.putKey('T#BB', 20, T0);
    const out: number[] = [];
    index.selectPhyOffsets('T#Aa', 10, 0, Number.MAX_SAFE_INTEGER, out);
    assert.equal(out, [20, 10]);
    index.close();
  });
});

test('time-range filtering works on whole seconds since beginTimestamp', () => {
  withTempDir((dir) => {
    const index = IndexFile.create(path.join(dir, 'f'), { maxHashSlotNum: 5, maxIndexNum: 20 }, 0, 0);
    // begin = T0; entries at +0 s, +1.2 s, +10.9 s, +60 s
    index.putKey('T#k', 1, T0);
    index.putKey('T#k', 2, T0 + 1_200);
    index.putKey('T#k', 3, T0 + 10_900);
    index.putKey('T#k', 4, T0 + 60_000);
    const select = (beginMs: number, endMs: number): number[] => {
      const out: number[] = [];
      index.selectPhyOffsets('T#k', 100, beginMs, endMs, out);
      return out;
    };
    assert.equal(select(0, Number.MAX_SAFE_INTEGER), [4, 3, 2, 1]);
    assert.equal(select(T0 + 5_000, T0 + 20_000), [3]);
    assert.equal(select(T0 + 30_000, T0 + 120_000), [4]);
    assert.equal(select(T0 + 11_000, T0 + 59_000), []); // entry 3 is in second +10, ends before +11 s
    assert.equal(select(0, T0 - 1), []);
    // entry 3's second is [T0+10 s, T0+11 s): a range ending inside it, or starting inside it, matches
    assert.equal(select(T0 + 10_950, T0 + 10_960), [3]);
    assert.equal(select(T0 + 10_000, T0 + 10_000), [3]);
    // entry 2 (1.2 s) is stored as second 1
    assert.equal(select(T0 + 1_000, T0 + 1_999), [2]);
    index.close();
  });
});

test('timeDiff is clamped to 0 for a store time before beginTimestamp', () => {
  withTempDir((dir) => {
    const file = path.join(dir, 'f');
    const index = IndexFile.create(file, { maxHashSlotNum: 5, maxIndexNum: 20 }, 0, 0);
    index.putKey('T#a', 1, T0);
    index.putKey('T#b', 2, T0 - 5_000);
    index.flush();
    const bytes = fs.readFileSync(file);
    assert.is(bytes.readInt32BE(40 + 20 + 2 * 20 + 12), 0);
    index.close();
  });
});

test('reopen for writing continues the chains; read mode refuses writes', () => {
  withTempDir((dir) => {
    const config: IndexConfig = { maxHashSlotNum: 13, maxIndexNum: 50 };
    const file = path.join(dir, 'f');
    const a = IndexFile.create(file, config, 0, 0);
    for (let i = 0; i < 10; i++) a.putKey(`T#k${i % 3}`, i, T0 + i * 1000);
    a.flush();
    a.close();
    const b = IndexFile.open(file, config, 'write');
    assert.is(b.indexCount, 11);
    for (let i = 10; i < 20; i++) b.putKey(`T#k${i % 3}`, i, T0 + i * 1000);
    const out: number[] = [];
    b.selectPhyOffsets('T#k1', 100, 0, Number.MAX_SAFE_INTEGER, out);
    assert.equal(out, [19, 16, 13, 10, 7, 4, 1]);
    b.setEndPhyOffset(5);
    assert.is(b.endPhyOffset, 5);
    b.flush();
    const r = IndexFile.open(file, config, 'read');
    assert.is(r.endPhyOffset, 5);
    assert.is(r.indexCount, 21);
    assert.throws(() => r.putKey('T#x', 1, T0), /read-only/);
    assert.throws(() => r.setEndPhyOffset(1), /read-only/);
    r.flush(); // no-op
    // wrong config
    assert.throws(() => IndexFile.open(file, { maxHashSlotNum: 14, maxIndexNum: 50 }, 'read'), /bytes/);
    // create refuses an existing file
    assert.throws(() => IndexFile.create(file, config, 0, 0));
    r.close();
    b.close();
  });
});

test('entries get disk blocks a chunk ahead: a new file is sparse, keys across chunks and a reopen all read back', () => {
  withTempDir((dir) => {
    const config: IndexConfig = { maxHashSlotNum: 1000, maxIndexNum: 200_000 }; // 4 MB of entries
    const file = path.join(dir, 'sparse');
    const size = indexFileSizeBytes(config);
    const a = IndexFile.create(file, config, 0, T0);
    const allocated = () => fs.statSync(file).blocks * 512;
    assert.ok(allocated() < 2 * 1024 * 1024, `a new ${size}-byte file holds only ${allocated()} bytes`);
    for (let i = 0; i < 60_000; i++) assert.ok(a.putKey(`T#k${i}`, i * 100, T0 + i));
    a.flush();
    a.close();
    const b = IndexFile.open(file, config, 'write');
    for (let i = 60_000; i < 120_000; i++) assert.ok(b.putKey(`T#k${i}`, i * 100, T0 + i));
    b.flush();
    assert.ok(allocated() < size, 'the unused tail is still a hole');
    for (const i of [0, 1, 52_428, 52_429, 59_999, 60_000, 104_857, 104_858, 119_999]) {
      const out: number[] = [];
      b.selectPhyOffsets(`T#k${i}`, 4, T0 - 1000, T0 + 200_000, out);
      assert.ok(out.includes(i * 100), `key ${i}: ${out}`);
    }
    b.close();
  });
});

test('a reader mapping sees the writer mapping at once', () => {
  withTempDir((dir) => {
    const config: IndexConfig = { maxHashSlotNum: 97, maxIndexNum: 500 };
    const file = path.join(dir, 'f');
    const w = IndexFile.create(file, config, 0, 0);
    const r = IndexFile.open(file, config, 'read');
    for (let i = 0; i < 400; i++) {
      w.putKey(`T#k${i}`, i, T0 + i);
      const out: number[] = [];
      r.selectPhyOffsets(`T#k${i}`, 10, 0, Number.MAX_SAFE_INTEGER, out);
      assert.equal(out, [i]);
    }
    w.close();
    r.close();
  });
});

test('corrupted slots, chains and header never make a query throw or loop', () => {
  withTempDir((dir) => {
    const config: IndexConfig = { maxHashSlotNum: 31, maxIndexNum: 400 };
    const file = path.join(dir, 'f');
    const size = indexFileSizeBytes(config);
    let seed = 12345;
    const random = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 4294967296;
    };
    for (let round = 0; round < 40; round++) {
      fs.rmSync(file, { force: true });
      const w = IndexFile.create(file, config, 0, 0);
      for (let i = 0; i < 300; i++) w.putKey(`T#k${i % 50}`, i * 10, T0 + i * 100);
      w.flush();
      w.close();
      const fd = fs.openSync(file, 'r+');
      const writes = 1 + Math.floor(random() * 60);
      for (let j = 0; j < writes; j++) {
        const junk = Buffer.alloc(1 + Math.floor(random() * 24));
        for (let b = 0; b < junk.length; b++) junk[b] = Math.floor(random() * 256);
        // Aim at the header, the slots and the prevIndex/timeDiff fields, and anywhere.
        const target = random();
        let pos: number;
        if (target < 0.1) pos = Math.floor(random() * 40);
        else if (target < 0.4) pos = 40 + Math.floor(random() * 31) * 4;
        else if (target < 0.8) pos = 40 + 31 * 4 + Math.floor(random() * 400) * 20 + 12;
        else pos = Math.floor(random() * size);
        fs.writeSync(fd, junk, 0, Math.min(junk.length, size - pos), pos);
      }
      // A self-loop and a forward pointer, explicitly.
      const loopEntry = 40 + 31 * 4 + 5 * 20;
      const b4 = Buffer.alloc(4);
      b4.writeInt32BE(5);
      fs.writeSync(fd, b4, 0, 4, loopEntry + 16);
      b4.writeInt32BE(250);
      fs.writeSync(fd, b4, 0, 4, 40 + 31 * 4 + 100 * 20 + 16);
      fs.closeSync(fd);

      for (const mode of ['read', 'write'] as const) {
        const r = IndexFile.open(file, config, mode);
        const started = Date.now();
        for (let k = 0; k < 60; k++) {
          const out: number[] = [];
          r.selectPhyOffsets(`T#k${k}`, 1000, 0, Number.MAX_SAFE_INTEGER, out);
          assert.ok(out.length <= 400);
          for (const offset of out) assert.ok(offset >= 0);
          const ranged: number[] = [];
          r.selectPhyOffsets(`T#k${k}`, 1000, T0, T0 + 10_000, ranged);
        }
        // a corrupt file may still take writes without throwing
        if (mode === 'write') r.putKey('T#after', 1, T0);
        assert.ok(Date.now() - started < 2000);
        r.close();
      }
    }
  });
});

test.run();
