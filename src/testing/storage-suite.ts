/**
 * The conformance suite every `StorageAdapter` runs. It takes the test runner's
 * `describe`, `it` and `expect` as arguments, so it works under vitest, jest, mocha with
 * an assertion library of the same shape, or node's test runner with a small shim.
 *
 * @module
 */
import type { StorageAdapter, StoredDocument } from '../storage/types.js';

/** The subset of a test runner's API the suite uses (vitest and jest fit as they are). */
export interface SuiteTestApi {
  /** Groups tests. */
  describe(name: string, fn: () => void): void;
  /** Declares one test. */
  it(name: string, fn: () => Promise<void>, timeout?: number): void;
  /** Creates an assertion on a value. */
  expect(actual: unknown): {
    toBe(expected: unknown): void;
    toEqual(expected: unknown): void;
  };
}

/** Options of {@link runStorageAdapterSuite}. */
export interface StorageSuiteOptions {
  /** Name shown in the `describe` block; default `StorageAdapter conformance`. */
  readonly name?: string;
  /**
   * For durable adapters: close `previous` and open the same store again. When given,
   * the suite checks that data and indexes survive a reopen.
   */
  readonly reopen?: (previous: StorageAdapter) => Promise<StorageAdapter>;
  /** Per-test timeout in ms; default 30,000. */
  readonly timeoutMs?: number;
}

interface Item extends StoredDocument {
  name: string;
  group?: string | null;
  score?: number;
  nested?: { kind: string; tags?: string[] };
  note?: string;
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    return typeof code === 'string' ? code : `threw without code: ${String(e)}`;
  }
}

/**
 * Registers the storage conformance tests.
 *
 * @param api - the runner's `describe`, `it` and `expect`
 * @param createAdapter - returns a new, empty adapter for each test
 * @param options - reopen support and naming
 * @example
 * ```ts
 * import { describe, it, expect } from 'vitest';
 * import { MemoryStorage } from 'plugboard';
 * import { runStorageAdapterSuite } from 'plugboard/testing';
 *
 * runStorageAdapterSuite({ describe, it, expect }, () => new MemoryStorage());
 * ```
 */
export function runStorageAdapterSuite(
  api: SuiteTestApi,
  createAdapter: () => StorageAdapter | Promise<StorageAdapter>,
  options: StorageSuiteOptions = {},
): void {
  const { describe, it, expect } = api;
  const timeout = options.timeoutMs ?? 30_000;

  const test = (
    name: string,
    fn: (storage: StorageAdapter) => Promise<StorageAdapter | undefined>,
  ): void => {
    it(
      name,
      async () => {
        let storage = await createAdapter();
        try {
          storage = (await fn(storage)) ?? storage;
        } finally {
          await storage.close();
        }
      },
      timeout,
    );
  };

  const items = (s: StorageAdapter) =>
    s.collection<Item>('items', { indexes: ['group', 'nested.kind', 'score'] });

  describe(options.name ?? 'StorageAdapter conformance', () => {
    test('declares its capabilities', async (s) => {
      expect(typeof s.capabilities.durable).toBe('boolean');
      expect(typeof s.capabilities.transactions).toBe('boolean');
      return undefined;
    });

    test('inserts with revision 1 and reads the document back', async (s) => {
      const col = items(s);
      const inserted = await col.insert({
        id: 'a',
        name: 'Alpha',
        group: 'x',
        nested: { kind: 'k', tags: ['t1'] },
      });
      expect(inserted.revision).toBe(1);
      expect(await col.get('a')).toEqual({
        id: 'a',
        revision: 1,
        name: 'Alpha',
        group: 'x',
        nested: { kind: 'k', tags: ['t1'] },
      });
      expect(await col.get('missing')).toBe(undefined);
      return undefined;
    });

    test('sets revision 1 even when the input carries one', async (s) => {
      const col = items(s);
      const doc = { id: 'r', name: 'R', revision: 99 } as unknown as Omit<Item, 'revision'>;
      expect((await col.insert(doc)).revision).toBe(1);
      return undefined;
    });

    test('rejects a duplicate id with CONFLICT and keeps the first document', async (s) => {
      const col = items(s);
      await col.insert({ id: 'a', name: 'first' });
      expect(await codeOf(col.insert({ id: 'a', name: 'second' }))).toBe('CONFLICT');
      expect((await col.get('a'))?.name).toBe('first');
      return undefined;
    });

    test('rejects invalid ids and non-JSON values with VALIDATION_FAILED', async (s) => {
      const col = items(s);
      expect(await codeOf(col.insert({ id: '', name: 'x' }))).toBe('VALIDATION_FAILED');
      expect(await codeOf(col.insert({ id: 42 as unknown as string, name: 'x' }))).toBe(
        'VALIDATION_FAILED',
      );
      expect(
        await codeOf(col.insert({ id: 'f', name: 'x', note: (() => 1) as unknown as string })),
      ).toBe('VALIDATION_FAILED');
      expect(await codeOf(col.insert({ id: 'n', name: 'x', score: Number.NaN }))).toBe(
        'VALIDATION_FAILED',
      );
      expect(await col.count()).toBe(0);
      return undefined;
    });

    test('keeps JSON data exactly, including unicode and a __proto__ key', async (s) => {
      const col = s.collection<StoredDocument & { data: unknown }>('json');
      const data = JSON.parse(
        '{"__proto__":{"polluted":true},"text":"zürich ✓ 😀","n":-1.5e-7,"deep":[[{"a":null}],true,0]}',
      );
      await col.insert({ id: 'j', data });
      const back = await col.get('j');
      expect(JSON.stringify(back?.data)).toBe(JSON.stringify(data));
      expect(({} as Record<string, unknown>)['polluted']).toBe(undefined);
      return undefined;
    });

    test('a returned or inserted object mutated by the caller never changes the store', async (s) => {
      const col = items(s);
      const input = { id: 'm', name: 'orig', nested: { kind: 'k', tags: ['a'] } };
      const returned = await col.insert(input);
      input.name = 'changed';
      input.nested.tags.push('b');
      try {
        (returned as { name: string }).name = 'changed';
        returned.nested?.tags?.push('c');
      } catch {
        // frozen documents throw in strict mode; that is an allowed way to protect the store
      }
      const read = await col.get('m');
      try {
        (read as { name: string }).name = 'changed';
        (read as Item).nested!.kind = 'other';
      } catch {
        // as above
      }
      const again = await col.get('m');
      expect(again?.name).toBe('orig');
      expect(again?.nested).toEqual({ kind: 'k', tags: ['a'] });
      expect((await col.find({ where: { 'nested.kind': 'k' } })).items.length).toBe(1);
      return undefined;
    });

    test('update merges shallowly, bumps the revision and removes undefined keys', async (s) => {
      const col = items(s);
      await col.insert({ id: 'u', name: 'n', group: 'g', score: 1, note: 'keep?' });
      const updated = await col.update('u', { score: 2, note: undefined });
      expect(updated.revision).toBe(2);
      expect(await col.get('u')).toEqual({ id: 'u', revision: 2, name: 'n', group: 'g', score: 2 });
      const again = await col.update('u', { nested: { kind: 'z' } });
      expect(again.revision).toBe(3);
      expect(again.nested).toEqual({ kind: 'z' });
      return undefined;
    });

    test('update of a missing id is NOT_FOUND; changing id or revision is VALIDATION_FAILED', async (s) => {
      const col = items(s);
      expect(await codeOf(col.update('nope', { name: 'x' }))).toBe('NOT_FOUND');
      await col.insert({ id: 'u', name: 'n' });
      expect(await codeOf(col.update('u', { id: 'v' }))).toBe('VALIDATION_FAILED');
      expect(await codeOf(col.update('u', { revision: 7 }))).toBe('VALIDATION_FAILED');
      expect((await col.get('u'))?.revision).toBe(1);
      return undefined;
    });

    test('expectedRevision: stale writes fail with CONFLICT and change nothing', async (s) => {
      const col = items(s);
      await col.insert({ id: 'c', name: 'v1' });
      await col.update('c', { name: 'v2' }, { expectedRevision: 1 });
      expect(await codeOf(col.update('c', { name: 'v3' }, { expectedRevision: 1 }))).toBe(
        'CONFLICT',
      );
      expect(await codeOf(col.delete('c', { expectedRevision: 1 }))).toBe('CONFLICT');
      expect(await col.get('c')).toEqual({ id: 'c', revision: 2, name: 'v2' });
      expect(await col.delete('c', { expectedRevision: 2 })).toBe(true);
      return undefined;
    });

    test('delete resolves true once, then false', async (s) => {
      const col = items(s);
      await col.insert({ id: 'd', name: 'x', group: 'g' });
      expect(await col.delete('d')).toBe(true);
      expect(await col.delete('d')).toBe(false);
      expect(await col.get('d')).toBe(undefined);
      expect(await col.count({ group: 'g' })).toBe(0);
      return undefined;
    });

    test('find filters by equality on indexed fields, including dot paths and null', async (s) => {
      const col = items(s);
      await col.insert({ id: '1', name: 'a', group: 'x', nested: { kind: 'p' }, score: 1 });
      await col.insert({ id: '2', name: 'b', group: 'x', nested: { kind: 'q' }, score: 2 });
      await col.insert({ id: '3', name: 'c', group: 'y', nested: { kind: 'p' }, score: 1 });
      await col.insert({ id: '4', name: 'd', group: null, score: 1 });
      await col.insert({ id: '5', name: 'e' });
      const ids = async (where: Record<string, string | number | boolean | null>) =>
        (await col.find({ where })).items.map((d) => d.id);
      expect(await ids({ group: 'x' })).toEqual(['1', '2']);
      expect(await ids({ 'nested.kind': 'p' })).toEqual(['1', '3']);
      expect(await ids({ group: 'x', 'nested.kind': 'p' })).toEqual(['1']);
      expect(await ids({ group: null })).toEqual(['4']);
      expect(await ids({ score: 1 })).toEqual(['1', '3', '4']);
      expect(await ids({ score: '1' })).toEqual([]);
      expect(await ids({ group: 'none' })).toEqual([]);
      expect(await ids({ id: '2' })).toEqual(['2']);
      expect(await col.count({ group: 'x' })).toBe(2);
      expect(await col.count({ group: 'x', 'nested.kind': 'q' })).toBe(1);
      expect(await col.count()).toBe(5);
      return undefined;
    });

    test('a where on an unindexed field is VALIDATION_FAILED, never a silent scan', async (s) => {
      const col = items(s);
      await col.insert({ id: '1', name: 'a' });
      expect(await codeOf(col.find({ where: { name: 'a' } }))).toBe('VALIDATION_FAILED');
      expect(await codeOf(col.count({ name: 'a' }))).toBe('VALIDATION_FAILED');
      return undefined;
    });

    test('indexes follow updates and deletes', async (s) => {
      const col = items(s);
      await col.insert({ id: '1', name: 'a', group: 'x' });
      await col.update('1', { group: 'y' });
      expect(await col.count({ group: 'x' })).toBe(0);
      expect(await col.count({ group: 'y' })).toBe(1);
      await col.update('1', { group: undefined });
      expect(await col.count({ group: 'y' })).toBe(0);
      await col.update('1', { group: 'z' });
      await col.delete('1');
      expect(await col.count({ group: 'z' })).toBe(0);
      return undefined;
    });

    test('declaring a collection again with more indexes indexes existing documents', async (s) => {
      const plain = s.collection<Item>('late');
      await plain.insert({ id: '1', name: 'a', group: 'g' });
      await plain.insert({ id: '2', name: 'b', group: 'h' });
      const indexed = s.collection<Item>('late', { indexes: ['group'] });
      expect((await indexed.find({ where: { group: 'g' } })).items.map((d) => d.id)).toEqual(['1']);
      return undefined;
    });

    test('the first page by id is right whether ids arrive in order or not', async (s) => {
      const col = items(s);
      for (let i = 10; i < 30; i++) await col.insert({ id: `k${i}`, name: 'n' });
      await col.delete('k10');
      await col.update('k11', { name: 'changed' });
      const first = await col.find({ limit: 3 });
      expect(first.items.map((d) => d.id)).toEqual(['k11', 'k12', 'k13']);
      const next = await col.find({ limit: 3, cursor: first.nextCursor! });
      expect(next.items.map((d) => d.id)).toEqual(['k14', 'k15', 'k16']);
      await col.insert({ id: 'k05', name: 'late but first' });
      expect((await col.find({ limit: 2 })).items.map((d) => d.id)).toEqual(['k05', 'k11']);
      expect((await col.find({ limit: 100 })).items.length).toBe(20);
      expect((await col.find({ limit: 20 })).nextCursor).toBe(undefined);
      return undefined;
    });

    test('arrayIndexes: where matches membership, follows updates and deletes, and pages in order', async (s) => {
      type Tagged = StoredDocument & { tags?: unknown; group?: string; at?: number };
      const col = s.collection<Tagged>('tagged', {
        indexes: ['group'],
        arrayIndexes: ['tags'],
      });
      await col.insert({ id: 'a', tags: ['x', 'y'], group: 'g', at: 3 });
      await col.insert({ id: 'b', tags: ['y', 'y'], group: 'h', at: 1 });
      await col.insert({ id: 'c', tags: 'y', group: 'g', at: 2 }); // not an array: never matched
      await col.insert({ id: 'd', tags: [1, null, true], at: 4 });
      await col.insert({ id: 'e', at: 5 });
      const ids = async (where: Record<string, string | number | boolean | null>) =>
        (await col.find({ where, orderBy: { field: 'at' } })).items.map((d) => d.id);
      expect(await ids({ tags: 'y' })).toEqual(['b', 'a']);
      expect(await col.count({ tags: 'y' })).toBe(2);
      expect(await ids({ tags: 'x', group: 'g' })).toEqual(['a']);
      expect(await ids({ tags: 'y', group: 'h' })).toEqual(['b']);
      expect(await ids({ tags: 1 })).toEqual(['d']);
      expect(await ids({ tags: null })).toEqual(['d']);
      expect(await ids({ tags: true })).toEqual(['d']);
      expect(await ids({ tags: '1' })).toEqual([]);
      const first = await col.find({ where: { tags: 'y' }, orderBy: { field: 'at' }, limit: 1 });
      expect(first.items.map((d) => d.id)).toEqual(['b']);
      const second = await col.find({
        where: { tags: 'y' },
        orderBy: { field: 'at' },
        limit: 1,
        cursor: first.nextCursor!,
      });
      expect(second.items.map((d) => d.id)).toEqual(['a']);
      await col.update('a', { tags: ['x'] });
      await col.update('c', { tags: ['y'] });
      expect(await ids({ tags: 'y' })).toEqual(['b', 'c']);
      await col.delete('b');
      expect(await ids({ tags: 'y' })).toEqual(['c']);
      expect(await col.count({ tags: 'x' })).toBe(1);
      return undefined;
    });

    test('arrayIndexes: a field indexed both ways is VALIDATION_FAILED', async (s) => {
      const codeOfCall = (fn: () => unknown): unknown => {
        try {
          fn();
        } catch (e) {
          return (e as { code?: unknown }).code;
        }
        return undefined;
      };
      s.collection<Item>('both', { indexes: ['group'] });
      expect(codeOfCall(() => s.collection<Item>('both', { arrayIndexes: ['group'] }))).toBe(
        'VALIDATION_FAILED',
      );
      expect(
        codeOfCall(() =>
          s.collection<Item>('both-at-once', { indexes: ['group'], arrayIndexes: ['group'] }),
        ),
      ).toBe('VALIDATION_FAILED');
      return undefined;
    });

    test('orders by id by default, and by any field with ties broken by id', async (s) => {
      const col = items(s);
      for (const [id, score] of [
        ['b', 10],
        ['a', 2],
        ['d', 2],
        ['c', 100],
      ] as const) {
        await col.insert({ id, name: id, score });
      }
      await col.insert({ id: 'e', name: 'e' });
      expect((await col.find()).items.map((d) => d.id)).toEqual(['a', 'b', 'c', 'd', 'e']);
      expect((await col.find({ orderBy: { field: 'score' } })).items.map((d) => d.id)).toEqual([
        'e',
        'a',
        'd',
        'b',
        'c',
      ]);
      expect(
        (await col.find({ orderBy: { field: 'score', direction: 'desc' } })).items.map((d) => d.id),
      ).toEqual(['c', 'b', 'd', 'a', 'e']);
      return undefined;
    });

    test('pages through 1,200 documents with no duplicates or gaps', async (s) => {
      const col = items(s);
      const expected: string[] = [];
      for (let i = 0; i < 1200; i++) {
        const id = `doc-${String(i).padStart(5, '0')}`;
        expected.push(id);
        await col.insert({ id, name: id, group: i % 3 === 0 ? 'three' : 'other', score: i % 7 });
      }
      for (const order of [
        undefined,
        { field: 'score' },
        { field: 'score', direction: 'desc' as const },
      ]) {
        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await col.find({
            limit: 50,
            ...(order ? { orderBy: order } : {}),
            ...(cursor ? { cursor } : {}),
          });
          seen.push(...page.items.map((d) => d.id));
          cursor = page.nextCursor;
          pages++;
        } while (cursor && pages < 1000);
        expect(seen.length).toBe(1200);
        expect(new Set(seen).size).toBe(1200);
        expect([...seen].sort()).toEqual(expected);
        if (order) {
          const scores = seen.map((id) => Number(id.slice(4)) % 7);
          const sorted = [...scores].sort((a, b) => (order.direction === 'desc' ? b - a : a - b));
          expect(scores).toEqual(sorted);
        }
      }
      const three: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await col.find({
          where: { group: 'three' },
          limit: 33,
          ...(cursor ? { cursor } : {}),
        });
        three.push(...page.items.map((d) => d.id));
        cursor = page.nextCursor;
      } while (cursor);
      expect(three.length).toBe(400);
      expect(new Set(three).size).toBe(400);
      return undefined;
    });

    test('paging never repeats a document when others are inserted or deleted between pages', async (s) => {
      const col = items(s);
      for (let i = 0; i < 100; i++) {
        await col.insert({ id: `k${String(i).padStart(3, '0')}`, name: 'x', score: i });
      }
      const seen = new Set<string>();
      let cursor: string | undefined;
      let round = 0;
      do {
        const page = await col.find({
          limit: 10,
          orderBy: { field: 'score' },
          ...(cursor ? { cursor } : {}),
        });
        for (const d of page.items) {
          expect(seen.has(d.id)).toBe(false);
          seen.add(d.id);
        }
        cursor = page.nextCursor;
        // An insert far ahead must be seen; one behind must not be; a delete ahead must not.
        await col.insert({ id: `late${round}`, name: 'late', score: 1000 + round });
        await col.insert({ id: `early${round}`, name: 'early', score: -1 - round });
        await col.delete(`k${String(99 - round).padStart(3, '0')}`);
        round++;
      } while (cursor);
      for (let r = 0; r < round; r++) expect(seen.has(`early${r}`)).toBe(false);
      expect(seen.has('late0')).toBe(true);
      expect(seen.has('k099')).toBe(false);
      return undefined;
    });

    test('a cursor that is malformed or from another order is VALIDATION_FAILED', async (s) => {
      const col = items(s);
      for (let i = 0; i < 5; i++) await col.insert({ id: `i${i}`, name: 'x', score: i });
      const page = await col.find({ limit: 2 });
      expect(typeof page.nextCursor).toBe('string');
      expect(await codeOf(col.find({ cursor: 'not-a-cursor' }))).toBe('VALIDATION_FAILED');
      expect(
        await codeOf(col.find({ cursor: page.nextCursor as string, orderBy: { field: 'score' } })),
      ).toBe('VALIDATION_FAILED');
      expect(await codeOf(col.find({ limit: 0 }))).toBe('VALIDATION_FAILED');
      expect(await codeOf(col.find({ limit: 1.5 }))).toBe('VALIDATION_FAILED');
      return undefined;
    });

    test('concurrent updates with the same expectedRevision: exactly one wins', async (s) => {
      const col = items(s);
      await col.insert({ id: 'race', name: 'start', score: 0 });
      const results = await Promise.allSettled(
        Array.from({ length: 25 }, (_, i) =>
          col.update('race', { score: i + 1 }, { expectedRevision: 1 }),
        ),
      );
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r) => r.status === 'rejected');
      expect(won.length).toBe(1);
      expect(lost.every((r) => (r as PromiseRejectedResult).reason?.code === 'CONFLICT')).toBe(
        true,
      );
      const final = await col.get('race');
      expect(final?.revision).toBe(2);
      expect(final?.score).toBe((won[0] as PromiseFulfilledResult<Item>).value.score);
      return undefined;
    });

    test('concurrent inserts of one id: exactly one wins', async (s) => {
      const col = items(s);
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) => col.insert({ id: 'same', name: `n${i}` })),
      );
      expect(results.filter((r) => r.status === 'fulfilled').length).toBe(1);
      expect(await col.count()).toBe(1);
      return undefined;
    });

    test('concurrent unconditional updates all apply, one revision each', async (s) => {
      const col = items(s);
      await col.insert({ id: 'n', name: 'x', score: 0 });
      await Promise.all(Array.from({ length: 30 }, (_, i) => col.update('n', { note: `w${i}` })));
      expect((await col.get('n'))?.revision).toBe(31);
      return undefined;
    });

    test('collections are independent', async (s) => {
      const a = s.collection<Item>('alpha');
      const b = s.collection<Item>('beta');
      await a.insert({ id: 'x', name: 'in a' });
      expect(await b.get('x')).toBe(undefined);
      await b.insert({ id: 'x', name: 'in b' });
      expect((await a.get('x'))?.name).toBe('in a');
      return undefined;
    });

    test('rejects invalid collection names', async (s) => {
      let code: string | undefined;
      try {
        s.collection('../escape');
      } catch (e) {
        code = (e as { code?: string }).code;
      }
      expect(code).toBe('VALIDATION_FAILED');
      return undefined;
    });

    test('after close, operations fail with STORAGE_CLOSED', async (s) => {
      const col = items(s);
      await col.insert({ id: 'a', name: 'x' });
      await s[Symbol.asyncDispose]();
      expect(await codeOf(col.get('a'))).toBe('STORAGE_CLOSED');
      expect(await codeOf(col.insert({ id: 'b', name: 'x' }))).toBe('STORAGE_CLOSED');
      return undefined;
    });

    const reopen = options.reopen;
    if (reopen) {
      test('data and indexes survive close and reopen', async (s) => {
        const col = items(s);
        for (let i = 0; i < 50; i++) {
          await col.insert({ id: `p${i}`, name: 'x', group: i % 2 ? 'odd' : 'even', score: i });
        }
        await col.update('p1', { name: 'updated' });
        await col.delete('p2');
        type Tagged = StoredDocument & { tags: string[] };
        const tagged = s.collection<Tagged>('tagged', { arrayIndexes: ['tags'] });
        await tagged.insert({ id: 't1', tags: ['a', 'b'] });
        await tagged.insert({ id: 't2', tags: ['b'] });
        const reopened = await reopen(s);
        const again = items(reopened);
        const taggedAgain = reopened.collection<Tagged>('tagged', { arrayIndexes: ['tags'] });
        expect((await taggedAgain.find({ where: { tags: 'b' } })).items.map((d) => d.id)).toEqual([
          't1',
          't2',
        ]);
        expect(await again.count()).toBe(49);
        expect((await again.get('p1'))?.name).toBe('updated');
        expect((await again.get('p1'))?.revision).toBe(2);
        expect(await again.get('p2')).toBe(undefined);
        expect(await again.count({ group: 'odd' })).toBe(25);
        return reopened;
      });
    }
  });
}
