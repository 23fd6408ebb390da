/**
 * Conformance group `arrayIndexes`: membership filters on array fields. It runs only on
 * adapters that declare `capabilities.arrayIndexes`. Not part of the public API.
 *
 * @internal
 * @module
 */
import type { StoredDocument } from '../../storage/types.js';
import { codeOfCall, hasArrayIndexes, type Item, type SuiteContext } from './context.js';

type Tagged = StoredDocument & { tags?: unknown; group?: string; at?: number };

/** Registers the `arrayIndexes` tests; each passes without checking when the adapter lacks them. */
export function arrayIndexTests(ctx: SuiteContext): void {
  membershipTests(ctx);
  declarationTests(ctx);
}

function membershipTests({ testWhen, expect }: SuiteContext): void {
  testWhen(
    hasArrayIndexes,
    'arrayIndexes: where matches membership, follows updates and deletes, and pages in order',
    async (s) => {
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
    },
  );
}

function declarationTests({ testWhen, expect }: SuiteContext): void {
  testWhen(
    hasArrayIndexes,
    'arrayIndexes: a field indexed both ways is VALIDATION_FAILED',
    async (s) => {
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
    },
  );
}
