/**
 * Storage benchmarks: get by id, indexed find (10 of 100,000 documents), insert and
 * update, for MemoryStorage and JsonFileStorage (batched and fsync); then the time of
 * 10,000 inserts of 1 KB documents into JsonFileStorage with `durability: 'batched'`.
 *
 * Targets: MemoryStorage get ≥ 1,000,000 ops/s, indexed find ≥ 100,000 ops/s;
 * JsonFileStorage batched, 10,000 × 1 KB inserts < 1 s total.
 *
 * Run: `npx tsx bench/run.ts storage` (or `npm run bench -- storage`).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStorage, type StorageAdapter, type StoredDocument } from '../src/index.js';
import { JsonFileStorage } from '../src/storage/json-file/index.js';
import { fmt, runBench } from './harness.js';

interface BenchDoc extends StoredDocument {
  bucket: number;
  name: string;
  n: number;
  pad?: string;
}

const DOCS = 100_000;
const PER_BUCKET = 10;

async function fill(storage: StorageAdapter): Promise<void> {
  const col = storage.collection<BenchDoc>('docs', { indexes: ['bucket'] });
  for (let start = 0; start < DOCS; start += 1000) {
    await Promise.all(
      Array.from({ length: 1000 }, (_, k) => {
        const i = start + k;
        return col.insert({
          id: `doc-${i}`,
          bucket: i % (DOCS / PER_BUCKET),
          name: `name ${i}`,
          n: i,
        });
      }),
    );
  }
}

async function benchAdapter(label: string, storage: StorageAdapter): Promise<void> {
  await fill(storage);
  const col = storage.collection<BenchDoc>('docs', { indexes: ['bucket'] });
  let i = 0;
  let inserted = 0;
  // Steps through the documents in a scattered order (7919 is prime), so reads miss caches.
  const next = (): number => {
    i = (i + 7919) % DOCS;
    return i;
  };
  // The ids a caller holds, in the same scattered order. They are separate strings from
  // the stored keys (equal, not identical), as ids parsed from a request or read from
  // another document are; building them here keeps number formatting out of the timings.
  const ids = Array.from({ length: DOCS }, (_, k) => `doc-${(k * 7919) % DOCS}`);
  let at = 0;
  const nextId = (): string => {
    at = at + 1 === DOCS ? 0 : at + 1;
    return ids[at]!;
  };
  const buckets = DOCS / PER_BUCKET;
  const plain = new Map<string, BenchDoc>();
  for (const doc of (await col.find()).items) plain.set(doc.id, doc);
  const sample = await col.find({ where: { bucket: 7 } });
  if (sample.items.length !== PER_BUCKET) throw new Error('indexed find must return 10 documents');
  // Reads take well under a microsecond, less than tinybench's own cost per timed call,
  // so each read task times a batch of BATCH sequential awaited calls (see BenchTask.batch).
  const BATCH = 100;
  const batched =
    <R>(op: () => R) =>
    async (): Promise<void> => {
      for (let k = 0; k < BATCH; k++) await op();
    };
  const tasks = [
    // What the harness itself costs per call: the floor under every other row.
    {
      name: '(floor: an empty async call)',
      calls: 200_000,
      batch: BATCH,
      fn: batched(async () => undefined),
    },
    // A bare Map lookup of the same scattered ids: the memory-latency floor of `get`.
    {
      name: '(floor: Map.get of the same ids)',
      calls: 200_000,
      batch: BATCH,
      fn: batched(() => plain.get(nextId())),
    },
    {
      name: 'get by id',
      calls: 200_000,
      batch: BATCH,
      fn: batched(() => col.get(nextId())),
    },
    {
      name: 'find by index (10 of 100,000)',
      calls: 50_000,
      batch: BATCH,
      fn: batched(() => col.find({ where: { bucket: next() % buckets } })),
    },
    {
      name: 'insert',
      calls: 20_000,
      batch: 1,
      fn: () => col.insert({ id: `new-${inserted++}`, bucket: -1, name: 'new', n: inserted }),
    },
    {
      name: 'update',
      calls: 20_000,
      batch: 1,
      fn: () => col.update(`doc-${next()}`, { n: i }),
    },
  ];
  await runBench(`storage: ${label}`, tasks);
  // On a loaded machine the wall-clock mean mostly measures time the process was not
  // scheduled; CPU time per operation is the steadier figure (it leaves out time spent
  // waiting for the disk, so for JsonFileStorage writes it is an upper bound).
  console.log('\n| task (sequential calls) | calls | ops per CPU-second |\n|---|---:|---:|');
  for (const task of tasks) {
    const start = process.cpuUsage();
    for (let k = 0; k < task.calls; k += task.batch) await task.fn();
    const used = process.cpuUsage(start);
    const seconds = (used.user + used.system) / 1e6;
    console.log(`| ${task.name} | ${fmt(task.calls)} | ${fmt(task.calls / seconds)} |`);
  }
}

async function timedInserts(concurrent: boolean): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'plugboard-bench-'));
  try {
    const storage = await JsonFileStorage.open({ dir, durability: 'batched' });
    const col = storage.collection<BenchDoc>('docs');
    const pad = 'x'.repeat(1024 - 60);
    const start = performance.now();
    if (concurrent) {
      await Promise.all(
        Array.from({ length: 10_000 }, (_, i) =>
          col.insert({ id: `d-${i}`, bucket: i, name: 'one kilobyte', n: i, pad }),
        ),
      );
    } else {
      for (let i = 0; i < 10_000; i++) {
        await col.insert({ id: `d-${i}`, bucket: i, name: 'one kilobyte', n: i, pad });
      }
    }
    const inserted = performance.now() - start;
    await storage.close();
    const total = performance.now() - start;
    console.log(
      `JsonFileStorage batched, 10,000 inserts of 1 KB (${concurrent ? 'concurrent' : 'one after another'}): ${fmt(inserted)} ms (${fmt(total)} ms with close, which compacts)`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function run(): Promise<void> {
  await benchAdapter('MemoryStorage', new MemoryStorage());
  for (const durability of ['batched', 'fsync'] as const) {
    const dir = await mkdtemp(join(tmpdir(), 'plugboard-bench-'));
    try {
      const storage = await JsonFileStorage.open({ dir, durability });
      await benchAdapter(`JsonFileStorage (${durability})`, storage);
      await storage.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  console.log('');
  await timedInserts(false);
  await timedInserts(true);
}
