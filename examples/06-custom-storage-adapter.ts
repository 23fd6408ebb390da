/**
 * Example 6: writing your own StorageAdapter and proving it with the conformance suite.
 *
 * The adapter here, MeteredStorage, wraps any other adapter and counts reads and writes
 * per collection (for metrics or quota checks). The suite runs on it without vitest: a
 * twenty-line runner below provides the describe/it/expect it needs.
 *
 * Run: npx tsx examples/06-custom-storage-adapter.ts
 */
import { deepStrictEqual, strictEqual } from 'node:assert';
import {
  type Collection,
  type CollectionOptions,
  MemoryStorage,
  type StorageAdapter,
  type StoredDocument,
} from 'plugboard';
import { runStorageAdapterSuite } from 'plugboard/testing';

/** Counts of one collection's operations. */
interface Meter {
  reads: number;
  writes: number;
}

/** A StorageAdapter that delegates to another one and meters every call. */
class MeteredStorage implements StorageAdapter {
  readonly meters = new Map<string, Meter>();

  constructor(private readonly inner: StorageAdapter) {}

  get capabilities() {
    return this.inner.capabilities;
  }

  collection<T extends StoredDocument>(name: string, options?: CollectionOptions): Collection<T> {
    const inner = this.inner.collection<T>(name, options);
    let meter = this.meters.get(name);
    if (!meter) {
      meter = { reads: 0, writes: 0 };
      this.meters.set(name, meter);
    }
    const m = meter;
    const read = <R>(op: () => Promise<R>): Promise<R> => {
      m.reads++;
      return op();
    };
    const write = <R>(op: () => Promise<R>): Promise<R> => {
      m.writes++;
      return op();
    };
    return {
      name: inner.name,
      get: (id) => read(() => inner.get(id)),
      find: (query) => read(() => inner.find(query)),
      count: (where) => read(() => inner.count(where)),
      insert: (doc) => write(() => inner.insert(doc)),
      update: (id, changes, opts) => write(() => inner.update(id, changes, opts)),
      delete: (id, opts) => write(() => inner.delete(id, opts)),
    };
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

// A minimal test runner: enough for runStorageAdapterSuite (vitest or jest work as they are).
const tests: { name: string; fn: () => Promise<void> }[] = [];
let prefix = '';
const api = {
  describe(name: string, fn: () => void) {
    const outer = prefix;
    prefix = `${outer}${name} › `;
    fn();
    prefix = outer;
  },
  it(name: string, fn: () => Promise<void>) {
    tests.push({ name: prefix + name, fn });
  },
  expect(actual: unknown) {
    return {
      toBe: (expected: unknown) => strictEqual(actual, expected),
      toEqual: (expected: unknown) => deepStrictEqual(actual, expected),
    };
  },
};

const adapters: MeteredStorage[] = [];
runStorageAdapterSuite(
  api,
  () => {
    const adapter = new MeteredStorage(new MemoryStorage());
    adapters.push(adapter);
    return adapter;
  },
  { name: 'MeteredStorage' },
);

let failed = 0;
for (const t of tests) {
  try {
    await t.fn();
  } catch (e) {
    failed++;
    console.log(`✗ ${t.name}: ${(e as Error).message}`);
  }
}
const total = adapters.reduce(
  (sum, a) => {
    for (const m of a.meters.values()) {
      sum.reads += m.reads;
      sum.writes += m.writes;
    }
    return sum;
  },
  { reads: 0, writes: 0 },
);
console.log(`${tests.length - failed} passed, ${failed} failed`);
console.log(
  `the suite made ${total.reads} reads and ${total.writes} writes through MeteredStorage`,
);
if (failed > 0) process.exitCode = 1;
